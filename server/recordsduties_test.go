package server_test

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestDutyFindingsFromPushedRecords: team duties and family-doctor
// contracts and visits pushed by a township user reach the February
// compliance report (judged on 1 March) and make the "four ones" and
// family-doctor findings appear and disappear at the policy's window
// boundaries: a duty or visit dated 1 March does not count for February,
// one dated 28 February does; a contract ending on 28 February is judged
// for February, one ending on the 27th is not.
func TestDutyFindingsFromPushedRecords(t *testing.T) {
	// The four ones are off in the shipped policy: the township turns
	// them on. The shipped family-doctor packages apply (personalized:
	// a visit every month).
	ps, err := rules.LoadPolicies(fstest.MapFS{"340199001.yaml": {Data: []byte("four_ones:\n  enabled: true\n")}})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, serverOptions{cfg: server.Config{Policies: ps}, users: testUsers(), seed: standardSeed()})
	county := ts.login("county", testPassword)
	township := ts.as("township")
	push := func(ops ...syncengine.WireOp) {
		t.Helper()
		resp := ts.push(township, ops...)
		for _, op := range ops {
			if !acked(resp, op.ID) {
				rej, _ := rejection(resp, op.ID)
				t.Fatalf("op %s (%s/%s) not acked: %+v", op.ID, op.Collection, op.RecordID, rej)
			}
		}
	}
	report := func() *reports.Report {
		t.Helper()
		rep := getReport(t, ts, county, "area=340199&period=2026-02")
		checkSums(t, rep.Summary)
		if got := rep.Summary.Counts[rules.KindTeamDutyMissed]; got != len(rep.Lists.TeamDuties) {
			t.Errorf("%s counted %d, listed %d", rules.KindTeamDutyMissed, got, len(rep.Lists.TeamDuties))
		}
		if got := rep.Summary.Counts[rules.KindDoctorVisitOverdue]; got != len(rep.Lists.DoctorVisits) {
			t.Errorf("%s counted %d, listed %d", rules.KindDoctorVisitOverdue, got, len(rep.Lists.DoctorVisits))
		}
		return rep
	}
	missedDuties := func(rep *reports.Report) []rules.DutyKind {
		var out []rules.DutyKind
		for _, f := range rep.Lists.TeamDuties {
			if f.Area != areaV1 {
				t.Errorf("team duty finding in %s: only %s has a team", f.Area, areaV1)
			}
			out = append(out, f.Duty)
		}
		return out
	}
	overdue := func(rep *reports.Report) []string {
		var out []string
		for _, f := range rep.Lists.DoctorVisits {
			out = append(out, f.HouseholdID)
		}
		return out
	}
	duty := func(id, kind, date string) syncengine.WireOp {
		return ts.op(township, id, "team_duties", id, areaV1, map[string]any{"team_id": "tV1", "kind": kind, "date": date})
	}
	visit := func(id, household, date string) syncengine.WireOp {
		return ts.op(township, id, "doctor_visits", id, areaV1, map[string]any{"household_id": household, "date": date, "doctor": "刘芳"})
	}

	// Nothing stored: the team of areaV1 missed the two duties whose
	// windows ended by 1 March (the January–February scheduling meeting
	// and the February quiz); no contract, no doctor finding.
	rep := report()
	if got := missedDuties(rep); !slices.Equal(got, []rules.DutyKind{rules.DutySchedulingMeeting, rules.DutyPolicyQuiz}) {
		t.Errorf("with no duties stored: missed %v", got)
	}
	if len(rep.Lists.DoctorVisits) != 0 {
		t.Errorf("doctor findings without contracts: %+v", rep.Lists.DoctorVisits)
	}

	// A meeting in January counts for January–February; a quiz dated
	// 1 March belongs to March.
	push(duty("td-meeting", "scheduling_meeting", "2026-01-05"), duty("td-quiz-mar", "policy_quiz", "2026-03-01"))
	rep = report()
	if got := missedDuties(rep); !slices.Equal(got, []rules.DutyKind{rules.DutyPolicyQuiz}) {
		t.Fatalf("after a meeting and a March quiz: missed %v", got)
	}
	if f := rep.Lists.TeamDuties[0]; f.Done != 0 || f.DueBy != (rules.Date{Year: 2026, Month: 2, Day: 28}) || !slices.Equal(f.MissedWindows, []string{"2026-02"}) {
		t.Errorf("quiz finding %+v", f)
	}
	push(duty("td-quiz-feb", "policy_quiz", "2026-02-28"))
	if got := missedDuties(report()); len(got) != 0 {
		t.Errorf("after a quiz on 28 February: missed %v", got)
	}

	// hV1a's personalized contract wants a visit in February: one on
	// 1 March does not do, one on 28 February does.
	contract := ts.op(township, "dc-1a", "doctor_contracts", "dc-1a", areaV1, map[string]any{"household_id": "hV1a", "doctor": "刘芳",
		"package": "personalized", "start_date": "2026-01-01"})
	push(contract, visit("dv-mar", "hV1a", "2026-03-01"))
	rep = report()
	if got := overdue(rep); !slices.Equal(got, []string{"hV1a"}) {
		t.Fatalf("with a March visit only: overdue %v", got)
	}
	if f := rep.Lists.DoctorVisits[0]; f.Visits != 0 || f.Doctor != "刘芳" || f.Package != "个性化服务包" || f.Area != areaV1 ||
		f.LastVisit != (rules.Date{}) || !slices.Equal(f.MissedWindows, []string{"2026-02"}) {
		t.Errorf("doctor finding %+v (the March visit is after the judging instant)", f)
	}
	push(visit("dv-feb", "hV1a", "2026-02-28"))
	if got := overdue(report()); len(got) != 0 {
		t.Errorf("after a visit on 28 February: overdue %v", got)
	}

	// hV1b's contract ends on 28 February: February lies within it and
	// had no visit. Ended on the 27th, February is not wholly within it.
	ended := ts.op(township, "dc-1b", "doctor_contracts", "dc-1b", areaV1, map[string]any{"household_id": "hV1b", "doctor": "刘芳",
		"package": "personalized", "start_date": "2026-01-01", "end_date": "2026-02-28"})
	push(ended)
	if got := overdue(report()); !slices.Equal(got, []string{"hV1b"}) {
		t.Fatalf("contract ending 28 February: overdue %v", got)
	}
	shorter := ts.op(township, "dc-1b-end", "doctor_contracts", "dc-1b", areaV1, map[string]any{"end_date": "2026-02-27"})
	shorter.Base = map[string]string{"end_date": ended.ID}
	push(shorter)
	if got := overdue(report()); len(got) != 0 {
		t.Errorf("contract ending 27 February: overdue %v", got)
	}
}
