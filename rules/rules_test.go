package rules_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

const village = "340102001001"

func policies(t *testing.T) *rules.PolicySet {
	t.Helper()
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func period(t *testing.T, s string) rules.Period {
	t.Helper()
	p, err := rules.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func local(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, rules.Shanghai())
}

func exitedHousehold(id string) rules.Household {
	return rules.Household{ID: id, Area: village, HeadName: "张三", Status: rules.StatusExited, StatusYear: 2020,
		Members: []rules.MemberRef{{ID: id + "-m1", Name: "张三"}, {ID: id + "-m2", Name: "李四"}}}
}

func TestExitedVisitOnLastSecondOfHalfYear(t *testing.T) {
	ps := policies(t)
	h2 := period(t, "2026H2")
	lastSecond := time.Date(2026, 12, 31, 15, 59, 59, 0, time.UTC) // 23:59:59 local
	if !lastSecond.Equal(local(2026, 12, 31, 23, 59, 59)) {
		t.Fatal("test clock is wrong")
	}
	tests := []struct {
		name    string
		at      time.Time
		overdue bool
	}{
		{"23:59:59 local on 31 December counts for H2", lastSecond, false},
		{"00:00:00 local on 1 January does not", local(2027, 1, 1, 0, 0, 0), true},
		{"first second of H2 counts", local(2026, 7, 1, 0, 0, 0), false},
		{"last second of H1 does not", local(2026, 6, 30, 23, 59, 59), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &rules.Input{
				Households: []rules.Household{exitedHousehold("h1")},
				Visits:     []rules.Visit{{ID: "v1", HouseholdID: "h1", Officer: "o1", At: tc.at, AnsweredByMemberID: "h1-m1"}},
			}
			overdue, _ := rules.CheckVisitCadence(in, ps, h2)
			if got := len(overdue) == 1; got != tc.overdue {
				t.Fatalf("overdue = %v (%+v), want %v", got, overdue, tc.overdue)
			}
			if tc.overdue {
				f := overdue[0]
				if f.DueBy.String() != "2026-12-31" || f.DaysOverdue != 1 || f.MissedWindows[0] != "2026H2" || f.Kind != rules.KindVisitOverdue {
					t.Fatalf("finding = %+v", f)
				}
			}
		})
	}
}

func TestHouseholdExitedMidPeriodIsJudgedByStatusAtPeriodEnd(t *testing.T) {
	ps := policies(t)
	h2 := period(t, "2026H2")
	exitedAt := local(2026, 9, 15, 10, 0, 0)
	h := exitedHousehold("h1")
	h.ExitedAt = &exitedAt
	in := &rules.Input{
		Households: []rules.Household{h},
		// One visit in July only: enough for an exited household's half-year,
		// five months short for a poor household's monthly cadence.
		Visits: []rules.Visit{{ID: "v1", HouseholdID: "h1", At: local(2026, 7, 3, 9, 0, 0), AnsweredByMemberID: "h1-m1"}},
	}
	overdue, _ := rules.CheckVisitCadence(in, ps, h2)
	if len(overdue) != 0 {
		t.Fatalf("exited during H2, judged as exited: got %+v", overdue)
	}
	// Exiting only after the period: still poor at its end, monthly cadence.
	later := local(2027, 1, 1, 0, 0, 0)
	in.Households[0].ExitedAt = &later
	overdue, _ = rules.CheckVisitCadence(in, ps, h2)
	if len(overdue) != 1 {
		t.Fatalf("poor at period end: got %+v", overdue)
	}
	f := overdue[0]
	if f.Status != rules.StatusPoor || len(f.MissedWindows) != 5 || f.MissedWindows[0] != "2026-08" ||
		f.DueBy.String() != "2026-08-31" || f.LastVisit.String() != "2026-07-03" || f.LastVisitID != "v1" {
		t.Fatalf("finding = %+v", f)
	}
	if f.DaysOverdue != 123 { // 2026-08-31 → 2027-01-01
		t.Fatalf("days overdue = %d", f.DaysOverdue)
	}
}

