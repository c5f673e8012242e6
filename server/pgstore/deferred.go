package pgstore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Deferred writes.
//
// Each statement is a round trip to PostgreSQL, and a push of 100 ops
// used to make about 700 of them while it held the sequencer, so writers
// queued behind one another's round trips. A write transaction of Update
// (and UpdateSolo's) now works in deferred mode:
//
//   - reads of records, history by op id and assignments go through a
//     cache: what Prefetch fetched for a batch in one query, what earlier
//     reads fetched, and the transaction's own writes;
//   - writes of records, history and the audit chain are kept in memory
//     and sent at commit in one pipelined batch, each table's rows in one
//     INSERT over unnest(…) arrays;
//   - Update takes the sequencer only then, just before commit. Its reads
//     ran without it, so under the lock it checks in the same round trip
//     that nothing it read has changed (a record's sequence, an op id
//     still unknown, an assignment); if something has, the transaction
//     rolls back and fn runs again (core.Store.Update allows it), and
//     after maxOptimistic such tries it runs holding the sequencer from
//     its first read, as UpdateSolo always does.
//
// A method the cache cannot answer (a history or feed walk, conflicts,
// accounts, the audit chain, scans) leaves deferred mode first: the
// transaction takes the sequencer (checking its reads), sends what it
// kept, and goes on reading and writing the tables directly.
//
// Sequence numbers are handed out only while the sequencer is held, and
// it is held until commit, so the change feed keeps its order (see the
// package comment): deferring writes moves the numbering to the end of
// the transaction, it does not open a gap.

// maxOptimistic is how many times Update runs fn with its reads checked
// at commit before it runs it holding the sequencer throughout.
const maxOptimistic = 3

// errReadsChanged is the internal answer of a transaction whose reads
// changed before it took the sequencer: run rolls it back and runs fn
// again.
var errReadsChanged = errors.New("rows this transaction read were changed by another before it could commit")

// recKey names a record.
type recKey struct{ collection, id string }

// cachedRecord is a record as the transaction knows it: found or not,
// and when found its area, sequence (0 for its own unsent write) and wire
// JSON.
type cachedRecord struct {
	found bool
	area  string
	seq   int64
	body  []byte
}

// cachedOp is an accepted op as the transaction knows it.
type cachedOp struct {
	found  bool
	digest string
	body   []byte
}

// cache is what a transaction in deferred mode, or a read-only one, has
// read or written of records, ops and assignments.
type cache struct {
	records  map[recKey]cachedRecord
	ops      map[string]cachedOp
	assigned map[core.AssignmentKey]bool
	// users and devices hold the JSON of accounts and devices a read-only
	// transaction prefetched (nil: none such), by username and id.
	users, devices map[string][]byte
}

func newCache() *cache {
	return &cache{records: map[recKey]cachedRecord{}, ops: map[string]cachedOp{}, assigned: map[core.AssignmentKey]bool{},
		users: map[string][]byte{}, devices: map[string][]byte{}}
}

// readSet is what a write transaction read without the sequencer, to be
// checked under it.
type readSet struct {
	records  map[recKey]int64 // sequence seen, 0: absent
	absentOp map[string]bool
	assigned map[core.AssignmentKey]bool
}

func (r *readSet) empty() bool {
	return len(r.records) == 0 && len(r.absentOp) == 0 && len(r.assigned) == 0
}

// pendingWrite is a kept write of a record or an op, in the order made.
type pendingWrite struct {
	op  *pendingOp
	rec *pendingRecord
}

type pendingOp struct {
	id, collection, recordID, area, digest string
	receivedAt                             int64
	body                                   []byte
}

type pendingRecord struct {
	key     recKey
	area    string
	deleted bool
	body    []byte
}

