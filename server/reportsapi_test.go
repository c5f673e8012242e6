package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// reportSeed is standardSeed plus a month of field work in February 2026
// (the server clock stands at 1 March): monitored households visited or
// not, check-ins and duty days of the 340199001001 team, a one-member team
// in 340199002001, housing cases with and without their photos, and a
// check-in stamped ahead of its receipt.
func reportSeed() []*syncengine.Op {
	b := seedBuilder{ops: standardSeed()}
	cst := rules.Shanghai()
	for _, h := range []struct{ id, area string }{{"hM1", areaV1}, {"hM2", areaV2}, {"hM3", areaV3}, {"hMX", areaVX}} {
		b.add("households", h.id, h.area, map[string]any{"head_name": "监测" + h.id, "status": map[string]any{"value": "monitored", "year": 2025}})
		b.add("members", "m"+h.id, h.area, map[string]any{"household_id": h.id, "name": "监测" + h.id, "relation": "head"})
	}
	b.add("visits", "visM1", areaV1, map[string]any{"household_id": "hM1", "officer": "wang", "visited_at": "2026-02-10T09:00:00+08:00",
		"answered_by_member_id": "mhM1", "checklist": map[string]any{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"}})
	checkin := func(id, member, area string, day int, latOffset float64) *syncengine.Op {
		at := time.Date(2026, 2, day, 8, 30, 0, 0, cst)
		return b.add("checkins", id, area, map[string]any{"member": member, "village_code": area, "at": at.Format(time.RFC3339),
			"gps": map[string]any{"lat": 31.7 + latOffset, "lon": 117.1, "accuracy_m": 10}})
	}
	for d := 1; d <= 20; d++ {
		checkin(fmt.Sprintf("ck-sun-%02d", d), "sun", areaV1, d, 0)
	}
	for d := 1; d <= 5; d++ {
		checkin(fmt.Sprintf("ck-zhao-%02d", d), "zhao", areaV1, d, 0)
	}
	checkin("ck-zhao-far", "zhao", areaV1, 6, 0.05) // ~5.5 km from the centre: not counted
	// Stamped 08:30 on the 7th, received at 08:00: the tablet clock ran ahead.
	ahead := checkin("ck-zhao-ahead", "zhao", areaV1, 7, 0)
	ahead.ReceivedAt = time.Date(2026, 2, 7, 8, 0, 0, 0, cst)
	duty := func(id, date, kind, approver string) {
		set := map[string]any{"member": "zhao", "date": date, "kind": kind}
		if approver != "" {
			set["approved_by"] = approver
		}
		op := b.add("duty_days", id, areaV1, set)
		op.Author = approver
		if approver == "" {
			op.Author = "zhao"
		}
	}
	duty("dd1", "2026-02-10", "training", "township") // counts
	duty("dd2", "2026-02-11", "meeting", "county")    // counts
	duty("dd3", "2026-02-12", "meeting", "wang")      // an officer cannot approve
	duty("dd4", "2026-02-13", "other", "township")    // kind not counted
	duty("dd5", "2026-02-14", "meeting", "")          // not approved
	b.add("teams", "tV3", areaV3, map[string]any{"village_code": areaV3, "members": []string{"qian"}})
	photo := func(id, area, caseID, stage, at string) {
		b.add("photos", id, area, map[string]any{"blob_sha256": fmt.Sprintf("%064x", len(b.ops)), "case_id": caseID, "stage": stage, "captured_at": at})
	}
	b.add("housing_cases", "hcV1", areaV1, map[string]any{"household_id": "hV1a", "grade": "C"})
	photo("p1", areaV1, "hcV1", "before", "2026-01-05T10:00:00+08:00")
	photo("p2", areaV1, "hcV1", "after", "2026-02-05T10:00:00+08:00")
	b.add("housing_cases", "hcV2", areaV2, map[string]any{"household_id": "hV2a", "grade": "D"})
	photo("p3", areaV2, "hcV2", "before", "2026-01-05T10:00:00+08:00")
	b.add("housing_cases", "hcV3", areaV3, map[string]any{"household_id": "hV3a", "grade": "C"})
	photo("p4", areaV3, "hcV3", "before", "2026-02-05T10:00:00+08:00")
	photo("p5", areaV3, "hcV3", "after", "2026-01-05T10:00:00+08:00")
	return b.ops
}

func startReportServer(t *testing.T) *testServer {
	t.Helper()
	users := append(testUsers(), server.UserInput{Username: "qian", Role: "team_member", Scopes: []string{areaV3}})
	return startServer(t, serverOptions{users: users, seed: reportSeed()})
}

func getReport(t *testing.T, ts *testServer, token, query string) *reports.Report {
	t.Helper()
	r := ts.do("GET", "/v1/reports/compliance?"+query, token, nil)
	if r.status != 200 {
		t.Fatalf("report %s: %s", query, r)
	}
	var rep reports.Report
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, r.body)
	}
	return &rep
}

// checkSums fails unless every node's counts are the sums of its
// children's and its total the sum of its counts.
func checkSums(t *testing.T, n *reports.Node) {
	t.Helper()
	total := 0
	for _, k := range reports.Kinds() {
		total += n.Counts[k]
		if len(n.Children) == 0 {
			continue
		}
		sum := 0
		for _, c := range n.Children {
			sum += c.Counts[k]
		}
		if sum != n.Counts[k] {
			t.Errorf("node %s: %s = %d, children sum to %d", n.Code, k, n.Counts[k], sum)
		}
	}
	if total != n.Total {
		t.Errorf("node %s: total %d, counts sum to %d", n.Code, n.Total, total)
	}
	for _, c := range n.Children {
		checkSums(t, c)
	}
}

func householdsOf(list []rules.VisitFinding) []string {
	var out []string
	for _, f := range list {
		out = append(out, f.HouseholdID)
	}
	return out
}

// TestComplianceReportFromStoredRecords: the county roll-up of February
// holds exactly the findings the seeded records make, its totals are the
// sums of its children's, and other counties' records stay out.
func TestComplianceReportFromStoredRecords(t *testing.T) {
	ts := startReportServer(t)
	rep := getReport(t, ts, ts.login("county", testPassword), "area=340199&period=2026-02")
	checkSums(t, rep.Summary)
	if rep.Area != "340199" || rep.Period.Label != "2026-02" || !rep.AsOf.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, rules.Shanghai())) {
		t.Errorf("report of %s %s as of %v", rep.Area, rep.Period.Label, rep.AsOf)
	}
	var townships, villages []string
	rep.Summary.Walk(func(n *reports.Node, depth int) {
		switch n.Level {
		case reports.LevelTownship:
			townships = append(townships, n.Code)
		case reports.LevelVillage:
			villages = append(villages, n.Code)
		}
	})
	if !slices.Equal(townships, []string{"340199001", "340199002"}) || !slices.Equal(villages, []string{areaV1, areaV2, areaV3}) {
		t.Errorf("tree townships %v villages %v", townships, villages)
	}
	l := rep.Lists
	if got := householdsOf(l.VisitOverdue); !slices.Equal(got, []string{"hM2", "hM3"}) {
		t.Errorf("overdue households %v, want hM2 hM3 (hM1 was visited, hMX is another county's)", got)
	}
	short := map[string]rules.ResidencyFinding{}
	for _, f := range l.ResidencyShort {
		short[f.Member] = f
	}
	if _, ok := short["sun"]; ok || len(short) != 2 {
		t.Errorf("residency short %+v, want zhao and qian only", l.ResidencyShort)
	}
	// zhao: 5 check-ins + 2 approved counted duty days; the far and the
	// clock-ahead check-ins do not count.
	if z := short["zhao"]; z.Days != 7 || z.CheckinDays != 5 || z.DutyDays != 2 || z.NotCounted != 2 || z.VillageName != "村vV1" {
		t.Errorf("zhao %+v", z)
	}
	if len(l.CheckinClock) != 1 || l.CheckinClock[0].CheckinID != "ck-zhao-ahead" || l.CheckinClock[0].AheadMinutes != 30 {
		t.Errorf("clock findings %+v (the receipt time must be the op's)", l.CheckinClock)
	}
	gaps := map[string][]string{}
	for _, f := range l.HousingGaps {
		gaps[f.CaseID] = f.Missing
	}
	// No photo file of the seed was uploaded and no household head signed
	// an acceptance: every case is short of evidence (the evidence tests
	// judge cases with real uploads and signatures).
	want := map[string][]string{
		"hcV1": {server.MissingBeforeUpload, server.MissingAfterUpload, server.MissingAcceptance},
		"hcV2": {server.MissingBeforeUpload, server.MissingAfterPhoto, server.MissingAcceptance},
		"hcV3": {server.MissingBeforeUpload, server.MissingAfterUpload, server.MissingAcceptance},
	}
	if len(gaps) != len(want) || !slices.Equal(gaps["hcV1"], want["hcV1"]) || !slices.Equal(gaps["hcV2"], want["hcV2"]) || !slices.Equal(gaps["hcV3"], want["hcV3"]) {
		t.Errorf("housing gaps %v, want %v", gaps, want)
	}
	if len(l.TeamTooSmall) != 1 || l.TeamTooSmall[0].Area != areaV3 {
		t.Errorf("small teams %+v", l.TeamTooSmall)
	}
	// visV1 (standardSeed) records no answerer.
	if len(l.AnsweredBy) != 1 || l.AnsweredBy[0].VisitID != "visV1" || l.AnsweredBy[0].Reason != rules.ReasonNoAnswerer {
		t.Errorf("answered-by findings %+v", l.AnsweredBy)
	}
	// The photo findings count too: hcV3's after photo is dated before its
	// before photo (the same finding GET /v1/findings lists).
	if len(l.AfterBeforeBefore) != 1 || l.AfterBeforeBefore[0].CaseID != "hcV3" || l.AfterBeforeBefore[0].Area != areaV3 {
		t.Errorf("after-before-before findings %+v", l.AfterBeforeBefore)
	}
	if rep.Summary.Total != 2+2+1+3+1+1+1 {
		t.Errorf("total %d %v", rep.Summary.Total, rep.Summary.Counts)
	}
}

