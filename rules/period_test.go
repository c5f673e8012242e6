package rules_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

func TestParsePeriod(t *testing.T) {
	cst := rules.Shanghai()
	tests := []struct {
		in         string
		start, end time.Time
		label      string
	}{
		{"2026", time.Date(2026, 1, 1, 0, 0, 0, 0, cst), time.Date(2027, 1, 1, 0, 0, 0, 0, cst), "2026"},
		{"2026H1", time.Date(2026, 1, 1, 0, 0, 0, 0, cst), time.Date(2026, 7, 1, 0, 0, 0, 0, cst), "2026H1"},
		{"2026H2", time.Date(2026, 7, 1, 0, 0, 0, 0, cst), time.Date(2027, 1, 1, 0, 0, 0, 0, cst), "2026H2"},
		{"2026Q3", time.Date(2026, 7, 1, 0, 0, 0, 0, cst), time.Date(2026, 10, 1, 0, 0, 0, 0, cst), "2026Q3"},
		{"2026-11", time.Date(2026, 11, 1, 0, 0, 0, 0, cst), time.Date(2026, 12, 1, 0, 0, 0, 0, cst), "2026-11"},
		{"2026-12", time.Date(2026, 12, 1, 0, 0, 0, 0, cst), time.Date(2027, 1, 1, 0, 0, 0, 0, cst), "2026-12"},
	}
	for _, tc := range tests {
		p, err := rules.ParsePeriod(tc.in)
		if err != nil {
			t.Errorf("ParsePeriod(%q): %v", tc.in, err)
			continue
		}
		if !p.Start.Equal(tc.start) || !p.End.Equal(tc.end) || p.Label != tc.label {
			t.Errorf("ParsePeriod(%q) = %v..%v %q", tc.in, p.Start, p.End, p.Label)
		}
	}
	// The H2 boundary in UTC: 2026-12-31 15:59:59 UTC is inside, 16:00:00 is not.
	h2, _ := rules.ParsePeriod("2026H2")
	if !h2.Contains(time.Date(2026, 12, 31, 15, 59, 59, 0, time.UTC)) || h2.Contains(time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC)) {
		t.Fatal("H2 boundary is not at local midnight")
	}
	for _, bad := range []string{"", "2026H3", "2026-13", "2026-00", "2026Q5", "1899", "26H1", "2026-1", "2026H", "x2026"} {
		if p, err := rules.ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) = %v, want error", bad, p)
		}
	}
}

func TestPeriodSplit(t *testing.T) {
	h2, _ := rules.ParsePeriod("2026H2")
	months := h2.Split(rules.UnitMonth)
	if len(months) != 6 || months[0].Label != "2026-07" || months[5].Label != "2026-12" {
		t.Fatalf("months of H2: %v", months)
	}
	nov, _ := rules.ParsePeriod("2026-11")
	halves := nov.Split(rules.UnitHalfYear)
	if len(halves) != 1 || halves[0].Label != "2026H2" {
		t.Fatalf("half-years of 2026-11: %v", halves)
	}
}

func TestIncomeYear(t *testing.T) {
	cst := rules.Shanghai()
	tests := []struct {
		at    time.Time
		label string
		start string
		last  string
	}{
		{time.Date(2026, 9, 30, 23, 59, 59, 0, cst), "2026年度", "2025-10-01", "2026-09-30"},
		{time.Date(2026, 10, 1, 0, 0, 0, 0, cst), "2027年度", "2026-10-01", "2027-09-30"},
		{time.Date(2026, 1, 15, 0, 0, 0, 0, cst), "2026年度", "2025-10-01", "2026-09-30"},
	}
	for _, tc := range tests {
		p := rules.IncomeYear(tc.at, time.October, 1)
		if p.Label != tc.label || p.FirstDay().String() != tc.start || p.LastDay().String() != tc.last {
			t.Errorf("IncomeYear(%v) = %s %s..%s", tc.at, p.Label, p.FirstDay(), p.LastDay())
		}
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	pol := ps.For("340102001001", 2026)
	if got := pol.Income.IncomeYear(time.Date(2026, 10, 1, 0, 0, 0, 0, cst)).Label; got != "2027年度" {
		t.Fatalf("policy income year = %s", got)
	}
	if p := rules.IncomeYear(time.Date(2026, 5, 1, 0, 0, 0, 0, cst), time.January, 1); p.Label != "2026年度" {
		t.Fatalf("calendar income year = %s", p.Label)
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026", "2026H2", "2026-11", "2026Q4", "2026-13", "9999H1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := rules.ParsePeriod(s)
		if err != nil {
			return
		}
		if !p.Start.Before(p.End) {
			t.Fatalf("%q: empty period %v", s, p)
		}
		back, err := rules.ParsePeriod(p.Label)
		if err != nil || !back.Start.Equal(p.Start) || !back.End.Equal(p.End) {
			t.Fatalf("%q: label %q does not round-trip", s, p.Label)
		}
	})
}
