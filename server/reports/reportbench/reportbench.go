// Package reportbench measures the compliance report on a county-sized,
// deterministically generated data set: 100,000 households, 1,000,000
// visits and 200,000 residency check-ins. `ruhu bench report` calls
// BenchReport; the quality bar is report_from_store_s ≤ 2 and
// report_from_store_peak_rss_mb ≤ 500 (the endpoint's whole work with the
// records in a bbolt file), report_s ≤ 2 for the rules alone.
package reportbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// Size says how much data Generate makes.
type Size struct {
	Townships          int
	VillagesPerTown    int
	Households         int
	Visits             int
	Checkins           int
	HousingCases       int
	TeamMembersPerTeam int
	// Seed makes the data; the same Size always gives the same input.
	Seed uint64
}

// County returns the size BenchReport measures.
func County() Size {
	return Size{Townships: 20, VillagesPerTown: 15, Households: 100_000, Visits: 1_000_000,
		Checkins: 200_000, HousingCases: 5_000, TeamMembersPerTeam: 3, Seed: 20260701}
}

// CountyCode is the area code of the generated county.
const CountyCode = "341122"

// Period is the period the generated data covers.
const Period = "2026H2"

// id makes the n-th id of a kind, zero-padded to seven digits so that ids
// sort in the order they were made, as the time-ordered ids tablets make
// (ULIDs) do: stores then grow at the end of their keys, as in the field.
func id(prefix string, n int) string {
	var b [24]byte
	out := append(b[:0], prefix...)
	for d := 1_000_000; d > 1 && n < d; d /= 10 {
		out = append(out, '0')
	}
	return string(strconv.AppendInt(out, int64(n), 10))
}

// Generate makes a county of the given size. Names are shared from small
// pools; ids are distinct strings. About one household in eight is
// overdue, some teams are too small, some check-ins are outside the
// geofence, ahead of the server clock or impossibly far from the previous
// one, and some officers hold too many households.
func Generate(s Size) *rules.Input {
	rng := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	cst := rules.Shanghai()
	h2Start := time.Date(2026, 7, 1, 0, 0, 0, 0, cst)
	in := &rules.Input{}
	surnames := []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林"}
	given := []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"}
	names := make([]string, 0, len(surnames)*len(given))
	for _, a := range surnames {
		for _, b := range given {
			names = append(names, a+b)
		}
	}
	nVillages := s.Townships * s.VillagesPerTown
	for t := 1; t <= s.Townships; t++ {
		for v := 1; v <= s.VillagesPerTown; v++ {
			code := fmt.Sprintf("%s%03d%03d", CountyCode, t, v)
			in.Villages = append(in.Villages, rules.Village{Code: code, Name: fmt.Sprintf("第%d镇%d村", t, v),
				Lat: 32.0 + float64(t)*0.02, Lon: 118.2 + float64(v)*0.02})
		}
	}
	// Work teams: every twentieth team has a single member.
	var members []string
	memberVillage := map[string]int{}
	for vi, v := range in.Villages {
		n := s.TeamMembersPerTeam
		if vi%20 == 7 {
			n = 1
		}
		team := rules.Team{VillageCode: v.Code}
		for m := 0; m < n; m++ {
			name := id("tm", len(members))
			members = append(members, name)
			memberVillage[name] = vi
			team.Members = append(team.Members, name)
		}
		team.FirstSecretary = team.Members[0]
		in.Teams = append(in.Teams, team)
	}
	// Households and their members.
	statuses := []rules.Status{rules.StatusExited, rules.StatusExited, rules.StatusExited, rules.StatusExited,
		rules.StatusExited, rules.StatusExited, rules.StatusPoor, rules.StatusPoor, rules.StatusMonitored, rules.StatusFellBack}
	in.Households = make([]rules.Household, s.Households)
	for i := range in.Households {
		h := &in.Households[i]
		hid := id("hh", i)
		h.ID, h.Area = hid, in.Villages[i%nVillages].Code
		h.Status = statuses[rng.IntN(len(statuses))]
		h.StatusYear = 2016 + rng.IntN(5)
		n := 1 + rng.IntN(5)
		h.Members = make([]rules.MemberRef, n)
		for m := range h.Members {
			h.Members[m] = rules.MemberRef{ID: hid + "-" + strconv.Itoa(m), Name: names[rng.IntN(len(names))]}
		}
		h.HeadName = h.Members[0].Name
	}
	// Officers: three households each, every 50th officer holds five.
	officer := 0
	for i := 0; i < s.Households; {
		n := 3
		if officer%50 == 0 {
			n = 5
		}
		oid := id("of", officer)
		for j := 0; j < n && i < s.Households; j++ {
			in.Households[i].AssignedOfficers = []string{oid}
			in.Assignments = append(in.Assignments, rules.Assignment{Officer: oid, HouseholdID: in.Households[i].ID, Active: true})
			i++
		}
		officer++
	}
	// Visits: spread over the year; one household in eight gets none in H2.
	in.Visits = make([]rules.Visit, s.Visits)
	for i := range in.Visits {
		hi := rng.IntN(s.Households)
		h := &in.Households[hi]
		day := rng.IntN(365)
		if hi%8 == 3 && day >= 181 {
			day -= 181 // keep this household's visits in H1
		}
		at := time.Date(2026, 1, 1+day, 8+rng.IntN(10), rng.IntN(60), 0, 0, cst)
		v := &in.Visits[i]
		v.ID, v.HouseholdID, v.Officer, v.At = id("v", i), h.ID, h.AssignedOfficers[0], at
		switch r := rng.IntN(100); {
		case r < 90:
			v.AnsweredByMemberID = h.Members[rng.IntN(len(h.Members))].ID
		case r < 97:
			v.AnsweredByName = h.Members[rng.IntN(len(h.Members))].Name
		default:
			v.AnsweredByName = names[rng.IntN(len(names))] // often not a member
		}
	}
	// Check-ins: spread over H2 by member, mostly at the village centre.
	in.Checkins = make([]rules.Checkin, s.Checkins)
	for i := range in.Checkins {
		m := members[rng.IntN(len(members))]
		vi := memberVillage[m]
		v := &in.Villages[vi]
		at := h2Start.Add(time.Duration(rng.Int64N(int64(184 * 24 * time.Hour))))
		c := &in.Checkins[i]
		c.ID, c.Member, c.VillageCode, c.At = id("ck", i), m, v.Code, at
		c.ReceivedAt = at.Add(time.Duration(rng.IntN(72*60)) * time.Minute)
		c.Lat, c.Lon, c.AccuracyM = v.Lat+(rng.Float64()-0.5)*0.004, v.Lon+(rng.Float64()-0.5)*0.004, 5+float64(rng.IntN(60))
		switch r := rng.IntN(1000); {
		case r < 5:
			c.ReceivedAt = at.Add(-time.Hour) // tablet clock ahead
		case r < 10:
			c.Lat += 3 // 300 km away
		case r < 60:
			c.Lat += 0.01 // about 1.1 km: outside the geofence
		}
	}
	for i := 0; i < len(members); i += 3 {
		for d := 0; d < 3; d++ {
			in.DutyDays = append(in.DutyDays, rules.DutyDay{Member: members[i], Date: rules.DateOf(h2Start.AddDate(0, 0, 30+d)), Kind: "training", ApprovedBy: "county"})
		}
	}
	for i := 0; i < s.HousingCases; i++ {
		h := &in.Households[(i*37)%s.Households]
		c := rules.HousingCase{ID: id("hc", i), HouseholdID: h.ID, Area: h.Area, Grade: "CD"[i%2 : i%2+1], EvidenceComplete: i%4 != 0}
		if !c.EvidenceComplete {
			c.Missing = []string{"after_photo"}
		}
		in.HousingCases = append(in.HousingCases, c)
	}
	return in
}