// TestComplianceReportScopes: a township user gets its own villages and
// nothing above; roles that supervise nobody get no reports.
func TestComplianceReportScopes(t *testing.T) {
	ts := startReportServer(t)
	township := ts.login("township", testPassword)
	rep := getReport(t, ts, township, "area=340199001&period=2026-02")
	checkSums(t, rep.Summary)
	rep.Summary.Walk(func(n *reports.Node, _ int) {
		if !strings.HasPrefix(n.Code, "340199001") {
			t.Errorf("township report holds %s", n.Code)
		}
	})
	if got := householdsOf(rep.Lists.VisitOverdue); !slices.Equal(got, []string{"hM2"}) {
		t.Errorf("township overdue %v", got)
	}
	county := getReport(t, ts, ts.login("county", testPassword), "area=340199001&period=2026-02")
	if county.Summary.Total != rep.Summary.Total {
		t.Errorf("a county user asking for the township sees %d findings, the township %d", county.Summary.Total, rep.Summary.Total)
	}
	getReport(t, ts, ts.login("auditor", testPassword), "area=340199&period=2026")
	getReport(t, ts, ts.login("admin", testPassword), "area=34&period=2026Q1")
	for _, sc := range []struct{ user, area string }{
		{"township", "340199"}, {"township", "340199002"}, {"township", "340199002001"}, {"county", "340188"}, {"county", "34"},
		{"wang", "340199001"}, {"zhao", areaV1},
	} {
		r := ts.do("GET", "/v1/reports/compliance?period=2026-02&area="+sc.area, ts.login(sc.user, testPassword), nil)
		ts.expectError(r, 403, "EFORBIDDEN")
	}
	ts.expectError(ts.do("GET", "/v1/reports/compliance?period=2026-02&area=340199", "", nil), 401, "EUNAUTHORIZED")
}

