package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Tx is one transaction (core.Tx). A write transaction of the core's
// tables (records, history, conflicts, accounts, devices, the audit
// chain) holds the sequencer row from when it numbers its changes to its
// end; one that writes only blob facts, upload state or web sessions
// never takes it, so uploads do not queue behind pushes. See deferred.go
// for when a write transaction takes it and how it keeps its writes.
type Tx struct {
	ctx   context.Context
	tx    *txConn
	write bool
	// solo: the transaction runs once (UpdateSolo, or Update after
	// maxOptimistic tries), so it takes the sequencer at its first touch
	// of the core's tables rather than at commit.
	solo bool
	// locked is set once a write transaction holds the sequencer row;
	// seq is then the last sequence it handed out, from startSeq.
	locked   bool
	seq      uint64
	startSeq uint64
	// deferred: reads of records, ops and assignments go through cache,
	// and writes of records, history and the audit chain wait in pending
	// until commit (or until a method that needs the tables themselves).
	deferred bool
	cache    *cache // nil in direct mode
	pending  deferredWrites
	// reads is what the transaction read before it took the sequencer.
	reads *readSet
	// readsChanged: the check under the sequencer found a read changed;
	// run rolls back and runs fn again.
	readsChanged bool
	// cursors counts the cursors of change-feed walks opened (their names
	// are numbered, so statements repeat across transactions).
	cursors int
	// err is the first failure of a method that cannot return one
	// (Assigned, LastSeq, HasChangesAfter); the transaction then fails.
	err error
}

// newTx starts the core's view of a PostgreSQL transaction: read-only
// ones cache what they read (their snapshot does not move), write ones
// start in deferred mode.
func newTx(ctx context.Context, c *txConn, write, solo bool) *Tx {
	t := &Tx{ctx: ctx, tx: c, write: write, solo: solo, cache: newCache(), deferred: write}
	if write && !solo {
		t.reads = &readSet{records: map[recKey]int64{}, absentOp: map[string]bool{}, assigned: map[core.AssignmentKey]bool{}}
	}
	return t
}

// touch comes before a deferred read or write of the core's tables: a
// solo write transaction takes the sequencer at its first one.
func (t *Tx) touch() error {
	if t.write && t.solo && !t.locked {
		return t.flush(false)
	}
	return nil
}

// sequence comes before a read or write of the core's tables that the
// cache cannot serve: a write transaction takes the sequencer (checking
// what it read without it), sends the writes it kept, and from then on
// reads and writes the tables directly, so read-modify-write of records
// is serialised as under bbolt's one writer and sequences are handed out
// in commit order.
func (t *Tx) sequence() error {
	if !t.write || (t.locked && !t.deferred) {
		return nil
	}
	if err := t.flush(false); err != nil {
		return err
	}
	t.deferred, t.cache = false, nil
	return nil
}

// cached reports whether reads go through the cache (deferred mode, or a
// read-only transaction); it first takes the sequencer when a solo
// transaction needs it, or leaves deferred mode for direct reads.
func (t *Tx) cached() (bool, error) {
	if t.cache == nil {
		return false, t.sequence()
	}
	return true, t.touch()
}

// fail keeps the first failure of a method without an error result.
func (t *Tx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// feedPage is how many changes ChangesAfter reads per query, so a walk the
// caller stops early does not read the whole feed.
const feedPage = 500

// storedOp is an accepted op as kept in history (the same JSON as
// boltstore's, so dumps of both read alike).
type storedOp struct {
	syncengine.WireOp
	Flags      []string `json:"flags,omitempty"`
	StatedHLC  uint64   `json:"stated_hlc,omitempty"`
	ReceivedAt int64    `json:"received_at"` // ms
	Digest     string   `json:"digest"`
}

func (so *storedOp) op() *syncengine.Op {
	op := so.WireOp.FromWire()
	op.Flags = so.Flags
	op.StatedHLC = syncengine.HLC(so.StatedHLC)
	op.ReceivedAt = time.UnixMilli(so.ReceivedAt).UTC()
	op.Digest = so.Digest
	return op
}

// acceptedOp is what the transaction knows of an op id: from the cache,
// or read (and cached) when it has none.
func (t *Tx) acceptedOp(id string) (cachedOp, error) {
	if e, ok := t.cache.ops[id]; ok {
		return e, nil
	}
	var e cachedOp
	err := t.tx.QueryRow(t.ctx, "SELECT o.digest, o.body FROM "+opByKeySQL, id).Scan(&e.digest, &e.body)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return e, fmt.Errorf("look up op %s: %w", id, err)
	default:
		e.found = true
	}
	if t.write { // a read-only transaction keeps only what it prefetched
		t.rememberOp(id, e)
	}
	return e, nil
}

