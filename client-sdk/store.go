package client

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Buckets of the tablet file.
var (
	// bucketMeta: session, cursor, clock and key material (metaXxx keys).
	bucketMeta = []byte("meta")
	// bucketRecords: "collection/id" → recordEntry JSON.
	bucketRecords = []byte("records")
	// bucketOutbox: 8-byte big-endian seq → storedOp JSON, oldest first.
	bucketOutbox = []byte("outbox")
	// bucketPending: "collection/id" 0x00 seq → nothing: the unsent ops of
	// each record, in order, so its view can be rebuilt.
	bucketPending = []byte("pending")
	// bucketSent: op id → storedOp JSON (with its outbox seq): acknowledged
	// ops, kept to re-feed a server restored from an old backup.
	bucketSent = []byte("sent")
	// bucketRejected: op id → storedOp JSON with code and message.
	bucketRejected = []byte("rejected")
	// bucketWiped: the only bucket left after a revocation wiped the file.
	bucketWiped = []byte("wiped")
)

func dataBuckets() [][]byte {
	return [][]byte{bucketMeta, bucketRecords, bucketOutbox, bucketPending, bucketSent, bucketRejected, bucketUploads, bucketApp}
}

// Keys of bucketMeta.
const (
	metaServer      = "server_url"
	metaUser        = "username"
	metaRole        = "role"
	metaDevice      = "device_id"
	metaDeviceName  = "device_name"
	metaDeviceKey   = "device_private_key" // ed25519 private key (64 bytes)
	metaRefresh     = "refresh_token"
	metaAccess      = "access_token"
	metaCursor      = "cursor"
	metaOffsetMs    = "clock_offset_ms" // server time − device time, set once measured
	metaBootID      = "boot_id"         // boot id at the last offset measurement
	metaBootEpochMs = "boot_epoch_ms"   // device now − uptime at the last measurement
	metaLastHLC     = "last_hlc"
	metaLastSync    = "last_sync_ms" // device time of the last completed sync
	metaPIIKey      = "pii_key"      // AES-256 key for PII fields (see pii.go)
)

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func pendingKey(recordKey string, seq uint64) []byte {
	k := make([]byte, 0, len(recordKey)+9)
	k = append(k, recordKey...)
	k = append(k, 0)
	return append(k, seqKey(seq)...)
}

func pendingPrefix(recordKey string) []byte {
	return append([]byte(recordKey), 0)
}

// meta reads and writes bucketMeta inside one transaction.
type meta struct{ b *bolt.Bucket }

func (m meta) str(key string) string { return string(m.b.Get([]byte(key))) }

func (m meta) bytes(key string) []byte {
	v := m.b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

func (m meta) int(key string) (int64, bool) {
	v := m.b.Get([]byte(key))
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

func (m meta) put(key string, v []byte) error {
	if v == nil {
		return m.b.Delete([]byte(key))
	}
	return m.b.Put([]byte(key), v)
}

func (m meta) putStr(key, v string) error { return m.put(key, []byte(v)) }

func (m meta) putInt(key string, v int64) error {
	return m.put(key, []byte(strconv.FormatInt(v, 10)))
}

func (m meta) del(keys ...string) error {
	for _, k := range keys {
		if err := m.b.Delete([]byte(k)); err != nil {
			return err
		}
	}
	return nil
}

// storedOp is an op as the tablet keeps it in the outbox, sent and rejected
// buckets: the wire form plus what the wire form drops.
type storedOp struct {
	Seq       uint64            `json:"seq"`
	Op        syncengine.WireOp `json:"op"`
	Flags     []string          `json:"flags,omitempty"`
	StatedHLC uint64            `json:"stated,omitempty"`
	// Set for rejected ops.
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	RejectedMs int64  `json:"rejected_ms,omitempty"`
}

func (s *storedOp) op() *syncengine.Op {
	op := s.Op.FromWire()
	for _, f := range s.Flags {
		op.AddFlag(f)
	}
	op.StatedHLC = syncengine.HLC(s.StatedHLC)
	return op
}

func newStoredOp(seq uint64, op *syncengine.Op) *storedOp {
	return &storedOp{Seq: seq, Op: op.ToWire(), Flags: op.Flags, StatedHLC: uint64(op.StatedHLC)}
}

// recordEntry is one record on the tablet: the server's state (with the
// tablet's own acknowledged ops merged in) and the local view (that state
// with the pending ops re-applied). Local is nil when it equals Server, so
// most records are stored once.
type recordEntry struct {
	Server *syncengine.WireRecord `json:"s,omitempty"`
	Local  *syncengine.WireRecord `json:"l,omitempty"`
}

// codec turns store values into bytes and back, encrypting PII fields.
type codec struct{ pii *piiCipher }

func (c codec) encodeOp(s *storedOp) ([]byte, error) {
	cp := *s
	if len(s.Op.Set) > 0 {
		set, err := c.pii.sealFields(s.Op.Collection, s.Op.RecordID, s.Op.Set)
		if err != nil {
			return nil, err
		}
		cp.Op.Set = set
	}
	return json.Marshal(&cp)
}

func (c codec) decodeOp(b []byte) (*storedOp, error) {
	var s storedOp
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode stored op: %w", err)
	}
	if len(s.Op.Set) > 0 {
		set, err := c.pii.openFields(s.Op.Collection, s.Op.RecordID, s.Op.Set)
		if err != nil {
			return nil, err
		}
		s.Op.Set = set
	}
	return &s, nil
}

func (c codec) encodeEntry(e *recordEntry) ([]byte, error) {
	out := recordEntry{}
	var err error
	if out.Server, err = c.sealRecord(e.Server); err != nil {
		return nil, err
	}
	if out.Local, err = c.sealRecord(e.Local); err != nil {
		return nil, err
	}
	return json.Marshal(&out)
}

func (c codec) decodeEntry(b []byte) (*recordEntry, error) {
	var e recordEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode record entry: %w", err)
	}
	var err error
	if e.Server, err = c.openRecord(e.Server); err != nil {
		return nil, err
	}
	if e.Local, err = c.openRecord(e.Local); err != nil {
		return nil, err
	}
	return &e, nil
}

