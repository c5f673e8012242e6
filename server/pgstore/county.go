package pgstore

import (
	"fmt"

	"github.com/jackc/pgx/v5"

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
// op's id, are kept in record_keys and op_keys, written in the same
// statement as the new row, and their primary keys are the only ones:
// the partitions have none (it would be one more index entry per write,
// made while the sequencer is held). A key says where its row is through
// an index the partition has anyway: a record's key holds its area, which
// names its county's partition and finds the row in (collection, area,
// id); an op's key holds its county, collection, record id and sequence,
// which find it in (collection, record_id, seq). A lookup that has no
// area probes the key table and reads the one partition it names: in a
// join, the planner prunes the other partitions each time the join's
// outer row changes. A record id or op id reused in another county
// therefore finds the row already stored, as before partitioning.
//
// Since no index of a partition is unique, the store never relies on a
// conflict to tell a new record from a stored one: it knows from its read
// (checked under the sequencer, deferred.go) whether the record is
// stored, inserts a new one with its key (a key already there fails the
// transaction rather than storing the record twice) and updates a stored
// one in place, checking that it found it.
//
// A query that knows its area prefix down to the county (a pull whose
// scopes are all counties or smaller, a report or scan of a county or a
// township) adds county = …, and touches one partition of each table.

// Statement fragments for lookups by a key without an area. recordByKeySQL
// is record $1/$2 (r) and opByKeySQL op $1 (o), each its row found through
// its key by scalar subqueries, which the planner prunes by when the
// statement starts whatever its statistics; recordJoinSQL and opJoinSQL
// join a key k to its row, for lookups of many keys at once.
const (
	recordByKeySQL = `records r WHERE (r.county, r.area) = (SELECT left(area, 6), area FROM record_keys WHERE collection = $1 AND id = $2)
	AND r.collection = $1 AND r.id = $2`
	opByKeySQL = `ops o WHERE (o.county, o.collection, o.record_id, o.seq) = (SELECT county, collection, record_id, seq FROM op_keys WHERE id = $1)
	AND o.id = $1`
	recordJoinSQL = `r.county = left(k.area, 6) AND r.collection = k.collection AND r.area = k.area AND r.id = k.id`
	opJoinSQL     = `o.county = k.county AND o.collection = k.collection AND o.record_id = k.record_id AND o.seq = k.seq AND o.id = k.id`
)

// historySQL reads a record's ops in acceptance order from its county's
// partition; a record that has no key (never stored) has its history, if
// any, looked for in every partition, as before partitioning.
const historySQL = `SELECT seq, id, body FROM ops
	WHERE county = (SELECT left(area, 6) FROM record_keys WHERE collection = $1 AND id = $2) AND collection = $1 AND record_id = $2
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

var (
	_ core.ScopedFeed   = (*Tx)(nil)
	_ core.StoreChecker = (*Tx)(nil)
)

// countyFeedSQL is the changes of county $1 after $2 in sequence order.
// It is read through a cursor, so the planner picks a plan that yields the
// first rows at once, an ordered scan of the partition's (county, seq)
// index, rather than one that sorts all the county's later changes for
// each page (which it picks for ORDER BY … LIMIT when its statistics of a
// fresh partition are missing and it expects few rows). The county is a
// parameter known when the cursor opens, so the plan reads one partition.
const countyFeedSQL = `SELECT seq, area, body FROM records WHERE county = $1 AND seq > $2 ORDER BY seq`

// feedRow is one change read ahead from a county's cursor.
type feedRow struct {
	seq  int64
	area string
	body []byte
}

// countyCursor is the walk of one county's changes: the rows fetched and
// not yet handed on, and whether the cursor has no more.
type countyCursor struct {
	name string
	buf  []feedRow
	done bool
}

// ChangesAfterIn implements core.ScopedFeed: the changes of records in the
// counties, in sequence order. Each county is walked through a cursor of
// its own, a page at a time, and the walks are merged by sequence; the
// cursors open and fetch their first page in one round trip, and close
// with the transaction.
func (t *Tx) ChangesAfterIn(seq uint64, counties []string, fn func(seq uint64, area string, raw []byte) bool) (uint64, error) {
	if err := t.sequence(); err != nil {
		return seq, err
	}
	curs := make([]countyCursor, len(counties))
	b := &pgx.Batch{}
	for i, county := range counties {
		curs[i].name = fmt.Sprintf("ruhu_feed_%d", t.cursors)
		t.cursors++
		b.Queue("DECLARE "+curs[i].name+" NO SCROLL CURSOR FOR "+countyFeedSQL, county, int64(seq))
		b.Queue(fmt.Sprintf("FETCH %d FROM %s", feedPage, curs[i].name))
	}
	br := t.tx.SendBatch(t.ctx, b)
	var err error
	for i := range curs {
		if _, err = br.Exec(); err != nil {
			break
		}
		var rows pgx.Rows
		if rows, err = br.Query(); err != nil {
			break
		}
		if err = curs[i].fill(rows); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return seq, fmt.Errorf("read the change feed of %v after %d: %w", counties, seq, err)
	}
	last := seq
	for {
		best := -1
		for i := range curs {
			c := &curs[i]
			if len(c.buf) == 0 && !c.done {
				rows, err := t.tx.Query(t.ctx, fmt.Sprintf("FETCH %d FROM %s", feedPage, c.name))
				if err == nil {
					err = c.fill(rows)
				}
				if err != nil {
					return last, fmt.Errorf("read the change feed of %v after %d: %w", counties, last, err)
				}
			}
			if len(c.buf) > 0 && (best < 0 || c.buf[0].seq < curs[best].buf[0].seq) {
				best = i
			}
		}
		if best < 0 {
			return last, nil
		}
		r := curs[best].buf[0]
		curs[best].buf = curs[best].buf[1:]
		last = uint64(r.seq)
		if !fn(last, r.area, r.body) {
			return last, nil
		}
	}
}

// fill reads a page of the cursor into its buffer.
func (c *countyCursor) fill(rows pgx.Rows) error {
	c.buf = c.buf[:0]
	for rows.Next() {
		var r feedRow
		if err := rows.Scan(&r.seq, &r.area, &r.body); err != nil {
			break
		}
		c.buf = append(c.buf, r)
	}
	rows.Close()
	c.done = len(c.buf) < feedPage
	return rows.Err()
}

// hasCountyChangesSQL is whether a county of $1 has a change after $2:
// for each county the first such change in (county, seq) order, which
// the planner reads from the index whatever its statistics say (a bare
// EXISTS may read every later change of the county into a bitmap).
const hasCountyChangesSQL = `SELECT EXISTS (SELECT 1 FROM unnest($1::text[]) AS c(county)
	CROSS JOIN LATERAL (SELECT 1 FROM records WHERE county = c.county AND seq > $2 ORDER BY seq LIMIT 1) f)`

// HasChangesAfterIn implements core.ScopedFeed.
func (t *Tx) HasChangesAfterIn(seq uint64, counties []string) bool {
	if err := t.sequence(); err != nil {
		t.fail(err)
		return false
	}
	var more bool
	if err := t.tx.QueryRow(t.ctx, hasCountyChangesSQL, counties, int64(seq)).Scan(&more); err != nil {
		t.fail(fmt.Errorf("look for changes in %v after %d: %w", counties, seq, err))
		return false
	}
	return more
}

// checkCountiesSQL lists up to 20 rows that break the partitioning's
// invariants: a record or op whose county is not its area's, or not its
// record's; a row without its key (or whose key finds another row), a key
// that finds no row; a record or op stored twice (no index of a
// partition is unique, the key tables' primary keys are what prevents
// it).
const checkCountiesSQL = `SELECT problem FROM (
	SELECT format('record %s/%s of area %s is filed in county %s', collection, id, area, county) FROM records WHERE county <> left(area, 6)
	UNION ALL
	SELECT format('record %s/%s of area %s has key %s', r.collection, r.id, r.area, coalesce(k.area, 'none'))
	  FROM records r LEFT JOIN record_keys k ON k.collection = r.collection AND k.id = r.id WHERE k.area IS DISTINCT FROM r.area
	UNION ALL
	SELECT format('the key of record %s/%s names area %s, which has no such record', k.collection, k.id, k.area) FROM record_keys k
	 WHERE NOT EXISTS (SELECT 1 FROM records r WHERE ` + recordJoinSQL + `)
	UNION ALL
	SELECT format('record %s/%s is stored %s times', collection, id, count(*)) FROM records GROUP BY collection, id HAVING count(*) > 1
	UNION ALL
	SELECT format('op %s is filed in county %s, its record %s/%s in %s', o.id, o.county, o.collection, o.record_id, left(k.area, 6))
	  FROM ops o JOIN record_keys k ON k.collection = o.collection AND k.id = o.record_id WHERE left(k.area, 6) <> o.county
	UNION ALL
	SELECT format('op %s of county %s has key %s', o.id, o.county,
	       CASE WHEN k.id IS NULL THEN 'none' WHEN k.county <> o.county THEN k.county
	            ELSE format('%s/%s sequence %s, not %s/%s sequence %s', k.collection, k.record_id, k.seq, o.collection, o.record_id, o.seq) END)
	  FROM ops o LEFT JOIN op_keys k ON k.id = o.id
	 WHERE (k.county, k.collection, k.record_id, k.seq) IS DISTINCT FROM (o.county, o.collection, o.record_id, o.seq)
	UNION ALL
	SELECT format('the key of op %s names county %s, %s/%s sequence %s, which has no such op', k.id, k.county, k.collection, k.record_id, k.seq)
	  FROM op_keys k WHERE NOT EXISTS (SELECT 1 FROM ops o WHERE ` + opJoinSQL + `)
	UNION ALL
	SELECT format('op %s is stored %s times', id, count(*)) FROM ops GROUP BY id HAVING count(*) > 1
) p(problem) LIMIT 20`

// CheckStore implements core.StoreChecker: the county partitions and the
// key tables agree (checkCountiesSQL).
func (t *Tx) CheckStore() ([]string, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, checkCountiesSQL)
	if err != nil {
		return nil, fmt.Errorf("check the county partitions: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check the county partitions: %w", err)
	}
	return found, nil
}
