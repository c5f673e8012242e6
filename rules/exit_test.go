package rules_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

func exitPolicy(t *testing.T) rules.Policy {
	t.Helper()
	return policies(t).For(village, 2017)
}

func boolp(b bool) *bool { return &b }

// goodRecords meets every exit standard in November 2017 under Anhui's
// 3,300 yuan line.
func goodRecords() rules.ExitRecords {
	return rules.ExitRecords{HouseholdID: "h1", Area: village,
		Members: []rules.ExitMember{
			{ID: "m1", Name: "张三", BirthDate: rules.Date{Year: 1970, Month: 3, Day: 1}, Insured: boolp(true)},
			{ID: "m2", Name: "张小明", BirthDate: rules.Date{Year: 2008, Month: 5, Day: 1}, Schooling: "小学在读", Insured: boolp(true)},
		},
		Surveys: []rules.IncomeSurvey{{ID: "s1", HouseholdID: "h1", IncomeYear: "2016-2017", HouseholdSize: 2,
			Wage: []rules.Fen{yuan(5000)}, Transfer: []rules.Fen{yuan(2000)}, ProductionCosts: yuan(300)}},
		Visits: []rules.ExitVisit{{ID: "v1", At: local(2017, 11, 1, 10, 0, 0), Checklist: map[string]string{
			"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "problem"}}},
		HousingCases: []rules.ExitHousingCase{{ID: "c1", Completed: true, EvidenceComplete: true}},
	}
}

// fullProcedure is a valid run of every step from 2017-11-10, each with the
// role that records it.
func fullProcedure() []struct {
	step rules.ExitStep
	role rules.Role
} {
	d := func(day, hh int) time.Time { return local(2017, 11, day, hh, 0, 0) }
	notice := func(from time.Time) *rules.Notice {
		return &rules.Notice{PostedAt: from, EndsAt: from.AddDate(0, 0, 5), PhotoSHA256: "ab"}
	}
	return []struct {
		step rules.ExitStep
		role rules.Role
	}{
		{rules.ExitStep{ID: "1", Kind: rules.StepAppraisal, At: d(10, 9), Entitled: 30, Attended: 28, Signed: 21}, rules.RoleTeamMember},
		{rules.ExitStep{ID: "2", Kind: rules.StepVerification, At: d(11, 9), VillageCommitteeSigner: "李书记", WorkTeamSigner: "王队员"}, rules.RoleTeamMember},
		{rules.ExitStep{ID: "3", Kind: rules.StepAcknowledgement, At: d(11, 15), SignatureID: "sig1"}, rules.RoleOfficer},
		{rules.ExitStep{ID: "4", Kind: rules.StepVillageNotice, At: d(12, 9), Notice: notice(d(12, 8))}, rules.RoleTeamMember},
		{rules.ExitStep{ID: "5", Kind: rules.StepTownshipReview, At: d(17, 9), Passed: true}, rules.RoleTownship},
		{rules.ExitStep{ID: "6", Kind: rules.StepTownshipNotice, At: d(18, 9), Notice: notice(d(18, 9))}, rules.RoleTownship},
		{rules.ExitStep{ID: "7", Kind: rules.StepTownshipApproval, At: d(23, 10), Passed: true}, rules.RoleTownship},
		{rules.ExitStep{ID: "8", Kind: rules.StepCountyRegistration, At: d(25, 10), RegistrationRef: "备2017-001"}, rules.RoleCounty},
	}
}

// stateAfter returns the state after the first n steps of fullProcedure,
// with the standards of goodRecords evaluated before the first.
func stateAfter(t *testing.T, n int) rules.ExitState {
	t.Helper()
	p := exitPolicy(t)
	std := rules.EvaluateExitStandards(goodRecords(), p, local(2017, 11, 10, 8, 0, 0))
	s := rules.ExitState{CaseID: "case1", Standards: &std}
	for _, st := range fullProcedure()[:n] {
		if err := rules.CheckExitStep(s, st.step, st.role, p); err != nil {
			t.Fatalf("step %s: %v", st.step.Kind, err)
		}
		s = rules.ApplyExitStep(s, st.step)
	}
	return s
}

func wantCode(t *testing.T, err error, sentinel *rules.StepError) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want code %s", err, sentinel.Code)
	}
	var se *rules.StepError
	if !errors.As(err, &se) || se.Reason == "" {
		t.Fatalf("err %v carries no reason", err)
	}
}

func TestExitProcedureRunsInOrder(t *testing.T) {
	s := stateAfter(t, len(fullProcedure()))
	if !s.Completed() || s.Next() != "" {
		t.Fatalf("not completed: next %q", s.Next())
	}
	wantCode(t, rules.CheckExitStep(s, fullProcedure()[7].step, rules.RoleCounty, exitPolicy(t)), rules.ErrExitCompleted)
	// The fold of the same steps gives the same state.
	var steps []rules.ExitStep
	for _, st := range fullProcedure() {
		steps = append(steps, st.step)
	}
	if got := rules.ExitStateOf("case1", steps); !got.Completed() || len(got.Done) != 8 {
		t.Errorf("ExitStateOf: %+v", got)
	}
}

func TestExitStepsOutOfOrder(t *testing.T) {
	p := exitPolicy(t)
	proc := fullProcedure()
	for done := 0; done < len(proc); done++ {
		s := stateAfter(t, done)
		for i, st := range proc {
			if i == done {
				continue
			}
			t.Run(fmt.Sprintf("after_%d_steps_%s", done, st.step.Kind), func(t *testing.T) {
				step := st.step
				step.At = local(2017, 12, 20, 9, 0, 0) // after every notice
				wantCode(t, rules.CheckExitStep(s, step, st.role, p), rules.ErrExitOutOfOrder)
			})
		}
	}
	// A step dated before the previous one is out of order too.
	s := stateAfter(t, 1)
	step := proc[1].step
	step.At = proc[0].step.At.Add(-time.Minute)
	wantCode(t, rules.CheckExitStep(s, step, proc[1].role, p), rules.ErrExitOutOfOrder)
}

func TestExitStepsByEachWrongRole(t *testing.T) {
	p := exitPolicy(t)
	all := []rules.Role{rules.RoleOfficer, rules.RoleTeamMember, rules.RoleTownship, rules.RoleCounty, rules.RoleAuditor, rules.RoleAdmin}
	for i, st := range fullProcedure() {
		s := stateAfter(t, i)
		for _, r := range all {
			if slices.Contains(st.step.Kind.Roles(), r) {
				if err := rules.CheckExitStep(s, st.step, r, p); err != nil {
					t.Errorf("%s by %s: %v", st.step.Kind, r, err)
				}
				continue
			}
			t.Run(string(st.step.Kind)+"_by_"+string(r), func(t *testing.T) {
				wantCode(t, rules.CheckExitStep(s, st.step, r, p), rules.ErrExitWrongRole)
			})
		}
	}
}

func TestExitNoticeBoundary(t *testing.T) {
	p := exitPolicy(t)
	if p.Exit.NoticeDays != 5 {
		t.Fatalf("default notice days = %d", p.Exit.NoticeDays)
	}
	s := stateAfter(t, 3)
	posted := local(2017, 11, 12, 8, 0, 0)
	step := fullProcedure()[3].step
	step.Notice = &rules.Notice{PostedAt: posted, EndsAt: posted.AddDate(0, 0, 5).Add(-time.Minute), PhotoSHA256: "ab"}
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitNoticeTooShort)
	step.Notice.EndsAt = posted.Add(5 * 24 * time.Hour)
	if err := rules.CheckExitStep(s, step, rules.RoleTeamMember, p); err != nil {
		t.Fatalf("exactly 5 days refused: %v", err)
	}
	// Four days, as the demo shows, are refused.
	step.Notice.EndsAt = posted.AddDate(0, 0, 4)
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitNoticeTooShort)
	// The township notice follows the same policy.
	s = stateAfter(t, 5)
	tn := fullProcedure()[5].step
	tn.Notice = &rules.Notice{PostedAt: tn.At, EndsAt: tn.At.Add(5*24*time.Hour - time.Minute), PhotoSHA256: "ab"}
	wantCode(t, rules.CheckExitStep(s, tn, rules.RoleTownship, p), rules.ErrExitNoticeTooShort)
}

