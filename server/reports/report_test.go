package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/xuri/excelize/v2"
)

const county = "340102"

func villageCode(t, v int) string { return fmt.Sprintf("%s%03d%03d", county, t, v) }

// randomInput makes a small county with a bit of everything, including
// households of villages that have no village record.
func randomInput(rng *rand.Rand) *rules.Input {
	cst := rules.Shanghai()
	in := &rules.Input{}
	for t := 1; t <= 1+rng.IntN(3); t++ {
		for v := 1; v <= 1+rng.IntN(4); v++ {
			code := villageCode(t, v)
			if rng.IntN(5) > 0 {
				in.Villages = append(in.Villages, rules.Village{Code: code, Name: fmt.Sprintf("村%d-%d", t, v), Lat: 31 + float64(t)/10, Lon: 117 + float64(v)/10})
			}
			members := []string{}
			for m := 0; m < rng.IntN(4); m++ {
				members = append(members, fmt.Sprintf("m%d-%d-%d", t, v, m))
			}
			in.Teams = append(in.Teams, rules.Team{VillageCode: code, Members: members})
			for d := 0; d < rng.IntN(12); d++ {
				in.TeamDuties = append(in.TeamDuties, rules.TeamDuty{ID: fmt.Sprintf("t%d", len(in.TeamDuties)), VillageCode: code,
					Kind: rules.DutyKinds()[rng.IntN(4)], At: time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 9, 0, 0, 0, cst)})
			}
			for _, m := range members {
				for c := 0; c < rng.IntN(30); c++ {
					at := time.Date(2026, time.Month(7+rng.IntN(6)), 1+rng.IntN(28), 8+rng.IntN(10), 0, 0, 0, cst)
					in.Checkins = append(in.Checkins, rules.Checkin{ID: fmt.Sprintf("c%d", len(in.Checkins)), Member: m, VillageCode: code,
						At: at, ReceivedAt: at.Add(time.Duration(rng.IntN(40)-30) * time.Minute),
						Lat: 31 + float64(t)/10 + rng.Float64()*0.01, Lon: 117 + float64(v)/10, AccuracyM: float64(rng.IntN(150))})
				}
			}
			for h := 0; h < rng.IntN(8); h++ {
				id := fmt.Sprintf("h%d", len(in.Households))
				st := []rules.Status{rules.StatusPoor, rules.StatusExited, rules.StatusMonitored, rules.StatusFellBack, rules.StatusRemoved}[rng.IntN(5)]
				in.Households = append(in.Households, rules.Household{ID: id, Area: code, HeadName: "户主" + id, Status: st,
					Members: []rules.MemberRef{{ID: id + "-1", Name: "户主" + id}}})
				for n := 0; n < rng.IntN(6); n++ {
					v := rules.Visit{ID: fmt.Sprintf("v%d", len(in.Visits)), HouseholdID: id, Officer: fmt.Sprintf("o%d", rng.IntN(5)),
						At: time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 10, 0, 0, 0, cst)}
					switch rng.IntN(3) {
					case 0:
						v.AnsweredByMemberID = id + "-1"
					case 1:
						v.AnsweredByName = "王干部"
					}
					in.Visits = append(in.Visits, v)
				}
				if rng.IntN(3) == 0 {
					in.DoctorContracts = append(in.DoctorContracts, rules.DoctorContract{HouseholdID: id, Package: []string{"basic", "personalized", "x"}[rng.IntN(3)],
						From: rules.Date{Year: 2026, Month: time.Month(1 + rng.IntN(12)), Day: 1}})
					for n := 0; n < rng.IntN(5); n++ {
						in.DoctorVisits = append(in.DoctorVisits, rules.DoctorVisit{ID: fmt.Sprintf("d%d", len(in.DoctorVisits)), HouseholdID: id,
							At: time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 10, 0, 0, 0, cst)})
					}
				}
				in.Assignments = append(in.Assignments, rules.Assignment{Officer: fmt.Sprintf("o%d", rng.IntN(5)), HouseholdID: id, Active: rng.IntN(4) > 0})
				if rng.IntN(3) == 0 {
					in.HousingCases = append(in.HousingCases, rules.HousingCase{ID: "k" + id, HouseholdID: id, Grade: "D", EvidenceComplete: rng.IntN(2) == 0, Missing: []string{"竣工照片"}})
				}
			}
		}
	}
	return in
}

