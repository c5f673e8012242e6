package rules_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// fourOnesOn is the shipped policy with the "four ones" turned on for the
// test village's county.
func fourOnesOn(t *testing.T) *rules.PolicySet {
	t.Helper()
	ps, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"340102.yaml": "four_ones:\n  enabled: true\n"}))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// allDuties returns every duty done once in every window of 2026H1 on
// the window's first day, except the one excluded.
func allDuties(except rules.DutyKind) []rules.TeamDuty {
	var out []rules.TeamDuty
	h1 := rules.PeriodOf(rules.UnitHalfYear, local(2026, 1, 1, 0, 0, 0))
	for _, k := range rules.DutyKinds() {
		if k == except {
			continue
		}
		cad, _ := rules.FourOnesPolicy{SchedulingMeeting: rules.Cadence{Per: rules.UnitTwoMonths}, LogReview: rules.Cadence{Per: rules.UnitQuarter},
			ReviewMeeting: rules.Cadence{Per: rules.UnitHalfYear}, PolicyQuiz: rules.Cadence{Per: rules.UnitMonth}}.For(k)
		for _, w := range h1.Split(cad.Per) {
			out = append(out, rules.TeamDuty{ID: string(k) + w.Label, VillageCode: village, Kind: k, At: w.Start.Add(10 * time.Hour)})
		}
	}
	return out
}

// TestFourOnesBoundaries: the scheduling meeting is due every two months
// [003]. Held at 23:59:59 on the last day of March–April it counts for that
// window; a second later it falls in May–June and March–April is missed.
// Every other duty done on time gives no finding; the policy off gives
// none at all.
func TestFourOnesBoundaries(t *testing.T) {
	ps := fourOnesOn(t)
	h1 := period(t, "2026H1")
	team := []rules.Team{{VillageCode: village, FirstSecretary: "孙书记", Members: []string{"赵队员"}}}
	base := allDuties(rules.DutySchedulingMeeting)
	meeting := func(at time.Time) rules.TeamDuty {
		return rules.TeamDuty{ID: "m-" + at.String(), VillageCode: village, Kind: rules.DutySchedulingMeeting, At: at}
	}
	others := []rules.TeamDuty{meeting(local(2026, 2, 10, 9, 0, 0)), meeting(local(2026, 6, 10, 9, 0, 0))}
	tests := []struct {
		name   string
		at     time.Time
		missed []string
	}{
		{"23:59:59 on 30 April counts for March–April", local(2026, 4, 30, 23, 59, 59), nil},
		{"00:00:00 on 1 May does not", local(2026, 5, 1, 0, 0, 0), []string{"2026-03~04"}},
		{"00:00:00 on 1 March counts", local(2026, 3, 1, 0, 0, 0), nil},
		{"23:59:59 on 28 February does not", local(2026, 2, 28, 23, 59, 59), []string{"2026-03~04"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &rules.Input{Teams: team, Villages: []rules.Village{{Code: village, Name: "王庄村"}},
				TeamDuties: append(slices.Clone(base), append(slices.Clone(others), meeting(tc.at))...)}
			got := rules.CheckTeamDuties(in, ps, h1)
			if tc.missed == nil {
				if len(got) != 0 {
					t.Fatalf("findings %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Duty != rules.DutySchedulingMeeting || !slices.Equal(got[0].MissedWindows, tc.missed) ||
				got[0].DueBy.String() != "2026-04-30" || got[0].Done != 0 || got[0].Kind != rules.KindTeamDutyMissed ||
				got[0].VillageName != "王庄村" || got[0].Required.Per != rules.UnitTwoMonths {
				t.Fatalf("findings %+v", got)
			}
		})
	}
	// The policy off (shipped default): nothing is judged.
	in := &rules.Input{Teams: team}
	if got := rules.CheckTeamDuties(in, policies(t), h1); len(got) != 0 {
		t.Fatalf("policy off: %+v", got)
	}
	// Nothing done: one finding per duty, every window listed.
	got := rules.CheckTeamDuties(in, ps, h1)
	want := map[rules.DutyKind]int{rules.DutySchedulingMeeting: 3, rules.DutyLogReview: 2, rules.DutyReviewMeeting: 1, rules.DutyPolicyQuiz: 6}
	if len(got) != 4 {
		t.Fatalf("nothing done: %+v", got)
	}
	for _, f := range got {
		if len(f.MissedWindows) != want[f.Duty] {
			t.Errorf("%s missed %v, want %d windows", f.Duty, f.MissedWindows, want[f.Duty])
		}
	}
}

// TestFourOnesMinimumAndOpenWindow: with two quizzes a month required,
// exactly two pass and one fails; the month in progress is not judged.
func TestFourOnesMinimumAndOpenWindow(t *testing.T) {
	ps, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"340102.yaml": "four_ones:\n  enabled: true\n  policy_quiz: {per: month, min: 2}\n"}))
	if err != nil {
		t.Fatal(err)
	}
	jan := period(t, "2026-01")
	base := allDuties(rules.DutyPolicyQuiz)
	quiz := func(d int) rules.TeamDuty {
		return rules.TeamDuty{ID: "q" + string(rune('a'+d)), VillageCode: village, Kind: rules.DutyPolicyQuiz, At: local(2026, 1, d, 9, 0, 0)}
	}
	team := []rules.Team{{VillageCode: village, FirstSecretary: "孙书记"}}
	for n, wantFinding := range map[int]bool{1: true, 2: false} {
		in := &rules.Input{Teams: team, TeamDuties: slices.Clone(base)}
		for d := 1; d <= n; d++ {
			in.TeamDuties = append(in.TeamDuties, quiz(d))
		}
		got := rules.CheckTeamDuties(in, ps, jan)
		quizzes := 0
		for _, f := range got {
			if f.Duty == rules.DutyPolicyQuiz {
				quizzes++
				if f.Done != n || f.LastDone.String() != "2026-01-0"+string(rune('0'+n)) {
					t.Errorf("%d quizzes: %+v", n, f)
				}
			}
		}
		if (quizzes == 1) != wantFinding {
			t.Errorf("%d quizzes: findings %+v", n, got)
		}
	}
	// Judged on 20 January the month is still running: no finding.
	in := &rules.Input{Teams: team, AsOf: local(2026, 1, 20, 0, 0, 0)}
	for _, f := range rules.CheckTeamDuties(in, ps, jan) {
		if f.Duty == rules.DutyPolicyQuiz {
			t.Errorf("open month judged: %+v", f)
		}
	}
}