// OpApplied implements syncengine.Tx.
func (t *Tx) OpApplied(id string) (bool, error) {
	if ok, err := t.cached(); err != nil || ok {
		if err != nil {
			return false, err
		}
		e, err := t.acceptedOp(id)
		return e.found, err
	}
	var one int
	err := t.tx.QueryRow(t.ctx, "SELECT 1 FROM op_keys WHERE id = $1", id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up op %s: %w", id, err)
	}
	return true, nil
}

// AcceptedDigest implements syncengine.OpDigests.
func (t *Tx) AcceptedDigest(id string) (string, bool, error) {
	if ok, err := t.cached(); err != nil || ok {
		if err != nil {
			return "", false, err
		}
		e, err := t.acceptedOp(id)
		return e.digest, e.found, err
	}
	var d string
	err := t.tx.QueryRow(t.ctx, "SELECT o.digest FROM "+opByKeySQL, id).Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read digest of op %s: %w", id, err)
	}
	return d, true, nil
}

// record is what the transaction knows of a record: from the cache, or
// read (and cached) when it has none.
func (t *Tx) record(collection, id string) (cachedRecord, error) {
	k := recKey{collection, id}
	if e, ok := t.cache.records[k]; ok {
		return e, nil
	}
	var e cachedRecord
	err := t.tx.QueryRow(t.ctx, "SELECT r.area, r.seq, r.body FROM "+recordByKeySQL, collection, id).Scan(&e.area, &e.seq, &e.body)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return e, fmt.Errorf("read record %s/%s: %w", collection, id, err)
	default:
		e.found = true
	}
	if t.write {
		t.rememberRecord(k, e)
	}
	return e, nil
}

// Record implements syncengine.Tx.
func (t *Tx) Record(collection, id string) (*syncengine.Record, error) {
	var body []byte
	if ok, err := t.cached(); err != nil || ok {
		if err != nil {
			return nil, err
		}
		e, err := t.record(collection, id)
		if err != nil || !e.found {
			return nil, err
		}
		body = e.body
	} else {
		err := t.tx.QueryRow(t.ctx, "SELECT r.body FROM "+recordByKeySQL, collection, id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read record %s/%s: %w", collection, id, err)
		}
	}
	r, err := decodeRecord(body)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", collection, id, err)
	}
	return r, nil
}

func decodeRecord(body []byte) (*syncengine.Record, error) {
	var w syncengine.WireRecord
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	return w.FromWire(), nil
}

// RecordArea implements core.Tx.
func (t *Tx) RecordArea(collection, id string) (string, bool, error) {
	ok, err := t.cached()
	if err != nil {
		return "", false, err
	}
	if ok {
		if _, known := t.cache.records[recKey{collection, id}]; known || t.write {
			e, err := t.record(collection, id)
			return e.area, e.found, err
		}
	}
	var area string // the key holds the record's area
	err = t.tx.QueryRow(t.ctx, "SELECT area FROM record_keys WHERE collection = $1 AND id = $2", collection, id).Scan(&area)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read area of %s/%s: %w", collection, id, err)
	}
	return area, true, nil
}

