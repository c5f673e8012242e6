package core_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const procArea = "340199001001"

var (
	procOfficer  = core.Caller{User: "wang", Role: "officer", Scopes: []string{"340199001"}, Device: "d-wang"}
	procTeam     = core.Caller{User: "zhao", Role: "team_member", Scopes: []string{procArea}, Device: "d-zhao"}
	procTownship = core.Caller{User: "township1", Role: "township", Scopes: []string{"340199001"}}
	procTown2    = core.Caller{User: "township2", Role: "township", Scopes: []string{"340199001"}}
	procCounty   = core.Caller{User: "county", Role: "county", Scopes: []string{"340199"}}
)

func fieldsOf(m map[string]any) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = raw(v)
	}
	return out
}

// loadHousehold loads a household whose exit standards are met (one
// insured adult, income above the Anhui line, a visit with every item
// ok), or, when poor, one with no income survey.
func loadHousehold(t *testing.T, c *core.Core, hh string, poor bool) {
	t.Helper()
	n := 0
	op := func(col, id string, set map[string]any) *syncengine.Op {
		n++
		return &syncengine.Op{ID: fmt.Sprintf("load-%s-%d", hh, n), RecordID: id, Collection: col, Area: procArea, Author: "operator",
			Device: "seed", HLC: syncengine.MakeHLC(t0.Add(-48*time.Hour).UnixMilli()+int64(n), 0), Set: fieldsOf(set)}
	}
	ops := []*syncengine.Op{
		op("households", hh, map[string]any{"head_name": "张三", "status": map[string]any{"value": "poor"}, "primary_cause": "illness"}),
		op("assignments", "a-"+hh, map[string]any{"officer": "wang", "household_id": hh, "active": true}),
		op("members", "m-"+hh, map[string]any{"household_id": hh, "name": "张三", "birth_date": "1960-05-01", "insured": true, "schooling": "小学"}),
		op("visits", "v-"+hh, map[string]any{"household_id": hh, "officer": "wang", "visited_at": "2026-02-20T10:00:00+08:00",
			"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "na", "medical": "ok", "housing": "ok", "drinking_water": "ok"}}),
	}
	if !poor {
		ops = append(ops, op("income_surveys", "inc-"+hh, map[string]any{"household_id": hh, "income_year": "2025-2026",
			"surveyed_at": "2026-02-01T10:00:00+08:00", "surveyor": "wang", "household_size": 1, "wage_migrant_work_yuan": 9000}))
	}
	if _, err := c.Load(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
}

// stepOp is a push op recording an exit step of case "case-"+hh.
func stepOp(caller core.Caller, hh, id, step string, at time.Time, extra map[string]any) syncengine.WireOp {
	set := map[string]any{"case_id": "case-" + hh, "household_id": hh, "step": step, "at": at.Format(time.RFC3339), "actor": caller.User}
	for k, v := range extra {
		set[k] = v
	}
	op := &syncengine.Op{ID: "op-" + id, RecordID: id, Collection: "exit_steps", Area: procArea, Author: caller.User,
		Device: caller.Device, HLC: syncengine.MakeHLC(at.UnixMilli(), 0), Set: fieldsOf(set)}
	return op.ToWire()
}

// record pushes one op (tablets) or edits (console callers) and returns
// the refusal's code and message, "" when accepted.
func record(t *testing.T, c *core.Core, caller core.Caller, w syncengine.WireOp) (string, string) {
	t.Helper()
	if caller.Device == "" {
		_, err := c.Edit(t.Context(), caller, w.Collection, w.RecordID, w.Area, w.Set)
		if err != nil {
			return syncengine.ErrorCode(err), syncengine.ErrorMessage(err)
		}
		return "", ""
	}
	res, err := c.Push(t.Context(), caller, []syncengine.WireOp{w})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) > 0 {
		return res.Rejected[0].Code, res.Rejected[0].Message
	}
	return "", ""
}

func notice(posted time.Time, days time.Duration) map[string]any {
	return map[string]any{"notice_posted_at": posted.Format(time.RFC3339), "notice_ends_at": posted.Add(days).Format(time.RFC3339),
		"notice_photo_sha256": strings.Repeat("ab", 32)}
}

// TestExitStepsAdmission walks one household through its exit over push
// and console edits, with every refusal the procedure names on the way:
// each refused op leaves the case as it was, and the valid sequence is
// accepted to the county's registration.
func TestExitStepsAdmission(t *testing.T) {
	c, _, _ := newCore(t, nil)
	loadHousehold(t, c, "h1", false)
	loadHousehold(t, c, "h2", true)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)) }
	const days = 24 * time.Hour
	type tc struct {
		name     string
		caller   core.Caller
		op       syncengine.WireOp
		code     string // "" accepted
		contains string
	}
	steps := []tc{
		{"standards unmet", procTeam, stepOp(procTeam, "h2", "s2-1", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 21}),
			syncengine.EINVALID, "exit_standards_unmet"},
		{"first step out of order", procTeam, stepOp(procTeam, "h1", "s0", "verification", day(1), map[string]any{"village_committee_signer": "李四", "work_team_signer": "赵六"}),
			syncengine.ECONFLICT, "exit_out_of_order"},
		{"appraisal by township", procTownship, stepOp(procTownship, "h1", "s1x", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 21}),
			syncengine.EFORBIDDEN, "exit_wrong_role"},
		{"exactly two-thirds", procTeam, stepOp(procTeam, "h1", "s1y", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 20}),
			syncengine.EINVALID, "exit_signoff_short"},
		{"appraisal", procTeam, stepOp(procTeam, "h1", "s1", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 21}), "", ""},
		{"verification by officer", procOfficer, stepOp(procOfficer, "h1", "s2x", "verification", day(2), map[string]any{"village_committee_signer": "李四", "work_team_signer": "赵六"}),
			syncengine.EFORBIDDEN, "exit_wrong_role"},
		{"verification", procTeam, stepOp(procTeam, "h1", "s2", "verification", day(2), map[string]any{"village_committee_signer": "李四", "work_team_signer": "赵六"}), "", ""},
		{"acknowledgement", procOfficer, stepOp(procOfficer, "h1", "s3", "acknowledgement", day(3), map[string]any{"signature_id": "sig-h1"}), "", ""},
		{"village notice of 4 days", procTeam, stepOp(procTeam, "h1", "s4x", "village_notice", day(4), notice(day(4), 4*days)),
			syncengine.EINVALID, "exit_notice_too_short"},
		{"village notice a minute short", procTeam, stepOp(procTeam, "h1", "s4y", "village_notice", day(4), notice(day(4), 5*days-time.Minute)),
			syncengine.EINVALID, "exit_notice_too_short"},
		{"village notice of 5 days", procTeam, stepOp(procTeam, "h1", "s4", "village_notice", day(4), notice(day(4), 5*days)), "", ""},
		{"township review while the notice runs", procTownship, stepOp(procTownship, "h1", "s5x", "township_review", day(6), map[string]any{"passed": true}),
			syncengine.ECONFLICT, "exit_notice_running"},
		{"township review by county", procCounty, stepOp(procCounty, "h1", "s5y", "township_review", day(10), map[string]any{"passed": true}),
			syncengine.EFORBIDDEN, "exit_wrong_role"},
		{"township review", procTownship, stepOp(procTownship, "h1", "s5", "township_review", day(10), map[string]any{"passed": true}), "", ""},
		{"township notice", procTownship, stepOp(procTownship, "h1", "s6", "township_notice", day(11), notice(day(11), 5*days)), "", ""},
		{"township approval", procTownship, stepOp(procTownship, "h1", "s7", "township_approval", day(17), map[string]any{"passed": true}), "", ""},
		{"registration by township", procTownship, stepOp(procTownship, "h1", "s8x", "county_registration", day(18), map[string]any{"registration_ref": "备2026-1"}),
			syncengine.EFORBIDDEN, "exit_wrong_role"},
		{"county registration", procCounty, stepOp(procCounty, "h1", "s8", "county_registration", day(18), map[string]any{"registration_ref": "备2026-1"}), "", ""},
		{"a step after registration", procCounty, stepOp(procCounty, "h1", "s9", "county_registration", day(19), map[string]any{"registration_ref": "备2026-2"}),
			syncengine.EINVALID, "exit_completed"},
	}
	for _, s := range steps {
		code, msg := record(t, c, s.caller, s.op)
		if code != s.code || !strings.Contains(msg, s.contains) {
			t.Errorf("%s: got %q %q, want %q containing %q", s.name, code, msg, s.code, s.contains)
		}
		rec, _, err := c.Record(t.Context(), core.Operator(), "exit_steps", s.op.RecordID, false)
		if stored := err == nil && rec != nil; stored != (s.code == "") {
			t.Errorf("%s: stored = %v (%v)", s.name, stored, err)
		}
	}
}