func (c codec) sealRecord(w *syncengine.WireRecord) (*syncengine.WireRecord, error) {
	return c.mapRecord(w, c.pii.seal)
}

func (c codec) openRecord(w *syncengine.WireRecord) (*syncengine.WireRecord, error) {
	return c.mapRecord(w, c.pii.open)
}

func (c codec) mapRecord(w *syncengine.WireRecord, fn func(collection, id, field string, v json.RawMessage) (json.RawMessage, error)) (*syncengine.WireRecord, error) {
	if w == nil || !c.pii.hasPII(w.Collection) {
		return w, nil
	}
	cp := *w
	cp.Fields = make(map[string]syncengine.WireField, len(w.Fields))
	for name, f := range w.Fields {
		v, err := fn(w.Collection, w.ID, name, f.Value)
		if err != nil {
			return nil, err
		}
		f.Value = v
		cp.Fields[name] = f
	}
	return &cp, nil
}

// records wraps the record and pending buckets of one transaction.
type records struct {
	codec   codec
	records *bolt.Bucket
	pending *bolt.Bucket
	outbox  *bolt.Bucket
	policy  func(string) syncengine.MergePolicy
}

func (r records) get(key string) (*recordEntry, error) {
	v := r.records.Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	e, err := r.codec.decodeEntry(v)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", key, err)
	}
	return e, nil
}

func (r records) put(key string, e *recordEntry) error {
	if e.Server == nil && e.Local == nil {
		return r.records.Delete([]byte(key))
	}
	b, err := r.codec.encodeEntry(e)
	if err != nil {
		return fmt.Errorf("record %s: %w", key, err)
	}
	return r.records.Put([]byte(key), b)
}

// pendingOps returns the unsent ops of one record, oldest first.
func (r records) pendingOps(key string) ([]*syncengine.Op, error) {
	var ops []*syncengine.Op
	prefix := pendingPrefix(key)
	c := r.pending.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		seq := k[len(prefix):]
		v := r.outbox.Get(seq)
		if v == nil {
			return nil, fmt.Errorf("record %s: pending op %x missing from the outbox", key, seq)
		}
		s, err := r.codec.decodeOp(v)
		if err != nil {
			return nil, err
		}
		ops = append(ops, s.op())
	}
	return ops, nil
}

// rebuild recomputes a record's view from its server state and pending ops.
// An op the current state refuses (an append-only field the server set
// differently) is left out of the view; the server will reject it too.
func (r records) rebuild(key string, e *recordEntry) error {
	ops, err := r.pendingOps(key)
	if err != nil {
		return err
	}
	e.Local = nil
	if len(ops) == 0 {
		return r.put(key, e)
	}
	var rec *syncengine.Record
	if e.Server != nil {
		rec = e.Server.FromWire()
	}
	for _, op := range ops {
		next, _, err := syncengine.ApplyOp(rec, op, r.policy(op.Collection))
		if err != nil {
			continue
		}
		rec = next
	}
	if rec != nil {
		w := rec.ToWire()
		e.Local = &w
	}
	return r.put(key, e)
}

func (e *recordEntry) view() *syncengine.WireRecord {
	if e == nil {
		return nil
	}
	if e.Local != nil {
		return e.Local
	}
	return e.Server
}

func binaryUint(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