// nextSeq hands out the next sequence; the sequencer row is locked.
func (t *Tx) nextSeq() (uint64, error) {
	if !t.write {
		return 0, errors.New("write in a read-only transaction")
	}
	if err := t.sequence(); err != nil {
		return 0, err
	}
	t.seq++
	return t.seq, nil
}

// PutRecord implements syncengine.Tx: the record's new state moves to a
// new sequence of the change feed. An assignment's state also moves the
// officer-household index, which deferred mode does not keep: that
// write leaves it.
func (t *Tx) PutRecord(rec *syncengine.Record, _ *syncengine.Op) error {
	if !t.write {
		return errors.New("write in a read-only transaction")
	}
	body, err := gojson.Marshal(rec.ToWire()) // the same bytes as encoding/json, in a fifth of the time
	if err != nil {
		return fmt.Errorf("encode record %s/%s: %w", rec.Collection, rec.ID, err)
	}
	deleted, _ := rec.Deleted()
	if t.deferred && rec.Collection != collection.Assignments {
		if err := t.touch(); err != nil {
			return err
		}
		return t.keepRecord(rec, deleted, body)
	}
	seq, err := t.nextSeq()
	if err != nil {
		return err
	}
	var prev *syncengine.Record
	var stored string
	var found bool
	if rec.Collection == collection.Assignments {
		if prev, err = t.Record(rec.Collection, rec.ID); err != nil {
			return err
		}
		if prev != nil {
			stored, found = prev.Area, true
		}
	} else if stored, found, err = t.RecordArea(rec.Collection, rec.ID); err != nil {
		return err
	}
	// The read above holds: this transaction has the sequencer.
	if found {
		if err := sameCounty(rec, stored); err != nil {
			return err
		}
		if err := t.updateRecord(rec, stored, int64(seq), deleted, body); err != nil {
			return err
		}
	} else if _, err := t.tx.Exec(t.ctx, insertRecordSQL, rec.Collection, rec.ID, rec.Area, int64(seq), deleted, body); err != nil {
		return fmt.Errorf("store record %s/%s: %w", rec.Collection, rec.ID, err)
	}
	if rec.Collection == collection.Assignments {
		return t.indexAssignment(prev, rec)
	}
	return nil
}

// insertRecordSQL stores a new record ($1 collection, $2 id, $3 area, $4
// seq, $5 deleted, $6 body) with its key; a key already there (the record
// is stored after all) fails the statement.
const insertRecordSQL = `WITH k AS (INSERT INTO record_keys (collection, id, area) VALUES ($1, $2, $3))
	INSERT INTO records (county, collection, id, area, seq, deleted, body) VALUES (left($3, 6), $1, $2, $3, $4, $5, $6)`

// updateRecord stores the new state of a record stored in area was (its
// county's, sameCounty): in place, found by (collection, area, id), and
// its key follows a change of area.
func (t *Tx) updateRecord(rec *syncengine.Record, was string, seq int64, deleted bool, body []byte) error {
	tag, err := t.tx.Exec(t.ctx, `UPDATE records SET area = $3, seq = $4, deleted = $5, body = $6
		WHERE county = left($7, 6) AND collection = $1 AND area = $7 AND id = $2`, rec.Collection, rec.ID, rec.Area, seq, deleted, body, was)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("%d rows of area %s updated, want 1", tag.RowsAffected(), was)
	}
	if err == nil && was != rec.Area {
		_, err = t.tx.Exec(t.ctx, "UPDATE record_keys SET area = $3 WHERE collection = $1 AND id = $2", rec.Collection, rec.ID, rec.Area)
	}
	if err != nil {
		return fmt.Errorf("store record %s/%s: %w", rec.Collection, rec.ID, err)
	}
	return nil
}