// randomExtra makes photo findings of every kind, ledger items and exit
// findings over the input's villages (and a few outside the county).
func randomExtra(rng *rand.Rand, in *rules.Input) reports.Extra {
	var x reports.Extra
	areas := []string{"110101001001"}
	for _, h := range in.Households {
		areas = append(areas, h.Area)
	}
	for _, v := range in.Villages {
		areas = append(areas, v.Code)
	}
	pick := func() string { return areas[rng.IntN(len(areas))] }
	kinds := []findings.Kind{findings.ReusedPhoto, findings.EXIFTimeMismatch, findings.EXIFGPSMismatch,
		findings.OldPhoto, findings.AfterBeforeBefore, findings.BeforeAfterFarApart}
	for i := 0; i < rng.IntN(12); i++ {
		f := findings.Finding{Kind: kinds[rng.IntN(len(kinds))], Detail: "照片", HouseholdIDs: []string{fmt.Sprintf("h%d", i)},
			HashBits: rng.IntN(3), Delta: time.Duration(rng.IntN(1000)) * time.Hour, Metres: float64(rng.IntN(900))}
		f.Title = f.Kind.Title()
		x.Photos = append(x.Photos, reports.NewPhotoFinding(f, pick(), []string{fmt.Sprintf("photos/p%d", i)}, []string{"ab"}))
	}
	statuses := []rules.LedgerStatus{rules.LedgerOpen, rules.LedgerRectified, rules.LedgerVerified, rules.LedgerClosed}
	for i := 0; i < rng.IntN(10); i++ {
		x.Ledger = append(x.Ledger, rules.LedgerItem{ID: fmt.Sprintf("l%d", i), Area: pick(), Problem: "问题", ResponsibleUnit: "镇政府",
			Deadline: rules.Date{Year: 2026, Month: time.Month(1 + rng.IntN(12)), Day: 1 + rng.IntN(28)}, Status: statuses[rng.IntN(4)]})
	}
	for i := 0; i < rng.IntN(5); i++ {
		x.Exits = append(x.Exits, rules.ExitFinding{Kind: rules.KindExitStandardsUnmet, Area: pick(), CaseID: fmt.Sprintf("e%d", i),
			HouseholdID: fmt.Sprintf("h%d", i), LastStep: rules.StepAppraisal,
			Unmet: []rules.UnmetStandard{{Code: rules.StandardMemberNotInsured, Title: "家庭成员未全部参加基本医保", Detail: "张三未参加基本医疗保险"}}})
	}
	return x
}

// complianceWith is reports.Compliance with the extra findings added.
func complianceWith(in *rules.Input, x reports.Extra, ps *rules.PolicySet, scope string, p rules.Period) *reports.Report {
	r := reports.Compliance(in, ps, scope, p)
	r.Add(x)
	return r
}

