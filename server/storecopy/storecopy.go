// Package storecopy moves a county's data from one server store into
// another, empty one (bbolt to PostgreSQL) through the store interfaces of
// server/core: records with their change-feed order, every record's
// history, conflicts with their resolutions, accounts, devices with their
// refresh tokens, and, when both stores keep them, blob facts, resumable
// uploads and the audit chain. It counts each kind in both stores inside the
// target's transaction, so a copy whose counts disagree commits nothing.
//
// The target keeps its own epoch: sequence numbers are handed out anew,
// so tablets' cursors of the old store mean nothing there and their next
// pull resets, as after a restore. Refresh tokens are kept (as hashes), so
// enrolled tablets go on without signing in again. The audit chain is
// appended entry by entry in its order and links to the very same hashes,
// so the anchors a county kept outside the system still match. Web console
// sessions are not moved (console users sign in again).
package storecopy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ErrTargetNotEmpty is returned when the target store already holds
// records, history, conflicts, accounts, devices, blobs or uploads.
var ErrTargetNotEmpty = errors.New("target store is not empty")

// ErrCountMismatch is returned when the target does not hold what was
// copied into it; nothing is committed.
var ErrCountMismatch = errors.New("counts of the copy disagree")

// ErrTargetLacks is returned when the source holds a kind (blob facts,
// uploads) that the target store cannot keep.
var ErrTargetLacks = errors.New("target store cannot keep what the source holds")

// ErrAuditChanged is returned when the copied audit chain does not end in
// the source's head (sequence and hash).
var ErrAuditChanged = errors.New("audit chain changed in the copy")

// ErrDigestChanged is returned when an op's digest, as the target
// computes it, differs from the one the source recorded: the op would not
// be the same op there.
var ErrDigestChanged = errors.New("op digest changed in the copy")

// Counts is how many of each kind a store holds.
type Counts struct {
	Records   int `json:"records"`
	Ops       int `json:"ops"`
	Conflicts int `json:"conflicts"`
	Users     int `json:"users"`
	Devices   int `json:"devices"`
	Blobs     int `json:"blobs"`
	Uploads   int `json:"uploads"`
	Audit     int `json:"audit"` // audit chain entries
}

// recordKey names a record.
type recordKey struct{ collection, id string }

