package rules_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

func TestReviewOnlyTownshipOrCountyWithComments(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]any
		role   rules.Role
		want   *rules.StepError
	}{
		{"approve by township", map[string]any{"review_state": "approved", "reviewed_by": "tw1"}, rules.RoleTownship, nil},
		{"approve by county", map[string]any{"review_state": "approved"}, rules.RoleCounty, nil},
		{"approve by officer", map[string]any{"review_state": "approved"}, rules.RoleOfficer, rules.ErrReviewWrongRole},
		{"approve by team member", map[string]any{"review_state": "approved"}, rules.RoleTeamMember, rules.ErrReviewWrongRole},
		{"approve by auditor", map[string]any{"review_state": "approved"}, rules.RoleAuditor, rules.ErrReviewWrongRole},
		{"approve by admin", map[string]any{"review_state": "approved"}, rules.RoleAdmin, rules.ErrReviewWrongRole},
		{"has issues without comment", map[string]any{"review_state": "has_issues"}, rules.RoleTownship, rules.ErrReviewCommentMissing},
		{"has issues with comment", map[string]any{"review_state": "has_issues", "review_comment": "照片看不清门牌"}, rules.RoleTownship, nil},
		{"rejected without comment", map[string]any{"review_state": "rejected", "review_comment": "  "}, rules.RoleCounty, rules.ErrReviewCommentMissing},
		{"unknown state", map[string]any{"review_state": "confirmed"}, rules.RoleCounty, rules.ErrReviewBadState},
		{"reviewer is someone else", map[string]any{"review_state": "approved", "reviewed_by": "other"}, rules.RoleTownship, rules.ErrReviewWrongReviewer},
		{"no review field by officer", map[string]any{"notes": "x"}, rules.RoleOfficer, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := rules.CheckReview(tc.fields, "tw1", tc.role)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.want)
		})
	}
}

func TestReviewStateResetOnEdit(t *testing.T) {
	tests := []struct {
		current rules.ReviewState
		changed []string
		want    rules.ReviewState
		reset   bool
	}{
		{rules.ReviewApproved, []string{"notes"}, rules.ReviewReceived, true},
		{rules.ReviewApproved, []string{"review_comment", "review_note"}, rules.ReviewApproved, false},
		{rules.ReviewHasIssues, []string{"photo_sha256s"}, rules.ReviewReceived, true},
		{rules.ReviewRejected, []string{"checklist"}, rules.ReviewReceived, true},
		{rules.ReviewReceived, []string{"notes"}, rules.ReviewReceived, false},
		{"", []string{"notes"}, rules.ReviewReceived, false},
	}
	for _, tc := range tests {
		got, reset := rules.ReviewAfterEdit(tc.current, tc.changed)
		if got != tc.want || reset != tc.reset {
			t.Errorf("%s after %v = %s %v, want %s %v", tc.current, tc.changed, got, reset, tc.want, tc.reset)
		}
	}
	only := rules.ReviewPolicy{CountOnlyApproved: true}
	if rules.Countable(rules.ReviewReceived, only) || !rules.Countable(rules.ReviewApproved, only) || !rules.Countable(rules.ReviewReceived, rules.ReviewPolicy{}) {
		t.Error("Countable ignores the policy switch")
	}
	if p := policies(t).For(village, 2026); p.Review.CountOnlyApproved {
		t.Error("shipped default counts only approved records")
	}
}

func ledgerOpen() rules.LedgerItem {
	return rules.LedgerItem{ID: "L1", Area: village, Source: "visit_overdue", SourceRef: "h1", Problem: "脱贫户半年未走访",
		ResponsibleUnit: "某某镇人民政府", ResponsiblePerson: "王干部", Deadline: rules.Date{Year: 2026, Month: 11, Day: 30},
		Status: rules.LedgerOpen, OpenedBy: "county1", OpenedAt: local(2026, 11, 1, 9, 0, 0)}
}