func TestVisitDueSoonAndAsOf(t *testing.T) {
	ps := policies(t)
	h2 := period(t, "2026H2")
	in := &rules.Input{
		Households: []rules.Household{exitedHousehold("h1"), exitedHousehold("h2")},
		Visits:     []rules.Visit{{ID: "v1", HouseholdID: "h2", At: local(2026, 8, 1, 9, 0, 0), AnsweredByName: "李四"}},
	}
	tests := []struct {
		asOf     time.Time
		dueSoon  int
		daysLeft int
	}{
		{local(2026, 12, 17, 12, 0, 0), 1, 14}, // exactly the window's edge
		{local(2026, 12, 16, 12, 0, 0), 0, 0},  // 15 days left: not yet
		{local(2026, 12, 31, 23, 0, 0), 1, 0},  // due today
	}
	for _, tc := range tests {
		in.AsOf = tc.asOf
		overdue, dueSoon := rules.CheckVisitCadence(in, ps, h2)
		if len(overdue) != 0 || len(dueSoon) != tc.dueSoon {
			t.Fatalf("as of %v: overdue %+v due soon %+v", tc.asOf, overdue, dueSoon)
		}
		if tc.dueSoon == 1 && (dueSoon[0].HouseholdID != "h1" || dueSoon[0].DaysLeft != tc.daysLeft || dueSoon[0].DueBy.String() != "2026-12-31") {
			t.Fatalf("as of %v: due soon %+v", tc.asOf, dueSoon[0])
		}
	}
}

func TestRemovedHouseholdsAreNotJudged(t *testing.T) {
	h := exitedHousehold("h1")
	h.Status = rules.StatusRemoved
	overdue, dueSoon := rules.CheckVisitCadence(&rules.Input{Households: []rules.Household{h}}, policies(t), period(t, "2026H2"))
	if len(overdue)+len(dueSoon) != 0 {
		t.Fatalf("removed household judged: %+v %+v", overdue, dueSoon)
	}
}

// offsetNorth returns the point d metres due north of (lat, lon) on the
// sphere the rules use.
func offsetNorth(lat, lon, d float64) (float64, float64) {
	return lat + d/rules.EarthRadiusM*180/math.Pi, lon
}

const vLat, vLon = 31.86, 117.28

type residencyCase struct {
	checkinDays []int // November days with a check-in at the village centre
	duty        []rules.DutyDay
}

func runResidency(t *testing.T, c residencyCase, extra ...rules.Checkin) ([]rules.ResidencyFinding, []rules.ClockFinding, []rules.TravelFinding) {
	t.Helper()
	in := &rules.Input{
		Villages: []rules.Village{{Code: village, Name: "王庄村", Lat: vLat, Lon: vLon}},
		Teams:    []rules.Team{{VillageCode: village, Members: []string{"m1"}, FirstSecretary: "m1"}},
		DutyDays: c.duty,
	}
	for _, d := range c.checkinDays {
		at := local(2026, 11, d, 8, 30, 0)
		in.Checkins = append(in.Checkins, rules.Checkin{ID: "c" + at.Format("0102"), Member: "m1", VillageCode: village,
			At: at, ReceivedAt: at.Add(2 * time.Hour), Lat: vLat, Lon: vLon, AccuracyM: 15})
	}
	in.Checkins = append(in.Checkins, extra...)
	return rules.CheckResidency(in, policies(t), period(t, "2026-11"))
}

func days(from, to int) []int {
	var out []int
	for d := from; d <= to; d++ {
		out = append(out, d)
	}
	return out
}

func duty(day int, kind, approver string) rules.DutyDay {
	return rules.DutyDay{Member: "m1", Date: rules.DateOf(local(2026, 11, day, 0, 0, 0)), Kind: kind, ApprovedBy: approver}
}

func TestResidencyBoundaries(t *testing.T) {
	tests := []struct {
		name string
		c    residencyCase
		want int // days counted; -1 when no finding is expected
	}{
		{"exactly 20 days", residencyCase{checkinDays: days(1, 20)}, -1},
		{"19 days + 1 approved duty day", residencyCase{checkinDays: days(1, 19), duty: []rules.DutyDay{duty(25, "training", "county")}}, -1},
		{"19 days + 1 unapproved duty day", residencyCase{checkinDays: days(1, 19), duty: []rules.DutyDay{duty(25, "training", "")}}, 19},
		{"19 days + 1 approved day of a kind that does not count", residencyCase{checkinDays: days(1, 19), duty: []rules.DutyDay{duty(25, "leave", "county")}}, 19},
		{"19 days + duty on a check-in day counts once", residencyCase{checkinDays: days(1, 19), duty: []rules.DutyDay{duty(3, "meeting", "county")}}, 19},
		{"two check-ins on one day count once", residencyCase{checkinDays: append(days(1, 19), 19)}, 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			short, _, _ := runResidency(t, tc.c)
			if tc.want < 0 {
				if len(short) != 0 {
					t.Fatalf("unexpected finding %+v", short)
				}
				return
			}
			if len(short) != 1 || short[0].Days != tc.want || short[0].Required != 20 || short[0].Month != "2026-11" || short[0].VillageName != "王庄村" {
				t.Fatalf("findings %+v, want %d days", short, tc.want)
			}
		})
	}
}

