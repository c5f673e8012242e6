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
	return &reportCache{reports: map[reportKey]cachedReport{}, photos: map[string]cachedCount{}}
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