// feedKeys lists the records of the change feed in feed order.
func feedKeys(tx core.Tx) ([]recordKey, error) {
	var keys []recordKey
	var bad error
	_, err := tx.ChangesAfter(0, func(seq uint64, _ string, raw []byte) bool {
		var head struct {
			ID         string `json:"id"`
			Collection string `json:"col"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			bad = fmt.Errorf("change %d: %w", seq, err)
			return false
		}
		keys = append(keys, recordKey{head.Collection, head.ID})
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("read the change feed: %w", err)
	}
	return keys, bad
}

// count reads a store's counts in tx.
func count(tx core.Tx) (Counts, error) {
	var n Counts
	keys, err := feedKeys(tx)
	if err != nil {
		return n, err
	}
	n.Records = len(keys)
	for _, k := range keys {
		hist, err := tx.History(k.collection, k.id)
		if err != nil {
			return n, fmt.Errorf("history of %s/%s: %w", k.collection, k.id, err)
		}
		n.Ops += len(hist)
	}
	if err := tx.Conflicts(func(*syncengine.Conflict) bool { n.Conflicts++; return true }); err != nil {
		return n, fmt.Errorf("read conflicts: %w", err)
	}
	users, err := tx.Users()
	if err != nil {
		return n, fmt.Errorf("read users: %w", err)
	}
	n.Users = len(users)
	devices, err := tx.Devices()
	if err != nil {
		return n, fmt.Errorf("read devices: %w", err)
	}
	n.Devices = len(devices)
	if btx, ok := tx.(core.BlobTx); ok {
		if err := btx.Blobs(func(*core.Blob) bool { n.Blobs++; return true }); err != nil {
			return n, fmt.Errorf("read blobs: %w", err)
		}
	}
	if utx, ok := tx.(core.UploadTx); ok {
		if err := utx.Uploads(func(*core.Upload) bool { n.Uploads++; return true }); err != nil {
			return n, fmt.Errorf("read uploads: %w", err)
		}
	}
	if atx, ok := tx.(core.AuditTx); ok {
		if err := atx.AuditEntries(0, func(*audit.Entry) bool { n.Audit++; return true }); err != nil {
			return n, fmt.Errorf("read the audit chain: %w", err)
		}
	}
	return n, nil
}

// Count reads how many of each kind store holds.
func Count(store core.Store) (Counts, error) {
	var n Counts
	err := store.View(func(tx core.Tx) (err error) {
		n, err = count(tx)
		return err
	})
	return n, err
}

// Copy copies everything src holds into dst, which must be empty, in one
// write transaction of dst inside one read transaction of src, and
// returns the counts of what it copied. src must not change meanwhile (a
// stopped server's store). On any error, dst is left as it was.
func Copy(dst, src core.Store) (Counts, error) {
	var copied Counts
	err := dst.UpdateSolo(func(dtx core.Tx) error {
		return src.View(func(stx core.Tx) error {
			before, err := count(dtx)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			if before != (Counts{}) {
				return fmt.Errorf("%w: it holds %+v", ErrTargetNotEmpty, before)
			}
			want, err := count(stx)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			if err := copyAll(dtx, stx); err != nil {
				return err
			}
			got, err := count(dtx)
			if err != nil {
				return fmt.Errorf("target after the copy: %w", err)
			}
			if got != want {
				return fmt.Errorf("%w: source %+v, target %+v", ErrCountMismatch, want, got)
			}
			copied = got
			return nil
		})
	})
	if err != nil {
		return Counts{}, err
	}
	return copied, nil
}

// copyAll writes every kind of stx into dtx.
func copyAll(dtx, stx core.Tx) error {
	keys, err := feedKeys(stx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	for _, k := range keys {
		if err := copyRecord(dtx, stx, k); err != nil {
			return err
		}
	}
	var conflicts []*syncengine.Conflict
	if err := stx.Conflicts(func(c *syncengine.Conflict) bool { conflicts = append(conflicts, c); return true }); err != nil {
		return fmt.Errorf("read conflicts: %w", err)
	}
	for _, c := range conflicts {
		if err := dtx.PutConflict(c); err != nil {
			return fmt.Errorf("write conflict %s: %w", c.ID, err)
		}
	}
	users, err := stx.Users()
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	for _, u := range users {
		if err := dtx.PutUser(u); err != nil {
			return fmt.Errorf("write user %s: %w", u.Username, err)
		}
	}
	devices, err := stx.Devices()
	if err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	for _, d := range devices {
		if err := dtx.PutDevice(d); err != nil {
			return fmt.Errorf("write device %s: %w", d.ID, err)
		}
	}
	if err := copyBlobs(dtx, stx); err != nil {
		return err
	}
	if err := copyUploads(dtx, stx); err != nil {
		return err
	}
	return copyAudit(dtx, stx)
}

// copyAudit appends the source's audit chain to the target's, oldest
// entry first, and checks that both chains verify to the same head.
func copyAudit(dtx, stx core.Tx) error {
	sa, ok := stx.(core.AuditTx)
	if !ok {
		return nil
	}
	var entries []*audit.Entry
	if err := sa.AuditEntries(0, func(e *audit.Entry) bool { entries = append(entries, e); return true }); err != nil {
		return fmt.Errorf("read the audit chain: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	da, ok := dtx.(core.AuditTx)
	if !ok {
		return fmt.Errorf("%w: %d audit entries (%T keeps none)", ErrTargetLacks, len(entries), dtx)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := *entries[i]
		e.Seq, e.Prev, e.Hash = 0, nil, nil
		if err := da.AppendAudit(&e); err != nil {
			return fmt.Errorf("append audit entry %d: %w", entries[i].Seq, err)
		}
	}
	want, err := sa.VerifyAudit(nil)
	if err != nil {
		return fmt.Errorf("verify the source's audit chain: %w", err)
	}
	got, err := da.VerifyAudit(&want)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditChanged, err)
	}
	if got.Seq != want.Seq || !bytes.Equal(got.Hash, want.Hash) {
		return fmt.Errorf("%w: head %d %x, source %d %x", ErrAuditChanged, got.Seq, got.Hash, want.Seq, want.Hash)
	}
	return nil
}

// copyRecord writes a record's history, in acceptance order, and then the
// record, so the target's change feed has it at its place in the
// source's.
func copyRecord(dtx, stx core.Tx, k recordKey) error {
	rec, err := stx.Record(k.collection, k.id)
	if err != nil {
		return fmt.Errorf("read record %s/%s: %w", k.collection, k.id, err)
	}
	if rec == nil {
		return fmt.Errorf("record %s/%s is in the change feed but not stored", k.collection, k.id)
	}
	hist, err := stx.History(k.collection, k.id)
	if err != nil {
		return fmt.Errorf("history of %s/%s: %w", k.collection, k.id, err)
	}
	var last *syncengine.Op
	for _, op := range hist {
		if op.Digest != "" && syncengine.OpDigest(op) != op.Digest {
			return fmt.Errorf("%w: op %s", ErrDigestChanged, op.ID)
		}
		if err := dtx.AddOp(op); err != nil {
			return fmt.Errorf("write op %s: %w", op.ID, err)
		}
		last = op
	}
	if err := dtx.PutRecord(rec, last); err != nil {
		return fmt.Errorf("write record %s/%s: %w", k.collection, k.id, err)
	}
	return nil
}

// copyBlobs copies blob facts when the source keeps them; a target that
// cannot keep them is refused unless the source has none.
func copyBlobs(dtx, stx core.Tx) error {
	sb, ok := stx.(core.BlobTx)
	if !ok {
		return nil
	}
	var blobs []*core.Blob
	if err := sb.Blobs(func(b *core.Blob) bool { blobs = append(blobs, b); return true }); err != nil {
		return fmt.Errorf("read blobs: %w", err)
	}
	if len(blobs) == 0 {
		return nil
	}
	db, ok := dtx.(core.BlobTx)
	if !ok {
		return fmt.Errorf("%w: %d blob facts (%T keeps none)", ErrTargetLacks, len(blobs), dtx)
	}
	for _, b := range blobs {
		if err := db.PutBlob(b); err != nil {
			return fmt.Errorf("write blob %s: %w", b.SHA256, err)
		}
	}
	return nil
}

// copyUploads copies unfinished resumable uploads when the source keeps
// them, so a tablet resumes its upload on the new store.
func copyUploads(dtx, stx core.Tx) error {
	su, ok := stx.(core.UploadTx)
	if !ok {
		return nil
	}
	var ups []*core.Upload
	if err := su.Uploads(func(u *core.Upload) bool { ups = append(ups, u); return true }); err != nil {
		return fmt.Errorf("read uploads: %w", err)
	}
	if len(ups) == 0 {
		return nil
	}
	du, ok := dtx.(core.UploadTx)
	if !ok {
		return fmt.Errorf("%w: %d unfinished uploads (%T keeps none)", ErrTargetLacks, len(ups), dtx)
	}
	for _, u := range ups {
		if err := du.PutUpload(u); err != nil {
			return fmt.Errorf("write upload %s: %w", u.ID, err)
		}
	}
	return nil
}