func TestExitNoticeDatedNinthMonth31st(t *testing.T) {
	p := exitPolicy(t)
	s := stateAfter(t, 3)
	step := fullProcedure()[3].step
	step.Notice.DatedAs = "2017年9月31日"
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitBadDate)
	step.Notice.DatedAs = "2017年11月13日" // real, but not the posting date
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitBadDate)
	step.Notice.DatedAs = "2017年11月12日"
	if err := rules.CheckExitStep(s, step, rules.RoleTeamMember, p); err != nil {
		t.Fatal(err)
	}
}

func TestExitNextStepWaitsForTheNoticeToEnd(t *testing.T) {
	p := exitPolicy(t)
	s := stateAfter(t, 4) // village notice posted 11-12 08:00, ends 11-17 08:00
	review := fullProcedure()[4].step
	review.At = local(2017, 11, 17, 7, 59, 0)
	wantCode(t, rules.CheckExitStep(s, review, rules.RoleTownship, p), rules.ErrExitNoticeRunning)
	review.At = local(2017, 11, 17, 8, 0, 0)
	if err := rules.CheckExitStep(s, review, rules.RoleTownship, p); err != nil {
		t.Fatal(err)
	}
}

func TestExitSignoffTwoThirds(t *testing.T) {
	p := exitPolicy(t)
	s := stateAfter(t, 0)
	step := fullProcedure()[0].step
	step.Entitled, step.Attended = 30, 30
	step.Signed = 20 // exactly two-thirds
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitSignoffShort)
	step.Signed = 21 // one more
	if err := rules.CheckExitStep(s, step, rules.RoleTeamMember, p); err != nil {
		t.Fatal(err)
	}
	// A policy asking "at least" two-thirds accepts exactly two-thirds.
	atLeast := p.Exit
	atLeast.SignoffStrictlyMore = false
	if !rules.SignoffMet(20, 30, atLeast) || rules.SignoffMet(19, 30, atLeast) {
		t.Error("at-least policy boundary")
	}
	// More signatures than attendees is an incomplete record.
	step.Attended = 10
	wantCode(t, rules.CheckExitStep(s, step, rules.RoleTeamMember, p), rules.ErrExitIncomplete)
}

