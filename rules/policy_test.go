package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

func writePolicies(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestShippedDefaults(t *testing.T) {
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	p := ps.For("520102001001", 2026)
	if p.Visits.Exited != (rules.Cadence{Per: rules.UnitHalfYear, Min: 1}) {
		t.Errorf("exited cadence = %+v", p.Visits.Exited)
	}
	if p.Residency.DaysPerMonth != 20 || p.Caseload.MaxHouseholdsPerOfficer != 3 || p.Team.MinMembers != 2 ||
		p.Income.LineYuan != 4000 || p.Checkin.GeofenceM != 500 || p.Checkin.MaxAccuracyM != 100 {
		t.Errorf("default figures: %+v", p)
	}
	for _, k := range []string{"official_trip", "meeting", "training"} {
		if !p.Residency.Counts(k) {
			t.Errorf("duty kind %s does not count", k)
		}
	}
	if p.Residency.Counts("leave") {
		t.Error("leave counts")
	}
	anhui := ps.For("340102001001", 2026)
	if anhui.Income.LineYuan != 3300 {
		t.Errorf("Anhui income line = %v", anhui.Income.LineYuan)
	}
	if anhui.Residency.DaysPerMonth != 20 {
		t.Errorf("Anhui lost the default residency: %+v", anhui.Residency)
	}
	if got := strings.Join(anhui.Sources, ","); got != "default.yaml,34.yaml" {
		t.Errorf("sources = %s", got)
	}
}

func TestMostSpecificPrefixAndYearWin(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"34-2020.yaml":     "income: {line_yuan: 3500}\n",
		"3401.yaml":        "residency: {days_per_month: 18}\n",
		"340102.yaml":      "residency: {days_per_month: 22}\ncaseload: {max_households_per_officer: 5}\n",
		"340102-2025.yaml": "residency: {days_per_month: 25}\n",
		"default.yaml":     "team: {min_members: 4}\n",
	})
	ps, err := rules.LoadPolicyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		area        string
		year        int
		days, cases int
		line        float64
		team        int
	}{
		{"340102001001", 2024, 22, 5, 3500, 4}, // 340102.yaml beats 3401.yaml; 34-2020 beats shipped 34
		{"340102001001", 2025, 25, 3, 3500, 4}, // year file chosen alone for its prefix
		{"340102001001", 2030, 25, 3, 3500, 4}, // nearest earlier year
		{"340103001001", 2026, 18, 3, 3500, 4}, // only 3401 matches
		{"340103001001", 2019, 18, 3, 3300, 4}, // before 2020: shipped year-less 34.yaml
		{"350103001001", 2026, 20, 3, 4000, 4}, // folder default.yaml over shipped default
	}
	for _, tc := range tests {
		p := ps.For(tc.area, tc.year)
		if p.Residency.DaysPerMonth != tc.days || p.Caseload.MaxHouseholdsPerOfficer != tc.cases || p.Income.LineYuan != tc.line || p.Team.MinMembers != tc.team {
			t.Errorf("For(%s, %d) = days %d cases %d line %v team %d (sources %v)", tc.area, tc.year,
				p.Residency.DaysPerMonth, p.Caseload.MaxHouseholdsPerOfficer, p.Income.LineYuan, p.Team.MinMembers, p.Sources)
		}
	}
}

func TestBadPolicyNamesTheKey(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"34.yaml", "residency:\n  days_per_month: 0\n", "policy 34.yaml: residency.days_per_month: must be ≥ 1"},
		{"34.yaml", "residency:\n  days_per_month: -3\n", "residency.days_per_month: must be ≥ 1"},
		{"34.yaml", "residency:\n  days_per_mont: 20\n", "policy 34.yaml: residency.days_per_mont: unknown key"},
		{"34.yaml", "residenc:\n  days_per_month: 20\n", "residenc: unknown key"},
		{"34.yaml", "residency:\n  days_per_month: twenty\n", "residency.days_per_month: must be a whole number"},
		{"34.yaml", "residency:\n  days_per_month: 20.5\n", "residency.days_per_month: must be a whole number"},
		{"34.yaml", "checkin:\n  geofence_m: -1\n", "checkin.geofence_m: must be > 0"},
		{"34.yaml", "checkin:\n  max_travel_kmh: 0\n", "checkin.max_travel_kmh: must be > 0"},
		{"34.yaml", "visits:\n  exited: {per: fortnight, min: 1}\n", "visits.exited.per: must be one of"},
		{"34.yaml", "visits:\n  poor: {per: month, min: 0}\n", "visits.poor.min: must be ≥ 1"},
		{"34.yaml", "residency:\n  counted_duty_kinds: meeting\n", "residency.counted_duty_kinds: must be a list"},
		{"34.yaml", "residency:\n  counted_duty_kinds: [meeting, 3]\n", "residency.counted_duty_kinds[1]: must be text"},
		{"34.yaml", "income:\n  year_starts: \"02-30\"\n", "income.year_starts:"},
		{"34.yaml", "income:\n  line_yuan:\n", "income.line_yuan: must have a value"},
		{"34.yaml", "caseload: 3\n", "caseload: must be a mapping"},
		{"34.yaml", "team: {min_members: 2}\nteam: {min_members: 3}\n", "team: key appears twice"},
		{"3.yaml", "team: {min_members: 2}\n", "policy 3.yaml: file name: area prefix"},
		{"34x.yaml", "team: {min_members: 2}\n", "policy 34x.yaml: file name"},
		{"34-20.yaml", "team: {min_members: 2}\n", "policy 34-20.yaml: file name: year"},
		{"1234567890123.yaml", "team: {min_members: 2}\n", "area prefix"},
		{"34.yaml", "team: [\n", "policy 34.yaml: not valid YAML"},
	}
	for _, tc := range tests {
		dir := writePolicies(t, map[string]string{tc.name: tc.body})
		_, err := rules.LoadPolicyDir(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want it to contain %q", tc.name, tc.body, err, tc.want)
		}
	}
}

func TestEmptyPolicyFileSetsNothing(t *testing.T) {
	ps, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"5201.yaml": "# nothing yet\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if p := ps.For("520102001001", 2026); p.Residency.DaysPerMonth != 20 {
		t.Fatalf("empty file changed policy: %+v", p)
	}
}

func FuzzPolicyFile(f *testing.F) {
	f.Add("residency: {days_per_month: 20}\n")
	f.Add("visits:\n  exited: {per: half_year, min: 1}\n")
	f.Add("checkin: [1, 2]\n")
	f.Add("a: &x 1\nb: *x\n")
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "34.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		ps, err := rules.LoadPolicyDir(dir)
		if err != nil {
			return
		}
		p := ps.For("340102001001", 2026)
		if p.Residency.DaysPerMonth < 1 || p.Checkin.GeofenceM <= 0 || p.Team.MinMembers < 1 {
			t.Fatalf("accepted invalid policy %q: %+v", body, p)
		}
	})
}