// TestLedgerAdmission opens, rectifies, verifies and closes a ledger item
// through console edits and a tablet push; the rectifier verifying or
// closing their own rectification is refused.
func TestLedgerAdmission(t *testing.T) {
	c, _, _ := newCore(t, nil)
	edit := func(caller core.Caller, set map[string]any) (string, string) {
		op := &syncengine.Op{ID: "x", RecordID: "L1", Collection: "ledger_items", Area: procArea, Author: caller.User,
			Device: caller.Device, HLC: syncengine.MakeHLC(time.Now().UnixMilli(), 0), Set: fieldsOf(set)}
		return record(t, c, caller, op.ToWire())
	}
	open := map[string]any{"source": "inspection", "problem": "走访记录缺签字", "responsible_unit": "一乡", "deadline": "2026-03-31",
		"status": "open", "opened_by": "township1", "opened_at": "2026-03-01T10:00:00+08:00"}
	if code, msg := edit(procOfficer, map[string]any{"source": "inspection", "problem": "x", "responsible_unit": "一乡", "deadline": "2026-03-31",
		"status": "open", "opened_by": "wang", "opened_at": "2026-03-01T10:00:00+08:00"}); code != syncengine.EFORBIDDEN || !strings.Contains(msg, "ledger_wrong_role") {
		t.Errorf("opened by an officer: %q %q", code, msg)
	}
	if code, msg := edit(procTownship, open); code != "" {
		t.Fatalf("open: %q %q", code, msg)
	}
	if code, msg := edit(procTownship, map[string]any{"status": "rectified", "rectified_by": "township1", "rectified_at": "2026-03-05T10:00:00+08:00",
		"measures": "补签", "evidence_sha256s": []string{strings.Repeat("cd", 32)}}); code != "" {
		t.Fatalf("rectify: %q %q", code, msg)
	}
	if code, msg := edit(procTownship, map[string]any{"status": "verified", "verified_by": "township1", "verified_at": "2026-03-06T10:00:00+08:00"}); code != syncengine.EINVALID || !strings.Contains(msg, "ledger_same_user") {
		t.Errorf("verified by the rectifier: %q %q", code, msg)
	}
	if code, msg := edit(procTown2, map[string]any{"status": "verified", "verified_by": "township2", "verified_at": "2026-03-06T10:00:00+08:00"}); code != "" {
		t.Fatalf("verify: %q %q", code, msg)
	}
	if code, msg := edit(procTownship, map[string]any{"status": "closed", "closed_by": "township1", "closed_at": "2026-03-07T10:00:00+08:00"}); code != syncengine.EFORBIDDEN || !strings.Contains(msg, "ledger_wrong_role") {
		t.Errorf("closed by the rectifier: %q %q", code, msg)
	}
	if code, msg := edit(procCounty, map[string]any{"status": "closed", "closed_by": "county", "closed_at": "2026-03-07T10:00:00+08:00"}); code != "" {
		t.Fatalf("close: %q %q", code, msg)
	}
	rec, _, err := c.Record(t.Context(), core.Operator(), "ledger_items", "L1", false)
	if err != nil || string(rec.Values()["status"]) != `"closed"` {
		t.Fatalf("ledger item after close: %v %v", rec, err)
	}
}