func TestExitWhoseStandardsFail(t *testing.T) {
	p := exitPolicy(t)
	r := goodRecords()
	r.Surveys[0].Wage = []rules.Fen{yuan(4600)} // 4600+2000-300 = 6300 = 3150 per capita < 3300
	r.Visits[0].Checklist["medical"] = "problem"
	r.HousingCases = append(r.HousingCases, rules.ExitHousingCase{ID: "c2"})
	r.Members[1].Schooling = "辍学"
	r.Members[0].Insured = nil
	at := local(2017, 11, 10, 8, 0, 0)
	std := rules.EvaluateExitStandards(r, p, at)
	if std.Met {
		t.Fatal("standards met")
	}
	var codes []string
	for _, u := range std.Unmet {
		codes = append(codes, u.Code)
		if u.Title == "" || u.Detail == "" {
			t.Errorf("unnamed standard %+v", u)
		}
	}
	want := []string{rules.StandardIncomeNotAboveLine, rules.StandardChecklistNotMet, rules.StandardHousingCaseOpen,
		rules.StandardChildOutOfSchool, rules.StandardMemberNotInsured}
	if !slices.Equal(codes, want) {
		t.Errorf("unmet = %v, want %v", codes, want)
	}
	s := rules.ExitState{CaseID: "c", Standards: &std}
	err := rules.CheckExitStep(s, fullProcedure()[0].step, rules.RoleTeamMember, p)
	wantCode(t, err, rules.ErrExitStandardsUnmet)
	var se *rules.StepError
	errors.As(err, &se)
	if len(se.Unmet) != len(want) {
		t.Errorf("error lists %d unmet standards", len(se.Unmet))
	}
	// Standards not evaluated at all refuse the first step too.
	wantCode(t, rules.CheckExitStep(rules.ExitState{}, fullProcedure()[0].step, rules.RoleTeamMember, p), rules.ErrExitStandardsUnmet)
	// Drinking water is not an exit standard of [000]; goodRecords has a
	// problem there and still meets them.
	if good := rules.EvaluateExitStandards(goodRecords(), p, at); !good.Met {
		t.Errorf("good records unmet: %+v", good.Unmet)
	}
}

