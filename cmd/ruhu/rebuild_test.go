package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
)

// TestRebuildSummaries: a store whose visit summaries were lost (the
// bucket emptied behind the store's back) gives a wrong county report
// until `ruhu rebuild-summaries` recomputes them from the records; then
// the report is the one made before the loss. The command refuses a
// folder without a store.
func TestRebuildSummaries(t *testing.T) {
	dir := t.TempDir()
	size := reportbench.Size{Townships: 2, VillagesPerTown: 2, Households: 120, Visits: 1500, Checkins: 100,
		HousingCases: 3, TeamMembersPerTeam: 2, Seed: 7}
	period, err := rules.ParsePeriod(reportbench.Period)
	if err != nil {
		t.Fatal(err)
	}
	asOf := period.End
	store, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportbench.WriteStore(store, reportbench.Generate(size), asOf); err != nil {
		t.Fatal(err)
	}
	store.Close()
	report := func() string {
		t.Helper()
		store, err := openStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		ps, err := rules.DefaultPolicies()
		if err != nil {
			t.Fatal(err)
		}
		r, err := server.ComplianceReport(store.Core(), ps, reportbench.CountyCode, period, asOf)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := reports.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := report()

	db, err := bolt.Open(filepath.Join(dir, "ruhu.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("visitsummary")); err != nil {
			return err
		}
		_, err := tx.CreateBucket([]byte("visitsummary"))
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if report() == before {
		t.Fatal("the report is the same without the visit summaries: the test shows nothing")
	}

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"rebuild-summaries", "--data", dir}, os.Getenv, &out, &errOut); err != nil {
		t.Fatalf("rebuild-summaries: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "rebuilt") {
		t.Errorf("rebuild-summaries printed %q", out.String())
	}
	if after := report(); after != before {
		t.Fatal("the report after rebuild-summaries differs from the one before the summaries were lost")
	}

	err = run(context.Background(), []string{"rebuild-summaries", "--data", filepath.Join(dir, "nothing")}, os.Getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no store") {
		t.Fatalf("rebuild-summaries of a folder without a store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Fatal("rebuild-summaries made a data folder")
	}
}