// TestReviewAdmission sets review states as township users without a
// device (console edits) and refuses them to officers and without a
// comment where one is needed.
func TestReviewAdmission(t *testing.T) {
	c, _, _ := newCore(t, nil)
	loadHousehold(t, c, "h1", false)
	review := func(caller core.Caller, set map[string]any) (string, string) {
		if caller.Device == "" {
			_, err := c.Edit(t.Context(), caller, "visits", "v-h1", "", fieldsOf(set))
			return syncengine.ErrorCode(err), syncengine.ErrorMessage(err)
		}
		op := &syncengine.Op{ID: "rev-" + caller.User, RecordID: "v-h1", Collection: "visits", Area: procArea, Author: caller.User,
			Device: caller.Device, HLC: syncengine.MakeHLC(t0.UnixMilli(), 0), Set: fieldsOf(set)}
		return record(t, c, caller, op.ToWire())
	}
	cases := []struct {
		name     string
		caller   core.Caller
		set      map[string]any
		code     string
		contains string
	}{
		{"officer approves own visit", procOfficer, map[string]any{"review_state": "approved", "reviewed_by": "wang"}, syncengine.EFORBIDDEN, "review_wrong_role"},
		{"has issues without a comment", procTownship, map[string]any{"review_state": "has_issues", "reviewed_by": "township1"}, syncengine.EINVALID, "review_comment_missing"},
		{"reviewed by someone else", procTownship, map[string]any{"review_state": "approved", "reviewed_by": "county"}, syncengine.EINVALID, "review_wrong_reviewer"},
		{"township sets has issues", procTownship, map[string]any{"review_state": "has_issues", "review_comment": "缺照片", "reviewed_by": "township1"}, "", ""},
		{"county approves", procCounty, map[string]any{"review_state": "approved", "review_comment": "已补", "reviewed_by": "county"}, "", ""},
		{"township edits content", procTownship, map[string]any{"notes": "改"}, syncengine.EFORBIDDEN, ""},
	}
	for _, tc := range cases {
		code, msg := review(tc.caller, tc.set)
		if code != tc.code || !strings.Contains(msg, tc.contains) {
			t.Errorf("%s: got %q %q, want %q containing %q", tc.name, code, msg, tc.code, tc.contains)
		}
	}
	rec, _, err := c.Record(t.Context(), core.Operator(), "visits", "v-h1", false)
	if err != nil || string(rec.Values()["review_state"]) != `"approved"` {
		t.Fatalf("visit after review: %v %v", rec, err)
	}
}