// BenchReport generates the County, runs the compliance report for the
// county over 2026H2 and returns:
//   - report_s: seconds Compliance took (wall clock);
//   - report_cpu_s: CPU seconds it used, all goroutines together (not
//     inflated when other work shares the machine);
//   - report_peak_rss_mb: the process's peak resident set (VmHWM) after it,
//     data set included;
//   - findings: rows in the report's lists;
//   - xlsx_s and xlsx_peak_rss_mb: the same for rendering the workbook;
//   - report_from_store_s, report_from_store_cpu_s and
//     report_from_store_peak_rss_mb: the report endpoint's whole work
//     with the county's records in a bbolt file on disk (see fromStore);
//   - report_endpoint_s and report_endpoint_cpu_s: GET
//     /v1/reports/compliance on a server over that
//     file, with the photo, ledger and exit findings it adds (see
//     endpoint).
//
// Peak RSS is read from /proc/self/status; on systems without it the RSS
// figures are absent.
func BenchReport(ctx context.Context) (map[string]float64, error) {
	policies, err := rules.DefaultPolicies()
	if err != nil {
		return nil, fmt.Errorf("bench report: %w", err)
	}
	period, err := rules.ParsePeriod(Period)
	if err != nil {
		return nil, fmt.Errorf("bench report: %w", err)
	}
	in := Generate(County())
	runtime.GC()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	cpu0, cpuOK := processCPU()
	start := time.Now()
	r := reports.Compliance(in, policies, CountyCode, period)
	out["report_s"] = time.Since(start).Seconds()
	if cpu1, ok := processCPU(); ok && cpuOK {
		out["report_cpu_s"] = (cpu1 - cpu0).Seconds()
	}
	out["findings"] = float64(r.Summary.Total)
	if rss, ok := peakRSSMB(); ok {
		out["report_peak_rss_mb"] = rss
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	start = time.Now()
	if err := reports.WriteXLSX(io.Discard, r); err != nil {
		return out, fmt.Errorf("bench report: %w", err)
	}
	out["xlsx_s"] = time.Since(start).Seconds()
	if rss, ok := peakRSSMB(); ok {
		out["xlsx_peak_rss_mb"] = rss
	}
	runtime.KeepAlive(in)
	if err := fromStore(ctx, in, policies, period, out); err != nil {
		return out, fmt.Errorf("bench report: %w", err)
	}
	return out, nil
}

// peakRSSMB reads VmHWM from /proc/self/status, in MiB.
func peakRSSMB() (float64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseFloat(string(f[0]), 64)
			if err != nil {
				return 0, false
			}
			return kb / 1024, true
		}
	}
	return 0, false
}
