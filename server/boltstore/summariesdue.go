package boltstore

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/ruhu-dev/ruhu/server/core"
)

// summaryDue notes that a household's visit summary must be rewritten
// before the write transaction ends. A summary is folded from all of the
// household's index entries, so rewriting it on every visit write made a
// batch of n visits to one household cost n² entry reads (a 1,000-visit
// push to one household went from ~0.3 s to ~4 s); a write transaction
// now rewrites each household it touched once, in flush. Transactions not
// made by runWrite (the rebuilds) rewrite at once, as before.
//
// added is the entry's id and index value when the write only added an
// entry the household did not have (a new visit, the common write), nil
// for any other change (an entry removed, moved or changed): a household
// that was only added to has its summary brought up to date from the
// stored one and the new entries (core.FoldVisits), without reading the
// entries it had; any other change reads them all again.
func (t *Tx) summaryDue(hhKey []byte, added *addedEntry) error {
	if t.decoded == nil {
		return t.summarizeHousehold(hhKey)
	}
	if t.summariesDue == nil {
		t.summariesDue = make(map[string]*dueSummary)
	}
	d := t.summariesDue[string(hhKey)]
	if d == nil {
		d = &dueSummary{}
		t.summariesDue[string(hhKey)] = d
	}
	if added == nil {
		d.rescan, d.added = true, nil
	} else if !d.rescan {
		d.added = append(d.added, *added)
	}
	return nil
}

// dueSummary is how flush must rewrite one household's summary: from all
// its entries (rescan), or by folding added into the stored one.
type dueSummary struct {
	rescan bool
	added  []addedEntry
}

// addedEntry is an index entry a write transaction added to a household:
// the visit id and the index value (both owned).
type addedEntry struct{ id, value []byte }

// flushSummaries rewrites the summaries noted by summaryDue, in key order.
func (t *Tx) flushSummaries() error {
	if len(t.summariesDue) == 0 {
		return nil
	}
	for _, hh := range slices.Sorted(maps.Keys(t.summariesDue)) {
		d := t.summariesDue[hh]
		folded, err := t.foldSummary([]byte(hh), d)
		if err != nil {
			return err
		}
		if folded {
			continue
		}
		if err := t.summarizeHousehold([]byte(hh)); err != nil {
			return err
		}
	}
	clear(t.summariesDue)
	return nil
}

// foldSummary brings a household's stored summary up to date with the
// entries the transaction added to it, and reports whether it did: not
// when the household changed otherwise or has no stored summary yet (the
// caller then rebuilds it from the entries).
func (t *Tx) foldSummary(hhKey []byte, d *dueSummary) (bool, error) {
	sums := t.tx.Bucket(bucketVisitSummaries)
	if d.rescan || len(d.added) == 0 || sums == nil {
		return false, nil
	}
	stored := sums.Get(hhKey)
	if stored == nil {
		return false, nil
	}
	var r visitSummaryReader
	s, ok := r.decode(stored)
	if !ok {
		return false, fmt.Errorf("visit summary: malformed summary of %q", hhKey)
	}
	entries := make([]core.VisitEntry, len(d.added))
	listed := make([]core.ListedVisit, len(d.added))
	for i, a := range d.added {
		entries[i].ID = a.id
		if !decodeVisitEntry(a.value, &entries[i], &listed[i]) {
			return false, fmt.Errorf("visit index: malformed entry of %q", a.id)
		}
	}
	folded := core.FoldVisits(*s, entries)
	value := appendVisitSummary(make([]byte, 0, len(stored)+64*len(entries)), &folded)
	if bytes.Equal(stored, value) {
		return true, nil
	}
	return true, sums.Put(hhKey, value)
}
