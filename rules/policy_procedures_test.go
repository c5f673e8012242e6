package rules_test

import (
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

func TestProcedurePolicyDefaultsAndLayers(t *testing.T) {
	ps := policies(t)
	p := ps.For("520102001001", 2026)
	if p.Exit != (rules.ExitPolicy{NoticeDays: 5, SignoffNumerator: 2, SignoffDenominator: 3, SignoffStrictlyMore: true, SchoolAgeFrom: 6, SchoolAgeTo: 15}) {
		t.Errorf("exit defaults = %+v", p.Exit)
	}
	if p.VillageExit != (rules.VillageExitPolicy{MaxIncidencePercent: 2, MinIndustries: 1, MinCollectiveIncomeYuan: 50000}) {
		t.Errorf("village exit defaults = %+v", p.VillageExit)
	}
	if p.Review.CountOnlyApproved || p.Photos.MaxAgeDays != 7 {
		t.Errorf("review %+v photos %+v", p.Review, p.Photos)
	}
	// Ma'anshan (3405) set its own 4,200 line from 2017 over Anhui's 3,300.
	for _, tc := range []struct {
		area string
		year int
		want float64
	}{{"340521001001", 2016, 3300}, {"340521001001", 2017, 4200}, {"340521001001", 2026, 4200}, {"340102001001", 2017, 3300}} {
		if got := ps.For(tc.area, tc.year).Income.LineYuan; got != tc.want {
			t.Errorf("line for %s in %d = %v, want %v", tc.area, tc.year, got, tc.want)
		}
	}
	dir := writePolicies(t, map[string]string{"3405-2018.yaml": "exit: {notice_days: 7}\nvillage_exit: {min_collective_income_yuan: 80000}\n"})
	set, err := rules.LoadPolicyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// One file per prefix is chosen (LoadPolicies): 3405-2018 replaces the
	// shipped 3405-2017 for 2018 on, so its line falls back to Anhui's.
	if q := set.For("340521001001", 2018); q.Exit.NoticeDays != 7 || q.Exit.SignoffDenominator != 3 || q.VillageExit.MinCollectiveIncomeYuan != 80000 || q.Income.LineYuan != 3300 {
		t.Errorf("layered = %+v %+v %v", q.Exit, q.VillageExit, q.Income.LineYuan)
	}
}

func TestBadProcedurePolicyNamesTheKey(t *testing.T) {
	tests := []struct{ body, want string }{
		{"exit: {notice_days: 0}\n", "exit.notice_days: must be 1..366"},
		{"exit: {signoff_numerator: 3, signoff_denominator: 2}\n", "exit.signoff_denominator: must be ≥ exit.signoff_numerator"},
		{"exit: {signoff_strictly_more: maybe}\n", "exit.signoff_strictly_more: must be true or false"},
		{"exit: {school_age_from: 16}\n", "exit.school_age_from"},
		{"village_exit: {max_incidence_percent: 0}\n", "village_exit.max_incidence_percent: must be > 0"},
		{"village_exit: {min_collective_income_yuan: -1}\n", "village_exit.min_collective_income_yuan"},
		{"photos: {max_age_days: -1}\n", "photos.max_age_days"},
		{"review: {count_only_approved: 1}\n", "review.count_only_approved: must be true or false"},
	}
	for _, tc := range tests {
		dir := writePolicies(t, map[string]string{"34.yaml": tc.body})
		if _, err := rules.LoadPolicyDir(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
}
