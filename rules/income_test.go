package rules_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

func yuan(v float64) rules.Fen { return rules.YuanToFen(v) }

// TestIncomeFormulaWithSeedCategories computes a survey itemised with the
// example categories of [000]: 工资性收入 (务工收入, 公益性岗位收入), 生产经营性
// 收入 (农林牧渔, 乡村旅游), 财产性收入 (土地租金, 股份分红) and 转移性收入
// (补贴, 低保金, 养老保险金, 生态补偿金), less 生产经营性支出.
func TestIncomeFormulaWithSeedCategories(t *testing.T) {
	s := rules.IncomeSurvey{ID: "s1", HouseholdID: "h1", IncomeYear: "2016-2017", HouseholdSize: 3,
		Wage:            []rules.Fen{yuan(6000), yuan(3600)},                      // 务工收入, 公益性岗位收入
		Business:        []rules.Fen{yuan(2500.50), yuan(800)},                    // 种养殖, 乡村旅游
		Property:        []rules.Fen{yuan(400), yuan(300)},                        // 土地租金, 股份分红
		Transfer:        []rules.Fen{yuan(500), yuan(1200), yuan(840), yuan(150)}, // 补贴, 低保金, 养老保险金, 生态补偿金
		ProductionCosts: yuan(1290.50),
	}
	r, err := rules.ComputeIncome(s, rules.IncomePolicy{LineYuan: 4000, YearStarts: "10-01"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Wage != yuan(9600) || r.Business != yuan(3300.50) || r.Property != yuan(700) || r.Transfer != yuan(2690) {
		t.Errorf("categories = %s %s %s %s", r.Wage, r.Business, r.Property, r.Transfer)
	}
	if r.Gross != yuan(16290.50) || r.Net != yuan(15000) || r.PerCapita != yuan(5000) {
		t.Errorf("gross %s net %s per capita %s, want 16290.50 15000.00 5000.00", r.Gross, r.Net, r.PerCapita)
	}
	if !r.AboveLine {
		t.Error("5000 per capita is not above a 4000 line")
	}
}

func TestIncomeAtTheLineIsNotAbove(t *testing.T) {
	p := rules.IncomePolicy{LineYuan: 3300, YearStarts: "10-01"}
	tests := []struct {
		name  string
		net   float64
		size  int
		above bool
	}{
		{"exactly at the line", 3300 * 4, 4, false},
		{"one yuan above per capita", 3301 * 4, 4, true},
		{"one fen short of the household total", 3300*3 - 0.01, 3, false},
		{"one fen above the household total", 3300*3 + 0.01, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rules.ComputeIncome(rules.IncomeSurvey{Wage: []rules.Fen{yuan(tc.net)}, HouseholdSize: tc.size}, p)
			if err != nil {
				t.Fatal(err)
			}
			if r.AboveLine != tc.above {
				t.Errorf("AboveLine = %v (per capita %s, line %s)", r.AboveLine, r.PerCapita, r.Line)
			}
		})
	}
}

func TestIncomeRefusesBadSurveys(t *testing.T) {
	p := rules.IncomePolicy{LineYuan: 3300, YearStarts: "10-01"}
	for _, s := range []rules.IncomeSurvey{
		{HouseholdSize: 0, Wage: []rules.Fen{100}},
		{HouseholdSize: 2, Wage: []rules.Fen{-1}},
		{HouseholdSize: 2, ProductionCosts: -1},
	} {
		if _, err := rules.ComputeIncome(s, p); !errors.Is(err, rules.ErrBadSurvey) {
			t.Errorf("%+v: err = %v", s, err)
		}
	}
	// Costs above income give a negative net, floored per capita.
	r, err := rules.ComputeIncome(rules.IncomeSurvey{HouseholdSize: 3, Wage: []rules.Fen{0}, ProductionCosts: 100}, p)
	if err != nil || r.Net != -100 || r.PerCapita != -34 || r.AboveLine {
		t.Errorf("negative net: %+v %v", r, err)
	}
}

func TestIncomeYearKeyBoundaries(t *testing.T) {
	p := rules.IncomePolicy{LineYuan: 3300, YearStarts: "10-01"}
	tests := []struct {
		at   time.Time
		want string
	}{
		{local(2017, time.September, 30, 23, 59, 59), "2016-2017"},
		{local(2017, time.October, 1, 0, 0, 0), "2017-2018"},
		{local(2017, time.October, 1, 0, 0, 0).Add(-time.Nanosecond), "2016-2017"},
		// 2017-09-30 16:00 UTC is 2017-10-01 00:00 China time.
		{time.Date(2017, time.September, 30, 16, 0, 0, 0, time.UTC), "2017-2018"},
		{time.Date(2017, time.September, 30, 15, 59, 59, 0, time.UTC), "2016-2017"},
	}
	for _, tc := range tests {
		if got := rules.IncomeYearKey(tc.at, p); got != tc.want {
			t.Errorf("IncomeYearKey(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
	y, err := rules.ParseIncomeYearKey("2016-2017", p)
	if err != nil {
		t.Fatal(err)
	}
	if !y.Start.Equal(local(2016, time.October, 1, 0, 0, 0)) || !y.End.Equal(local(2017, time.October, 1, 0, 0, 0)) {
		t.Errorf("2016-2017 = %s .. %s", y.Start, y.End)
	}
	jan := rules.IncomePolicy{LineYuan: 3300, YearStarts: "01-01"}
	if y, err := rules.ParseIncomeYearKey("2025-2026", jan); err != nil || !y.Start.Equal(local(2026, time.January, 1, 0, 0, 0)) {
		t.Errorf("calendar income year = %v %v", y, err)
	}
	for _, bad := range []string{"2016-2018", "2016", "16-17", "2017-2016"} {
		if _, err := rules.ParseIncomeYearKey(bad, p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
