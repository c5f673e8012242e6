package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// storedRecord is a record's state on disk: its wire form plus the
// sequence of its last change (the key of its entry in the change index).
type storedRecord struct {
	syncengine.WireRecord
	Seq uint64 `json:"seq"`
}

// StoredOp is an accepted operation as kept in history.
type StoredOp struct {
	syncengine.WireOp
	Flags      []string `json:"flags,omitempty"`
	StatedHLC  uint64   `json:"stated_hlc,omitempty"`
	ReceivedAt int64    `json:"received_at"` // ms
	Seq        uint64   `json:"seq"`
	// Digest is syncengine.OpDigest of the op when it was accepted, so a
	// later op with the same id is told apart from a resend (empty in
	// stores written before digests were kept: it is then recomputed).
	Digest string `json:"digest,omitempty"`
}

// Op converts the stored form back to an op, its digest included.
func (s *StoredOp) Op() *syncengine.Op {
	op := s.WireOp.FromWire()
	op.Flags = s.Flags
	op.StatedHLC = syncengine.HLC(s.StatedHLC)
	op.ReceivedAt = time.UnixMilli(s.ReceivedAt).UTC()
	op.Digest = s.Digest
	if op.Digest == "" {
		op.Digest = syncengine.OpDigest(op)
	}
	return op
}

func recordKey(collection, id string) []byte { return []byte(collection + "/" + id) }

// OpApplied implements syncengine.Tx.
func (t *Tx) OpApplied(id string) (bool, error) {
	return t.tx.Bucket(bucketOps).Get([]byte(id)) != nil, nil
}

// AcceptedDigest implements syncengine.OpDigests: the content digest of
// the accepted op with this id, so syncengine.Apply refuses an op id
// reused for other content (ECONFLICT) instead of taking it for a resend.
func (t *Tx) AcceptedDigest(id string) (string, bool, error) {
	so, err := t.StoredOp(id)
	if err != nil || so == nil {
		return "", false, err
	}
	return so.Op().Digest, true, nil
}

// Exists reports whether a record is stored.
func (t *Tx) Exists(collection, id string) bool {
	return t.tx.Bucket(bucketRecords).Get(recordKey(collection, id)) != nil
}

// Record implements syncengine.Tx.
func (t *Tx) Record(collection, id string) (*syncengine.Record, error) {
	c, err := t.stored(recordKey(collection, id))
	if err != nil || c == nil {
		return nil, err
	}
	if t.decoded == nil {
		return c.rec, nil // decoded for this call alone
	}
	return c.rec.Clone(), nil
}

// cachedRecord is a record as a write transaction last read or wrote it,
// with the sequence of its entry in the change index.
type cachedRecord struct {
	rec *syncengine.Record
	seq uint64
}

// stored returns the record under key, nil when there is none. A write
// transaction remembers what it found, absence included, so the several
// reads of one op's record decode it once.
func (t *Tx) stored(key []byte) (*cachedRecord, error) {
	if c, ok := t.decoded[string(key)]; ok {
		return c, nil
	}
	v := t.tx.Bucket(bucketRecords).Get(key)
	var c *cachedRecord
	if v != nil {
		var sr storedRecord
		if err := json.Unmarshal(v, &sr); err != nil {
			return nil, fmt.Errorf("decode record %s: %w", key, err)
		}
		c = &cachedRecord{rec: sr.FromWire(), seq: sr.Seq}
	}
	if t.decoded != nil {
		t.decoded[string(key)] = c
	}
	return c, nil
}

// PutRecord implements syncengine.Tx: it stores the new state and moves the
// record's entry in the change index to a new sequence. The transaction
// keeps rec as the record's state: the caller must not change it after.
func (t *Tx) PutRecord(rec *syncengine.Record, op *syncengine.Op) error {
	key := recordKey(rec.Collection, rec.ID)
	old, err := t.stored(key)
	if err != nil {
		return err
	}
	changes := t.tx.Bucket(bucketChanges)
	if old != nil {
		if err := changes.Delete(u64(old.seq)); err != nil {
			return err
		}
	}
	seq := t.nextSeq()
	stored := t.preparedRecord(rec, op, seq)
	if stored == nil {
		stored = encodeRecord(rec, seq)
	}
	if err := t.tx.Bucket(bucketRecords).Put(key, stored); err != nil {
		return err
	}
	if t.decoded != nil {
		t.decoded[string(key)] = &cachedRecord{rec: rec, seq: seq}
	}
	if err := changes.Put(u64(seq), changeValue(rec.Area, key)); err != nil {
		return err
	}
	if err := t.projectRecord(key, rec, op); err != nil {
		return err
	}
	if rec.Collection == collection.Assignments {
		var prev *syncengine.Record
		if old != nil {
			prev = old.rec
		}
		return t.indexAssignment(prev, rec)
	}
	return nil
}

