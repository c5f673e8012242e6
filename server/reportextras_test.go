package server_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
)

// TestComplianceReportCountsLedgerAndExitFindings: an open ledger item past
// its deadline and an exit case past its appraisal whose household does
// not meet the exit standards are counted in the roll-up under their
// villages, listed, and left out of a township that does not hold them.
func TestComplianceReportCountsLedgerAndExitFindings(t *testing.T) {
	b := seedBuilder{ops: reportSeed()}
	b.add("ledger_items", "L1", areaV1, map[string]any{"source": "inspection", "problem": "走访记录缺签字", "responsible_unit": "一乡",
		"deadline": "2026-02-10", "status": "open", "opened_by": "county", "opened_at": "2026-02-01T10:00:00+08:00"})
	b.add("ledger_items", "L2", areaV1, map[string]any{"source": "inspection", "problem": "未到期", "responsible_unit": "一乡",
		"deadline": "2026-03-10", "status": "open", "opened_by": "county", "opened_at": "2026-02-01T10:00:00+08:00"})
	b.add("exit_steps", "es1", areaV3, map[string]any{"case_id": "case-hM3", "household_id": "hM3", "step": "appraisal",
		"at": "2026-02-03T09:00:00+08:00", "actor": "qian", "entitled": 30, "attended": 28, "signed": 25})
	users := append(testUsers(), server.UserInput{Username: "qian", Role: "team_member", Scopes: []string{areaV3}})
	ts := startServer(t, serverOptions{users: users, seed: b.ops})
	rep := getReport(t, ts, ts.login("county", testPassword), "area=340199&period=2026-02")
	checkSums(t, rep.Summary)
	l := rep.Lists
	if len(l.LedgerOverdue) != 1 || l.LedgerOverdue[0].ItemID != "L1" || l.LedgerOverdue[0].DaysOverdue != 19 || l.LedgerOverdue[0].Area != areaV1 {
		t.Errorf("ledger findings %+v", l.LedgerOverdue)
	}
	if len(l.ExitStandardsUnmet) != 1 || l.ExitStandardsUnmet[0].CaseID != "case-hM3" || l.ExitStandardsUnmet[0].LastStep != rules.StepAppraisal ||
		l.ExitStandardsUnmet[0].Area != areaV3 || len(l.ExitStandardsUnmet[0].Unmet) == 0 {
		t.Errorf("exit findings %+v", l.ExitStandardsUnmet)
	}
	if rep.Summary.Counts[rules.KindLedgerOverdue] != 1 || rep.Summary.Counts[rules.KindExitStandardsUnmet] != 1 {
		t.Errorf("counts %v", rep.Summary.Counts)
	}
	// The township of V1 and V2 sees the ledger item, not the exit case.
	tw := getReport(t, ts, ts.login("township", testPassword), "area=340199001&period=2026-02")
	if len(tw.Lists.LedgerOverdue) != 1 || len(tw.Lists.ExitStandardsUnmet) != 0 {
		t.Errorf("township lists: ledger %+v exit %+v", tw.Lists.LedgerOverdue, tw.Lists.ExitStandardsUnmet)
	}
}