func TestResidencyGeofenceAndAccuracy(t *testing.T) {
	at := local(2026, 11, 25, 9, 0, 0)
	point := func(id string, metres, acc float64) rules.Checkin {
		lat, lon := offsetNorth(vLat, vLon, metres)
		return rules.Checkin{ID: id, Member: "m1", VillageCode: village, At: at, ReceivedAt: at, Lat: lat, Lon: lon, AccuracyM: acc}
	}
	tests := []struct {
		name string
		c    rules.Checkin
		want int // days that month
	}{
		{"1 m inside the 500 m fence counts", point("in", 499, 10), 20},
		{"1 m outside the fence does not", point("out", 501, 10), 19},
		{"accuracy exactly at the limit counts", point("acc100", 10, 100), 20},
		{"accuracy worse than the limit does not", point("acc101", 10, 101), 19},
		{"unknown accuracy does not", point("acc0", 10, 0), 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := rules.DistanceM(vLat, vLon, tc.c.Lat, tc.c.Lon); math.Abs(d-math.Round(d)) > 1e-6 && tc.c.AccuracyM == 10 {
				t.Fatalf("test point at %v m", d)
			}
			short, clock, travel := runResidency(t, residencyCase{checkinDays: days(1, 19)}, tc.c)
			if len(clock)+len(travel) != 0 {
				t.Fatalf("flagged: %+v %+v", clock, travel)
			}
			got := 20
			if len(short) == 1 {
				got = short[0].Days
				if short[0].NotCounted != 1 {
					t.Fatalf("not counted = %d", short[0].NotCounted)
				}
			}
			if got != tc.want {
				t.Fatalf("days = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestVillageGeofenceOverride(t *testing.T) {
	at := local(2026, 11, 25, 9, 0, 0)
	lat, lon := offsetNorth(vLat, vLon, 800)
	in := &rules.Input{
		Villages: []rules.Village{{Code: village, Lat: vLat, Lon: vLon, GeofenceM: 1000}},
		Teams:    []rules.Team{{VillageCode: village, Members: []string{"m1"}}},
		Checkins: []rules.Checkin{{ID: "c", Member: "m1", VillageCode: village, At: at, ReceivedAt: at, Lat: lat, Lon: lon, AccuracyM: 5}},
	}
	short, _, _ := rules.CheckResidency(in, policies(t), period(t, "2026-11"))
	if len(short) != 1 || short[0].CheckinDays != 1 {
		t.Fatalf("800 m inside a 1000 m village fence: %+v", short)
	}
}

func TestSuspiciousCheckinsAreFlaggedAndNotCounted(t *testing.T) {
	day20 := local(2026, 11, 20, 9, 0, 0)
	ahead := rules.Checkin{ID: "ahead", Member: "m1", VillageCode: village, At: day20, ReceivedAt: day20.Add(-11 * time.Minute),
		Lat: vLat, Lon: vLon, AccuracyM: 10}
	short, clock, _ := runResidency(t, residencyCase{checkinDays: days(1, 19)}, ahead)
	if len(clock) != 1 || clock[0].CheckinID != "ahead" || clock[0].AheadMinutes != 11 || clock[0].LimitMinutes != 10 || clock[0].Kind != rules.KindCheckinClock {
		t.Fatalf("clock findings %+v", clock)
	}
	if len(short) != 1 || short[0].Days != 19 {
		t.Fatalf("ahead check-in counted: %+v", short)
	}
	// Ten minutes ahead is within the limit; a check-in uploaded a week late
	// is normal for offline tablets and counts.
	ok := ahead
	ok.ReceivedAt = day20.Add(-10 * time.Minute)
	late := rules.Checkin{ID: "late", Member: "m1", VillageCode: village, At: local(2026, 11, 21, 9, 0, 0),
		ReceivedAt: local(2026, 11, 28, 9, 0, 0), Lat: vLat, Lon: vLon, AccuracyM: 10}
	short, clock, _ = runResidency(t, residencyCase{checkinDays: days(1, 18)}, ok, late)
	if len(clock) != 0 || len(short) != 0 {
		t.Fatalf("trusted check-ins flagged: %+v %+v", clock, short)
	}

	// 300 km north one hour after the 8:30 check-in of the 19th: 300 km/h.
	farLat, farLon := offsetNorth(vLat, vLon, 300_000)
	jump := rules.Checkin{ID: "jump", Member: "m1", VillageCode: "340102001002", At: local(2026, 11, 19, 9, 30, 0),
		ReceivedAt: local(2026, 11, 19, 9, 31, 0), Lat: farLat, Lon: farLon, AccuracyM: 10}
	// Back at the village on the 20th: plausible from the 19th 8:30 check-in,
	// which stays the reference because the jump was not trusted.
	back := rules.Checkin{ID: "back", Member: "m1", VillageCode: village, At: day20, ReceivedAt: day20, Lat: vLat, Lon: vLon, AccuracyM: 10}
	short, _, travel := runResidency(t, residencyCase{checkinDays: days(1, 19)}, jump, back)
	if len(travel) != 1 || travel[0].CheckinID != "jump" || travel[0].PreviousID != "c1119" || travel[0].Area != "340102001002" {
		t.Fatalf("travel findings %+v", travel)
	}
	if s := travel[0].SpeedKmh; s < 299 || s > 300 {
		t.Fatalf("speed %v", s)
	}
	if len(short) != 0 {
		t.Fatalf("the return check-in did not count: %+v", short)
	}
	// GPS noise: 150 m apart at the same second with 100 m accuracy each is not travel.
	nLat, nLon := offsetNorth(vLat, vLon, 150)
	noisy := rules.Checkin{ID: "noisy", Member: "m1", VillageCode: village, At: local(2026, 11, 19, 8, 30, 0),
		ReceivedAt: local(2026, 11, 19, 8, 30, 0), Lat: nLat, Lon: nLon, AccuracyM: 100}
	_, _, travel = runResidency(t, residencyCase{checkinDays: days(1, 20)}, noisy)
	if len(travel) != 0 {
		t.Fatalf("GPS noise flagged as travel: %+v", travel)
	}
}

func TestResidencyJudgesOnlyEndedMonthsAndLeapFebruary(t *testing.T) {
	in := &rules.Input{
		Villages: []rules.Village{{Code: village, Lat: vLat, Lon: vLon}},
		Teams:    []rules.Team{{VillageCode: village, Members: []string{"m1"}}},
		AsOf:     local(2028, 3, 10, 0, 0, 0),
	}
	for d := 10; d <= 29; d++ { // 20 days ending on the leap day
		at := local(2028, 2, d, 8, 0, 0)
		in.Checkins = append(in.Checkins, rules.Checkin{ID: at.Format("0102"), Member: "m1", VillageCode: village, At: at, ReceivedAt: at, Lat: vLat, Lon: vLon, AccuracyM: 5})
	}
	short, _, _ := rules.CheckResidency(in, policies(t), period(t, "2028Q1"))
	if len(short) != 1 || short[0].Month != "2028-01" {
		t.Fatalf("want only January short (February met on its leap day, March not over): %+v", short)
	}
}

func TestCaseload(t *testing.T) {
	in := &rules.Input{
		Households: []rules.Household{
			{ID: "a", Area: "340102001001"}, {ID: "b", Area: "340102001001"}, {ID: "c", Area: "340102001002"},
			{ID: "d", Area: "340102001002"}, {ID: "e", Area: "340102001002"},
		},
		Assignments: []rules.Assignment{
			{Officer: "o1", HouseholdID: "a", Active: true}, {Officer: "o1", HouseholdID: "b", Active: true},
			{Officer: "o1", HouseholdID: "c", Active: true},
			{Officer: "o1", HouseholdID: "d", Active: false}, // inactive does not count
			{Officer: "o1", HouseholdID: "a", Active: true},  // duplicate counts once
			{Officer: "o2", HouseholdID: "a", Active: true}, {Officer: "o2", HouseholdID: "c", Active: true},
			{Officer: "o2", HouseholdID: "d", Active: true}, {Officer: "o2", HouseholdID: "e", Active: true},
		},
	}
	got := rules.CheckCaseload(in, policies(t), period(t, "2026H2"))
	if len(got) != 1 || got[0].Officer != "o2" || got[0].Households != 4 || got[0].Limit != 3 ||
		got[0].Area != "340102001002" || strings.Join(got[0].HouseholdIDs, ",") != "a,c,d,e" {
		t.Fatalf("caseload findings %+v", got)
	}
}

func TestTeamSize(t *testing.T) {
	in := &rules.Input{
		Villages: []rules.Village{{Code: "340102001001", Name: "王庄村"}},
		Teams: []rules.Team{
			{VillageCode: "340102001001", Members: []string{"m1"}, FirstSecretary: "m1"}, // 1: too small
			{VillageCode: "340102001002", Members: []string{"m2"}, FirstSecretary: "s2"}, // 2: enough
			{VillageCode: "340102001003", Members: []string{"m3", "m3", ""}},             // 1 distinct
		},
	}
	got := rules.CheckTeamSize(in, policies(t), period(t, "2026H2"))
	if len(got) != 2 || got[0].Area != "340102001001" || got[0].Size != 1 || got[0].Required != 2 || got[0].VillageName != "王庄村" || got[1].Area != "340102001003" {
		t.Fatalf("team findings %+v", got)
	}
}

func TestAnsweredByNonMember(t *testing.T) {
	at := local(2026, 8, 1, 10, 0, 0)
	in := &rules.Input{
		Households: []rules.Household{exitedHousehold("h1")},
		Visits: []rules.Visit{
			{ID: "ok-id", HouseholdID: "h1", At: at, AnsweredByMemberID: "h1-m2"},
			{ID: "ok-name", HouseholdID: "h1", At: at, AnsweredByName: " 李四 "},
			{ID: "bad-id", HouseholdID: "h1", At: at, AnsweredByMemberID: "h2-m1", AnsweredByName: "张三"},
			{ID: "bad-name", HouseholdID: "h1", At: at, AnsweredByName: "王干部"},
			{ID: "nobody", HouseholdID: "h1", At: at},
			{ID: "outside", HouseholdID: "h1", At: local(2026, 6, 30, 10, 0, 0), AnsweredByName: "王干部"},
			{ID: "unknown-household", HouseholdID: "zz", At: at, AnsweredByName: "王干部"},
		},
	}
	got := rules.CheckAnsweredBy(in, period(t, "2026H2"))
	want := map[string]string{"bad-id": rules.ReasonUnknownMemberID, "bad-name": rules.ReasonNameNotMember, "nobody": rules.ReasonNoAnswerer}
	if len(got) != len(want) {
		t.Fatalf("findings %+v", got)
	}
	for _, f := range got {
		if want[f.VisitID] != f.Reason || f.Area != village || rules.ReasonLabel(f.Reason) == f.Reason {
			t.Errorf("finding %+v", f)
		}
	}
}

func TestHousingEvidence(t *testing.T) {
	in := &rules.Input{
		Households: []rules.Household{exitedHousehold("h1")},
		HousingCases: []rules.HousingCase{
			{ID: "k1", HouseholdID: "h1", Grade: "D", EvidenceComplete: false, Missing: []string{"after_photo"}},
			{ID: "k2", HouseholdID: "h1", Area: village, Grade: "C", EvidenceComplete: true},
		},
	}
	got := rules.CheckHousing(in)
	if len(got) != 1 || got[0].CaseID != "k1" || got[0].Area != village || got[0].HeadName != "张三" || got[0].Missing[0] != "after_photo" {
		t.Fatalf("housing findings %+v", got)
	}
}

func TestCheckRunsEveryRule(t *testing.T) {
	in := &rules.Input{
		Households:   []rules.Household{exitedHousehold("h1")},
		Visits:       []rules.Visit{{ID: "v", HouseholdID: "h1", At: local(2026, 8, 1, 0, 0, 0)}},
		Teams:        []rules.Team{{VillageCode: village, Members: []string{"m1"}}},
		HousingCases: []rules.HousingCase{{ID: "k", HouseholdID: "h1"}},
	}
	f := rules.Check(in, policies(t), period(t, "2026H2"))
	if len(f.VisitOverdue) != 0 || len(f.AnsweredBy) != 1 || len(f.TeamTooSmall) != 1 || len(f.ResidencyShort) != 6 || len(f.HousingGaps) != 1 {
		t.Fatalf("Check = %+v", f)
	}
	for _, k := range rules.Kinds() {
		if k.Title() == string(k) {
			t.Errorf("kind %s has no Chinese title", k)
		}
	}
	// The "four ones" (turned on) and the family-doctor cadence run too.
	in.DoctorContracts = []rules.DoctorContract{{HouseholdID: "h1", Package: "basic", From: rules.Date{Year: 2026, Month: 1, Day: 1}}}
	f = rules.Check(in, fourOnesOn(t), period(t, "2026H2"))
	if len(f.TeamDuties) != 4 || len(f.DoctorVisits) != 1 || len(f.DoctorVisits[0].MissedWindows) != 2 {
		t.Fatalf("Check = duties %+v doctor %+v", f.TeamDuties, f.DoctorVisits)
	}
}
