package server

import (
	"sync"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// generationTx is a transaction that tells whether its store changed
// (boltstore's Tx.Generation: the last committed write transaction).
type generationTx interface {
	Generation() uint64
}

// storeGeneration returns the store's write generation; false when the
// store cannot tell, and nothing may be reused.
func storeGeneration(store Store) (gen uint64, ok bool) {
	err := view(store, func(tx Tx) error {
		if g, is := tx.(generationTx); is {
			gen, ok = g.Generation(), true
		}
		return nil
	})
	return gen, ok && err == nil
}

// reportCache keeps the compliance reports and photo-finding counts the
// console made, for reuse while the store has not changed (same write
// generation) and within the minute they were judged in: a warm overview
// page then costs nearly nothing. A report judged "now" and reused for up
// to a minute misses only what a record stamped within that minute would
// change; any write to the store makes the next page compute afresh. The
// reports handed out are shared: readers must not change them.
type reportCache struct {
	mu      sync.Mutex
	reports map[reportKey]cachedReport
	photos  map[string]cachedCount // by area
	// recent keeps the overview's reports by scope, period and policies
	// (no minute): see recentReport.
	recent map[reportKey]*recentEntry
}

// recentEntry is the last report made for an overview, with the store
// generation read before it was computed and when it was judged.
type recentEntry struct {
	gen        uint64
	report     *reports.Report
	at         time.Time
	refreshing bool
}

// RecentReport is a report recentReport handed out: judged at At, and
// Refreshing when a newer one is being made because the store changed.
type RecentReport struct {
	Report     *reports.Report
	At         time.Time
	Refreshing bool
}

// reportKey names a report: scope, period, the policies it was judged by
// and the minute of the judging instant.
type reportKey struct {
	area, period string
	start, end   int64
	policies     *rules.PolicySet
	minute       int64
}

type cachedReport struct {
	gen    uint64
	report *reports.Report
}

type cachedCount struct {
	gen, minute uint64
	n           int
}

// maxCachedReports bounds the reports kept: the console's areas and
// periods in use at once.
const maxCachedReports = 32

func newReportCache() *reportCache {
	return &reportCache{reports: map[reportKey]cachedReport{}, photos: map[string]cachedCount{},
		recent: map[reportKey]*recentEntry{}}
}

// recentReport serves the overview page: while tablets sync, the store
// changes every few seconds and a county report takes over a second, so
// a page that waited for a fresh one would wait on nearly every view.
// It returns the report kept for key when the store has not changed
// since (same generation) within the minute it was judged; when it has,
// it still returns the kept one if it is at most maxAge old, marked
// Refreshing, and makes a fresh one in the background (one at a time per
// key), which the next view gets. Only a first view, or one after maxAge
// without views, waits for compute. compute judges at the instant given.
func (c *reportCache) recentReport(key reportKey, gen uint64, now time.Time, maxAge time.Duration,
	compute func(asOf time.Time) (*reports.Report, error)) (RecentReport, error) {
	key.minute = 0
	c.mu.Lock()
	e := c.recent[key]
	if e != nil && e.gen == gen && now.Sub(e.at) < time.Minute && !now.Before(e.at) {
		defer c.mu.Unlock()
		return RecentReport{Report: e.report, At: e.at, Refreshing: e.refreshing}, nil
	}
	if e != nil && now.Sub(e.at) <= maxAge && !now.Before(e.at) {
		if !e.refreshing {
			e.refreshing = true
			go c.refresh(key, e, gen, now, compute)
		}
		defer c.mu.Unlock()
		return RecentReport{Report: e.report, At: e.at, Refreshing: true}, nil
	}
	c.mu.Unlock()
	r, err := compute(now)
	if err != nil {
		return RecentReport{}, err
	}
	c.keepRecent(key, &recentEntry{gen: gen, report: r, at: now})
	return RecentReport{Report: r, At: now}, nil
}

// refresh makes the report that replaces stale; a failure leaves the
// stale one for the next view to try again.
func (c *reportCache) refresh(key reportKey, stale *recentEntry, gen uint64, now time.Time, compute func(time.Time) (*reports.Report, error)) {
	r, err := compute(now)
	if err != nil {
		c.mu.Lock()
		stale.refreshing = false
		c.mu.Unlock()
		return
	}
	c.keepRecent(key, &recentEntry{gen: gen, report: r, at: now})
}

func (c *reportCache) keepRecent(key reportKey, e *recentEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.recent[key]; old != nil && old.at.After(e.at) {
		return // a later judgment landed first
	}
	if len(c.recent) >= maxCachedReports {
		clear(c.recent)
	}
	c.recent[key] = e
}

func newReportKey(area string, period rules.Period, policies *rules.PolicySet, asOf time.Time) reportKey {
	return reportKey{area: area, period: period.Label, start: period.Start.Unix(), end: period.End.Unix(),
		policies: policies, minute: asOf.Unix() / 60}
}

// report returns the cached report for key at generation gen, or makes
// one with compute and keeps it.
func (c *reportCache) report(key reportKey, gen uint64, compute func() (*reports.Report, error)) (*reports.Report, error) {
	c.mu.Lock()
	e, ok := c.reports[key]
	c.mu.Unlock()
	if ok && e.gen == gen {
		return e.report, nil
	}
	r, err := compute()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reports) >= maxCachedReports {
		clear(c.reports) // the console's working set is small: start over
	}
	c.reports[key] = cachedReport{gen: gen, report: r}
	return r, nil
}

// photoCount returns the cached count of photo findings under area at
// generation gen and minute, or counts them with compute and keeps it.
func (c *reportCache) photoCount(area string, gen uint64, asOf time.Time, compute func() (int, error)) (int, error) {
	minute := uint64(asOf.Unix() / 60)
	c.mu.Lock()
	e, ok := c.photos[area]
	c.mu.Unlock()
	if ok && e.gen == gen && e.minute == minute {
		return e.n, nil
	}
	n, err := compute()
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.photos) >= maxCachedReports {
		clear(c.photos)
	}
	c.photos[area] = cachedCount{gen: gen, minute: minute, n: n}
	return n, nil
}
