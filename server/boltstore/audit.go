package boltstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
)

// bucketAudit holds the audit chain: sequence (8 bytes, big-endian) ->
// audit.Entry.Marshal. It is created by the first append, so stores made
// before the audit log open unchanged; only appends ever write it.
var bucketAudit = []byte("audit")

// AppendAudit links e after the chain's head and stores it, in this write
// transaction: the entry commits, or rolls back, with the change it
// records. e gets its Seq, Prev and Hash. An entry that does not validate
// is an error (and rolls the transaction back).
func (t *Tx) AppendAudit(e *audit.Entry) error {
	b, err := t.tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return fmt.Errorf("audit bucket: %w", err)
	}
	b.FillPercent = 0.95 // keys only grow
	var head *audit.Entry
	if k, v := b.Cursor().Last(); k != nil {
		if head, err = audit.Unmarshal(v); err != nil {
			return fmt.Errorf("audit head %x: %w", k, err)
		}
	}
	if err := audit.Link(head, e); err != nil {
		return err
	}
	return b.Put(u64(e.Seq), e.Marshal())
}

// AuditEntries calls fn with the audit entries from the newest down, those
// with a sequence below before (0: from the head), until fn returns false.
// Entries that do not decode are skipped here (VerifyAudit reports them).
func (t *Tx) AuditEntries(before uint64, fn func(*audit.Entry) bool) error {
	b := t.tx.Bucket(bucketAudit)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	var k, v []byte
	if before == 0 {
		k, v = c.Last()
	} else {
		if k, _ = c.Seek(u64(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = c.Prev() {
		e, err := audit.Unmarshal(v)
		if err != nil {
			continue
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// VerifyAudit re-checks the whole audit chain in one read transaction and
// returns its head. A broken chain answers an *audit.BrokenError naming the
// first bad entry. With a non-nil anchor (a head kept outside the system)
// it also checks that the chain still reaches the anchored entry with the
// anchored hash, which catches a cut tail.
func (s *Store) VerifyAudit(anchor *audit.Head) (audit.Head, error) {
	var head audit.Head
	err := s.View(func(tx *Tx) (err error) {
		head, err = tx.VerifyAudit(anchor)
		return err
	})
	return head, err
}

// VerifyAudit is Store.VerifyAudit inside this transaction (the core's
// AuditTx: the console shows the chain's state beside the trail).
func (t *Tx) VerifyAudit(anchor *audit.Head) (audit.Head, error) {
	b := t.tx.Bucket(bucketAudit)
	var v audit.Verifier
	if b != nil {
		err := b.ForEach(func(k, raw []byte) error {
			if len(k) != 8 {
				return &audit.BrokenError{Seq: v.Head().Seq + 1, Reason: fmt.Sprintf("stored under a malformed key %x", k)}
			}
			return v.Next(binary.BigEndian.Uint64(k), raw)
		})
		if err != nil {
			return audit.Head{}, err
		}
	}
	head := v.Head()
	if anchor == nil {
		return head, nil
	}
	return head, audit.CheckAnchor(*anchor, head, func(seq uint64) []byte {
		if b == nil {
			return nil
		}
		e, err := audit.Unmarshal(b.Get(u64(seq)))
		if err != nil {
			return nil
		}
		return e.Hash
	})
}

// AuditHeadBefore returns the last audit entry stamped before t, as an
// anchor (zero Head when there is none): `ruhu audit anchor` prints the
// head at the end of a day.
func (s *Store) AuditHeadBefore(t time.Time) (audit.Head, error) {
	var head audit.Head
	err := s.View(func(tx *Tx) error {
		return tx.AuditEntries(0, func(e *audit.Entry) bool {
			if e.Time.Before(t) {
				head = audit.Head{Seq: e.Seq, Hash: e.Hash, Time: e.Time}
				return false
			}
			return true
		})
	})
	return head, err
}