func TestExitIncomeSurveyYearBoundary(t *testing.T) {
	p := exitPolicy(t)
	r := goodRecords()
	r.Surveys[0].IncomeYear = "2015-2016"
	r.Visits[0].At = local(2017, 9, 1, 0, 0, 0)
	// On 30 Sep 2017 23:59:59 the income year 2016-2017 is current and
	// 2015-2016 the one just ended: the survey still counts.
	if std := rules.EvaluateExitStandards(r, p, local(2017, 9, 30, 23, 59, 59)); !std.Met {
		t.Errorf("30 Sep: %+v", std.Unmet)
	}
	// From 1 Oct 2017 00:00 the year just ended is 2016-2017.
	std := rules.EvaluateExitStandards(r, p, local(2017, 10, 1, 0, 0, 0))
	if std.Met || std.Unmet[0].Code != rules.StandardIncomeSurveyMissing {
		t.Errorf("1 Oct: %+v", std.Unmet)
	}
}

func TestExitIncomeAtTheLineFailsOneYuanAboveMeets(t *testing.T) {
	p := exitPolicy(t) // Anhui 3,300
	at := local(2017, 11, 10, 8, 0, 0)
	r := goodRecords()
	r.Surveys[0].Wage, r.Surveys[0].Transfer, r.Surveys[0].ProductionCosts = []rules.Fen{yuan(6600)}, nil, 0
	if std := rules.EvaluateExitStandards(r, p, at); std.Met || std.Unmet[0].Code != rules.StandardIncomeNotAboveLine {
		t.Errorf("at the line: %+v", std.Unmet)
	}
	r.Surveys[0].Wage = []rules.Fen{yuan(6602)}
	if std := rules.EvaluateExitStandards(r, p, at); !std.Met {
		t.Errorf("one yuan above: %+v", std.Unmet)
	}
}

func TestExitObjectionUpheldSendsTheCaseBack(t *testing.T) {
	p := exitPolicy(t)
	s := stateAfter(t, 4)
	obj := rules.ExitStep{ID: "o1", Kind: rules.StepObjection, At: local(2017, 11, 14, 10, 0, 0), Upheld: true}
	wantCode(t, rules.CheckExitStep(s, obj, rules.RoleTeamMember, p), rules.ErrExitIncomplete)
	obj.Reason = "群众反映该户家中有人在城镇购房"
	wantCode(t, rules.CheckExitStep(s, obj, rules.RoleTownship, p), rules.ErrExitWrongRole)
	if err := rules.CheckExitStep(s, obj, rules.RoleTeamMember, p); err != nil {
		t.Fatal(err)
	}
	back := rules.ApplyExitStep(s, obj)
	if back.Next() != rules.StepAppraisal || back.Returns != 1 || back.ReturnReason != obj.Reason || back.Standards != nil {
		t.Fatalf("after upheld objection: next %s returns %d reason %q", back.Next(), back.Returns, back.ReturnReason)
	}
	// Restarting needs the standards again.
	restart := fullProcedure()[0].step
	restart.At = local(2017, 11, 20, 9, 0, 0)
	wantCode(t, rules.CheckExitStep(back, restart, rules.RoleTeamMember, p), rules.ErrExitStandardsUnmet)
	// An objection not upheld keeps the case where it was.
	obj.Upheld = false
	if kept := rules.ApplyExitStep(s, obj); kept.Next() != rules.StepTownshipReview || len(kept.Objections) != 1 {
		t.Errorf("dismissed objection moved the case: %s", kept.Next())
	}
	// No objection outside a running notice.
	obj.At = local(2017, 11, 17, 8, 0, 0)
	wantCode(t, rules.CheckExitStep(s, obj, rules.RoleTeamMember, p), rules.ErrExitOutOfOrder)
	wantCode(t, rules.CheckExitStep(stateAfter(t, 2), obj, rules.RoleTeamMember, p), rules.ErrExitOutOfOrder)
}

