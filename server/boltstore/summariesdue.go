package boltstore

import (
	"maps"
	"slices"
)

// summaryDue notes that a household's visit summary must be rewritten
// before the write transaction ends. A summary is folded from all of the
// household's index entries, so rewriting it on every visit write made a
// batch of n visits to one household cost n² entry reads (a 1,000-visit
// push to one household went from ~0.3 s to ~4 s); a write transaction
// now rewrites each household it touched once, in flush. Transactions not
// made by runWrite (the rebuilds) rewrite at once, as before.
func (t *Tx) summaryDue(hhKey []byte) error {
	if t.decoded == nil {
		return t.summarizeHousehold(hhKey)
	}
	if t.summariesDue == nil {
		t.summariesDue = make(map[string]struct{})
	}
	t.summariesDue[string(hhKey)] = struct{}{}
	return nil
}

// flushSummaries rewrites the summaries noted by summaryDue, in key order.
func (t *Tx) flushSummaries() error {
	if len(t.summariesDue) == 0 {
		return nil
	}
	for _, hh := range slices.Sorted(maps.Keys(t.summariesDue)) {
		if err := t.summarizeHousehold([]byte(hh)); err != nil {
			return err
		}
	}
	clear(t.summariesDue)
	return nil
}
