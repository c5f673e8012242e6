package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is a calendar unit used for periods and visit cadences.
type Unit string

// Calendar units, from the shortest.
const (
	UnitMonth Unit = "month"
	// UnitTwoMonths is a pair of months from January (Jan–Feb, Mar–Apr …):
	// the window of the work team's scheduling meeting "每两个月" [003].
	UnitTwoMonths Unit = "two_months"
	UnitQuarter   Unit = "quarter"
	UnitHalfYear  Unit = "half_year"
	UnitYear      Unit = "year"
)

// Label returns the unit in Chinese, as written in report headers.
func (u Unit) Label() string {
	switch u {
	case UnitMonth:
		return "每月"
	case UnitTwoMonths:
		return "每两个月"
	case UnitQuarter:
		return "每季度"
	case UnitHalfYear:
		return "每半年"
	case UnitYear:
		return "每年"
	}
	return string(u)
}

func (u Unit) valid() bool {
	switch u {
	case UnitMonth, UnitTwoMonths, UnitQuarter, UnitHalfYear, UnitYear:
		return true
	}
	return false
}

// Period is a half-open span of time [Start, End) aligned to local calendar
// boundaries in China Standard Time. Label is its canonical name
// ("2026", "2026H2", "2026Q3", "2026-11").
type Period struct {
	Label string    `json:"label"`
	Unit  Unit      `json:"unit"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ErrBadPeriod is wrapped by every ParsePeriod error.
var ErrBadPeriod = errors.New("not a period")

// ParsePeriod parses "2026" (year), "2026H1"/"2026H2" (half-year),
// "2026Q1".."2026Q4" (quarter) and "2026-11" (month) into local calendar
// spans. Years must be 1900..2200.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if len(s) < 4 || !allDigits(s[:4]) {
		return Period{}, fmt.Errorf("period %q: %w: want 2026, 2026H2, 2026Q3 or 2026-11", s, ErrBadPeriod)
	}
	year, _ := strconv.Atoi(s[:4])
	if year < 1900 || year > 2200 {
		return Period{}, fmt.Errorf("period %q: %w: year must be 1900..2200", s, ErrBadPeriod)
	}
	rest := s[4:]
	switch {
	case rest == "":
		return PeriodOf(UnitYear, time.Date(year, 1, 1, 0, 0, 0, 0, shanghai)), nil
	case rest == "H1" || rest == "H2" || rest == "h1" || rest == "h2":
		m := time.January
		if rest[1] == '2' {
			m = time.July
		}
		return PeriodOf(UnitHalfYear, time.Date(year, m, 1, 0, 0, 0, 0, shanghai)), nil
	case len(rest) == 2 && (rest[0] == 'Q' || rest[0] == 'q') && rest[1] >= '1' && rest[1] <= '4':
		m := time.Month(int(rest[1]-'1')*3 + 1)
		return PeriodOf(UnitQuarter, time.Date(year, m, 1, 0, 0, 0, 0, shanghai)), nil
	case len(rest) == 3 && rest[0] == '-' && allDigits(rest[1:]):
		m, _ := strconv.Atoi(rest[1:])
		if m < 1 || m > 12 {
			return Period{}, fmt.Errorf("period %q: %w: month %d does not exist", s, ErrBadPeriod, m)
		}
		return PeriodOf(UnitMonth, time.Date(year, time.Month(m), 1, 0, 0, 0, 0, shanghai)), nil
	}
	return Period{}, fmt.Errorf("period %q: %w: want 2026, 2026H2, 2026Q3 or 2026-11", s, ErrBadPeriod)
}

// PeriodOf returns the calendar period of the given unit that contains t.
func PeriodOf(u Unit, t time.Time) Period {
	lt := t.In(shanghai)
	y, m := lt.Year(), lt.Month()
	var start time.Time
	var label string
	var months int
	switch u {
	case UnitMonth:
		start, months, label = time.Date(y, m, 1, 0, 0, 0, 0, shanghai), 1, fmt.Sprintf("%04d-%02d", y, int(m))
	case UnitTwoMonths:
		b := (int(m) - 1) / 2
		start, months, label = time.Date(y, time.Month(b*2+1), 1, 0, 0, 0, 0, shanghai), 2, fmt.Sprintf("%04d-%02d~%02d", y, b*2+1, b*2+2)
	case UnitQuarter:
		q := (int(m) - 1) / 3
		start, months, label = time.Date(y, time.Month(q*3+1), 1, 0, 0, 0, 0, shanghai), 3, fmt.Sprintf("%04dQ%d", y, q+1)
	case UnitHalfYear:
		h := (int(m) - 1) / 6
		start, months, label = time.Date(y, time.Month(h*6+1), 1, 0, 0, 0, 0, shanghai), 6, fmt.Sprintf("%04dH%d", y, h+1)
	default:
		u = UnitYear
		start, months, label = time.Date(y, 1, 1, 0, 0, 0, 0, shanghai), 12, fmt.Sprintf("%04d", y)
	}
	return Period{Label: label, Unit: u, Start: start, End: start.AddDate(0, months, 0)}
}

// Contains reports whether t falls in [Start, End).
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Year returns the local calendar year the period starts in; policies are
// looked up by it.
func (p Period) Year() int { return p.Start.In(shanghai).Year() }

// FirstDay and LastDay return the first and last local dates of the period.
func (p Period) FirstDay() Date { return DateOf(p.Start) }

// LastDay returns the last local date inside the period.
func (p Period) LastDay() Date { return DateOf(p.End.Add(-time.Nanosecond)) }

// Split returns the calendar periods of unit u that overlap p, in order.
// A unit longer than p yields the one period that contains it.
func (p Period) Split(u Unit) []Period {
	var out []Period
	for cur := PeriodOf(u, p.Start); cur.Start.Before(p.End); cur = PeriodOf(u, cur.End) {
		out = append(out, cur)
	}
	return out
}

// String returns the label.
func (p Period) String() string { return p.Label }

// IncomeYear returns the income year that contains t. Income years run from
// a policy month and day (1 October in the seeds [000]) to the day before it
// a year later, and are labelled by the calendar year in which they end: with
// the default start, income year 2026 runs 2025-10-01 .. 2026-09-30.
// A start of January 1 makes income years equal calendar years.
func IncomeYear(t time.Time, startMonth time.Month, startDay int) Period {
	lt := t.In(shanghai)
	y := lt.Year()
	start := time.Date(y, startMonth, startDay, 0, 0, 0, 0, shanghai)
	if lt.Before(start) {
		start = start.AddDate(-1, 0, 0)
	}
	end := start.AddDate(1, 0, 0)
	label := DateOf(end.Add(-time.Nanosecond)).Year
	return Period{Label: fmt.Sprintf("%04d年度", label), Unit: UnitYear, Start: start, End: end}
}
