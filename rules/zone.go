package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/chinatime"
)

// shanghai is China Standard Time (package chinatime).
var shanghai = chinatime.Zone()

// Shanghai returns the zone used for every local date and period in ruhu:
// chinatime.Zone(), UTC+08:00 with no daylight saving time (the
// Asia/Shanghai rules since 1991).
func Shanghai() *time.Location { return shanghai }

// Date is a calendar date in China Standard Time, without a time of day.
// Duty days, notice dates and report columns are dates, not instants.
// The zero Date means "no date" and renders as the empty string.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the local (China Standard Time) date of an instant.
func DateOf(t time.Time) Date {
	y, m, d := t.In(shanghai).Date()
	return Date{Year: y, Month: m, Day: d}
}

// IsZero reports whether d is the zero Date ("no date").
func (d Date) IsZero() bool { return d == Date{} }

// Start returns the instant the date begins: 00:00:00 local time.
func (d Date) Start() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, shanghai)
}

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date {
	return DateOf(d.Start().AddDate(0, 0, n))
}

// DaysSince returns the number of calendar days from earlier to d
// (negative when earlier is after d).
func (d Date) DaysSince(earlier Date) int {
	return int(d.dayNumber() - earlier.dayNumber())
}

// Before reports whether d is strictly earlier than o.
func (d Date) Before(o Date) bool { return d.dayNumber() < o.dayNumber() }

func (d Date) dayNumber() int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// String renders the date as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText renders the date as YYYY-MM-DD ("" for the zero Date), so JSON
// and CSV show dates the way field staff write them.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses YYYY-MM-DD strictly; the empty string is the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// DaysIn returns the number of days of a month (28..31), leap years included.
func DaysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ErrBadDate is wrapped by every ParseDate error, so callers can tell a
// refused date from other failures.
var ErrBadDate = errors.New("not a real date")

// ParseDate parses a calendar date strictly and refuses impossible ones
// (a notice dated 9月31日 was found in the field [000]). Accepted forms:
// "2026-09-30", "2026/9/30", "2026.9.30", "20260930" and "2026年9月30日".
// Years must be 1900..2200.
func ParseDate(s string) (Date, error) {
	orig := s
	s = strings.TrimSpace(s)
	var parts []string
	switch {
	case strings.Contains(s, "年"):
		rest, ok := strings.CutSuffix(s, "日")
		if !ok {
			rest, ok = strings.CutSuffix(s, "号")
		}
		y, rest2, ok1 := strings.Cut(rest, "年")
		m, d, ok2 := strings.Cut(rest2, "月")
		if !ok || !ok1 || !ok2 {
			return Date{}, fmt.Errorf("date %q: %w: want 2026年9月30日", orig, ErrBadDate)
		}
		parts = []string{y, m, d}
	case len(s) == 8 && allDigits(s):
		parts = []string{s[:4], s[4:6], s[6:]}
	default:
		parts = strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
		if len(parts) != 3 || strings.Count(s, "-")+strings.Count(s, "/")+strings.Count(s, ".") != 2 {
			return Date{}, fmt.Errorf("date %q: %w: want YYYY-MM-DD", orig, ErrBadDate)
		}
	}
	nums := [3]int{}
	for i, p := range parts {
		if p == "" || len(p) > 4 || !allDigits(p) {
			return Date{}, fmt.Errorf("date %q: %w: %q is not a number", orig, ErrBadDate, p)
		}
		nums[i], _ = strconv.Atoi(p)
	}
	y, m, d := nums[0], nums[1], nums[2]
	if len(parts[0]) != 4 || y < 1900 || y > 2200 {
		return Date{}, fmt.Errorf("date %q: %w: year must be 1900..2200", orig, ErrBadDate)
	}
	if m < 1 || m > 12 {
		return Date{}, fmt.Errorf("date %q: %w: month %d does not exist", orig, ErrBadDate, m)
	}
	if d < 1 || d > DaysIn(y, time.Month(m)) {
		return Date{}, fmt.Errorf("date %q: %w: %d-%02d has %d days", orig, ErrBadDate, y, m, DaysIn(y, time.Month(m)))
	}
	return Date{Year: y, Month: time.Month(m), Day: d}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
