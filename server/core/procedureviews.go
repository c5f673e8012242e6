package core

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ExitCase is one household exit case as supervisors see it: its accepted
// steps in the order they were accepted, the state they fold into, and the
// exit standards of its household evaluated again now.
type ExitCase struct {
	ID          string
	Area        string
	HouseholdID string
	HeadName    string
	ExitYear    int
	OpenedBy    string
	OpenedAt    time.Time
	// Steps are every accepted step (objections and steps before a return
	// included); State folds them (rules.ExitStateOf).
	Steps     []rules.ExitStep
	State     rules.ExitState
	Standards rules.ExitStandards
}

// superviseArea checks that the caller may read the procedures under area.
func superviseArea(caller Caller, area string) error {
	if !auth.CanReadReports(caller.Role) {
		return syncengine.Errorf(syncengine.EFORBIDDEN, "role %s may not read exit cases and the ledger", caller.Role)
	}
	if !auth.ScopeCovers(caller.Scopes, area) {
		return syncengine.Errorf(syncengine.EFORBIDDEN, "area %s is not within your scope", area)
	}
	return nil
}

// ExitCases lists the exit cases under an area-code prefix the caller's
// scope covers (township, county, auditor, admin), with their steps, state
// and the standards of the household evaluated at the core's clock under
// the policy of the household's area and the current year. Cases are
// ordered by area, then id. Deleted cases and steps are left out.
func (c *Core) ExitCases(ctx context.Context, caller Caller, area string) ([]ExitCase, error) {
	if err := superviseArea(caller, area); err != nil {
		return nil, err
	}
	ps, err := c.policies()
	if err != nil {
		return nil, err
	}
	now := c.opts.Now()
	var out []ExitCase
	err = c.store.View(func(tx Tx) error {
		out, err = c.exitCasesIn(tx, area, ps, now)
		return err
	})
	if err != nil {
		return nil, c.storeErr(ctx, "exit cases", err)
	}
	return out, nil
}