// AddOp implements syncengine.Tx: the op joins its record's history.
func (t *Tx) AddOp(op *syncengine.Op) error {
	if !t.write {
		return errors.New("write in a read-only transaction")
	}
	digest := syncengine.OpDigest(op)
	body, err := gojson.Marshal(storedOp{WireOp: op.ToWire(), Flags: op.Flags, StatedHLC: uint64(op.StatedHLC),
		ReceivedAt: op.ReceivedAt.UnixMilli(), Digest: digest})
	if err != nil {
		return fmt.Errorf("encode op %s: %w", op.ID, err)
	}
	if t.deferred {
		if err := t.touch(); err != nil {
			return err
		}
		t.keepOp(op, digest, body)
		return nil
	}
	seq, err := t.nextSeq()
	if err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `WITH k AS (INSERT INTO op_keys (id, county, collection, record_id, seq) VALUES ($1, left($8, 6), $2, $3, $4))
		INSERT INTO ops (county, id, collection, record_id, seq, digest, received_at, body) VALUES (left($8, 6), $1, $2, $3, $4, $5, $6, $7)`,
		op.ID, op.Collection, op.RecordID, int64(seq), digest, op.ReceivedAt.UnixMilli(), body, op.Area); err != nil {
		return fmt.Errorf("store op %s: %w", op.ID, err)
	}
	return nil
}

// AcceptedOp implements core.Tx.
func (t *Tx) AcceptedOp(id string) (*syncengine.Op, error) {
	var body []byte
	if ok, err := t.cached(); err != nil || ok {
		if err != nil {
			return nil, err
		}
		e, err := t.acceptedOp(id)
		if err != nil || !e.found {
			return nil, err
		}
		body = e.body
	} else {
		err := t.tx.QueryRow(t.ctx, "SELECT o.body FROM "+opByKeySQL, id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read op %s: %w", id, err)
		}
	}
	return decodeOpBody(id, body)
}

// History implements core.Tx.
func (t *Tx) History(collection, id string) ([]*syncengine.Op, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, historySQL, collection, id)
	if err != nil {
		return nil, fmt.Errorf("read history of %s/%s: %w", collection, id, err)
	}
	defer rows.Close()
	var out []*syncengine.Op
	for rows.Next() {
		var seq int64
		var opID string
		var body []byte
		if err := rows.Scan(&seq, &opID, &body); err != nil {
			return nil, fmt.Errorf("read history of %s/%s: %w", collection, id, err)
		}
		var so storedOp
		if err := json.Unmarshal(body, &so); err != nil {
			return nil, fmt.Errorf("decode op %s: %w", opID, err)
		}
		out = append(out, so.op())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history of %s/%s: %w", collection, id, err)
	}
	return out, nil
}

// ForEachRecord implements core.Tx, in id order.
func (t *Tx) ForEachRecord(collection string, fn func(*syncengine.Record) error) error {
	if err := t.sequence(); err != nil {
		return err
	}
	after := ""
	for {
		rows, err := t.tx.Query(t.ctx, `SELECT r.id, r.body FROM record_keys k JOIN records r ON `+recordJoinSQL+`
			WHERE k.collection = $1 AND k.id > $2 ORDER BY k.id LIMIT $3`, collection, after, feedPage)
		if err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		var recs []*syncengine.Record
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&after, &body); err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", collection, err)
			}
			r, err := decodeRecord(body)
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s/%s: %w", collection, after, err)
			}
			recs = append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < feedPage {
			return nil
		}
	}
}

// LastSeq implements core.Tx: the sequence of the last committed change
// this transaction sees.
func (t *Tx) LastSeq() uint64 {
	if err := t.sequence(); err != nil {
		t.fail(err)
		return 0
	}
	if t.write {
		return t.seq
	}
	var last int64
	if err := t.tx.QueryRow(t.ctx, "SELECT last FROM ruhu_seq WHERE id = 1").Scan(&last); err != nil {
		t.fail(fmt.Errorf("read last sequence: %w", err))
		return 0
	}
	return uint64(last)
}