// TestDoctorVisitBoundaries: a basic package promises a visit a quarter
// [000]; a visit at 23:59:59 on 30 June counts for Q2, one at 00:00 on 1 July
// does not. The personalized package asks monthly.
func TestDoctorVisitBoundaries(t *testing.T) {
	ps := policies(t)
	h1 := period(t, "2026H1")
	hh := rules.Household{ID: "h1", Area: village, HeadName: "张三", Status: rules.StatusPoor}
	contract := rules.DoctorContract{HouseholdID: "h1", Package: "basic", Doctor: "刘医生", From: rules.Date{Year: 2025, Month: 12, Day: 1}}
	q1 := rules.DoctorVisit{ID: "d1", HouseholdID: "h1", At: local(2026, 2, 1, 10, 0, 0)}
	tests := []struct {
		name   string
		at     time.Time
		missed []string
	}{
		{"23:59:59 on 30 June counts for Q2", local(2026, 6, 30, 23, 59, 59), nil},
		{"00:00:00 on 1 July does not", local(2026, 7, 1, 0, 0, 0), []string{"2026Q2"}},
		{"00:00:00 on 1 April counts for Q2", local(2026, 4, 1, 0, 0, 0), nil},
		{"23:59:59 on 31 March does not", local(2026, 3, 31, 23, 59, 59), []string{"2026Q2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &rules.Input{Households: []rules.Household{hh}, DoctorContracts: []rules.DoctorContract{contract},
				DoctorVisits: []rules.DoctorVisit{q1, {ID: "d2", HouseholdID: "h1", At: tc.at}}}
			got := rules.CheckDoctorVisits(in, ps, h1)
			if tc.missed == nil {
				if len(got) != 0 {
					t.Fatalf("findings %+v", got)
				}
				return
			}
			if len(got) != 1 || !slices.Equal(got[0].MissedWindows, tc.missed) || got[0].Kind != rules.KindDoctorVisitOverdue ||
				got[0].Package != "基础服务包" || got[0].DueBy.String() != "2026-06-30" || got[0].Doctor != "刘医生" || got[0].Area != village {
				t.Fatalf("findings %+v", got)
			}
		})
	}
	// Monthly package: one visit in January and March leaves February and
	// April–June missed.
	in := &rules.Input{Households: []rules.Household{hh},
		DoctorContracts: []rules.DoctorContract{{HouseholdID: "h1", Package: "personalized", From: rules.Date{Year: 2025, Month: 1, Day: 1}}},
		DoctorVisits:    []rules.DoctorVisit{{ID: "a", HouseholdID: "h1", At: local(2026, 1, 31, 23, 59, 59)}, {ID: "b", HouseholdID: "h1", At: local(2026, 3, 1, 0, 0, 0)}}}
	got := rules.CheckDoctorVisits(in, ps, h1)
	if len(got) != 1 || strings.Join(got[0].MissedWindows, ",") != "2026-02,2026-04,2026-05,2026-06" || got[0].LastVisit.String() != "2026-03-01" {
		t.Fatalf("monthly: %+v", got)
	}
}

