package syncengine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"
)

// Conflict statuses.
const (
	ConflictOpen     = "open"
	ConflictResolved = "resolved"
)

// Conflict records concurrent writes of one field to different values. The
// deterministic winner stays applied; the conflict lets a supervisor confirm
// it or choose another value. One record and field has at most one open
// conflict: later concurrent writes join it as further candidates.
type Conflict struct {
	ID         string
	Collection string
	RecordID   string
	Area       string
	Field      string
	// Candidates are every competing version, best first under Wins.
	Candidates []FieldState
	Status     string
	OpenedAt   time.Time
	Resolution *Resolution
}

// Resolution is a supervisor's decision on a conflict.
type Resolution struct {
	By    string
	At    time.Time
	Value json.RawMessage // the value chosen
	// OpID is the op that applied the choice when it differed from the
	// merge winner; empty when the winner was confirmed.
	OpID string
	Note string
}

// Winner returns the candidate the merge rule keeps.
func (c *Conflict) Winner() FieldState { return c.Candidates[0] }

// MaxConflictCandidates bounds the candidates one conflict keeps. A field
// written concurrently many times (a tablet stuck in a loop, a hostile
// client) would otherwise grow one conflict without end, and every further
// op rereads and rewrites it: quadratic work. Candidates are distinct
// values; beyond the cap the lowest ranked under Wins are dropped, never
// the winner. A dropped version is not lost: its op stays in history.
const MaxConflictCandidates = 16

// add joins v to the conflict: once per op, once per value (the version
// that ranks higher under Wins represents the value), at most
// MaxConflictCandidates, best first.
func (c *Conflict) add(v FieldState) {
	for i, have := range c.Candidates {
		if have.OpID == v.OpID {
			return
		}
		if JSONEqual(have.Value, v.Value) {
			if !Wins(v, have) {
				return
			}
			c.Candidates = append(c.Candidates[:i], c.Candidates[i+1:]...)
			break
		}
	}
	i := sort.Search(len(c.Candidates), func(i int) bool { return Wins(v, c.Candidates[i]) })
	c.Candidates = append(c.Candidates, FieldState{})
	copy(c.Candidates[i+1:], c.Candidates[i:])
	c.Candidates[i] = v
	if len(c.Candidates) > MaxConflictCandidates {
		c.Candidates = c.Candidates[:MaxConflictCandidates]
	}
}

// ConflictID derives the id of the conflict an op opens on a field, so every
// replica of the server log names it the same.
func ConflictID(opID, field string) string {
	sum := sha256.Sum256([]byte(opID + "\x00" + field))
	return "c" + hex.EncodeToString(sum[:10])
}

// Tx is the view of a store inside one write transaction that Apply needs.
// The server's bbolt store and the in-memory test store implement it.
type Tx interface {
	// OpApplied reports whether an op with this id was already accepted.
	OpApplied(id string) (bool, error)
	// Record returns the current state, or nil and no error when absent.
	Record(collection, id string) (*Record, error)
	// PutRecord stores a record's new state, changed by op.
	PutRecord(rec *Record, op *Op) error
	// AddOp appends an accepted op to history; it makes OpApplied true.
	AddOp(op *Op) error
	// OpenConflict returns the open conflict on a record's field, or nil.
	OpenConflict(collection, id, field string) (*Conflict, error)
	// PutConflict creates or updates a conflict.
	PutConflict(c *Conflict) error
}

// Applied reports what Apply did with one op.
type Applied struct {
	Duplicate bool // the op had been applied before; nothing changed
	Record    *Record
	Outcome
	Conflicts []*Conflict // conflicts opened or joined by this op
}

// Apply applies op inside tx: idempotent by op id, merged per field, every
// accepted op kept in history whether or not it won, and concurrent writes
// of different values recorded as conflicts. An error with code EINVALID
// means the op was refused and nothing was written; ECONFLICT means the op
// id was accepted before with other content (when tx implements OpDigests;
// see CheckResend) and nothing was written; other errors come from the
// store.
func Apply(tx Tx, op *Op, pol MergePolicy, now time.Time) (Applied, error) {
	return apply(tx, op, pol, now, nil)
}

// Created is the merge of an op onto a record that does not exist yet,
// worked out ahead of the write transaction by PrepareCreate.
type Created struct {
	record  *Record
	outcome Outcome
}

// Record is the new record's state as prepared; it must not be changed.
func (c *Created) Record() *Record { return c.record }

// PrepareCreate merges op onto an absent record (ApplyOp(nil, op, pol))
// so that the merge can be done where there is CPU to spare, off the
// write path; ApplyCreated then stores its result if the record is still
// absent. op must not change after. Errors are ApplyOp's.
func PrepareCreate(op *Op, pol MergePolicy) (*Created, error) {
	rec, out, err := ApplyOp(nil, op, pol)
	if err != nil {
		return nil, err
	}
	return &Created{record: rec, outcome: out}, nil
}

// ApplyCreated is Apply of an op prepared by PrepareCreate with the same
// pol: when its record is still absent in tx the prepared merge is stored
// as it is, otherwise (the record appeared since) the op is merged onto
// it as Apply does. The prepared record becomes the transaction's: it may
// be passed again only to a transaction run again in place of this one.
// A nil c is plain Apply.
func ApplyCreated(tx Tx, op *Op, pol MergePolicy, now time.Time, c *Created) (Applied, error) {
	return apply(tx, op, pol, now, c)
}

func apply(tx Tx, op *Op, pol MergePolicy, now time.Time, created *Created) (Applied, error) {
	seen, err := tx.OpApplied(op.ID)
	if err != nil {
		return Applied{}, err
	}
	if seen {
		if d, ok := tx.(OpDigests); ok {
			digest, found, err := d.AcceptedDigest(op.ID)
			if err != nil {
				return Applied{}, err
			}
			if found {
				if err := CheckResend(&Op{ID: op.ID, Digest: digest}, op); err != nil {
					return Applied{}, err
				}
			}
		}
		return Applied{Duplicate: true}, nil
	}
	cur, err := tx.Record(op.Collection, op.RecordID)
	if err != nil {
		return Applied{}, err
	}
	var next *Record
	var outcome Outcome
	if cur == nil && created != nil {
		// Outcome's slices are read, never changed, by what follows and
		// by callers, so a rerun of the transaction may share them.
		next, outcome = created.record, created.outcome
	} else if next, outcome, err = ApplyOp(cur, op, pol); err != nil {
		return Applied{}, err
	}
	if err := tx.AddOp(op); err != nil {
		return Applied{}, err
	}
	if len(outcome.Changed) > 0 {
		if err := tx.PutRecord(next, op); err != nil {
			return Applied{}, err
		}
	}
	res := Applied{Record: next, Outcome: outcome}
	for _, ct := range outcome.Contests {
		c, err := tx.OpenConflict(op.Collection, op.RecordID, ct.Field)
		if err != nil {
			return Applied{}, err
		}
		if c == nil {
			c = &Conflict{
				ID:         ConflictID(op.ID, ct.Field),
				Collection: op.Collection,
				RecordID:   op.RecordID,
				Area:       op.Area,
				Field:      ct.Field,
				Status:     ConflictOpen,
				OpenedAt:   now,
			}
		}
		// The version in place joins too, even when the conflict is already
		// open: a write made on top of the old winner may have replaced it
		// since, and the supervisor must see the value the record holds.
		c.add(ct.Current)
		c.add(ct.Incoming)
		if err := tx.PutConflict(c); err != nil {
			return Applied{}, err
		}
		res.Conflicts = append(res.Conflicts, c)
	}
	return res, nil
}