// deferredWrites is what a deferred transaction will send at commit.
type deferredWrites struct {
	writes []pendingWrite
	// lastPut is the index in writes of each record's last put: a record
	// written twice is sent once, with its last state and sequence.
	lastPut map[recKey]int
	// fresh holds the records that were not stored when first written:
	// they are inserted, with their keys. stored holds the area of the
	// others as the table has it: they are updated where they are.
	fresh  map[recKey]bool
	stored map[recKey]string
	audits []*audit.Entry
}

func (w *deferredWrites) empty() bool { return len(w.writes) == 0 && len(w.audits) == 0 }

// remember keeps a record read from the table in the cache and, when the
// transaction reads without the sequencer, in its read set.
func (t *Tx) rememberRecord(k recKey, e cachedRecord) {
	t.cache.records[k] = e
	if t.write && !t.locked {
		if _, seen := t.reads.records[k]; !seen {
			t.reads.records[k] = e.seq
		}
	}
}

func (t *Tx) rememberOp(id string, e cachedOp) {
	t.cache.ops[id] = e
	if t.write && !t.locked && !e.found {
		t.reads.absentOp[id] = true
	}
}

func (t *Tx) rememberAssigned(k core.AssignmentKey, yes bool) {
	t.cache.assigned[k] = yes
	if t.write && !t.locked {
		if _, seen := t.reads.assigned[k]; !seen {
			t.reads.assigned[k] = yes
		}
	}
}

