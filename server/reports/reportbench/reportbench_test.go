package reportbench_test

import (
	"context"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
)

var small = reportbench.Size{Townships: 2, VillagesPerTown: 10, Households: 2_000, Visits: 20_000,
	Checkins: 4_000, HousingCases: 100, TeamMembersPerTeam: 3, Seed: 1}

func TestGenerateIsDeterministicAndFindsEveryKind(t *testing.T) {
	a, b := reportbench.Generate(small), reportbench.Generate(small)
	if len(a.Visits) != 20_000 || len(a.Households) != 2_000 || len(a.Checkins) != 4_000 {
		t.Fatalf("sizes %d %d %d", len(a.Visits), len(a.Households), len(a.Checkins))
	}
	for i := range a.Visits {
		if a.Visits[i] != b.Visits[i] {
			t.Fatalf("visit %d differs: %+v %+v", i, a.Visits[i], b.Visits[i])
		}
	}
	for i := range a.Checkins {
		if a.Checkins[i] != b.Checkins[i] {
			t.Fatalf("check-in %d differs", i)
		}
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := rules.ParsePeriod(reportbench.Period)
	r := reports.Compliance(a, ps, reportbench.CountyCode, p)
	for _, k := range rules.Kinds() {
		if k == rules.KindVisitDueSoon {
			continue // judged at the period's end: nothing is still to come
		}
		if k == rules.KindTeamDutyMissed || k == rules.KindDoctorVisitOverdue {
			continue // no collection records these duties yet, so nothing generates them
		}
		if r.Summary.Counts[k] == 0 {
			t.Errorf("no %s finding in the generated data", k)
		}
	}
	r2 := reports.Compliance(b, ps, reportbench.CountyCode, p)
	if r.Summary.Total != r2.Summary.Total {
		t.Fatalf("same data, different totals %d %d", r.Summary.Total, r2.Summary.Total)
	}
}

func BenchmarkCompliance(b *testing.B) {
	in := reportbench.Generate(reportbench.County())
	ps, err := rules.DefaultPolicies()
	if err != nil {
		b.Fatal(err)
	}
	p, _ := rules.ParsePeriod(reportbench.Period)
	b.ResetTimer()
	for b.Loop() {
		reports.Compliance(in, ps, reportbench.CountyCode, p)
	}
}

// BenchmarkBenchReport runs the whole measurement once per iteration and
// reports its figures (go test -run XXX -bench BenchReport -benchtime 1x).
func BenchmarkBenchReport(b *testing.B) {
	for b.Loop() {
		m, err := reportbench.BenchReport(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for k, v := range m {
			b.ReportMetric(v, k)
		}
	}
}