// mustPolicies is the shipped policy set with the "four ones" turned on
// for the test county's first township, so both kinds of villages appear.
func mustPolicies(t *testing.T) *rules.PolicySet {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, county+"001.yaml"), []byte("four_ones:\n  enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := rules.LoadPolicyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func mustPeriod(t *testing.T, s string) rules.Period {
	t.Helper()
	p, err := rules.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func listAreas(r *reports.Report) map[rules.Kind][]string {
	out := map[rules.Kind][]string{}
	add := func(fs ...rules.Finding) {
		for _, f := range fs {
			out[f.FindingKind()] = append(out[f.FindingKind()], f.FindingArea())
		}
	}
	l := &r.Lists
	for _, f := range l.VisitOverdue {
		add(f)
	}
	for _, f := range l.VisitDueSoon {
		add(f)
	}
	for _, f := range l.ResidencyShort {
		add(f)
	}
	for _, f := range l.CheckinClock {
		add(f)
	}
	for _, f := range l.CheckinTravel {
		add(f)
	}
	for _, f := range l.Caseload {
		add(f)
	}
	for _, f := range l.TeamTooSmall {
		add(f)
	}
	for _, f := range l.AnsweredBy {
		add(f)
	}
	for _, f := range l.HousingGaps {
		add(f)
	}
	for _, f := range l.TeamDuties {
		add(f)
	}
	for _, f := range l.DoctorVisits {
		add(f)
	}
	for _, k := range reports.PhotoKinds() {
		for _, f := range *l.Photos(k) {
			if f.Kind != k {
				panic(fmt.Sprintf("%s in the %s list", f.Kind, k))
			}
			add(f)
		}
	}
	for _, f := range l.LedgerOverdue {
		add(f)
	}
	for _, f := range l.ExitStandardsUnmet {
		add(f)
	}
	return out
}

func TestRollUpTotalsEqualSumOfChildren(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	ps := mustPolicies(t)
	h2 := mustPeriod(t, "2026H2")
	for round := 0; round < 30; round++ {
		in := randomInput(rng)
		x := randomExtra(rng, in)
		countyReport := complianceWith(in, x, ps, county, h2)
		for _, scope := range []string{"", "34", county, villageCode(1, 0)[:9], villageCode(1, 1)} {
			r := complianceWith(in, x, ps, scope, h2)
			areas := listAreas(r)
			// Every extra finding under the scope is counted, none outside.
			want := map[rules.Kind]int{}
			for _, f := range x.Photos {
				if strings.HasPrefix(f.Area, scope) {
					want[f.Kind]++
				}
			}
			for _, f := range rules.OverdueLedgerItems(x.Ledger, r.AsOf) {
				if strings.HasPrefix(f.Area, scope) {
					want[f.Kind]++
				}
			}
			for _, f := range x.Exits {
				if strings.HasPrefix(f.Area, scope) {
					want[f.Kind]++
				}
			}
			for _, k := range append(reports.PhotoKinds(), rules.KindLedgerOverdue, rules.KindExitStandardsUnmet) {
				if r.Summary.Counts[k] != want[k] {
					t.Fatalf("seed %d round %d scope %q: %s counted %d, %d under the scope", seed, round, scope, k, r.Summary.Counts[k], want[k])
				}
			}
			r.Summary.Walk(func(n *reports.Node, depth int) {
				total := 0
				for _, k := range reports.Kinds() {
					total += n.Counts[k]
				}
				if total != n.Total {
					t.Fatalf("seed %d round %d scope %q: node %s total %d, counts sum %d", seed, round, scope, n.Code, n.Total, total)
				}
				if len(n.Children) > 0 {
					for _, k := range reports.Kinds() {
						sum := 0
						for _, c := range n.Children {
							sum += c.Counts[k]
						}
						if sum != n.Counts[k] {
							t.Fatalf("seed %d round %d scope %q: node %s %s = %d, children sum %d", seed, round, scope, n.Code, k, n.Counts[k], sum)
						}
					}
				}
				// Every node counts exactly the listed findings under it.
				for _, k := range reports.Kinds() {
					want := 0
					for _, a := range areas[k] {
						if strings.HasPrefix(a, n.Code) {
							want++
						}
					}
					if want != n.Counts[k] {
						t.Fatalf("seed %d round %d scope %q: node %s %s = %d, list has %d", seed, round, scope, n.Code, k, n.Counts[k], want)
					}
				}
			})
			// A narrower scope's root equals the county report's node.
			if len(scope) >= len(county) {
				var match *reports.Node
				countyReport.Summary.Walk(func(n *reports.Node, _ int) {
					if n.Code == scope {
						match = n
					}
				})
				if match != nil && match.Total != r.Summary.Total {
					t.Fatalf("seed %d round %d: scope %s total %d, county node %d", seed, round, scope, r.Summary.Total, match.Total)
				}
			}
		}
	}
}

func TestTreeLevelsAndVillagesWithoutFindings(t *testing.T) {
	in := &rules.Input{
		Villages: []rules.Village{{Code: "340102001001", Name: "王庄村"}, {Code: "340102002001", Name: "李庄村"}},
		Teams:    []rules.Team{{VillageCode: "340102001001", Members: []string{"a"}}},
	}
	r := reports.Compliance(in, mustPolicies(t), county, mustPeriod(t, "2026H2"))
	s := r.Summary
	if s.Level != reports.LevelCounty || len(s.Children) != 2 || s.Children[0].Level != reports.LevelTownship ||
		s.Children[0].Children[0].Name != "王庄村" || s.Children[1].Children[0].Total != 0 {
		t.Fatalf("tree %+v", s)
	}
	// The first township's village has the "four ones" on and did none.
	if s.Counts[rules.KindTeamTooSmall] != 1 || s.Counts[rules.KindResidencyShort] != 6 || s.Counts[rules.KindTeamDutyMissed] != 4 || s.Total != 11 {
		t.Fatalf("counts %+v", s.Counts)
	}
}

func sampleReport(t *testing.T) *reports.Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	in := randomInput(rng)
	for len(in.Households) < 5 {
		in = randomInput(rng)
	}
	// An identity number used as an id and typed as a name must never show in full.
	in.Households[0].ID = "340102199001011234"
	in.Households[0].HeadName = "张三 340102199001011234"
	for i := range in.Visits {
		if in.Visits[i].HouseholdID == "h0" {
			in.Visits[i].HouseholdID = in.Households[0].ID
		}
	}
	in.HousingCases = append(in.HousingCases, rules.HousingCase{ID: "kk", HouseholdID: in.Households[0].ID, Missing: []string{"竣工照片"}})
	x := randomExtra(rng, in)
	for len(x.Photos) == 0 || len(x.Exits) == 0 {
		x = randomExtra(rng, in)
	}
	// Every list holds a row, identity numbers included.
	area := in.Households[0].Area
	x.Photos = append(x.Photos,
		reports.NewPhotoFinding(findings.Finding{Kind: findings.ReusedPhoto, Detail: "农户 340102199001011234 与农户 h2 的照片相同",
			HouseholdIDs: []string{in.Households[0].ID, "h2"}}, area, []string{"photos/a", "photos/b"}, []string{"aa", "aa"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.ReusedPhoto, HashBits: 3, HouseholdIDs: []string{"h1", "h2"}}, area, []string{"photos/c", "photos/d"}, []string{"cc", "dd"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.EXIFTimeMismatch, Delta: 3 * time.Hour, HouseholdIDs: []string{"h1"}}, area, []string{"visits/v1"}, []string{"ee"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.EXIFGPSMismatch, Metres: 812, HouseholdIDs: []string{"h1"}}, area, []string{"visits/v1"}, []string{"ee"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.OldPhoto, Delta: 400 * 24 * time.Hour, HouseholdIDs: []string{"h1"}}, area, []string{"photos/e"}, []string{"ff"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.AfterBeforeBefore, Delta: 48 * time.Hour, HouseholdIDs: []string{"h1"}, CaseID: "k1"}, area, []string{"photos/f", "photos/g"}, []string{"gg", "hh"}),
		reports.NewPhotoFinding(findings.Finding{Kind: findings.BeforeAfterFarApart, Metres: 150, HouseholdIDs: []string{"h1"}, CaseID: "k1"}, area, []string{"photos/f", "photos/g"}, []string{"gg", "hh"}))
	x.Ledger = append(x.Ledger, rules.LedgerItem{ID: "lx", Area: area, Problem: "户主340102199001011234未走访", ResponsibleUnit: "镇政府",
		Deadline: rules.Date{Year: 2026, Month: 7, Day: 1}, Status: rules.LedgerOpen})
	x.Exits = append(x.Exits, rules.ExitFinding{Kind: rules.KindExitStandardsUnmet, Area: area, CaseID: "ex", HouseholdID: in.Households[0].ID,
		HeadName: in.Households[0].HeadName, LastStep: rules.StepVillageNotice,
		Unmet: []rules.UnmetStandard{{Code: rules.StandardMemberNotInsured, Title: "家庭成员未全部参加基本医保", Detail: "340102199001011234未参加基本医疗保险"}}})
	return complianceWith(in, x, mustPolicies(t), county, mustPeriod(t, "2026H2"))
}

