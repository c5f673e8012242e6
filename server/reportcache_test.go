package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// TestReportCacheReusesUntilTheStoreChanges: a report is computed once
// for an area, period and minute while the store's write generation stays
// the same; any committed write (here an account) or another minute,
// area or period computes it afresh.
func TestReportCacheReusesUntilTheStoreChanges(t *testing.T) {
	bs, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	store := bs.Core()
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := rules.ParsePeriod("2026H2")
	q3, _ := rules.ParsePeriod("2026Q3")
	asOf := time.Date(2026, 9, 1, 10, 0, 5, 0, rules.Shanghai())
	c := newReportCache()
	computed := 0
	get := func(area string, p rules.Period, at time.Time) *reports.Report {
		t.Helper()
		gen, ok := storeGeneration(store)
		if !ok {
			t.Fatal("boltstore tells no write generation")
		}
		r, err := c.report(newReportKey(area, p, ps, at), gen, func() (*reports.Report, error) {
			computed++
			return &reports.Report{Area: area, Period: p, AsOf: at}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := get("341122", h2, asOf)
	if again := get("341122", h2, asOf.Add(40*time.Second)); again != first || computed != 1 {
		t.Fatalf("same minute, no write: computed %d times, same report %v", computed, again == first)
	}
	steps := []struct {
		name   string
		change func()
		area   string
		period rules.Period
		at     time.Time
	}{
		{"another minute", nil, "341122", h2, asOf.Add(time.Minute)},
		{"another area", nil, "341122001", h2, asOf.Add(time.Minute)},
		{"another period", nil, "341122", q3, asOf.Add(time.Minute)},
		{"a write", func() {
			err := bs.UpdateSolo(func(tx *boltstore.Tx) error {
				return tx.PutUser(&boltstore.User{Username: "li", Role: "county", Scopes: []string{"341122"}, CreatedAt: asOf})
			})
			if err != nil {
				t.Fatal(err)
			}
		}, "341122", h2, asOf.Add(time.Minute)},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		before := computed
		get(s.area, s.period, s.at)
		if computed != before+1 {
			t.Errorf("%s: not computed afresh", s.name)
		}
		get(s.area, s.period, s.at)
		if computed != before+1 {
			t.Errorf("%s: computed again with nothing changed", s.name)
		}
	}
}