// TestDoctorContractSpan: windows outside the contract are not judged; a
// removed household is not judged at all.
func TestDoctorContractSpan(t *testing.T) {
	ps := policies(t)
	h1 := period(t, "2026H1")
	hh := rules.Household{ID: "h1", Area: village, Status: rules.StatusPoor}
	for _, tc := range []struct {
		name     string
		from, to rules.Date
		missed   string
	}{
		{"signed on 1 April: Q1 not judged", rules.Date{Year: 2026, Month: 4, Day: 1}, rules.Date{}, "2026Q2"},
		{"signed on 2 January: Q1 not judged", rules.Date{Year: 2026, Month: 1, Day: 2}, rules.Date{}, "2026Q2"},
		{"signed on 1 January: both", rules.Date{Year: 2026, Month: 1, Day: 1}, rules.Date{}, "2026Q1,2026Q2"},
		{"ended 30 June: both", rules.Date{Year: 2026, Month: 1, Day: 1}, rules.Date{Year: 2026, Month: 6, Day: 30}, "2026Q1,2026Q2"},
		{"ended 29 June: Q1 only", rules.Date{Year: 2026, Month: 1, Day: 1}, rules.Date{Year: 2026, Month: 6, Day: 29}, "2026Q1"},
	} {
		in := &rules.Input{Households: []rules.Household{hh},
			DoctorContracts: []rules.DoctorContract{{HouseholdID: "h1", Package: "basic", From: tc.from, To: tc.to}}}
		got := rules.CheckDoctorVisits(in, ps, h1)
		if len(got) != 1 || strings.Join(got[0].MissedWindows, ",") != tc.missed {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
	hh.Status = rules.StatusRemoved
	in := &rules.Input{Households: []rules.Household{hh},
		DoctorContracts: []rules.DoctorContract{{HouseholdID: "h1", Package: "basic", From: rules.Date{Year: 2025, Month: 1, Day: 1}}}}
	if got := rules.CheckDoctorVisits(in, ps, h1); len(got) != 0 {
		t.Errorf("removed household: %+v", got)
	}
}

func TestDutyPoliciesAreChecked(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"four_ones:\n  policy_quiz: {per: week, min: 1}\n", "four_ones.policy_quiz.per: must be one of"},
		{"four_ones:\n  review_meeting: {per: half_year, min: 0}\n", "four_ones.review_meeting.min: must be ≥ 1"},
		{"four_ones:\n  enabled: yes please\n", "four_ones.enabled: must be true or false"},
		{"family_doctor:\n  packages:\n    - {name: a, cadence: {per: month, min: 1}}\n    - {name: a, cadence: {per: quarter, min: 1}}\n", "family_doctor.packages[1].name: \"a\" appears twice"},
		{"family_doctor:\n  packages:\n    - {name: \"\", cadence: {per: month, min: 1}}\n", "family_doctor.packages[0].name: must not be empty"},
		{"family_doctor:\n  packages:\n    - {name: a, cadence: {per: month, min: 0}}\n", "family_doctor.packages[0].cadence.min: must be ≥ 1"},
	} {
		_, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"34.yaml": tc.body}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
	// A jurisdiction's own packages replace the shipped list.
	ps, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"34.yaml": "family_doctor:\n  packages:\n    - {name: special, title: 特需包, cadence: {per: two_months, min: 2}}\n"}))
	if err != nil {
		t.Fatal(err)
	}
	p := ps.For(village, 2026)
	if len(p.FamilyDoctor.Packages) != 1 || p.FamilyDoctor.Packages[0].Cadence != (rules.Cadence{Per: rules.UnitTwoMonths, Min: 2}) {
		t.Errorf("packages %+v", p.FamilyDoctor.Packages)
	}
	if d := policies(t).For("11", 2026).FamilyDoctor.Packages; len(d) != 2 {
		t.Errorf("shipped packages changed by another file: %+v", d)
	}
}
