// Package boltstore is the server's default store: one bbolt file holding
// records, the history of every accepted operation, the change index that
// pull cursors walk, conflicts, users and enrolled devices.
//
// Every write goes through bbolt with fsync on; concurrent pushes are
// coalesced by a group commit into few transactions, so a county's tablets
// syncing at once cost few disk flushes.
package boltstore

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ruhu-dev/ruhu/syncengine"
)

var (
	bucketMeta      = []byte("meta")
	bucketRecords   = []byte("records")   // "col/id" -> storedRecord JSON
	bucketChanges   = []byte("changes")   // seq (8 bytes) -> "col/id"; one entry per record, at its last change
	bucketOps       = []byte("ops")       // op id -> storedOp JSON
	bucketHistory   = []byte("history")   // "col/id" 0x00 seq -> op id
	bucketConflicts = []byte("conflicts") // conflict id -> JSON
	bucketOpenConf  = []byte("openconf")  // "col/id" 0x00 field -> conflict id
	bucketAssign    = []byte("assign")    // officer 0x00 household id 0x00 assignment id -> assignment id
	bucketUsers     = []byte("users")     // username -> User JSON
	bucketDevices   = []byte("devices")   // device id -> Device JSON
	bucketRefresh   = []byte("refresh")   // sha256(refresh token) hex -> device id
	bucketUploads   = []byte("uploads")   // tus upload id -> Upload JSON
	bucketBlobs     = []byte("blobs")     // sha256 hex -> Blob JSON (verified blobs only)

	keyEpoch  = []byte("epoch")
	keySeq    = []byte("seq")
	keySecret = []byte("jwt_secret")

	allBuckets = [][]byte{bucketMeta, bucketRecords, bucketChanges, bucketOps, bucketHistory,
		bucketConflicts, bucketOpenConf, bucketAssign, bucketUsers, bucketDevices, bucketRefresh,
		bucketUploads, bucketBlobs}
)

// ErrLocked is returned by Open when another process holds the file
// (usually a running server).
var ErrLocked = errors.New("store file is locked by another process")

// Options configure Open. The zero value is the production setting.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file; zero waits one second.
	LockTimeout time.Duration
	// NoSync turns fsync off. Zero (false) keeps every commit durable;
	// only throwaway benchmarks of other parts may turn it on.
	NoSync bool
}

// Store is the bbolt-backed server store. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	writes *groupCommit
	epoch  string
	secret []byte
}

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	// A large initial mapping spares commits the remaps that growing
	// the file would otherwise cost (it is address space, not memory).
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, FreelistType: bolt.FreelistMapType, InitialMmapSize: 1 << 30})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, writes: newGroupCommit(db)}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyEpoch); v != nil {
			s.epoch = string(v)
		} else {
			s.epoch = randomHex(8)
			if err := meta.Put(keyEpoch, []byte(s.epoch)); err != nil {
				return err
			}
		}
		if v := meta.Get(keySecret); v != nil {
			s.secret = append([]byte(nil), v...)
		} else {
			s.secret = make([]byte, 32)
			if _, err := rand.Read(s.secret); err != nil {
				return err
			}
			if err := meta.Put(keySecret, s.secret); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	if err := s.ensureReportRows(); err != nil {
		s.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	return s, nil
}

// Close finishes the writes under way and closes the file.
func (s *Store) Close() error {
	s.writes.close()
	return s.db.Close()
}

// Epoch is the random id of this store's lineage, carried in cursors.
func (s *Store) Epoch() string { return s.epoch }

// Secret is the key that signs access tokens; it lives in the store so
// tokens survive restarts and a restored store does not accept tokens
// signed since.
func (s *Store) Secret() []byte { return s.secret }

// Update runs fn in a write transaction shared with the writes that
// arrive while the previous one commits (a group commit: see
// groupCommit). fn may run more than once and must only act through tx.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.writes.do(fn)
}

// appendMostly are the buckets whose keys mostly grow: sequences, and op
// and record ids that tablets make time-ordered (ULIDs). bbolt splits full
// pages in half by default, which for appended keys leaves every page half
// empty and doubles what each commit writes; packing them fuller halves it.
var appendMostly = [][]byte{bucketChanges, bucketOps, bucketHistory, bucketRecords}

// runWrite runs fn in a write transaction over btx and then writes what
// the transaction kept in memory (the last sequence).
func runWrite(btx *bolt.Tx, fn func(*Tx) error) error {
	for _, name := range appendMostly {
		btx.Bucket(name).FillPercent = 0.9
	}
	tx := &Tx{tx: btx, decoded: map[string]*cachedRecord{}}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.flush()
}

// UpdateSolo runs fn in its own write transaction (not batched), for
// writes that must not be retried (user administration).
func (s *Store) UpdateSolo(fn func(*Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return runWrite(btx, fn) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Tx is one transaction on the store.
type Tx struct {
	tx *bolt.Tx
	// decoded holds the records this write transaction has decoded or
	// written, by key, and nil for keys it found absent: applying one op
	// reads its record up to three times (the server's checks, the merge,
	// the change index), and decoding JSON is the costly part. Nil in read
	// transactions.
	decoded map[string]*cachedRecord
	// seq is the last sequence handed out by this write transaction when
	// seqSet; it is written to the meta bucket once, by flush.
	seq    uint64
	seqSet bool
	// summariesDue holds the by-household keys whose visit summary flush
	// must rewrite, and how (summariesdue.go).
	summariesDue map[string]*dueSummary
	// prepared is what was written ahead for the op the transaction
	// applies next (prepared.go), or nil.
	prepared *preparedWrite
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// LastSeq returns the sequence of the last change.
func (t *Tx) LastSeq() uint64 {
	if t.seqSet {
		return t.seq
	}
	v := t.tx.Bucket(bucketMeta).Get(keySeq)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// nextSeq hands out the next sequence. Every op takes two (history and
// change index); they are counted in memory and stored once per
// transaction by flush.
func (t *Tx) nextSeq() uint64 {
	t.seq = t.LastSeq() + 1
	t.seqSet = true
	return t.seq
}

// flush rewrites the visit summaries the transaction made due and writes
// the last sequence handed out, before the transaction commits.
func (t *Tx) flush() error {
	if err := t.flushSummaries(); err != nil {
		return err
	}
	if !t.seqSet {
		return nil
	}
	return t.tx.Bucket(bucketMeta).Put(keySeq, u64(t.seq))
}

var (
	_ syncengine.Tx        = (*Tx)(nil)
	_ syncengine.OpDigests = (*Tx)(nil)
)