func TestExitTownshipReviewNotPassedSendsBack(t *testing.T) {
	p := exitPolicy(t)
	s := stateAfter(t, 4)
	review := fullProcedure()[4].step
	review.Passed = false
	wantCode(t, rules.CheckExitStep(s, review, rules.RoleTownship, p), rules.ErrExitIncomplete)
	review.Reason = "收入测算不实"
	if err := rules.CheckExitStep(s, review, rules.RoleTownship, p); err != nil {
		t.Fatal(err)
	}
	if back := rules.ApplyExitStep(s, review); back.Next() != rules.StepAppraisal || back.ReturnReason != "收入测算不实" {
		t.Errorf("not sent back: %+v", back)
	}
}

// TestExitUnmetReasonNamesEachStandardOnce: two uninsured members and two
// open housing cases are four unmet records but two standards; the
// refusal names each standard once, with what is behind it.
func TestExitUnmetReasonNamesEachStandardOnce(t *testing.T) {
	p := exitPolicy(t)
	r := goodRecords()
	r.Members[0].Insured = boolp(false)
	r.Members[1].Insured = nil
	r.HousingCases = []rules.ExitHousingCase{{ID: "c1"}, {ID: "c2"}}
	std := rules.EvaluateExitStandards(r, p, local(2017, 11, 10, 8, 0, 0))
	if len(std.Unmet) != 4 {
		t.Fatalf("unmet = %+v, want one per case and per member", std.Unmet)
	}
	err := rules.CheckExitStep(rules.ExitState{CaseID: "c", Standards: &std}, fullProcedure()[0].step, rules.RoleTeamMember, p)
	wantCode(t, err, rules.ErrExitStandardsUnmet)
	var se *rules.StepError
	errors.As(err, &se)
	for _, title := range []string{"家庭成员未全部参加基本医保", "危房改造未完成"} {
		if n := strings.Count(se.Reason, title); n != 1 {
			t.Errorf("reason names %s %d times: %s", title, n, se.Reason)
		}
	}
	for _, detail := range []string{"张三未参加基本医疗保险", "张小明未记录参保情况"} {
		if !strings.Contains(se.Reason, detail) {
			t.Errorf("reason lacks %s: %s", detail, se.Reason)
		}
	}
	if len(se.Unmet) != 4 {
		t.Errorf("error lists %d unmet records, want 4", len(se.Unmet))
	}
}

func TestCheckExitCase(t *testing.T) {
	p := exitPolicy(t)
	at := local(2017, 12, 1, 8, 0, 0)
	good := rules.EvaluateExitStandards(goodRecords(), p, at)
	bad := goodRecords()
	bad.Members[0].Insured = boolp(false)
	unmet := rules.EvaluateExitStandards(bad, p, at)
	if _, ok := rules.CheckExitCase(village, "张三", rules.ExitState{CaseID: "c"}, "h1", unmet); ok {
		t.Error("a case with no step done is a finding")
	}
	if _, ok := rules.CheckExitCase(village, "张三", stateAfter(t, 3), "h1", good); ok {
		t.Error("a case whose standards are met is a finding")
	}
	f, ok := rules.CheckExitCase(village, "张三", stateAfter(t, 3), "h1", unmet)
	if !ok || f.Kind != rules.KindExitStandardsUnmet || f.LastStep != rules.StepAcknowledgement || f.Registered ||
		len(f.Unmet) != 1 || f.Unmet[0].Code != rules.StandardMemberNotInsured || f.Area != village {
		t.Errorf("finding = %+v, %v", f, ok)
	}
	if f, ok := rules.CheckExitCase(village, "张三", stateAfter(t, 8), "h1", unmet); !ok || !f.Registered {
		t.Errorf("registered case: %+v, %v", f, ok)
	}
}
