package core_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestExitCasesAndFindings lists a case recorded through its village
// notice with its steps in order and its standards met; once the
// household's only member is recorded uninsured, the case is an exit
// finding naming that standard, and a case with no step is none.
func TestExitCasesAndFindings(t *testing.T) {
	c, _, _ := newCore(t, nil)
	loadHousehold(t, c, "h1", false)
	loadHousehold(t, c, "h2", true)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)) }
	for _, w := range []struct {
		caller core.Caller
		op     syncengine.WireOp
	}{
		{procTeam, stepOp(procTeam, "h1", "s1", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 21})},
		{procTeam, stepOp(procTeam, "h1", "s2", "verification", day(2), map[string]any{"village_committee_signer": "李四", "work_team_signer": "赵六"})},
		{procOfficer, stepOp(procOfficer, "h1", "s3", "acknowledgement", day(3), map[string]any{"signature_id": "sig-h1"})},
		{procTeam, stepOp(procTeam, "h1", "s4", "village_notice", day(4), notice(day(4), 5*24*time.Hour))},
		// Refused (standards unmet): h2 has no case at all afterwards.
		{procTeam, stepOp(procTeam, "h2", "s2-1", "appraisal", day(1), map[string]any{"entitled": 30, "attended": 25, "signed": 21})},
	} {
		record(t, c, w.caller, w.op)
	}
	cases, err := c.ExitCases(t.Context(), procTownship, "340199001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].ID != "case-h1" || cases[0].HeadName != "张三" || len(cases[0].Steps) != 4 ||
		cases[0].State.Next() != rules.StepTownshipReview || !cases[0].Standards.Met {
		t.Fatalf("cases = %+v", cases)
	}
	for i, want := range []rules.ExitStepKind{rules.StepAppraisal, rules.StepVerification, rules.StepAcknowledgement, rules.StepVillageNotice} {
		if cases[0].Steps[i].Kind != want {
			t.Errorf("step %d = %s, want %s", i, cases[0].Steps[i].Kind, want)
		}
	}
	if f, err := c.ExitFindings(t.Context(), procCounty, "340199"); err != nil || len(f) != 0 {
		t.Fatalf("findings with standards met: %+v %v", f, err)
	}
	op := &syncengine.Op{ID: "uninsure", RecordID: "m-h1", Collection: "members", Area: procArea, Author: "operator", Device: "seed",
		HLC: syncengine.MakeHLC(t0.UnixMilli(), 0), Set: fieldsOf(map[string]any{"insured": false})}
	if _, err := c.Load(t.Context(), []*syncengine.Op{op}); err != nil {
		t.Fatal(err)
	}
	f, err := c.ExitFindings(t.Context(), procCounty, "340199")
	if err != nil || len(f) != 1 || f[0].CaseID != "case-h1" || f[0].LastStep != rules.StepVillageNotice ||
		len(f[0].Unmet) != 1 || f[0].Unmet[0].Code != rules.StandardMemberNotInsured {
		t.Fatalf("findings = %+v %v", f, err)
	}
	for _, bad := range []struct {
		caller core.Caller
		area   string
	}{{procOfficer, "340199001"}, {procTeam, procArea}, {procTownship, "340199"}, {procTownship, "340199002"}} {
		if _, err := c.ExitCases(t.Context(), bad.caller, bad.area); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
			t.Errorf("%s over %s: %v", bad.caller.User, bad.area, err)
		}
		if _, err := c.LedgerItems(t.Context(), bad.caller, bad.area); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
			t.Errorf("ledger, %s over %s: %v", bad.caller.User, bad.area, err)
		}
	}
}

// TestLedgerItemsOrder lists open items first, each status by deadline.
func TestLedgerItemsOrder(t *testing.T) {
	c, _, _ := newCore(t, nil)
	var ops []*syncengine.Op
	for i, it := range []struct{ id, status, deadline string }{
		{"L1", "closed", "2026-01-01"}, {"L2", "open", "2026-05-01"}, {"L3", "rectified", "2026-02-01"}, {"L4", "open", "2026-04-01"},
	} {
		ops = append(ops, &syncengine.Op{ID: "l" + it.id, RecordID: it.id, Collection: "ledger_items", Area: procArea, Author: "operator", Device: "seed",
			HLC: syncengine.MakeHLC(t0.UnixMilli()+int64(i), 0), Set: fieldsOf(map[string]any{"source": "inspection", "problem": "问题" + it.id,
				"responsible_unit": "一乡", "deadline": it.deadline, "status": it.status, "opened_by": "township1", "opened_at": "2026-01-01T10:00:00+08:00"})})
	}
	if _, err := c.Load(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	items, err := c.LedgerItems(t.Context(), procTownship, "340199001")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, it := range items {
		got += it.ID + " "
		if it.Area != procArea {
			t.Errorf("%s area %q", it.ID, it.Area)
		}
	}
	if want := "L4 L2 L3 L1 "; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
}
