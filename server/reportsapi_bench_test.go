package server_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
)

// storeOf writes a generated input into a bbolt store as the records the
// server would hold (reportbench.WriteStore).
func storeOf(b *testing.B, in *rules.Input) *boltstore.Store {
	b.Helper()
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := reportbench.WriteStore(store, in, time.Unix(1e9, 0)); err != nil {
		b.Fatal(err)
	}
	return store
}

// BenchmarkComplianceReportFromStore measures the report endpoint's work
// without HTTP: reading a tenth of the benchmark county (10,000
// households, 100,000 visits, 20,000 check-ins) from bbolt into the rules'
// input, then running the rules and the roll-up. `ruhu bench report`
// measures the whole county (report_from_store_s).
func BenchmarkComplianceReportFromStore(b *testing.B) {
	size := reportbench.County()
	size.Households, size.Visits, size.Checkins, size.HousingCases = 10_000, 100_000, 20_000, 0
	store := storeOf(b, reportbench.Generate(size))
	ps, err := rules.DefaultPolicies()
	if err != nil {
		b.Fatal(err)
	}
	p, _ := rules.ParsePeriod(reportbench.Period)
	b.ResetTimer()
	for b.Loop() {
		r, err := server.ComplianceReport(store.Core(), ps, reportbench.CountyCode, p, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Summary.Total), "findings")
	}
}