// TestComplianceReportBadParams: each bad parameter is a 400 EINVALID
// that names it.
func TestComplianceReportBadParams(t *testing.T) {
	ts := startReportServer(t)
	tok := ts.login("county", testPassword)
	for _, sc := range []struct{ query, param string }{
		{"period=2026-02", "area"},
		{"area=&period=2026-02", "area"},
		{"area=3401a9&period=2026-02", "area"},
		{"area=3401990010011&period=2026-02", "area"},
		{"area=3&period=2026-02", "area"},
		{"area=340199", "period"},
		{"area=340199&period=2026H3", "period"},
		{"area=340199&period=2026-13", "period"},
		{"area=340199&period=26", "period"},
		{"area=340199&period=2026-02&format=pdf", "format"},
		{"area=340199&period=2026-02&format=csv&list=nope", "list"},
	} {
		r := ts.do("GET", "/v1/reports/compliance?"+sc.query, tok, nil)
		ts.expectError(r, 400, "EINVALID")
		var e struct{ Message string }
		_ = json.Unmarshal(r.body, &e)
		if !strings.HasPrefix(e.Message, sc.param+":") {
			t.Errorf("%s: message %q does not name %s", sc.query, e.Message, sc.param)
		}
	}
}

// TestComplianceReportXLSXAndCSV: the workbook is a download with Chinese
// headers, a summary sheet and one sheet per list, holding what the JSON
// holds; a CSV list is UTF-8 with a byte-order mark.
func TestComplianceReportXLSXAndCSV(t *testing.T) {
	ts := startReportServer(t)
	tok := ts.login("county", testPassword)
	rep := getReport(t, ts, tok, "area=340199&period=2026-02")
	r := ts.do("GET", "/v1/reports/compliance?area=340199&period=2026-02&format=xlsx", tok, nil)
	if r.status != 200 || r.header.Get("Content-Type") != server.MIMEXLSX {
		t.Fatalf("xlsx: %d %s", r.status, r.header.Get("Content-Type"))
	}
	cd := r.header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `filename="compliance-340199-2026-02.xlsx"`) || !strings.Contains(cd, "filename*=UTF-8''%E5%90%88%E8%A7%84") {
		t.Errorf("Content-Disposition %q", cd)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("workbook does not open: %v", err)
	}
	defer f.Close()
	wantSheets := []string{"汇总"}
	for _, k := range reports.Kinds() {
		wantSheets = append(wantSheets, reports.Title(k))
	}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets %v, want %v", got, wantSheets)
	}
	summary, err := f.GetRows("汇总")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*reports.Node
	rep.Summary.Walk(func(n *reports.Node, _ int) { nodes = append(nodes, n) })
	if len(summary) != len(nodes)+1 || summary[0][0] != "区划代码" || summary[0][len(summary[0])-1] != "合计" {
		t.Fatalf("summary sheet: %d rows, header %v; want %d nodes", len(summary), summary[0], len(nodes))
	}
	for i, n := range nodes {
		row := summary[i+1]
		if row[0] != n.Code || row[len(row)-1] != fmt.Sprint(n.Total) {
			t.Errorf("summary row %d = %v, want %s total %d", i+1, row, n.Code, n.Total)
		}
	}
	overdue, _ := f.GetRows(rules.KindVisitOverdue.Title())
	if len(overdue) != len(rep.Lists.VisitOverdue)+1 || overdue[0][1] != "户编号" {
		t.Fatalf("overdue sheet %v", overdue)
	}
	for i, v := range rep.Lists.VisitOverdue {
		if overdue[i+1][1] != v.HouseholdID || overdue[i+1][2] != v.HeadName {
			t.Errorf("overdue row %d = %v, want %s", i+1, overdue[i+1], v.HouseholdID)
		}
	}
	short, _ := f.GetRows(rules.KindResidencyShort.Title())
	if len(short) != len(rep.Lists.ResidencyShort)+1 {
		t.Errorf("residency sheet has %d rows, JSON %d findings", len(short)-1, len(rep.Lists.ResidencyShort))
	}

	r = ts.do("GET", "/v1/reports/compliance?area=340199&period=2026-02&format=csv&list=visit_overdue", tok, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "visit_overdue.csv") {
		t.Fatalf("csv: %s %v", r, r.header)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if !strings.HasPrefix(lines[0], "\ufeff村代码,户编号") || len(lines) != len(rep.Lists.VisitOverdue)+1 {
		t.Errorf("csv lines %q", lines)
	}
}
