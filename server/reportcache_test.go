package server

import (
	"path/filepath"
	"sync"
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

// TestRecentReportServesTheLastWhileRefreshing: the overview gets the
// kept report at once while the store is unchanged; after a write it
// still gets the kept one, marked refreshing, while exactly one fresh
// report is made in the background, which the next view gets; a kept
// report older than maxAge is not shown, the viewer waits for a fresh one.
func TestRecentReportServesTheLastWhileRefreshing(t *testing.T) {
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := rules.ParsePeriod("2026H2")
	c := newReportCache()
	key := newReportKey("341122", h2, ps, time.Time{})
	t0 := time.Date(2026, 9, 1, 10, 0, 0, 0, rules.Shanghai())
	var mu sync.Mutex
	computed := 0
	release := make(chan struct{})
	compute := func(asOf time.Time) (*reports.Report, error) {
		mu.Lock()
		computed++
		n := computed
		mu.Unlock()
		if n > 1 {
			<-release // a background refresh waits until the test lets it
		}
		return &reports.Report{Area: "341122", Period: h2, AsOf: asOf}, nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return computed }
	get := func(gen uint64, now time.Time) RecentReport {
		t.Helper()
		rr, err := c.recentReport(key, gen, now, 10*time.Minute, compute)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	first := get(1, t0)
	if first.Refreshing || count() != 1 || !first.At.Equal(t0) {
		t.Fatalf("first view: %+v, computed %d", first, count())
	}
	if again := get(1, t0.Add(30*time.Second)); again.Report != first.Report || again.Refreshing || count() != 1 {
		t.Fatalf("unchanged store: %+v, computed %d", again, count())
	}
	// A write: the kept report comes back at once, one refresh starts.
	stale := get(2, t0.Add(40*time.Second))
	stale2 := get(3, t0.Add(45*time.Second))
	if stale.Report != first.Report || !stale.Refreshing || stale2.Report != first.Report || !stale2.Refreshing {
		t.Fatalf("after a write: %+v / %+v", stale, stale2)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rr := get(2, t0.Add(50*time.Second))
		if rr.Report != first.Report {
			if !rr.At.Equal(t0.Add(40*time.Second)) || count() != 2 {
				t.Fatalf("refreshed report judged at %v, computed %d (want one refresh)", rr.At, count())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never landed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Too old to show: the viewer waits for a fresh one.
	late := t0.Add(time.Hour)
	if rr := get(9, late); rr.Refreshing || !rr.At.Equal(late) || count() != 3 {
		t.Fatalf("after maxAge: %+v, computed %d", rr, count())
	}
}