func TestIdentityNumbersAreMasked(t *testing.T) {
	r := sampleReport(t)
	var js bytes.Buffer
	if err := reports.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), "340102199001011234") {
		t.Fatal("JSON holds a full identity number")
	}
	if !strings.Contains(js.String(), "340102********1234") {
		t.Fatal("JSON lost the masked identity number")
	}
	var xl bytes.Buffer
	if err := reports.WriteXLSX(&xl, r); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&xl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, sheet := range f.GetSheetList() {
		rows, _ := f.GetRows(sheet)
		for _, row := range rows {
			for _, c := range row {
				if strings.Contains(c, "340102199001011234") {
					t.Fatalf("sheet %s holds a full identity number", sheet)
				}
			}
		}
	}
	if got := reports.MaskIDNumber("11010519491231002X"); got != "110105********002X" {
		t.Fatalf("MaskIDNumber = %s", got)
	}
}

// TestXLSXHoldsWhatJSONHolds reopens the workbook and compares it, sheet by
// sheet, with the report decoded back from its JSON.
func TestXLSXHoldsWhatJSONHolds(t *testing.T) {
	r := sampleReport(t)
	var js, xl bytes.Buffer
	if err := reports.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteXLSX(&xl, r); err != nil {
		t.Fatal(err)
	}
	var fromJSON struct {
		Summary *reports.Node `json:"summary"`
		Lists   map[string][]map[string]any
	}
	if err := json.Unmarshal(js.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&xl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if sheets[0] != "汇总" || len(sheets) != 1+len(reports.Kinds()) {
		t.Fatalf("sheets %v", sheets)
	}
	// Summary: one row per node, code → total and per-kind counts.
	rows, err := f.GetRows("汇总")
	if err != nil {
		t.Fatal(err)
	}
	header := rows[0]
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s in %v", name, header)
		return -1
	}
	byCode := map[string][]string{}
	for _, row := range rows[1:] {
		byCode[row[0]] = row
	}
	nodes := 0
	fromJSON.Summary.Walk(func(n *reports.Node, _ int) {
		nodes++
		row, ok := byCode[n.Code]
		if !ok {
			t.Fatalf("node %s missing from 汇总", n.Code)
		}
		if row[col("合计")] != fmt.Sprint(n.Total) {
			t.Errorf("node %s total %s in sheet, %d in JSON", n.Code, row[col("合计")], n.Total)
		}
		for _, k := range reports.Kinds() {
			if row[col(reports.Title(k))] != fmt.Sprint(n.Counts[k]) {
				t.Errorf("node %s %s: sheet %s, JSON %d", n.Code, k, row[col(reports.Title(k))], n.Counts[k])
			}
		}
	})
	if nodes != len(rows)-1 {
		t.Fatalf("汇总 has %d rows, JSON %d nodes", len(rows)-1, nodes)
	}
	// Lists: same rows, same areas and identifying columns in order.
	idColumn := map[rules.Kind][2]string{
		rules.KindVisitOverdue:          {"household_id", "户编号"},
		rules.KindVisitDueSoon:          {"household_id", "户编号"},
		rules.KindResidencyShort:        {"member", "成员"},
		rules.KindCheckinClock:          {"checkin_id", "签到编号"},
		rules.KindCheckinTravel:         {"checkin_id", "签到编号"},
		rules.KindCaseloadExceeded:      {"officer", "帮扶干部"},
		rules.KindTeamTooSmall:          {"area", "村代码"},
		rules.KindAnsweredByOther:       {"visit_id", "走访编号"},
		rules.KindHousingEvidenceGap:    {"case_id", "案件编号"},
		rules.KindTeamDutyMissed:        {"area", "村代码"},
		rules.KindDoctorVisitOverdue:    {"household_id", "户编号"},
		reports.KindReusedPhoto:         {"detail", "说明"},
		reports.KindNearCopyPhoto:       {"measure", "差异"},
		reports.KindEXIFTimeMismatch:    {"measure", "差异"},
		reports.KindEXIFGPSMismatch:     {"measure", "差异"},
		reports.KindOldPhoto:            {"measure", "差异"},
		reports.KindAfterBeforeBefore:   {"measure", "差异"},
		reports.KindBeforeAfterFarApart: {"measure", "差异"},
		rules.KindLedgerOverdue:         {"item_id", "台账编号"},
		rules.KindExitStandardsUnmet:    {"case_id", "退出案件编号"},
	}
	total := 0
	for _, k := range reports.Kinds() {
		list := fromJSON.Lists[string(k)]
		total += len(list)
		rows, err := f.GetRows(reports.Title(k))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 && !slices.Contains(rules.Kinds(), k) {
			t.Errorf("list %s is empty: the sample fills every extra list", k)
		}
		if len(rows)-1 != len(list) {
			t.Fatalf("sheet %s has %d rows, JSON list %d", reports.Title(k), len(rows)-1, len(list))
		}
		header = rows[0]
		if header[0] != "村代码" {
			t.Fatalf("sheet %s starts with %s", k.Title(), header[0])
		}
		idc := col(idColumn[k][1])
		for i, item := range list {
			if rows[i+1][0] != item["area"] || rows[i+1][idc] != item[idColumn[k][0]] {
				t.Fatalf("sheet %s row %d = %v, JSON %v", k.Title(), i+2, rows[i+1], item)
			}
		}
	}
	if total != fromJSON.Summary.Total || total == 0 {
		t.Fatalf("lists hold %d rows, summary total %d", total, fromJSON.Summary.Total)
	}
}

func TestCSV(t *testing.T) {
	r := sampleReport(t)
	for _, name := range reports.ListNames() {
		var b bytes.Buffer
		if err := reports.WriteCSV(&b, r, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.HasPrefix(b.Bytes(), []byte("\xef\xbb\xbf")) {
			t.Fatalf("%s: no UTF-8 byte-order mark", name)
		}
		lines := strings.Count(b.String(), "\n")
		if name == "summary" {
			n := 0
			r.Summary.Walk(func(*reports.Node, int) { n++ })
			if lines != n+1 || !strings.HasPrefix(b.String(), "\ufeff区划代码,层级,名称,") {
				t.Fatalf("summary CSV: %d lines for %d nodes: %q", lines, n, b.String()[:40])
			}
		}
	}
	var b bytes.Buffer
	if err := reports.WriteCSV(&b, r, "visit_overdue"); err != nil || !strings.Contains(b.String(), "户主姓名") || !strings.Contains(b.String(), "逾期天数") {
		t.Fatalf("overdue CSV: %v %q", err, b.String())
	}
	if err := reports.WriteCSV(&b, r, "nope"); !errors.Is(err, reports.ErrUnknownList) {
		t.Fatalf("unknown list: %v", err)
	}
}