// AddOp implements syncengine.Tx: the op joins the record's history.
func (t *Tx) AddOp(op *syncengine.Op) error {
	seq := t.nextSeq()
	stored := t.preparedOp(op, seq)
	if stored == nil {
		stored = encodeOp(op, seq)
	}
	if err := t.tx.Bucket(bucketOps).Put([]byte(op.ID), stored); err != nil {
		return err
	}
	hk := append(recordKey(op.Collection, op.RecordID), 0)
	hk = append(hk, u64(seq)...)
	return t.tx.Bucket(bucketHistory).Put(hk, []byte(op.ID))
}

// OpenConflict implements syncengine.Tx.
func (t *Tx) OpenConflict(collection, id, field string) (*syncengine.Conflict, error) {
	cid := t.tx.Bucket(bucketOpenConf).Get(openConfKey(collection, id, field))
	if cid == nil {
		return nil, nil
	}
	return t.Conflict(string(cid))
}

func openConfKey(collection, id, field string) []byte {
	k := append(recordKey(collection, id), 0)
	return append(k, field...)
}

// PutConflict implements syncengine.Tx.
func (t *Tx) PutConflict(c *syncengine.Conflict) error {
	buf, err := json.Marshal(toStoredConflict(c))
	if err != nil {
		return fmt.Errorf("encode conflict %s: %w", c.ID, err)
	}
	if err := t.tx.Bucket(bucketConflicts).Put([]byte(c.ID), buf); err != nil {
		return err
	}
	ok := openConfKey(c.Collection, c.RecordID, c.Field)
	if c.Status == syncengine.ConflictOpen {
		return t.tx.Bucket(bucketOpenConf).Put(ok, []byte(c.ID))
	}
	if cur := t.tx.Bucket(bucketOpenConf).Get(ok); cur != nil && string(cur) == c.ID {
		return t.tx.Bucket(bucketOpenConf).Delete(ok)
	}
	return nil
}

// storedConflict is the disk form of a conflict.
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

func toStoredConflict(c *syncengine.Conflict) storedConflict {
	sc := storedConflict{ID: c.ID, Collection: c.Collection, RecordID: c.RecordID, Area: c.Area, Field: c.Field,
		Status: c.Status, OpenedAt: c.OpenedAt.UnixMilli(), Resolution: c.Resolution}
	for _, f := range c.Candidates {
		sc.Candidates = append(sc.Candidates, syncengine.WireField{Value: f.Value, HLC: uint64(f.HLC), Device: f.Device, Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags})
	}
	return sc
}

func (sc *storedConflict) conflict() *syncengine.Conflict {
	c := &syncengine.Conflict{ID: sc.ID, Collection: sc.Collection, RecordID: sc.RecordID, Area: sc.Area, Field: sc.Field,
		Status: sc.Status, OpenedAt: time.UnixMilli(sc.OpenedAt).UTC(), Resolution: sc.Resolution}
	for _, f := range sc.Candidates {
		c.Candidates = append(c.Candidates, syncengine.FieldState{Value: f.Value, HLC: syncengine.HLC(f.HLC), Device: f.Device, Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags})
	}
	return c
}

// Conflict returns a conflict by id, or nil when there is none.
func (t *Tx) Conflict(id string) (*syncengine.Conflict, error) {
	v := t.tx.Bucket(bucketConflicts).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var sc storedConflict
	if err := json.Unmarshal(v, &sc); err != nil {
		return nil, fmt.Errorf("decode conflict %s: %w", id, err)
	}
	return sc.conflict(), nil
}

// Conflicts calls fn for every conflict (any status), in id order, until
// fn returns false.
func (t *Tx) Conflicts(fn func(*syncengine.Conflict) bool) error {
	return t.tx.Bucket(bucketConflicts).ForEach(func(k, v []byte) error {
		var sc storedConflict
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("decode conflict %s: %w", k, err)
		}
		if !fn(sc.conflict()) {
			return errStop
		}
		return nil
	})
}

type stopErr struct{}

func (stopErr) Error() string { return "stop" }

var errStop error = stopErr{}

// History returns every accepted op of a record, in acceptance order.
func (t *Tx) History(collection, id string) ([]*StoredOp, error) {
	prefix := append(recordKey(collection, id), 0)
	ops := t.tx.Bucket(bucketOps)
	var out []*StoredOp
	c := t.tx.Bucket(bucketHistory).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		raw := ops.Get(v)
		if raw == nil {
			return nil, fmt.Errorf("history of %s/%s names missing op %s", collection, id, v)
		}
		var so StoredOp
		if err := json.Unmarshal(raw, &so); err != nil {
			return nil, fmt.Errorf("decode op %s: %w", v, err)
		}
		out = append(out, &so)
	}
	return out, nil
}

// StoredOp returns an accepted op by id, or nil.
func (t *Tx) StoredOp(id string) (*StoredOp, error) {
	raw := t.tx.Bucket(bucketOps).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var so StoredOp
	if err := json.Unmarshal(raw, &so); err != nil {
		return nil, fmt.Errorf("decode op %s: %w", id, err)
	}
	return &so, nil
}