// ChangesAfter implements core.Tx: the feed in sequence order, read a page
// at a time (a merge of the partitions' seq indexes).
func (t *Tx) ChangesAfter(seq uint64, fn func(seq uint64, area string, raw []byte) bool) (uint64, error) {
	if err := t.sequence(); err != nil {
		return seq, err
	}
	last := seq
	for {
		rows, err := t.tx.Query(t.ctx, "SELECT seq, area, body FROM records WHERE seq > $1 ORDER BY seq LIMIT $2", int64(last), feedPage)
		if err != nil {
			return last, fmt.Errorf("read change feed after %d: %w", last, err)
		}
		n := 0
		stopped := false
		for rows.Next() {
			var s int64
			var area string
			var body []byte
			if err := rows.Scan(&s, &area, &body); err != nil {
				rows.Close()
				return last, fmt.Errorf("read change feed after %d: %w", last, err)
			}
			n++
			last = uint64(s)
			if !fn(last, area, body) {
				stopped = true
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return last, fmt.Errorf("read change feed: %w", err)
		}
		if stopped || n < feedPage {
			return last, nil
		}
	}
}

// HasChangesAfter implements core.Tx.
func (t *Tx) HasChangesAfter(seq uint64) bool {
	if err := t.sequence(); err != nil {
		t.fail(err)
		return false
	}
	var more bool
	if err := t.tx.QueryRow(t.ctx, "SELECT EXISTS (SELECT 1 FROM records WHERE seq > $1)", int64(seq)).Scan(&more); err != nil {
		t.fail(fmt.Errorf("look for changes after %d: %w", seq, err))
		return false
	}
	return more
}

// storedConflict is the JSON of a conflict (boltstore's form).
type storedConflict struct {
	ID         string                 `json:"id"`
	Collection string                 `json:"col"`
	RecordID   string                 `json:"rid"`
	Area       string                 `json:"area"`
	Field      string                 `json:"field"`
	Candidates []syncengine.WireField `json:"candidates"`
	Status     string                 `json:"status"`
	OpenedAt   int64                  `json:"opened_at"`
	Resolution *syncengine.Resolution `json:"resolution,omitempty"`
}

func decodeConflict(body []byte) (*syncengine.Conflict, error) {
	var sc storedConflict
	if err := json.Unmarshal(body, &sc); err != nil {
		return nil, fmt.Errorf("decode conflict: %w", err)
	}
	c := &syncengine.Conflict{ID: sc.ID, Collection: sc.Collection, RecordID: sc.RecordID, Area: sc.Area, Field: sc.Field,
		Status: sc.Status, OpenedAt: time.UnixMilli(sc.OpenedAt).UTC(), Resolution: sc.Resolution}
	for _, f := range sc.Candidates {
		c.Candidates = append(c.Candidates, syncengine.FieldState{Value: f.Value, HLC: syncengine.HLC(f.HLC), Device: f.Device,
			Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags})
	}
	return c, nil
}

// OpenConflict implements syncengine.Tx.
func (t *Tx) OpenConflict(collection, id, field string) (*syncengine.Conflict, error) {
	return t.conflictWhere("collection = $1 AND record_id = $2 AND field = $3 AND status = 'open'", collection, id, field)
}

// Conflict implements core.Tx.
func (t *Tx) Conflict(id string) (*syncengine.Conflict, error) {
	return t.conflictWhere("id = $1", id)
}

func (t *Tx) conflictWhere(where string, args ...any) (*syncengine.Conflict, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	var body []byte
	err := t.tx.QueryRow(t.ctx, "SELECT body FROM conflicts WHERE "+where, args...).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read conflict: %w", err)
	}
	return decodeConflict(body)
}

