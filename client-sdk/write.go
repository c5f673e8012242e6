package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// maxBootDrift is how far device now − uptime may move between the last
// sync and a write before the measured offset is no longer trusted: more
// means someone changed the clock.
const maxBootDrift = 2 * time.Second

// Save records a change of fields on one record as an op, stored with the
// record's new local state in one transaction, and queued for the next
// Sync. area is required for a new record and must match an existing one
// ("" takes the existing record's area). It returns the op.
//
// Codes: EINVALID (the Validator or the op's shape refused it, naming the
// field; or an append-only field already set), EUNAUTHORIZED (the tablet is
// not enrolled), EREVOKED.
func (c *Client) Save(ctx context.Context, collection, recordID, area string, fields map[string]json.RawMessage) (*syncengine.Op, error) {
	if len(fields) == 0 {
		return nil, syncengine.Errorf(syncengine.EINVALID, "%s/%s: nothing to save", collection, recordID)
	}
	if c.opts.Validator != nil {
		if err := c.opts.Validator.ValidatePatch(collection, fields); err != nil {
			return nil, invalid(collection, recordID, err)
		}
	}
	set := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		set[k] = append(json.RawMessage(nil), v...)
	}
	return c.write(ctx, collection, recordID, area, set, nil)
}

// Delete records a tombstone with a reason: evidence is never deleted
// silently, and the deletion merges and syncs like any other write.
//
// Codes: EINVALID (no reason), ENOTFOUND (no such record here),
// EUNAUTHORIZED, EREVOKED.
func (c *Client) Delete(ctx context.Context, collection, recordID, reason string) (*syncengine.Op, error) {
	return c.write(ctx, collection, recordID, "", nil, &syncengine.Tombstone{Reason: reason})
}

// validationError keeps the Validator's own error (e.g. *schemas.FieldError)
// reachable with errors.As next to the coded error.
type validationError struct {
	coded *syncengine.Error
	cause error
}

func (e *validationError) Error() string   { return e.coded.Error() }
func (e *validationError) Unwrap() []error { return []error{e.coded, e.cause} }

func invalid(collection, recordID string, cause error) error {
	var se *syncengine.Error
	if errors.As(cause, &se) {
		return cause
	}
	return &validationError{
		coded: syncengine.Errorf(syncengine.EINVALID, "%s/%s: %v", collection, recordID, cause),
		cause: cause,
	}
}

func (c *Client) write(ctx context.Context, collection, recordID, area string, set map[string]json.RawMessage, del *syncengine.Tombstone) (*syncengine.Op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var op *syncengine.Op
	err := c.update(func(tx *bolt.Tx, cd codec) error {
		var err error
		op, err = c.writeTx(tx, cd, collection, recordID, area, set, del)
		return err
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// writeTx is write inside a transaction the caller holds, so a record can be
// written together with other state (the upload queue) or not at all.
func (c *Client) writeTx(tx *bolt.Tx, cd codec, collection, recordID, area string, set map[string]json.RawMessage, del *syncengine.Tombstone) (*syncengine.Op, error) {
	m := meta{tx.Bucket(bucketMeta)}
	author, device := m.str(metaUser), m.str(metaDevice)
	if author == "" || device == "" {
		return nil, syncengine.Errorf(syncengine.EUNAUTHORIZED, "请先登录并登记此设备")
	}
	rs := c.recordsOf(tx, cd)
	key := collection + "/" + recordID
	entry, err := rs.get(key)
	if err != nil {
		return nil, err
	}
	var cur *syncengine.Record
	if w := entry.view(); w != nil {
		cur = w.FromWire()
		if area == "" {
			area = cur.Area
		}
	} else if del != nil {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "%s: no such record on this tablet", key)
	}
	op := c.stamp(m, &syncengine.Op{
		ID: c.NewID(), RecordID: recordID, Collection: collection, Area: area,
		Author: author, Device: device, Set: set, Tombstone: del,
	})
	if cur != nil {
		for _, w := range op.Changes() {
			if fs, ok := cur.Fields[w.Name]; ok {
				if op.Base == nil {
					op.Base = map[string]string{}
				}
				op.Base[w.Name] = fs.OpID
			}
		}
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	next, _, err := syncengine.ApplyOp(cur, op, c.opts.Policy(collection))
	if err != nil {
		return nil, err
	}
	seq, err := rs.outbox.NextSequence()
	if err != nil {
		return nil, fmt.Errorf("outbox sequence: %w", err)
	}
	b, err := cd.encodeOp(newStoredOp(seq, op))
	if err != nil {
		return nil, err
	}
	if err := rs.outbox.Put(seqKey(seq), b); err != nil {
		return nil, fmt.Errorf("queue op %s: %w", op.ID, err)
	}
	if err := rs.pending.Put(pendingKey(key, seq), nil); err != nil {
		return nil, fmt.Errorf("index op %s: %w", op.ID, err)
	}
	if entry == nil {
		entry = &recordEntry{}
	}
	w := next.ToWire()
	entry.Local = &w
	if err := rs.put(key, entry); err != nil {
		return nil, err
	}
	return op, m.putInt(metaLastHLC, int64(c.clock.Last()))
}

// stamp gives op its HLC and times, and flags it clock_suspect when the
// offset measured at the last sync can no longer be trusted.
func (c *Client) stamp(m meta, op *syncengine.Op) *syncengine.Op {
	dc := c.opts.DeviceClock
	dev := dc.Now()
	op.DeviceTime = dev.UTC()
	op.HLC = c.clock.Now()
	if !c.offsetKnown.Load() {
		return op
	}
	op.ServerTimeEst = dev.Add(time.Duration(c.offsetMs.Load()) * time.Millisecond).UTC()
	if lastBoot := m.str(metaBootID); lastBoot != "" {
		if id := dc.BootID(); id != "" && id != lastBoot {
			op.AddFlag(syncengine.FlagClockSuspect)
			return op
		}
	}
	if lastEpoch, ok := m.int(metaBootEpochMs); ok {
		if up := dc.Uptime(); up > 0 {
			drift := time.Duration(dev.Add(-up).UnixMilli()-lastEpoch) * time.Millisecond
			if drift > maxBootDrift || drift < -maxBootDrift {
				op.AddFlag(syncengine.FlagClockSuspect)
			}
		}
	}
	return op
}

func (c *Client) recordsOf(tx *bolt.Tx, cd codec) records {
	return records{
		codec:   cd,
		records: tx.Bucket(bucketRecords),
		pending: tx.Bucket(bucketPending),
		outbox:  tx.Bucket(bucketOutbox),
		policy:  c.opts.Policy,
	}
}
