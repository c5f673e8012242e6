package rules_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means refused
	}{
		{"2026-09-30", "2026-09-30"},
		{"2026-09-31", ""},
		{"2026年9月31日", ""},
		{"2026年9月30日", "2026-09-30"},
		{"2026年09月30号", "2026-09-30"},
		{"2026/9/3", "2026-09-03"},
		{"2026.12.31", "2026-12-31"},
		{"20260930", "2026-09-30"},
		{"2028-02-29", "2028-02-29"},
		{"2027-02-29", ""},
		{"2000-02-29", "2000-02-29"},
		{"1900-02-29", ""},
		{"2026-13-01", ""},
		{"2026-00-10", ""},
		{"2026-01-00", ""},
		{"2026-1-1-1", ""},
		{"26-01-01", ""},
		{"2026--01", ""},
		{"", ""},
		{"2026年9月", ""},
		{"abcd-01-01", ""},
		{" 2026-01-05 ", "2026-01-05"},
	}
	for _, tc := range tests {
		got, err := rules.ParseDate(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseDate(%q) = %v, want refusal", tc.in, got)
			} else if !errors.Is(err, rules.ErrBadDate) {
				t.Errorf("ParseDate(%q) error %v does not wrap ErrBadDate", tc.in, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestDaysInLeapFebruary(t *testing.T) {
	if n := rules.DaysIn(2028, time.February); n != 29 {
		t.Fatalf("2028-02 has %d days, want 29", n)
	}
	if n := rules.DaysIn(2027, time.February); n != 28 {
		t.Fatalf("2027-02 has %d days, want 28", n)
	}
	p, err := rules.ParsePeriod("2028-02")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.LastDay().String(); got != "2028-02-29" {
		t.Fatalf("last day of 2028-02 = %s", got)
	}
}

func TestDateOfUsesChinaStandardTime(t *testing.T) {
	tests := []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2026, 12, 31, 15, 59, 59, 0, time.UTC), "2026-12-31"},
		{time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2027-01-01"},
		{time.Date(2026, 6, 30, 16, 0, 0, 0, time.UTC), "2026-07-01"},
	}
	for _, tc := range tests {
		if got := rules.DateOf(tc.utc).String(); got != tc.want {
			t.Errorf("DateOf(%v) = %s, want %s", tc.utc, got, tc.want)
		}
	}
	if _, off := time.Date(2026, 7, 1, 0, 0, 0, 0, rules.Shanghai()).Zone(); off != 8*3600 {
		t.Fatalf("offset %d, want +08:00", off)
	}
}

func TestDateArithmetic(t *testing.T) {
	d, _ := rules.ParseDate("2028-02-28")
	if got := d.AddDays(1).String(); got != "2028-02-29" {
		t.Fatalf("AddDays = %s", got)
	}
	e, _ := rules.ParseDate("2028-03-01")
	if n := e.DaysSince(d); n != 2 {
		t.Fatalf("DaysSince = %d, want 2", n)
	}
	if !d.Before(e) || e.Before(d) {
		t.Fatal("Before is wrong")
	}
	var z rules.Date
	if z.String() != "" || !z.IsZero() {
		t.Fatal("zero date must render empty")
	}
	var back rules.Date
	if err := back.UnmarshalText([]byte("2028-02-29")); err != nil || back.String() != "2028-02-29" {
		t.Fatalf("UnmarshalText: %v %v", back, err)
	}
	if err := back.UnmarshalText([]byte("2027-02-29")); err == nil {
		t.Fatal("UnmarshalText accepted 2027-02-29")
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-09-31", "2026年9月30日", "20280229", "2026/1/1", "9999-99-99", "2026.02.30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := rules.ParseDate(s)
		if err != nil {
			return
		}
		if d.Day > rules.DaysIn(d.Year, d.Month) || d.Day < 1 {
			t.Fatalf("accepted impossible date %q → %+v", s, d)
		}
		back, err := rules.ParseDate(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}