// PutConflict implements syncengine.Tx.
func (t *Tx) PutConflict(c *syncengine.Conflict) error {
	if err := t.sequence(); err != nil {
		return err
	}
	sc := storedConflict{ID: c.ID, Collection: c.Collection, RecordID: c.RecordID, Area: c.Area, Field: c.Field,
		Status: c.Status, OpenedAt: c.OpenedAt.UnixMilli(), Resolution: c.Resolution}
	for _, f := range c.Candidates {
		sc.Candidates = append(sc.Candidates, syncengine.WireField{Value: f.Value, HLC: uint64(f.HLC), Device: f.Device,
			Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags})
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode conflict %s: %w", c.ID, err)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO conflicts (id, collection, record_id, field, status, body) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, body = EXCLUDED.body`,
		c.ID, c.Collection, c.RecordID, c.Field, c.Status, body); err != nil {
		return fmt.Errorf("store conflict %s: %w", c.ID, err)
	}
	return nil
}

// Conflicts implements core.Tx, in id order.
func (t *Tx) Conflicts(fn func(*syncengine.Conflict) bool) error {
	if err := t.sequence(); err != nil {
		return err
	}
	after := ""
	for {
		rows, err := t.tx.Query(t.ctx, "SELECT id, body FROM conflicts WHERE id > $1 ORDER BY id LIMIT $2", after, feedPage)
		if err != nil {
			return fmt.Errorf("read conflicts: %w", err)
		}
		var page []*syncengine.Conflict
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&after, &body); err != nil {
				rows.Close()
				return fmt.Errorf("read conflicts: %w", err)
			}
			c, err := decodeConflict(body)
			if err != nil {
				rows.Close()
				return fmt.Errorf("conflict %s: %w", after, err)
			}
			page = append(page, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read conflicts: %w", err)
		}
		for _, c := range page {
			if !fn(c) {
				return nil
			}
		}
		if len(page) < feedPage {
			return nil
		}
	}
}

// assignment is what the visit check needs of an assignment record.
type assignment struct {
	Officer     string `json:"officer"`
	HouseholdID string `json:"household_id"`
	Active      bool   `json:"active"`
}

func assignmentOf(r *syncengine.Record) (assignment, bool) {
	if r == nil {
		return assignment{}, false
	}
	if del, _ := r.Deleted(); del {
		return assignment{}, false
	}
	var a assignment
	vals := r.Values()
	_ = json.Unmarshal(vals["officer"], &a.Officer) // a value of another type leaves the field empty: not an active assignment
	_ = json.Unmarshal(vals["household_id"], &a.HouseholdID)
	_ = json.Unmarshal(vals["active"], &a.Active)
	return a, a.Active && a.Officer != "" && a.HouseholdID != ""
}

// indexAssignment keeps the officer→household index in step with the
// assignments collection.
func (t *Tx) indexAssignment(prev, next *syncengine.Record) error {
	if a, ok := assignmentOf(prev); ok {
		if _, err := t.tx.Exec(t.ctx, "DELETE FROM assignments WHERE officer = $1 AND household = $2 AND assignment_id = $3",
			a.Officer, a.HouseholdID, prev.ID); err != nil {
			return fmt.Errorf("unindex assignment %s: %w", prev.ID, err)
		}
	}
	if a, ok := assignmentOf(next); ok {
		if _, err := t.tx.Exec(t.ctx, "INSERT INTO assignments (officer, household, assignment_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
			a.Officer, a.HouseholdID, next.ID); err != nil {
			return fmt.Errorf("index assignment %s: %w", next.ID, err)
		}
	}
	return nil
}

// Assigned implements core.Tx.
func (t *Tx) Assigned(officer, household string) bool {
	ok, err := t.cached()
	if err != nil {
		t.fail(err)
		return false
	}
	k := core.AssignmentKey{Officer: officer, Household: household}
	if ok {
		if yes, known := t.cache.assigned[k]; known {
			return yes
		}
	}
	var yes bool
	if err := t.tx.QueryRow(t.ctx, "SELECT EXISTS (SELECT 1 FROM assignments WHERE officer = $1 AND household = $2)",
		officer, household).Scan(&yes); err != nil {
		t.fail(fmt.Errorf("check assignment of %s to %s: %w", officer, household, err))
		return false
	}
	if ok && t.write {
		t.rememberAssigned(k, yes)
	}
	return yes
}

