package pgstore

import (
	"fmt"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Partitions by county (migration 0004).
//
// records and ops are partitioned by HASH (county), county being the
// first core.CountyLen characters of the area code (left(area, 6), which
// the store writes itself from the area). A record's area never changes
// (syncengine.ApplyOp refuses an op of another area), so a record and its
// history stay in one partition.
//
// The keys unique across counties, a record's (collection, id) and an
// op's id, are kept in record_keys and op_keys with the row's county,
// written in the same transaction as the new row. A lookup that has no
// area probes the key table and reads the one partition it names: the
// county is a scalar subquery, so the planner prunes the other partitions
// when the statement starts, or, in a join, each time the join's outer
// row changes. A record id or op id reused in another county therefore
// finds the row already stored, as before partitioning.
//
// A query that knows its area prefix down to the county (a pull whose
// scopes are all counties or smaller, a report or scan of a county or a
// township) adds county = …, and touches one partition of each table.

// Statement fragments for lookups by a key without an area. recordByKeySQL
// is the condition for the record ($1 collection, $2 id); opCountySQL is
// the county of op $1.
const (
	recordByKeySQL = `county = (SELECT county FROM record_keys WHERE collection = $1 AND id = $2) AND collection = $1 AND id = $2`
	opCountySQL    = `(SELECT county FROM op_keys WHERE id = $1)`
)

// historySQL reads a record's ops in acceptance order from its county's
// partition; a record that has no key (never stored) has its history, if
// any, looked for in every partition, as before partitioning.
const historySQL = `SELECT seq, id, body FROM ops
	WHERE county = (SELECT county FROM record_keys WHERE collection = $1 AND id = $2) AND collection = $1 AND record_id = $2
	UNION ALL
	SELECT seq, id, body FROM ops
	WHERE NOT EXISTS (SELECT 1 FROM record_keys WHERE collection = $1 AND id = $2) AND collection = $1 AND record_id = $2
	ORDER BY seq`

// countyOf is the county of an area code or prefix: its first
// core.CountyLen characters, as SQL's left(area, 6) counts them; ok is
// false when it is shorter.
func countyOf(area string) (string, bool) {
	n := 0
	for i := range area {
		if n == core.CountyLen {
			return area[:i], true
		}
		n++
	}
	return area, n == core.CountyLen
}

// sameCounty refuses to store rec in another county than the one its
// stored version (in area stored) is in: the row would land in another
// partition beside the old one. syncengine.ApplyOp refuses any change of
// area before a write gets here; this holds the line for other writers.
func sameCounty(rec *syncengine.Record, stored string) error {
	was, _ := countyOf(stored)
	now, _ := countyOf(rec.Area)
	if was != now {
		return syncengine.Errorf(syncengine.EINVALID, "%s/%s: area code %s differs from the record's %s (area codes do not change)",
			rec.Collection, rec.ID, rec.Area, stored)
	}
	return nil
}

var _ core.ScopedFeed = (*Tx)(nil)

// countyFeedSQL walks the changes of the counties $3 after $1, $2 at a
// time, in sequence order: each county's partition is read in
// (county, seq) order up to a page, and the pages are merged. The county
// is a parameter of the lateral subquery, so each of its runs reads one
// partition.
const countyFeedSQL = `SELECT f.seq, f.area, f.body FROM unnest($3::text[]) AS c(county)
	CROSS JOIN LATERAL (SELECT seq, area, body FROM records WHERE county = c.county AND seq > $1 ORDER BY seq LIMIT $2) f
	ORDER BY f.seq LIMIT $2`

// ChangesAfterIn implements core.ScopedFeed: the changes of records in the
// counties, in sequence order, read a page at a time from their
// partitions only.
func (t *Tx) ChangesAfterIn(seq uint64, counties []string, fn func(seq uint64, area string, raw []byte) bool) (uint64, error) {
	return t.walkFeed(seq, countyFeedSQL, []any{counties}, fn)
}

// HasChangesAfterIn implements core.ScopedFeed.
func (t *Tx) HasChangesAfterIn(seq uint64, counties []string) bool {
	if err := t.sequence(); err != nil {
		t.fail(err)
		return false
	}
	var more bool
	if err := t.tx.QueryRow(t.ctx, "SELECT EXISTS (SELECT 1 FROM records WHERE county = ANY($1) AND seq > $2)",
		counties, int64(seq)).Scan(&more); err != nil {
		t.fail(fmt.Errorf("look for changes in %v after %d: %w", counties, seq, err))
		return false
	}
	return more
}
