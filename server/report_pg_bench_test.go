package server_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
	"github.com/ruhu-dev/ruhu/server/storecopy"
)

// BenchmarkComplianceReportStores is the report endpoint's work without
// HTTP on each store, over the same records: a fiftieth of the benchmark
// county (2,000 households, 20,000 visits, 4,000 check-ins) written to
// bbolt and copied to PostgreSQL (storecopy.Copy). bbolt reads its report
// projection; PostgreSQL reads the records themselves.
func BenchmarkComplianceReportStores(b *testing.B) {
	size := reportbench.County()
	size.Households, size.Visits, size.Checkins, size.HousingCases = 2_000, 20_000, 4_000, 0
	bolt := storeOf(b, reportbench.Generate(size))
	pg, err := pgstore.Open(b.Context(), pgtest.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pg.Close)
	if _, err := storecopy.Copy(pg.Core(), bolt.Core()); err != nil {
		b.Fatal(err)
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		b.Fatal(err)
	}
	p, _ := rules.ParsePeriod(reportbench.Period)
	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	want, err := server.ComplianceReport(bolt.Core(), ps, reportbench.CountyCode, p, asOf)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range []server.Store{bolt.Core(), pg.Core()} {
		b.Run(st.Kind(), func(b *testing.B) {
			for b.Loop() {
				r, err := server.ComplianceReport(st, ps, reportbench.CountyCode, p, asOf)
				if err != nil {
					b.Fatal(err)
				}
				if r.Summary.Total != want.Summary.Total {
					b.Fatalf("%s: %d findings, bbolt %d", st.Kind(), r.Summary.Total, want.Summary.Total)
				}
				b.ReportMetric(float64(r.Summary.Total), "findings")
			}
		})
	}
}