// storedUser is the JSON of an account.
type storedUser struct {
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name,omitempty"`
	Role         string    `json:"role"`
	Scopes       []string  `json:"scopes"`
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// User implements core.Tx.
func (t *Tx) User(username string) (*core.User, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	var u storedUser
	if body, ok := t.usersCache()[username]; ok { // nil: known absent
		if body == nil {
			return nil, nil
		}
		if err := json.Unmarshal(body, &u); err != nil {
			return nil, fmt.Errorf("decode user %s: %w", username, err)
		}
		return (*core.User)(&u), nil
	}
	err := t.tx.QueryRow(t.ctx, "SELECT body FROM users WHERE username = $1", username).Scan(&u)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", username, err)
	}
	return (*core.User)(&u), nil
}

// Users implements core.Tx.
func (t *Tx) Users() ([]*core.User, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, "SELECT body FROM users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*core.User, error) {
		var u storedUser
		err := r.Scan(&u)
		return (*core.User)(&u), err
	})
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return us, nil
}

// PutUser implements core.Tx.
func (t *Tx) PutUser(u *core.User) error {
	if err := t.sequence(); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO users (username, body) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET body = EXCLUDED.body",
		u.Username, (*storedUser)(u)); err != nil {
		return fmt.Errorf("store user %s: %w", u.Username, err)
	}
	return nil
}

// storedDevice is the JSON of an enrolled device.
type storedDevice struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Name        string     `json:"name"`
	PublicKey   []byte     `json:"public_key"`
	EnrolledAt  time.Time  `json:"enrolled_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RefreshHash string     `json:"refresh_hash"`
}

func (t *Tx) deviceWhere(where string, arg string) (*core.Device, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	var d storedDevice
	err := t.tx.QueryRow(t.ctx, "SELECT body FROM devices WHERE "+where, arg).Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	return (*core.Device)(&d), nil
}

// Device implements core.Tx.
func (t *Tx) Device(id string) (*core.Device, error) {
	if body, ok := t.devicesCache()[id]; ok { // nil: known absent
		if body == nil {
			return nil, nil
		}
		var d storedDevice
		if err := json.Unmarshal(body, &d); err != nil {
			return nil, fmt.Errorf("decode device %s: %w", id, err)
		}
		return (*core.Device)(&d), nil
	}
	return t.deviceWhere("id = $1", id)
}

// usersCache and devicesCache are what a read-only transaction
// prefetched of accounts and devices (nil otherwise).
func (t *Tx) usersCache() map[string][]byte {
	if t.write || t.cache == nil {
		return nil
	}
	return t.cache.users
}

func (t *Tx) devicesCache() map[string][]byte {
	if t.write || t.cache == nil {
		return nil
	}
	return t.cache.devices
}

// DeviceByRefresh implements core.Tx: the token is looked up by its hash.
func (t *Tx) DeviceByRefresh(token string) (*core.Device, error) {
	return t.deviceWhere("refresh_hash = $1", core.HashToken(token))
}

// Devices implements core.Tx.
func (t *Tx) Devices() ([]*core.Device, error) {
	if err := t.sequence(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(t.ctx, "SELECT body FROM devices ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*core.Device, error) {
		var d storedDevice
		err := r.Scan(&d)
		return (*core.Device)(&d), err
	})
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	return ds, nil
}

// PutDevice implements core.Tx. The refresh hash column is unique, so a
// token belongs to one device; an empty hash is stored as NULL.
func (t *Tx) PutDevice(d *core.Device) error {
	if err := t.sequence(); err != nil {
		return err
	}
	var hash *string
	if d.RefreshHash != "" {
		hash = &d.RefreshHash
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO devices (id, refresh_hash, body) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET refresh_hash = EXCLUDED.refresh_hash, body = EXCLUDED.body`,
		d.ID, hash, (*storedDevice)(d)); err != nil {
		return fmt.Errorf("store device %s: %w", d.ID, err)
	}
	return nil
}