func TestLedgerLifecycle(t *testing.T) {
	open := ledgerOpen()
	check := func(before *rules.LedgerItem, after rules.LedgerItem, user string, role rules.Role, want *rules.StepError) {
		t.Helper()
		err := rules.CheckLedgerChange(before, after, user, role)
		if want == nil {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		wantCode(t, err, want)
	}
	check(nil, open, "county1", rules.RoleCounty, nil)
	check(nil, open, "county1", rules.RoleOfficer, rules.ErrLedgerWrongRole)
	check(nil, open, "county1", rules.RoleAuditor, rules.ErrLedgerWrongRole) // auditors stay read-only
	check(nil, open, "someone", rules.RoleCounty, rules.ErrLedgerWrongUser)
	noDeadline := open
	noDeadline.Deadline = rules.Date{}
	check(nil, noDeadline, "county1", rules.RoleCounty, rules.ErrLedgerIncomplete)

	rectified := open
	rectified.Status, rectified.Measures, rectified.RectifiedBy = rules.LedgerRectified, "补走访并录入系统", "officer1"
	check(&open, rectified, "officer1", rules.RoleOfficer, rules.ErrLedgerIncomplete) // no evidence
	rectified.Evidence = []string{"visits/v9"}
	check(&open, rectified, "officer1", rules.RoleOfficer, nil)
	check(&open, rectified, "officer1", rules.RoleAuditor, rules.ErrLedgerWrongRole)

	// A township user who rectified cannot verify, nor close, their own work.
	selfRect := rectified
	selfRect.RectifiedBy = "tw1"
	selfVerified := selfRect
	selfVerified.Status, selfVerified.VerifiedBy = rules.LedgerVerified, "tw1"
	check(&selfRect, selfVerified, "tw1", rules.RoleTownship, rules.ErrLedgerSameUser)

	verified := rectified
	verified.Status, verified.VerifiedBy = rules.LedgerVerified, "tw1"
	check(&rectified, verified, "tw1", rules.RoleTownship, nil)
	check(&rectified, verified, "tw1", rules.RoleOfficer, rules.ErrLedgerWrongRole)

	failed := rectified
	failed.Status, failed.VerifiedBy = rules.LedgerOpen, "tw1"
	check(&rectified, failed, "tw1", rules.RoleTownship, rules.ErrLedgerIncomplete)
	failed.VerifyNote = "走访记录无农户签字"
	check(&rectified, failed, "tw1", rules.RoleTownship, nil)

	closed := verified
	closed.Status, closed.ClosedBy = rules.LedgerClosed, "county1"
	check(&verified, closed, "county1", rules.RoleCounty, nil)
	check(&verified, closed, "county1", rules.RoleTownship, rules.ErrLedgerWrongRole)
	// Closed by the person who rectified it: refused.
	rectifiedByCounty := verified
	rectifiedByCounty.RectifiedBy = "county1"
	closedBySelf := rectifiedByCounty
	closedBySelf.Status, closedBySelf.ClosedBy = rules.LedgerClosed, "county1"
	check(&rectifiedByCounty, closedBySelf, "county1", rules.RoleCounty, rules.ErrLedgerSameUser)

	// Skipping verification is refused; so is reopening a closed item.
	skip := rectified
	skip.Status, skip.ClosedBy = rules.LedgerClosed, "county1"
	check(&rectified, skip, "county1", rules.RoleCounty, rules.ErrLedgerBadTransition)
	reopen := closed
	reopen.Status = rules.LedgerOpen
	check(&closed, reopen, "county1", rules.RoleCounty, rules.ErrLedgerBadTransition)
}

func TestOverdueLedgerItems(t *testing.T) {
	a := ledgerOpen()
	b := ledgerOpen()
	b.ID, b.Deadline = "L2", rules.Date{Year: 2026, Month: 12, Day: 1}
	c := ledgerOpen()
	c.ID, c.Status = "L3", rules.LedgerRectified
	items := []rules.LedgerItem{a, b, c}
	// On the deadline day itself nothing is overdue.
	if got := rules.OverdueLedgerItems(items, local(2026, 11, 30, 23, 59, 59)); len(got) != 0 {
		t.Errorf("on the deadline: %+v", got)
	}
	got := rules.OverdueLedgerItems(items, local(2026, 12, 3, 0, 0, 0))
	if len(got) != 2 || got[0].ItemID != "L1" || got[0].DaysOverdue != 3 || got[1].DaysOverdue != 2 {
		t.Fatalf("overdue = %+v", got)
	}
	var f rules.Finding = got[0]
	if f.FindingKind() != rules.KindLedgerOverdue || f.FindingArea() != village {
		t.Error("ledger finding does not roll up like a finding")
	}
}

func TestVillageExitIndicators(t *testing.T) {
	p := policies(t).For(village, 2017)
	poor := func(id string, members int) rules.Household {
		h := rules.Household{ID: id, Area: village, Status: rules.StatusPoor}
		for i := 0; i < members; i++ {
			h.Members = append(h.Members, rules.MemberRef{ID: id + string(rune('a'+i))})
		}
		return h
	}
	in := rules.VillageExitInput{Code: village, Name: "大塘村", Population: 1000,
		Households: []rules.Household{poor("h1", 10), poor("h2", 10), {ID: "h3", Status: rules.StatusExited}},
		Industries: []rules.VillageIndustry{{ID: "i1", Name: "茶叶合作社"}},
		CollectiveIncome: []rules.CollectiveIncomeItem{{ID: "c1", Source: "土地发包", Amount: yuan(30000)},
			{ID: "c2", Source: "光伏电站", Amount: yuan(20000)}, {ID: "c3", Source: "上级补助", Amount: yuan(100000), Transfer: true}}}
	// 20 of 1000 is exactly 2 %: not below it.
	got := rules.EvaluateVillageExit(in, p)
	if got.IncidenceMet || got.RemainingPoor != 20 || len(got.RemainingHouseholds) != 2 {
		t.Fatalf("20/1000: %+v", got)
	}
	if !got.IncomeMet || got.CollectiveIncome != yuan(50000) || len(got.ExcludedIncome) != 1 {
		t.Errorf("collective income at the figure: %+v", got)
	}
	if got.Met || len(got.Unmet) != 1 || got.Unmet[0].Code != "incidence_too_high" {
		t.Errorf("unmet = %+v", got.Unmet)
	}
	in.Households[1].Members = in.Households[1].Members[:9] // 19 of 1000
	if got := rules.EvaluateVillageExit(in, p); !got.Met {
		t.Errorf("19/1000: %+v", got.Unmet)
	}
	in.CollectiveIncome[1].Amount = yuan(19999.99)
	in.Industries = nil
	got = rules.EvaluateVillageExit(in, p)
	if got.Met || len(got.Unmet) != 2 || got.Unmet[0].Code != "industries_missing" || got.Unmet[1].Code != "collective_income_low" {
		t.Errorf("unmet = %+v", got.Unmet)
	}
	in.Population = 0
	if got := rules.EvaluateVillageExit(in, p); got.IncidenceMet {
		t.Error("unknown population meets the incidence standard")
	}
}