// Prefetch implements core.Prefetcher: the ops, records and assignments a
// batch will look up are read in one round trip (three pipelined
// queries), keys already known excepted.
func (t *Tx) Prefetch(keys core.PrefetchKeys) error {
	if t.cache == nil {
		return nil // direct mode reads the tables as it goes
	}
	if err := t.touch(); err != nil {
		return err
	}
	var opIDs, cols, ids, officers, households []string
	for _, id := range keys.Ops {
		if _, ok := t.cache.ops[id]; !ok {
			opIDs = append(opIDs, id)
		}
	}
	for _, k := range keys.Records {
		if _, ok := t.cache.records[recKey{k.Collection, k.ID}]; !ok {
			cols, ids = append(cols, k.Collection), append(ids, k.ID)
		}
	}
	for _, k := range keys.Assignments {
		if _, ok := t.cache.assigned[k]; !ok {
			officers, households = append(officers, k.Officer), append(households, k.Household)
		}
	}
	// Accounts and devices are read from the cache in read-only
	// transactions only: a write transaction reads them under the
	// sequencer (Tx.sequence).
	var users, devices []string
	if !t.write {
		for _, u := range keys.Users {
			if _, ok := t.cache.users[u]; !ok {
				users = append(users, u)
			}
		}
		for _, d := range keys.Devices {
			if _, ok := t.cache.devices[d]; !ok {
				devices = append(devices, d)
			}
		}
	}
	b := &pgx.Batch{}
	if len(opIDs) > 0 {
		b.Queue(`SELECT o.id, o.digest, o.body FROM op_keys k JOIN ops o ON `+opJoinSQL+` WHERE k.id = ANY($1)`, opIDs)
	}
	if len(cols) > 0 {
		b.Queue(`SELECT r.collection, r.id, r.area, r.seq, r.body FROM unnest($1::text[], $2::text[]) AS u(collection, id)
			JOIN record_keys k ON k.collection = u.collection AND k.id = u.id
			JOIN records r ON `+recordJoinSQL, cols, ids)
	}
	if len(officers) > 0 {
		b.Queue(`SELECT DISTINCT a.officer, a.household FROM unnest($1::text[], $2::text[]) AS k(officer, household)
			JOIN assignments a ON a.officer = k.officer AND a.household = k.household`, officers, households)
	}
	if len(users) > 0 {
		b.Queue("SELECT username, body::text FROM users WHERE username = ANY($1)", users)
	}
	if len(devices) > 0 {
		b.Queue("SELECT id, body::text FROM devices WHERE id = ANY($1)", devices)
	}
	if b.Len() == 0 {
		return nil
	}
	br := t.tx.SendBatch(t.ctx, b)
	defer br.Close()
	if len(opIDs) > 0 {
		found := map[string]cachedOp{}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("prefetch ops: %w", err)
		}
		var id string
		var e cachedOp
		_, err = pgx.ForEachRow(rows, []any{&id, &e.digest, &e.body}, func() error {
			e.found = true
			found[id] = e
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch ops: %w", err)
		}
		for _, id := range opIDs {
			t.rememberOp(id, found[id])
		}
	}
	if len(cols) > 0 {
		found := map[recKey]cachedRecord{}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("prefetch records: %w", err)
		}
		var k recKey
		var e cachedRecord
		_, err = pgx.ForEachRow(rows, []any{&k.collection, &k.id, &e.area, &e.seq, &e.body}, func() error {
			e.found = true
			found[k] = e
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch records: %w", err)
		}
		for i := range cols {
			k := recKey{cols[i], ids[i]}
			t.rememberRecord(k, found[k])
		}
	}
	if len(officers) > 0 {
		found := map[core.AssignmentKey]bool{}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("prefetch assignments: %w", err)
		}
		var k core.AssignmentKey
		_, err = pgx.ForEachRow(rows, []any{&k.Officer, &k.Household}, func() error {
			found[k] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch assignments: %w", err)
		}
		for i := range officers {
			k := core.AssignmentKey{Officer: officers[i], Household: households[i]}
			t.rememberAssigned(k, found[k])
		}
	}
	for _, q := range []struct {
		what string
		keys []string
		into map[string][]byte
	}{{"users", users, t.cache.users}, {"devices", devices, t.cache.devices}} {
		if len(q.keys) == 0 {
			continue
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("prefetch %s: %w", q.what, err)
		}
		var key, body string
		_, err = pgx.ForEachRow(rows, []any{&key, &body}, func() error {
			q.into[key] = []byte(body)
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch %s: %w", q.what, err)
		}
		for _, k := range q.keys {
			if _, ok := q.into[k]; !ok {
				q.into[k] = nil // known absent
			}
		}
	}
	return br.Close()
}

// keepOp keeps an accepted op for commit.
func (t *Tx) keepOp(op *syncengine.Op, digest string, body []byte) {
	t.pending.writes = append(t.pending.writes, pendingWrite{op: &pendingOp{id: op.ID, collection: op.Collection, recordID: op.RecordID,
		area: op.Area, digest: digest, receivedAt: op.ReceivedAt.UnixMilli(), body: body}})
	t.cache.ops[op.ID] = cachedOp{found: true, digest: digest, body: body}
}

// keepRecord keeps a record's new state for commit. It reads the record
// first when the transaction has not (syncengine.Apply always has): a
// record not stored yet is inserted with its key, one stored is updated
// where it is (its area as stored) and may not move to another county
// (sameCounty). The read is checked under the sequencer before either.
func (t *Tx) keepRecord(rec *syncengine.Record, deleted bool, body []byte) error {
	k := recKey{rec.Collection, rec.ID}
	cur, err := t.record(rec.Collection, rec.ID)
	if err != nil {
		return err
	}
	if cur.found {
		if err := sameCounty(rec, cur.area); err != nil {
			return err
		}
		if _, kept := t.pending.lastPut[k]; !kept { // cur is as stored
			if t.pending.stored == nil {
				t.pending.stored = map[recKey]string{}
			}
			t.pending.stored[k] = cur.area
		}
	} else {
		if t.pending.fresh == nil {
			t.pending.fresh = map[recKey]bool{}
		}
		t.pending.fresh[k] = true
	}
	if t.pending.lastPut == nil {
		t.pending.lastPut = map[recKey]int{}
	}
	t.pending.lastPut[k] = len(t.pending.writes)
	t.pending.writes = append(t.pending.writes, pendingWrite{rec: &pendingRecord{key: k, area: rec.Area, deleted: deleted, body: body}})
	t.cache.records[k] = cachedRecord{found: true, area: rec.Area, body: body}
	return nil
}

// readsChangedMessage is the message of the error ruhu_reads_changed()
// raises (migration 0003).
const readsChangedMessage = "ruhu: rows this transaction read changed before it took the sequencer"

// checkReadsSQL raises (ruhu_reads_changed, SQLSTATE 40001) when a record
// read has another sequence now, an op id read as unknown was accepted,
// or an assignment read has come or gone.
const checkReadsSQL = `SELECT ruhu_reads_changed() WHERE
	EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(collection, id, seq)
		LEFT JOIN record_keys k ON k.collection = u.collection AND k.id = u.id
		LEFT JOIN records r ON ` + recordJoinSQL + `
		WHERE coalesce(r.seq, 0) <> u.seq)
	OR EXISTS (SELECT 1 FROM op_keys WHERE id = ANY($4::text[]))
	OR EXISTS (SELECT 1 FROM unnest($5::text[], $6::text[], $7::bool[]) AS k(officer, household, yes)
		WHERE k.yes <> EXISTS (SELECT 1 FROM assignments a WHERE a.officer = k.officer AND a.household = k.household))`

// The writes number themselves from the sequencer row, which the first
// statement of the pipeline advanced by $1 (their count) in this
// transaction: the row's last minus $1 plus each write's place. Each row
// goes to its county's partition (left(area, 6)). Every op, and every
// record not stored before (fresh), is inserted with its key in the same
// statement; a stored record is updated where it is (its county, its
// stored area $8), and updateRecordsSQL answers how many it found. A key
// follows a record whose area changed (in its county) with moveKeysSQL.
const (
	insertOpsSQL = `WITH k AS (INSERT INTO op_keys (id, county, collection, record_id, seq)
		SELECT u.id, left(u.area, 6), u.collection, u.record_id, s.last - $1 + u.place
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $9::text[]) AS u(id, collection, record_id, place, area)
		CROSS JOIN ruhu_seq s WHERE s.id = 1)
	INSERT INTO ops (county, id, collection, record_id, seq, digest, received_at, body)
	SELECT left(u.area, 6), u.id, u.collection, u.record_id, s.last - $1 + u.place, u.digest, u.received_at, u.body
	FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bytea[], $9::text[])
		AS u(id, collection, record_id, place, digest, received_at, body, area)
	CROSS JOIN ruhu_seq s WHERE s.id = 1`
	insertRecordsSQL = `WITH k AS (INSERT INTO record_keys (collection, id, area)
		SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))
	INSERT INTO records (county, collection, id, area, seq, deleted, body)
	SELECT left(u.area, 6), u.collection, u.id, u.area, s.last - $1 + u.place, u.deleted, u.body
	FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bool[], $7::bytea[])
		AS u(collection, id, area, place, deleted, body)
	CROSS JOIN ruhu_seq s WHERE s.id = 1`
	updateRecordsSQL = `WITH u AS (UPDATE records r SET area = u.area, seq = s.last - $1 + u.place, deleted = u.deleted, body = u.body
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bool[], $7::bytea[], $8::text[])
			AS u(collection, id, area, place, deleted, body, was)
		CROSS JOIN ruhu_seq s
		WHERE s.id = 1 AND r.county = left(u.was, 6) AND r.collection = u.collection AND r.area = u.was AND r.id = u.id
		RETURNING 1)
	SELECT count(*) FROM u`
	moveKeysSQL = `UPDATE record_keys k SET area = u.area FROM unnest($1::text[], $2::text[], $3::text[]) AS u(collection, id, area)
	WHERE k.collection = u.collection AND k.id = u.id`
)

// appendAuditSQL links entries after the chain's head and stores them,
// in the database, so that no round trip is needed to read the head:
// $1 are the entries' canonical bytes (audit.Entry.Canonical) made with
// sequence 0, which sits big-endian in bytes 2-9; each gets the head's
// sequence plus its place there, and is stored as audit.Entry.Marshal
// does (canonical, prev, hash), hash = sha256(prev || canonical)
// (audit.ChainHash). $2 is audit.Genesis(), the first entry's prev; $3
// audit.HashSize. The storetest conformance suite verifies the chain.
const appendAuditSQL = `WITH RECURSIVE
	e AS (SELECT canon, place FROM unnest($1::bytea[]) WITH ORDINALITY AS u(canon, place)),
	head AS (SELECT seq, substring(body FROM length(body) - $3::int + 1) AS hash FROM audit ORDER BY seq DESC LIMIT 1),
	chain (place, seq, hash, body) AS (
		SELECT 0::bigint, coalesce((SELECT seq FROM head), 0), coalesce((SELECT hash FROM head), $2::bytea), NULL::bytea
		UNION ALL
		SELECT e.place, c.seq + 1, sha256(c.hash || x.canon), x.canon || c.hash || sha256(c.hash || x.canon)
		FROM chain c JOIN e ON e.place = c.place + 1
		CROSS JOIN LATERAL (SELECT overlay(e.canon PLACING int8send(c.seq + 1) FROM 2 FOR 8) AS canon) x)
	INSERT INTO audit (seq, body) SELECT seq, body FROM chain WHERE place > 0`

// flush sends what the transaction kept in one pipeline: it takes the
// sequencer if it does not hold it (advancing it by the number of writes
// kept), checks the reads made without it (errReadsChanged when one
// changed), inserts the ops and records numbered from it, links the
// audit entries after the chain's head, and, when commit, ends the
// transaction. In READ COMMITTED each statement of the pipeline reads a
// snapshot taken when it starts, after the first has the lock, so the
// check and the audit head see every write of the previous holder. After
// it the transaction holds the sequencer and seq is the row's last.
func (t *Tx) flush(commit bool) error {
	var (
		opID, opCol, opRec, opArea []string
		opDigest                   []string
		opPlace, opAt              []int64
		opBody                     [][]byte
		ins, upd                   recordRows
		mCol, mID, mArea           []string
	)
	n := int64(0)
	for i, w := range t.pending.writes {
		switch {
		case w.op != nil:
			n++
			opID, opCol, opRec, opDigest = append(opID, w.op.id), append(opCol, w.op.collection), append(opRec, w.op.recordID), append(opDigest, w.op.digest)
			opArea = append(opArea, w.op.area)
			opPlace, opAt, opBody = append(opPlace, n), append(opAt, w.op.receivedAt), append(opBody, w.op.body)
		case t.pending.lastPut[w.rec.key] == i:
			n++
			if t.pending.fresh[w.rec.key] {
				ins.add(w.rec, n, "")
				continue
			}
			was := t.pending.stored[w.rec.key]
			upd.add(w.rec, n, was)
			if was != w.rec.area {
				mCol, mID, mArea = append(mCol, w.rec.key.collection), append(mID, w.rec.key.id), append(mArea, w.rec.area)
			}
		}
	}
	b := &pgx.Batch{}
	if t.locked {
		b.Queue("UPDATE ruhu_seq SET last = $1 WHERE id = 1 RETURNING last", int64(t.seq)+n)
	} else {
		b.Queue("UPDATE ruhu_seq SET last = last + $1 WHERE id = 1 RETURNING last", n)
	}
	check := !t.locked && t.reads != nil && !t.reads.empty()
	if check {
		var cols, ids, absent, officers, households []string
		var seqs []int64
		var yes []bool
		for k, seq := range t.reads.records {
			cols, ids, seqs = append(cols, k.collection), append(ids, k.id), append(seqs, seq)
		}
		for id := range t.reads.absentOp {
			absent = append(absent, id)
		}
		for k, y := range t.reads.assigned {
			officers, households, yes = append(officers, k.Officer), append(households, k.Household), append(yes, y)
		}
		b.Queue(checkReadsSQL, cols, ids, seqs, absent, officers, households, yes)
	}
	if len(opID) > 0 {
		b.Queue(insertOpsSQL, n, opID, opCol, opRec, opPlace, opDigest, opAt, opBody, opArea)
	}
	if len(ins.col) > 0 {
		b.Queue(insertRecordsSQL, n, ins.col, ins.id, ins.area, ins.place, ins.deleted, ins.body)
	}
	updated := -1 // the place of updateRecordsSQL in the batch
	if len(upd.col) > 0 {
		updated = b.Len()
		b.Queue(updateRecordsSQL, n, upd.col, upd.id, upd.area, upd.place, upd.deleted, upd.body, upd.was)
	}
	if len(mCol) > 0 {
		b.Queue(moveKeysSQL, mCol, mID, mArea)
	}
	if len(t.pending.audits) > 0 {
		canon := make([][]byte, len(t.pending.audits))
		for i, e := range t.pending.audits {
			e.Seq = 0
			canon[i] = e.Canonical()
		}
		b.Queue(appendAuditSQL, canon, audit.Genesis(), audit.HashSize)
	}
	if commit {
		b.Queue("COMMIT")
	}
	br := t.tx.SendBatch(t.ctx, b)
	var last int64
	err := br.QueryRow().Scan(&last)
	if err != nil {
		err = fmt.Errorf("take the sequencer: %w", err)
	}
	if err == nil && check {
		if _, err = br.Exec(); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Message == readsChangedMessage {
				t.readsChanged = true
				err = errReadsChanged
			} else {
				err = fmt.Errorf("check the transaction's reads: %w", err)
			}
		}
	}
	for i := 1 + btoi(check); err == nil && i < b.Len(); i++ {
		if i != updated {
			if _, err = br.Exec(); err != nil {
				err = fmt.Errorf("store the transaction's writes: %w", err)
			}
			continue
		}
		var found int64
		if err = br.QueryRow().Scan(&found); err != nil {
			err = fmt.Errorf("store the transaction's writes: %w", err)
		} else if found != int64(len(upd.col)) {
			err = fmt.Errorf("store the transaction's writes: %d of %d stored records found to update", found, len(upd.col))
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store the transaction's writes: %w", cerr)
	}
	if err != nil {
		return err
	}
	t.locked, t.seq, t.startSeq = true, uint64(last), uint64(last)
	t.reads, t.pending = nil, deferredWrites{}
	t.tx.done = commit
	return nil
}

// recordRows are records to send, as the columns of an unnest.
type recordRows struct {
	col, id, area, was []string
	place              []int64
	deleted            []bool
	body               [][]byte
}

// add appends rec at place (its sequence's offset), stored in area was.
func (r *recordRows) add(rec *pendingRecord, place int64, was string) {
	r.col, r.id, r.area, r.was = append(r.col, rec.key.collection), append(r.id, rec.key.id), append(r.area, rec.area), append(r.was, was)
	r.place, r.deleted, r.body = append(r.place, place), append(r.deleted, rec.deleted), append(r.body, rec.body)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// commitWrites sends what a write transaction kept, just before commit,
// and ends it: a deferred transaction's writes, sequencer and COMMIT go
// in one round trip (flush). pause, when set (tests), runs after the
// writes are numbered and sent and before COMMIT.
func (t *Tx) commitWrites(pause func()) error {
	if t.deferred && !t.pending.empty() {
		if pause == nil {
			return t.flush(true)
		}
		if err := t.flush(false); err != nil {
			return err
		}
		pause()
		return nil
	}
	if t.locked && t.seq != t.startSeq {
		if _, err := t.tx.Exec(t.ctx, "UPDATE ruhu_seq SET last = $1 WHERE id = 1", int64(t.seq)); err != nil {
			return fmt.Errorf("advance the sequencer: %w", err)
		}
	}
	return nil
}

// decodeOpBody decodes a stored op.
func decodeOpBody(id string, body []byte) (*syncengine.Op, error) {
	var so storedOp
	if err := json.Unmarshal(body, &so); err != nil {
		return nil, fmt.Errorf("decode op %s: %w", id, err)
	}
	return so.op(), nil
}