// mutableVisits is the schema registry with visits made editable, the
// case ReviewResetFields exists for: an approved record whose content
// changes goes back to received.
type mutableVisits struct{ *schemas.Registry }

func (m mutableVisits) Policy(col string) schemas.CollectionPolicy {
	p := m.Registry.Policy(col)
	if col == "visits" {
		p.AppendOnly = false
	}
	return p
}

// TestReviewResetOnEdit approves a visit and then edits its notes: the
// server's reset op puts it back to received in the same transaction;
// another review op keeps the state.
func TestReviewResetOnEdit(t *testing.T) {
	_, st, _ := newCore(t, nil)
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(slog.New(slog.DiscardHandler), st.Core(), mutableVisits{reg}, core.Options{Now: func() time.Time { return t0 }})
	loadHousehold(t, c, "h1", false)
	state := func() string {
		rec, _, err := c.Record(t.Context(), core.Operator(), "visits", "v-h1", false)
		if err != nil {
			t.Fatal(err)
		}
		return string(rec.Values()["review_state"])
	}
	if _, err := c.Edit(t.Context(), procTownship, "visits", "v-h1", "", fieldsOf(map[string]any{"review_state": "approved", "reviewed_by": "township1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Edit(t.Context(), procTownship, "visits", "v-h1", "", fieldsOf(map[string]any{"review_comment": "好"})); err != nil || state() != `"approved"` {
		t.Fatalf("comment only: %v, state %s", err, state())
	}
	op := &syncengine.Op{ID: "op-edit", RecordID: "v-h1", Collection: "visits", Area: procArea, Author: "wang", Device: "d-wang",
		HLC: syncengine.MakeHLC(t0.UnixMilli(), 0), Set: fieldsOf(map[string]any{"notes": "补记：家中漏雨已修"})}
	if code, msg := record(t, c, procOfficer, op.ToWire()); code != "" {
		t.Fatalf("edit: %s %s", code, msg)
	}
	if got := state(); got != `"received"` {
		t.Fatalf("review state after edit = %s, want received", got)
	}
	// A resend of the edit is acked as it was, and leaves the state.
	res, err := c.Push(t.Context(), procOfficer, []syncengine.WireOp{op.ToWire()})
	if err != nil || len(res.Acked) != 1 {
		t.Fatalf("resend: %+v %v", res, err)
	}
}

// TestExitHousingEvidence: a household whose renovation case is completed
// meets the housing standard only when Options.HousingEvidence finds the
// case's evidence complete; without a judge the appraisal is refused
// naming housing_evidence_missing.
func TestExitHousingEvidence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		judge  func(core.Tx, *syncengine.Record) (bool, error)
		code   string
		reason string
	}{
		{"no judge", nil, syncengine.EINVALID, "exit_standards_unmet"},
		{"evidence incomplete", func(core.Tx, *syncengine.Record) (bool, error) { return false, nil }, syncengine.EINVALID, "exit_standards_unmet"},
		{"evidence complete", func(_ core.Tx, r *syncengine.Record) (bool, error) { return r.ID == "hc-h1", nil }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st, _ := newCore(t, nil)
			reg, err := schemas.New()
			if err != nil {
				t.Fatal(err)
			}
			c := core.New(slog.New(slog.DiscardHandler), st.Core(), reg, core.Options{Now: func() time.Time { return t0 }, HousingEvidence: tc.judge})
			loadHousehold(t, c, "h1", false)
			hc := &syncengine.Op{ID: "load-hc", RecordID: "hc-h1", Collection: "housing_cases", Area: procArea, Author: "operator", Device: "seed",
				HLC: syncengine.MakeHLC(t0.Add(-24*time.Hour).UnixMilli(), 0),
				Set: fieldsOf(map[string]any{"household_id": "h1", "grade": "C", "acceptance_date": "2026-02-10"})}
			if _, err := c.Load(t.Context(), []*syncengine.Op{hc}); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			code, msg := record(t, c, procTeam, stepOp(procTeam, "h1", "s1", "appraisal", at, map[string]any{"entitled": 30, "attended": 25, "signed": 21}))
			if code != tc.code || !strings.Contains(msg, tc.reason) {
				t.Errorf("got %q %q, want %q %q", code, msg, tc.code, tc.reason)
			}
		})
	}
}