// Change is one entry of the change index.
type Change struct {
	Seq    uint64
	Record *syncengine.Record
}

// changeValue is the change index entry of a record: its area code first,
// so a pull can filter by scope without decoding the record.
func changeValue(area string, key []byte) []byte {
	v := make([]byte, 0, len(area)+1+len(key))
	v = append(append(append(v, area...), 0), key...)
	return v
}

func splitChange(v []byte) (area string, key []byte) {
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return "", v
	}
	return string(v[:i]), v[i+1:]
}

// ChangesAfter walks the change index from seq+1 in order, calling fn for
// each changed record until fn returns false. It returns the last sequence
// visited (seq when none). Each record appears once, at its last change.
func (t *Tx) ChangesAfter(seq uint64, fn func(Change) bool) (uint64, error) {
	var derr error
	last, err := t.ChangesAfterRaw(seq, func(s uint64, _ string, raw []byte) bool {
		var sr storedRecord
		if derr = json.Unmarshal(raw, &sr); derr != nil {
			return false
		}
		return fn(Change{Seq: s, Record: sr.FromWire()})
	})
	if err == nil {
		err = derr
	}
	return last, err
}

// ChangesAfterRaw is ChangesAfter without decoding: fn gets each changed
// record's area code and its stored JSON, which is a syncengine.WireRecord
// (plus a "seq" member). raw is valid only inside the transaction: copy it
// to keep it.
func (t *Tx) ChangesAfterRaw(seq uint64, fn func(seq uint64, area string, raw []byte) bool) (uint64, error) {
	last := seq
	records := t.tx.Bucket(bucketRecords)
	c := t.tx.Bucket(bucketChanges).Cursor()
	for k, v := c.Seek(u64(seq + 1)); k != nil; k, v = c.Next() {
		area, key := splitChange(v)
		raw := records.Get(key)
		if raw == nil {
			return last, fmt.Errorf("change index names missing record %s", key)
		}
		last = binary.BigEndian.Uint64(k)
		if !fn(last, area, raw) {
			break
		}
	}
	return last, nil
}

// HasChangesAfter reports whether the change index holds an entry after seq.
func (t *Tx) HasChangesAfter(seq uint64) bool {
	k, _ := t.tx.Bucket(bucketChanges).Cursor().Seek(u64(seq + 1))
	return k != nil
}

// RecordCount returns the number of records in the store.
func (t *Tx) RecordCount() int { return t.tx.Bucket(bucketRecords).Stats().KeyN }

// ForEachRecord calls fn for every record of a collection, in id order.
func (t *Tx) ForEachRecord(collection string, fn func(*syncengine.Record) error) error {
	prefix := []byte(collection + "/")
	c := t.tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var sr storedRecord
		if err := json.Unmarshal(v, &sr); err != nil {
			return fmt.Errorf("decode record %s: %w", k, err)
		}
		if err := fn(sr.FromWire()); err != nil {
			return err
		}
	}
	return nil
}

// Assigned reports whether officer has an active assignment to household.
// Several assignments may hold the same pair (a renewal made before the old
// one is ended): the pair stays assigned while any of them is active.
func (t *Tx) Assigned(officer, household string) bool {
	b := t.tx.Bucket(bucketAssign)
	prefix := assignPrefix(officer, household)
	k, _ := b.Cursor().Seek(prefix)
	if k != nil && bytes.HasPrefix(k, prefix) {
		return true
	}
	// Stores written before the index named assignments held one entry
	// per pair, without the assignment id.
	return b.Get(prefix[:len(prefix)-1]) != nil
}

// assignPrefix is "officer 0x00 household 0x00"; the index key appends the
// assignment record's id. Usernames and record ids hold no 0x00.
func assignPrefix(officer, household string) []byte {
	k := append(append([]byte(officer), 0), household...)
	return append(k, 0)
}

func assignKey(officer, household, assignmentID string) []byte {
	return append(assignPrefix(officer, household), assignmentID...)
}

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
	_ = json.Unmarshal(vals["officer"], &a.Officer)
	_ = json.Unmarshal(vals["household_id"], &a.HouseholdID)
	_ = json.Unmarshal(vals["active"], &a.Active)
	return a, a.Active && a.Officer != "" && a.HouseholdID != ""
}

// indexAssignment keeps the officer→household index in step with the
// assignments collection, so the visit check is one lookup.
func (t *Tx) indexAssignment(prev, next *syncengine.Record) error {
	b := t.tx.Bucket(bucketAssign)
	if a, ok := assignmentOf(prev); ok {
		legacy := assignPrefix(a.Officer, a.HouseholdID)
		if err := b.Delete(legacy[:len(legacy)-1]); err != nil {
			return err
		}
		if err := b.Delete(assignKey(a.Officer, a.HouseholdID, prev.ID)); err != nil {
			return err
		}
	}
	if a, ok := assignmentOf(next); ok {
		return b.Put(assignKey(a.Officer, a.HouseholdID, next.ID), []byte(next.ID))
	}
	return nil
}
