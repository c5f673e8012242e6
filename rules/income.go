package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Fen is an amount of money in fen (分, 1/100 yuan). Income arithmetic is
// done in whole fen so a per-capita income exactly at the line compares
// equal to it, which floating-point yuan would not promise.
type Fen int64

// YuanToFen converts a yuan amount as stored in records (a JSON number with
// at most two decimals) to fen, rounding half away from zero.
func YuanToFen(yuan float64) Fen { return Fen(math.Round(yuan * 100)) }

// Yuan returns the amount in yuan.
func (f Fen) Yuan() float64 { return float64(f) / 100 }

// String renders the amount as yuan with two decimals, e.g. "3300.00".
func (f Fen) String() string {
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	return fmt.Sprintf("%s%d.%02d", sign, f/100, f%100)
}

// IncomeSurvey is one household's income survey (收入调查) for one income
// year, itemised by the categories of [000]: 年收入 = 工资性收入 + 生产经营性
// 收入 + 财产性收入 + 转移性收入; 纯收入 = 年收入 − 生产经营性支出; 家庭年人均
// 纯收入 = 纯收入 ÷ 户人口数. Each category is the sum of its items.
type IncomeSurvey struct {
	ID          string
	HouseholdID string
	// IncomeYear is the survey's income year as stored, "2016-2017" for
	// 2016-10-01 .. 2017-09-30 under the default start (see IncomeYearKey).
	IncomeYear string
	SurveyedAt time.Time
	// Wage (务工收入, 公益性岗位收入...), Business (农林牧渔, 乡村旅游...),
	// Property (土地租金, 股份分红...) and Transfer (补贴, 低保金, 养老保险金,
	// 生态补偿金...) income items, and ProductionCosts (生产经营性支出).
	Wage, Business, Property, Transfer []Fen
	ProductionCosts                    Fen
	// HouseholdSize counts the members sharing income and expenses [000].
	HouseholdSize int
}

// IncomeResult is the computed income of a survey, each figure with the
// sum behind it.
type IncomeResult struct {
	Wage, Business, Property, Transfer Fen
	// Gross is 年收入, Net is 纯收入 (Gross − ProductionCosts).
	Gross, Net      Fen
	ProductionCosts Fen
	HouseholdSize   int
	// PerCapita is Net ÷ HouseholdSize rounded toward negative infinity to
	// the fen: shown to people. AboveLine compares exactly (Net against
	// Line × HouseholdSize), never the rounded figure.
	PerCapita Fen
	Line      Fen
	// AboveLine is true when per-capita net income is strictly above the
	// line: "稳定超过国家扶贫标准" [000]; an income exactly at the line is not
	// above it.
	AboveLine bool
}

// ErrBadSurvey is wrapped by ComputeIncome when a survey cannot be computed.
var ErrBadSurvey = fmt.Errorf("income survey cannot be computed")

// ComputeIncome applies the income formula of [000] to a survey and
// compares the per-capita net income with the policy's line. It fails
// (wrapping ErrBadSurvey) on a household size below 1 or a negative item.
func ComputeIncome(s IncomeSurvey, p IncomePolicy) (IncomeResult, error) {
	if s.HouseholdSize < 1 {
		return IncomeResult{}, fmt.Errorf("survey %s: household size %d: %w: 户人口数至少为1", s.ID, s.HouseholdSize, ErrBadSurvey)
	}
	r := IncomeResult{HouseholdSize: s.HouseholdSize, ProductionCosts: s.ProductionCosts, Line: YuanToFen(p.LineYuan)}
	sum := func(name string, items []Fen) (Fen, error) {
		var t Fen
		for _, v := range items {
			if v < 0 {
				return 0, fmt.Errorf("survey %s: %s item %s: %w: 收入项不能为负数", s.ID, name, v, ErrBadSurvey)
			}
			t += v
		}
		return t, nil
	}
	var err error
	if r.Wage, err = sum("wage", s.Wage); err != nil {
		return IncomeResult{}, err
	}
	if r.Business, err = sum("business", s.Business); err != nil {
		return IncomeResult{}, err
	}
	if r.Property, err = sum("property", s.Property); err != nil {
		return IncomeResult{}, err
	}
	if r.Transfer, err = sum("transfer", s.Transfer); err != nil {
		return IncomeResult{}, err
	}
	if s.ProductionCosts < 0 {
		return IncomeResult{}, fmt.Errorf("survey %s: production costs %s: %w: 生产经营性支出不能为负数", s.ID, s.ProductionCosts, ErrBadSurvey)
	}
	r.Gross = r.Wage + r.Business + r.Property + r.Transfer
	r.Net = r.Gross - r.ProductionCosts
	size := Fen(s.HouseholdSize)
	r.PerCapita = r.Net / size
	if r.Net%size != 0 && r.Net < 0 {
		r.PerCapita-- // floor, not truncation toward zero
	}
	r.AboveLine = r.Net > r.Line*size
	return r, nil
}

// IncomeYearKey returns the stored name of the income year containing t
// under the policy: "2016-2017" for an instant in 2016-10-01 00:00 ..
// 2017-09-30 23:59:59.999 China Standard Time with the default start. With
// a 1 January start it is the calendar year on both sides ("2026-2026" is
// never produced: such a year is named "2025-2026" by its end, like every
// other, and runs 2026-01-01 .. 2026-12-31).
func IncomeYearKey(t time.Time, p IncomePolicy) string {
	y := p.IncomeYear(t)
	end := DateOf(y.End.Add(-time.Nanosecond)).Year
	return fmt.Sprintf("%04d-%04d", end-1, end)
}

// ParseIncomeYearKey returns the income year named "YYYY-YYYY" (the two
// years consecutive) under the policy.
func ParseIncomeYearKey(key string, p IncomePolicy) (Period, error) {
	a, b, ok := strings.Cut(key, "-")
	from, errA := strconv.Atoi(a)
	to, errB := strconv.Atoi(b)
	if !ok || errA != nil || errB != nil || len(a) != 4 || len(b) != 4 || to != from+1 || to < 1901 || to > 2200 {
		return Period{}, fmt.Errorf("income year %q: want two consecutive years, e.g. 2016-2017", key)
	}
	// The year ending in `to` contains its last day, 1 ns before the start
	// of the next year's first day.
	m, d, err := parseMonthDay(p.YearStarts)
	if err != nil {
		m, d = time.October, 1
	}
	last := time.Date(to, m, d, 0, 0, 0, 0, shanghai).Add(-time.Nanosecond)
	if m == time.January && d == 1 {
		last = time.Date(to+1, m, d, 0, 0, 0, 0, shanghai).Add(-time.Nanosecond)
	}
	return IncomeYear(last, m, d), nil
}