func (c *Core) exitCasesIn(tx Tx, area string, ps *rules.PolicySet, now time.Time) ([]ExitCase, error) {
	var cases []ExitCase
	index := map[string]int{}
	err := tx.ForEachRecord(collection.ExitCases, func(r *syncengine.Record) error {
		if del, _ := r.Deleted(); del || !strings.HasPrefix(r.Area, area) {
			return nil
		}
		v := r.Values()
		ec := ExitCase{ID: r.ID, Area: r.Area, HouseholdID: viewStr(v["household_id"]), OpenedBy: viewStr(v["opened_by"])}
		_ = json.Unmarshal(v["exit_year"], &ec.ExitYear)
		if t, err := time.Parse(time.RFC3339Nano, viewStr(v["opened_at"])); err == nil {
			ec.OpenedAt = t
		}
		index[r.ID] = len(cases)
		cases = append(cases, ec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read exit cases: %w", err)
	}
	// Steps of every case in one pass, ordered by their first op's receipt.
	// A case is its exit_cases record or, for steps recorded before (or
	// without) one, the case id its steps cite.
	type acc struct {
		step rules.ExitStep
		rec  time.Time
		hlc  syncengine.HLC
	}
	steps := map[string][]acc{}
	err = tx.ForEachRecord(rules.CollectionExitSteps, func(r *syncengine.Record) error {
		if del, _ := r.Deleted(); del || !strings.HasPrefix(r.Area, area) {
			return nil
		}
		v := r.Values()
		caseID := viewStr(v["case_id"])
		if _, ok := index[caseID]; !ok {
			index[caseID] = len(cases)
			cases = append(cases, ExitCase{ID: caseID, Area: r.Area, HouseholdID: viewStr(v["household_id"])})
		}
		st, err := rules.ExitStepFromValues(r.ID, v)
		if err != nil {
			return err
		}
		h, err := tx.History(rules.CollectionExitSteps, r.ID)
		if err != nil {
			return err
		}
		a := acc{step: st}
		if len(h) > 0 {
			a.rec, a.hlc = h[0].ReceivedAt, h[0].HLC
		}
		steps[caseID] = append(steps[caseID], a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read exit steps: %w", err)
	}
	if len(cases) == 0 {
		return nil, nil
	}
	households := map[string]string{}
	for i := range cases {
		ec := &cases[i]
		list := steps[ec.ID]
		slices.SortStableFunc(list, func(a, b acc) int {
			if c := a.rec.Compare(b.rec); c != 0 {
				return c
			}
			return cmp.Compare(a.hlc, b.hlc)
		})
		for _, a := range list {
			ec.Steps = append(ec.Steps, a.step)
		}
		ec.State = rules.ExitStateOf(ec.ID, ec.Steps)
		households[ec.HouseholdID] = ec.Area
	}
	recs, heads, err := c.exitRecordsOf(tx, households)
	if err != nil {
		return nil, err
	}
	for i := range cases {
		ec := &cases[i]
		ec.HeadName = heads[ec.HouseholdID]
		r := recs[ec.HouseholdID]
		if r == nil {
			r = &rules.ExitRecords{HouseholdID: ec.HouseholdID, Area: ec.Area}
		}
		ec.Standards = rules.EvaluateExitStandards(*r, ps.For(ec.Area, now.In(rules.Shanghai()).Year()), now)
	}
	slices.SortFunc(cases, func(a, b ExitCase) int {
		if c := cmp.Compare(a.Area, b.Area); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return cases, nil
}

// exitRecordsOf reads the exit-standard records of several households in
// one pass over each collection (exitRecords reads one household's), and
// their heads' names. households maps a household id to its area.
func (c *Core) exitRecordsOf(tx Tx, households map[string]string) (map[string]*rules.ExitRecords, map[string]string, error) {
	out := make(map[string]*rules.ExitRecords, len(households))
	heads := map[string]string{}
	for id, area := range households {
		out[id] = &rules.ExitRecords{HouseholdID: id, Area: area}
	}
	err := tx.ForEachRecord(collection.Households, func(r *syncengine.Record) error {
		if _, ok := households[r.ID]; ok {
			heads[r.ID] = viewStr(r.Values()["head_name"])
		}
		return nil
	})
	each := func(col string, fn func(rec *rules.ExitRecords, id string, v rules.Values, r *syncengine.Record) error) error {
		if err != nil {
			return err
		}
		return tx.ForEachRecord(col, func(r *syncengine.Record) error {
			v := r.Values()
			rec := out[viewStr(v["household_id"])]
			if del, _ := r.Deleted(); del || rec == nil {
				return nil
			}
			return fn(rec, r.ID, v, r)
		})
	}
	err = each(collection.Members, func(rec *rules.ExitRecords, id string, v rules.Values, _ *syncengine.Record) error {
		m, err := rules.ExitMemberFromValues(id, v)
		rec.Members = append(rec.Members, m)
		return err
	})
	err = each(collection.IncomeSurveys, func(rec *rules.ExitRecords, id string, v rules.Values, _ *syncengine.Record) error {
		s, err := rules.IncomeSurveyFromValues(id, v)
		rec.Surveys = append(rec.Surveys, s)
		return err
	})
	err = each(collection.Visits, func(rec *rules.ExitRecords, id string, v rules.Values, _ *syncengine.Record) error {
		e, err := rules.ExitVisitFromValues(id, v)
		rec.Visits = append(rec.Visits, e)
		return err
	})
	err = each(collection.HousingCases, func(rec *rules.ExitRecords, id string, v rules.Values, r *syncengine.Record) error {
		complete := false
		if c.opts.HousingEvidence != nil {
			var err error
			if complete, err = c.opts.HousingEvidence(tx, r); err != nil {
				return fmt.Errorf("housing case %s evidence: %w", id, err)
			}
		}
		h, err := rules.ExitHousingCaseFromValues(id, v, complete)
		rec.HousingCases = append(rec.HousingCases, h)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("exit standards records: %w", err)
	}
	return out, heads, nil
}

// ExitFindings returns the exit cases under area whose household no
// longer meets the exit standards although the case is past its first
// step (rules.CheckExitCase), for the compliance report.
func (c *Core) ExitFindings(ctx context.Context, caller Caller, area string) ([]rules.ExitFinding, error) {
	cases, err := c.ExitCases(ctx, caller, area)
	if err != nil {
		return nil, err
	}
	var out []rules.ExitFinding
	for _, ec := range cases {
		if f, ok := rules.CheckExitCase(ec.Area, ec.HeadName, ec.State, ec.HouseholdID, ec.Standards); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// LedgerItems lists the rectification ledger items under an area-code
// prefix the caller's scope covers (township, county, auditor, admin):
// open items first, then rectified, verified and closed, each by deadline
// then id. Deleted items are left out.
func (c *Core) LedgerItems(ctx context.Context, caller Caller, area string) ([]rules.LedgerItem, error) {
	if err := superviseArea(caller, area); err != nil {
		return nil, err
	}
	var out []rules.LedgerItem
	err := c.store.View(func(tx Tx) error {
		return tx.ForEachRecord(rules.CollectionLedgerItems, func(r *syncengine.Record) error {
			if del, _ := r.Deleted(); del || !strings.HasPrefix(r.Area, area) {
				return nil
			}
			it, err := rules.LedgerItemFromValues(r.ID, r.Values())
			if err != nil {
				return err
			}
			it.Area = r.Area
			out = append(out, it)
			return nil
		})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "ledger items", err)
	}
	order := map[rules.LedgerStatus]int{rules.LedgerOpen: 0, rules.LedgerRectified: 1, rules.LedgerVerified: 2, rules.LedgerClosed: 3}
	slices.SortFunc(out, func(a, b rules.LedgerItem) int {
		if c := cmp.Compare(order[a.Status], order[b.Status]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Deadline.String(), b.Deadline.String()); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// viewStr reads a JSON string field; "" when absent or not a string.
func viewStr(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
