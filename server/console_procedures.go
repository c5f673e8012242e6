package server

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/console"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ExitCases lists the exit cases under area through the core
// (core.ExitCases: role and scope checked there), identity numbers masked
// in the standards' details.
func (b *consoleBackend) ExitCases(ctx context.Context, u console.User, area string) ([]console.ExitCase, error) {
	cases, err := b.s.core.ExitCases(ctx, callerFor(u), area)
	if err != nil {
		return nil, err
	}
	out := make([]console.ExitCase, len(cases))
	for i, ec := range cases {
		std := ec.Standards
		std.Unmet = slices.Clone(std.Unmet)
		for j := range std.Unmet {
			std.Unmet[j].Detail = reports.MaskText(std.Unmet[j].Detail)
		}
		out[i] = console.ExitCase{ID: ec.ID, Area: ec.Area, HouseholdID: ec.HouseholdID, HeadName: reports.MaskText(ec.HeadName),
			ExitYear: ec.ExitYear, Steps: ec.Steps, State: ec.State, Standards: std}
	}
	return out, nil
}

// LedgerItems lists the ledger under area through the core
// (core.LedgerItems), free text masked.
func (b *consoleBackend) LedgerItems(ctx context.Context, u console.User, area string) ([]rules.LedgerItem, error) {
	items, err := b.s.core.LedgerItems(ctx, callerFor(u), area)
	if err != nil {
		return nil, err
	}
	for i := range items {
		it := &items[i]
		it.Problem, it.Measures, it.Goal, it.VerifyNote = reports.MaskText(it.Problem), reports.MaskText(it.Measures),
			reports.MaskText(it.Goal), reports.MaskText(it.VerifyNote)
	}
	return items, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// LedgerAction changes one ledger item with core.Edit, the admission of a
// pushed op: the rules (rules.CheckLedgerChange) judge the transition,
// the role and the user, so a verification or closing by the rectifier is
// refused there (ledger_same_user), whatever the page showed.
func (b *consoleBackend) LedgerAction(ctx context.Context, u console.User, id string, a console.LedgerAction) error {
	now := b.s.cfg.Now().In(rules.Shanghai()).Format(time.RFC3339)
	var set map[string]any
	switch a.Action {
	case console.LedgerRectify:
		var shas, records []string
		for _, e := range a.Evidence {
			if sha256Hex.MatchString(e) {
				shas = append(shas, e)
			} else if e != "" {
				records = append(records, e)
			}
		}
		set = map[string]any{"status": rules.LedgerRectified, "rectified_by": u.Username, "rectified_at": now}
		if a.Measures != "" {
			set["measures"] = a.Measures
		}
		if shas != nil {
			set["evidence_sha256s"] = shas
		}
		if records != nil {
			set["evidence_record_ids"] = records
		}
	case console.LedgerVerify, console.LedgerReject:
		status := rules.LedgerVerified
		if a.Action == console.LedgerReject {
			status = rules.LedgerOpen
		}
		set = map[string]any{"status": status, "verified_by": u.Username, "verified_at": now}
		if a.Note != "" {
			set["verify_note"] = a.Note
		}
	case console.LedgerClose:
		set = map[string]any{"status": rules.LedgerClosed, "closed_by": u.Username, "closed_at": now}
	default:
		return syncengine.Errorf(syncengine.EINVALID, "未知的台账操作 %q", a.Action)
	}
	fields := make(map[string]json.RawMessage, len(set))
	for k, v := range set {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fields[k] = raw
	}
	_, err := b.s.core.Edit(ctx, callerFor(u), rules.CollectionLedgerItems, id, "", fields)
	return err
}
