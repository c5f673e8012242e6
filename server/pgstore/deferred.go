package pgstore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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
}

func newCache() *cache {
	return &cache{records: map[recKey]cachedRecord{}, ops: map[string]cachedOp{}, assigned: map[core.AssignmentKey]bool{}}
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
	id, collection, recordID, digest string
	receivedAt                       int64
	body                             []byte
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
	audits  []*audit.Entry
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
	b := &pgx.Batch{}
	if len(opIDs) > 0 {
		b.Queue("SELECT id, digest, body FROM ops WHERE id = ANY($1)", opIDs)
	}
	if len(cols) > 0 {
		b.Queue(`SELECT r.collection, r.id, r.area, r.seq, r.body FROM unnest($1::text[], $2::text[]) AS k(collection, id)
			JOIN records r ON r.collection = k.collection AND r.id = k.id`, cols, ids)
	}
	if len(officers) > 0 {
		b.Queue(`SELECT DISTINCT a.officer, a.household FROM unnest($1::text[], $2::text[]) AS k(officer, household)
			JOIN assignments a ON a.officer = k.officer AND a.household = k.household`, officers, households)
	}
	if b.Len() == 0 {
		return nil
	}
	br := t.tx.SendBatch(t.ctx, b)
	defer br.Close()
	if len(opIDs) > 0 {
		found := map[string]cachedOp{}
		rows, _ := br.Query()
		var id string
		var e cachedOp
		_, err := pgx.ForEachRow(rows, []any{&id, &e.digest, &e.body}, func() error {
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
		rows, _ := br.Query()
		var k recKey
		var e cachedRecord
		_, err := pgx.ForEachRow(rows, []any{&k.collection, &k.id, &e.area, &e.seq, &e.body}, func() error {
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
		rows, _ := br.Query()
		var k core.AssignmentKey
		_, err := pgx.ForEachRow(rows, []any{&k.Officer, &k.Household}, func() error {
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
	return br.Close()
}

// keepOp keeps an accepted op for commit.
func (t *Tx) keepOp(op *syncengine.Op, digest string, body []byte) {
	t.pending.writes = append(t.pending.writes, pendingWrite{op: &pendingOp{id: op.ID, collection: op.Collection, recordID: op.RecordID,
		digest: digest, receivedAt: op.ReceivedAt.UnixMilli(), body: body}})
	t.cache.ops[op.ID] = cachedOp{found: true, digest: digest, body: body}
}

// keepRecord keeps a record's new state for commit.
func (t *Tx) keepRecord(rec *syncengine.Record, deleted bool, body []byte) {
	k := recKey{rec.Collection, rec.ID}
	if t.pending.lastPut == nil {
		t.pending.lastPut = map[recKey]int{}
	}
	t.pending.lastPut[k] = len(t.pending.writes)
	t.pending.writes = append(t.pending.writes, pendingWrite{rec: &pendingRecord{key: k, area: rec.Area, deleted: deleted, body: body}})
	t.cache.records[k] = cachedRecord{found: true, area: rec.Area, body: body}
}

// lock takes the sequencer row and, in the same round trip, checks the
// reads made without it (errReadsChanged when any changed) and, when
// wantHead, reads the audit chain's head. In READ COMMITTED each
// statement of the pipeline reads a snapshot taken when it starts, after
// the lock is granted, so it sees every write of the previous holder.
func (t *Tx) lock(wantHead bool) (*audit.Entry, error) {
	b := &pgx.Batch{}
	b.Queue("SELECT last FROM ruhu_seq WHERE id = 1 FOR UPDATE")
	check := t.reads != nil && !t.reads.empty()
	var cols, ids, absent, officers, households []string
	if check {
		for k := range t.reads.records {
			cols, ids = append(cols, k.collection), append(ids, k.id)
		}
		for id := range t.reads.absentOp {
			absent = append(absent, id)
		}
		for k := range t.reads.assigned {
			officers, households = append(officers, k.Officer), append(households, k.Household)
		}
		b.Queue(`SELECT k.collection, k.id, coalesce(r.seq, 0) FROM unnest($1::text[], $2::text[]) AS k(collection, id)
			LEFT JOIN records r ON r.collection = k.collection AND r.id = k.id`, cols, ids)
		b.Queue("SELECT count(*) FROM ops WHERE id = ANY($1)", absent)
		b.Queue(`SELECT k.officer, k.household, EXISTS (SELECT 1 FROM assignments a WHERE a.officer = k.officer AND a.household = k.household)
			FROM unnest($1::text[], $2::text[]) AS k(officer, household)`, officers, households)
	}
	if wantHead {
		b.Queue("SELECT body FROM audit ORDER BY seq DESC LIMIT 1")
	}
	br := t.tx.SendBatch(t.ctx, b)
	defer br.Close()
	var last int64
	if err := br.QueryRow().Scan(&last); err != nil {
		return nil, fmt.Errorf("take the sequencer: %w", err)
	}
	t.locked, t.seq, t.startSeq = true, uint64(last), uint64(last)
	if check {
		changed := false
		rows, _ := br.Query()
		var k recKey
		var seq int64
		_, err := pgx.ForEachRow(rows, []any{&k.collection, &k.id, &seq}, func() error {
			if t.reads.records[k] != seq {
				changed = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("check records read: %w", err)
		}
		var n int
		if err := br.QueryRow().Scan(&n); err != nil {
			return nil, fmt.Errorf("check ops read: %w", err)
		}
		changed = changed || n > 0
		rows, _ = br.Query()
		var a core.AssignmentKey
		var yes bool
		_, err = pgx.ForEachRow(rows, []any{&a.Officer, &a.Household, &yes}, func() error {
			if t.reads.assigned[a] != yes {
				changed = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("check assignments read: %w", err)
		}
		if changed {
			t.readsChanged = true
			return nil, errReadsChanged
		}
	}
	t.reads = nil // from here every read is made under the sequencer
	var head *audit.Entry
	if wantHead {
		var raw []byte
		err := br.QueryRow().Scan(&raw)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("read audit head: %w", err)
		default:
			if head, err = audit.Unmarshal(raw); err != nil {
				return nil, fmt.Errorf("audit head: %w", err)
			}
		}
	}
	return head, br.Close()
}

// auditHead reads the audit chain's head; the sequencer is held.
func (t *Tx) auditHead() (*audit.Entry, error) {
	var raw []byte
	err := t.tx.QueryRow(t.ctx, "SELECT body FROM audit ORDER BY seq DESC LIMIT 1").Scan(&raw)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	head, err := audit.Unmarshal(raw)
	if err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	return head, nil
}

// sendDeferred numbers the kept writes from the sequencer (held), links
// the kept audit entries after head, and sends them in one pipelined
// batch; final adds the sequencer's advance, for a commit that follows.
func (t *Tx) sendDeferred(head *audit.Entry, final bool) error {
	var (
		opID, opCol, opRec, opDigest []string
		opSeq, opAt                  []int64
		opBody                       [][]byte
		rCol, rID, rArea             []string
		rSeq                         []int64
		rDel                         []bool
		rBody                        [][]byte
	)
	for i, w := range t.pending.writes {
		switch {
		case w.op != nil:
			t.seq++
			opID, opCol, opRec, opDigest = append(opID, w.op.id), append(opCol, w.op.collection), append(opRec, w.op.recordID), append(opDigest, w.op.digest)
			opSeq, opAt, opBody = append(opSeq, int64(t.seq)), append(opAt, w.op.receivedAt), append(opBody, w.op.body)
		case t.pending.lastPut[w.rec.key] == i:
			t.seq++
			rCol, rID, rArea = append(rCol, w.rec.key.collection), append(rID, w.rec.key.id), append(rArea, w.rec.area)
			rSeq, rDel, rBody = append(rSeq, int64(t.seq)), append(rDel, w.rec.deleted), append(rBody, w.rec.body)
		}
	}
	b := &pgx.Batch{}
	if len(opID) > 0 {
		b.Queue(`INSERT INTO ops (id, collection, record_id, seq, digest, received_at, body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bytea[])`,
			opID, opCol, opRec, opSeq, opDigest, opAt, opBody)
	}
	if len(rCol) > 0 {
		b.Queue(`INSERT INTO records (collection, id, area, seq, deleted, body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bool[], $6::bytea[])
			ON CONFLICT (collection, id) DO UPDATE SET area = EXCLUDED.area, seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, body = EXCLUDED.body`,
			rCol, rID, rArea, rSeq, rDel, rBody)
	}
	for _, e := range t.pending.audits {
		if err := audit.Link(head, e); err != nil {
			return err
		}
		b.Queue("INSERT INTO audit (seq, body) VALUES ($1, $2)", int64(e.Seq), e.Marshal())
		head = e
	}
	if final && t.seq != t.startSeq {
		b.Queue("UPDATE ruhu_seq SET last = $1 WHERE id = 1", int64(t.seq))
		t.startSeq = t.seq
	}
	t.pending = deferredWrites{}
	if b.Len() == 0 {
		return nil
	}
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return fmt.Errorf("store the transaction's writes: %w", err)
	}
	return nil
}

// commitWrites sends what a write transaction kept and advances the
// sequencer, just before commit: a deferred transaction that has not got
// the sequencer takes it here (and checks its reads).
func (t *Tx) commitWrites() error {
	if t.deferred && !t.pending.empty() {
		var head *audit.Entry
		var err error
		switch {
		case !t.locked:
			head, err = t.lock(len(t.pending.audits) > 0)
		case len(t.pending.audits) > 0:
			head, err = t.auditHead()
		}
		if err != nil {
			return err
		}
		return t.sendDeferred(head, true)
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
