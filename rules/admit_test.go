package rules_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

func values(t *testing.T, m map[string]any) rules.Values {
	t.Helper()
	out := rules.Values{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// TestCheckOpWalksAnExitThroughPushedRecords drives the exit procedure the
// way the push admission would: each step is a record's values, checked
// against the steps accepted before it.
func TestCheckOpWalksAnExitThroughPushedRecords(t *testing.T) {
	p := exitPolicy(t)
	standardsAsked := 0
	standards := func(at time.Time) rules.ExitStandards {
		standardsAsked++
		return rules.EvaluateExitStandards(goodRecords(), p, at)
	}
	ts := func(day, hh int) string { return local(2017, 11, day, hh, 0, 0).Format(time.RFC3339) }
	type push struct {
		role   rules.Role
		fields map[string]any
		want   *rules.StepError
	}
	base := map[string]any{"case_id": "case1", "household_id": "h1", "actor": "u"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	pushes := []push{
		{rules.RoleTownship, with(map[string]any{"step": "appraisal", "at": ts(10, 9), "entitled": 30, "attended": 28, "signed": 21}), rules.ErrExitWrongRole},
		{rules.RoleTeamMember, with(map[string]any{"step": "appraisal", "at": ts(10, 9), "entitled": 30, "attended": 28, "signed": 20}), rules.ErrExitSignoffShort},
		{rules.RoleTeamMember, with(map[string]any{"step": "appraisal", "at": ts(10, 9), "entitled": 30, "attended": 28, "signed": 21}), nil},
		{rules.RoleTeamMember, with(map[string]any{"step": "village_notice", "at": ts(11, 9)}), rules.ErrExitOutOfOrder},
		{rules.RoleTeamMember, with(map[string]any{"step": "verification", "at": ts(11, 9), "village_committee_signer": "李", "work_team_signer": "王"}), nil},
		{rules.RoleOfficer, with(map[string]any{"step": "acknowledgement", "at": ts(11, 15), "signature_id": "sig1"}), nil},
		// A notice of 4 days is refused; 5 days pass.
		{rules.RoleTeamMember, with(map[string]any{"step": "village_notice", "at": ts(12, 9), "notice_posted_at": ts(12, 8), "notice_ends_at": ts(16, 8), "notice_photo_sha256": "ab"}), rules.ErrExitNoticeTooShort},
		{rules.RoleTeamMember, with(map[string]any{"step": "village_notice", "at": ts(12, 9), "notice_posted_at": ts(12, 8), "notice_ends_at": ts(17, 8), "notice_photo_sha256": "ab", "notice_dated_as": "2017年11月12日"}), nil},
		{rules.RoleTownship, with(map[string]any{"step": "township_review", "at": ts(16, 9), "passed": true}), rules.ErrExitNoticeRunning},
		{rules.RoleTownship, with(map[string]any{"step": "township_review", "at": ts(17, 9), "passed": true}), nil},
		{rules.RoleTownship, with(map[string]any{"step": "township_notice", "at": ts(18, 9), "notice_posted_at": ts(18, 9), "notice_ends_at": ts(23, 9), "notice_photo_sha256": "ab"}), nil},
		{rules.RoleTownship, with(map[string]any{"step": "township_approval", "at": ts(23, 10), "passed": true}), nil},
		{rules.RoleTownship, with(map[string]any{"step": "county_registration", "at": ts(25, 10), "registration_ref": "备1"}), rules.ErrExitWrongRole},
		{rules.RoleCounty, with(map[string]any{"step": "county_registration", "at": ts(25, 10), "registration_ref": "备1"}), nil},
	}
	var accepted []rules.Values
	for i, ps := range pushes {
		v := values(t, ps.fields)
		err := rules.CheckOp(rules.OpCheck{Collection: "exit_steps", RecordID: "s", Set: v, User: "u", Role: ps.role,
			Policy: p, CaseSteps: accepted, Standards: standards})
		if ps.want != nil {
			wantCode(t, err, ps.want)
			continue
		}
		if err != nil {
			t.Fatalf("push %d (%s): %v", i, ps.fields["step"], err)
		}
		accepted = append(accepted, v)
	}
	if len(accepted) != 8 || standardsAsked == 0 {
		t.Fatalf("accepted %d steps, standards asked %d times", len(accepted), standardsAsked)
	}
}

func TestCheckOpLedgerAndReview(t *testing.T) {
	p := exitPolicy(t)
	before := values(t, map[string]any{"source": "inspection", "problem": "缺签字", "responsible_unit": "某乡", "deadline": "2026-11-30",
		"status": "verified", "opened_by": "c1", "opened_at": "2026-11-01T09:00:00+08:00", "measures": "补签",
		"evidence_sha256s": []string{"ab"}, "rectified_by": "county2", "verified_by": "tw1"})
	closeBy := func(user string) error {
		return rules.CheckOp(rules.OpCheck{Collection: "ledger_items", RecordID: "L1", Before: before, User: user, Role: rules.RoleCounty, Policy: p,
			Set: values(t, map[string]any{"status": "closed", "closed_by": user, "closed_at": "2026-11-20T10:00:00+08:00"})})
	}
	wantCode(t, closeBy("county2"), rules.ErrLedgerSameUser)
	if err := closeBy("c1"); err != nil {
		t.Fatal(err)
	}

	review := func(role rules.Role, set map[string]any) error {
		return rules.CheckOp(rules.OpCheck{Collection: "photos", RecordID: "p1", Before: values(t, map[string]any{"stage": "after"}),
			Set: values(t, set), User: "tw1", Role: role, Policy: p})
	}
	wantCode(t, review(rules.RoleOfficer, map[string]any{"review_state": "approved"}), rules.ErrReviewWrongRole)
	wantCode(t, review(rules.RoleTownship, map[string]any{"review_state": "has_issues"}), rules.ErrReviewCommentMissing)
	if err := review(rules.RoleTownship, map[string]any{"review_state": "has_issues", "review_comment": "看不清"}); err != nil {
		t.Fatal(err)
	}
	if err := review(rules.RoleOfficer, map[string]any{"review_note": "x"}); err != nil {
		t.Fatalf("non-review op refused: %v", err)
	}

	approved := values(t, map[string]any{"note": "旧", "review_state": "approved"})
	if got := rules.ReviewResetFields("photos", approved, values(t, map[string]any{"note": "新"})); string(got["review_state"]) != `"received"` {
		t.Errorf("edit of an approved photo: %v", got)
	}
	if got := rules.ReviewResetFields("photos", approved, values(t, map[string]any{"review_comment": "好"})); got != nil {
		t.Errorf("a review comment reset the state: %v", got)
	}
	if got := rules.ReviewResetFields("photos", approved, values(t, map[string]any{"note": "旧"})); got != nil {
		t.Errorf("an unchanged value reset the state: %v", got)
	}
}

func TestIncomeSurveyFromValues(t *testing.T) {
	v := values(t, map[string]any{"household_id": "h1", "income_year": "2016-2017", "household_size": 3,
		"wage_migrant_work_yuan": 6000, "wage_public_job_yuan": 3600, "business_farming_yuan": 2500.5, "business_tourism_yuan": 800,
		"property_land_rent_yuan": 400, "property_dividend_yuan": 300, "transfer_subsidy_yuan": 500, "transfer_dibao_yuan": 1200,
		"transfer_pension_yuan": 840, "transfer_eco_compensation_yuan": 150, "production_costs_yuan": 1290.5})
	s, err := rules.IncomeSurveyFromValues("s1", v)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rules.ComputeIncome(s, rules.IncomePolicy{LineYuan: 4000, YearStarts: "10-01"})
	if err != nil || r.Net != yuan(15000) || r.PerCapita != yuan(5000) || !r.AboveLine {
		t.Errorf("income = %+v %v", r, err)
	}
	if _, err := rules.IncomeSurveyFromValues("s2", rules.Values{"household_size": json.RawMessage(`"three"`)}); err == nil {
		t.Error("a string household size was read")
	}
}

func TestExitRecordsFromValues(t *testing.T) {
	p := exitPolicy(t)
	m, err := rules.ExitMemberFromValues("m1", values(t, map[string]any{"name": "张小明", "birth_date": "2008-05-01", "schooling": "辍学", "insured": true}))
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := rules.ExitMemberFromValues("m2", values(t, map[string]any{"name": "张三"}))
	if err != nil || unknown.Insured != nil {
		t.Fatalf("member without insured: %+v %v", unknown, err)
	}
	v, err := rules.ExitVisitFromValues("v1", values(t, map[string]any{"visited_at": "2017-11-01T10:00:00+08:00",
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"}}))
	if err != nil {
		t.Fatal(err)
	}
	open, err := rules.ExitHousingCaseFromValues("c1", values(t, map[string]any{"grade": "D"}), false)
	if err != nil || open.Completed {
		t.Fatalf("case without acceptance: %+v %v", open, err)
	}
	r := goodRecords()
	r.Members, r.Visits, r.HousingCases = []rules.ExitMember{m, unknown}, []rules.ExitVisit{v}, []rules.ExitHousingCase{open}
	std := rules.EvaluateExitStandards(r, p, local(2017, 11, 10, 8, 0, 0))
	var codes []string
	for _, u := range std.Unmet {
		codes = append(codes, u.Code)
	}
	if len(codes) != 3 || codes[0] != rules.StandardHousingCaseOpen || codes[1] != rules.StandardChildOutOfSchool || codes[2] != rules.StandardMemberNotInsured {
		t.Errorf("unmet = %v", codes)
	}
}
