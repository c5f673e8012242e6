package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Collections and fields the tablet's own queries read. They follow the
// schemas package; they are named once here so a rename is one change.
const (
	CollectionHouseholds  = collection.Households
	CollectionAssignments = collection.Assignments
	CollectionVisits      = collection.Visits
	CollectionMembers     = collection.Members

	FieldOfficer   = "officer"      // assignments, visits: username of the officer
	FieldHousehold = "household_id" // assignments, visits, members: household record id
	FieldActive    = "active"       // assignments: true while the assignment holds
	FieldVisitedAt = "visited_at"   // visits: RFC 3339 time of the visit
)

// RecordView is a record as the tablet shows it: the server's state with
// this tablet's unsent changes applied.
type RecordView struct {
	ID         string
	Collection string
	Area       string
	Values     map[string]json.RawMessage
	Deleted    bool
	// DeleteReason is the tombstone's reason when Deleted.
	DeleteReason string
	// Pending is true while some change made here has not been
	// acknowledged by the server.
	Pending bool
	// Flags are the server's flags on the current versions (restamped…).
	Flags   []string
	Version syncengine.HLC
	// Record holds every field's version (author, device, HLC, op id).
	Record *syncengine.Record
}

func newView(w *syncengine.WireRecord, pending bool) *RecordView {
	rec := w.FromWire()
	deleted, reason := rec.Deleted()
	return &RecordView{
		ID: rec.ID, Collection: rec.Collection, Area: rec.Area,
		Values: rec.Values(), Deleted: deleted, DeleteReason: reason,
		Pending: pending, Flags: rec.Flags(), Version: rec.Version(), Record: rec,
	}
}

// String decodes a string value; "" when absent or not a string.
func (v *RecordView) String(field string) string {
	var s string
	if raw, ok := v.Values[field]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// Get returns one record, deleted ones included (Deleted is set).
//
// Codes: ENOTFOUND, EREVOKED.
func (c *Client) Get(collection, id string) (*RecordView, error) {
	var out *RecordView
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		rs := c.recordsOf(tx, cd)
		key := collection + "/" + id
		e, err := rs.get(key)
		if err != nil {
			return err
		}
		if e.view() == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "%s: 此设备上没有这条记录", key)
		}
		out = newView(e.view(), e.Local != nil)
		return nil
	})
	return out, err
}

// Query returns the live (not deleted) records of a collection whose values
// pass filter (nil: all), in id order.
//
// Codes: EREVOKED.
func (c *Client) Query(collection string, filter func(values map[string]json.RawMessage) bool) ([]*RecordView, error) {
	var out []*RecordView
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		var err error
		out, err = c.scan(tx, cd, collection, filter)
		return err
	})
	return out, err
}

func (c *Client) scan(tx *bolt.Tx, cd codec, collection string, filter func(map[string]json.RawMessage) bool) ([]*RecordView, error) {
	var out []*RecordView
	prefix := []byte(collection + "/")
	cur := tx.Bucket(bucketRecords).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		e, err := cd.decodeEntry(v)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", k, err)
		}
		w := e.view()
		if w == nil {
			continue
		}
		view := newView(w, e.Local != nil)
		if view.Deleted || (filter != nil && !filter(view.Values)) {
			continue
		}
		out = append(out, view)
	}
	return out, nil
}

// MyHouseholds returns the households the logged-in officer is assigned to
// (a live assignments record whose officer is this user and active is true), in
// area then id order. Households whose record has not reached this tablet
// yet are left out.
//
// Codes: EUNAUTHORIZED (nobody logged in), EREVOKED.
func (c *Client) MyHouseholds() ([]*RecordView, error) {
	var out []*RecordView
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		var err error
		out, err = c.myHouseholds(tx, cd)
		return err
	})
	return out, err
}

func (c *Client) myHouseholds(tx *bolt.Tx, cd codec) ([]*RecordView, error) {
	user := meta{tx.Bucket(bucketMeta)}.str(metaUser)
	if user == "" {
		return nil, syncengine.Errorf(syncengine.EUNAUTHORIZED, "请先登录")
	}
	assignments, err := c.scan(tx, cd, CollectionAssignments, func(v map[string]json.RawMessage) bool {
		return jsonString(v[FieldOfficer]) == user && activeAssignment(v)
	})
	if err != nil {
		return nil, err
	}
	rs := c.recordsOf(tx, cd)
	seen := map[string]bool{}
	var out []*RecordView
	for _, a := range assignments {
		hh := a.String(FieldHousehold)
		if hh == "" || seen[hh] {
			continue
		}
		seen[hh] = true
		e, err := rs.get(CollectionHouseholds + "/" + hh)
		if err != nil {
			return nil, err
		}
		if e.view() == nil {
			continue
		}
		if v := newView(e.view(), e.Local != nil); !v.Deleted {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Area != out[j].Area {
			return out[i].Area < out[j].Area
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func activeAssignment(v map[string]json.RawMessage) bool {
	var active bool
	return json.Unmarshal(v[FieldActive], &active) == nil && active
}

func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// Status is what the tablet knows about its sync state.
type Status struct {
	Server, User, Role   string
	DeviceID, DeviceName string
	Enrolled             bool
	// Pending ops wait in the outbox; Sent were acknowledged; Rejected
	// were refused by the server and parked.
	Pending, Sent, Rejected int
	// LastSync is the device time of the last completed sync (zero: never).
	LastSync time.Time
	Cursor   string
	// ClockOffset is server time − device time, measured at the last sync;
	// ClockOffsetKnown is false before the first one.
	ClockOffset      time.Duration
	ClockOffsetKnown bool
	LastHLC          syncengine.HLC
}

// Status returns the tablet's sync state.
//
// Codes: EREVOKED (the store was wiped).
func (c *Client) Status() (Status, error) {
	var s Status
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		s.Server, s.User, s.Role = m.str(metaServer), m.str(metaUser), m.str(metaRole)
		s.DeviceID, s.DeviceName = m.str(metaDevice), m.str(metaDeviceName)
		s.Enrolled = s.DeviceID != "" && m.str(metaRefresh) != ""
		s.Pending = tx.Bucket(bucketOutbox).Stats().KeyN
		s.Sent = tx.Bucket(bucketSent).Stats().KeyN
		s.Rejected = tx.Bucket(bucketRejected).Stats().KeyN
		if ms, ok := m.int(metaLastSync); ok {
			s.LastSync = time.UnixMilli(ms).UTC()
		}
		s.Cursor = m.str(metaCursor)
		if ms, ok := m.int(metaOffsetMs); ok {
			s.ClockOffset, s.ClockOffsetKnown = time.Duration(ms)*time.Millisecond, true
		}
		h, _ := m.int(metaLastHLC)
		s.LastHLC = syncengine.HLC(h)
		return nil
	})
	return s, err
}

// RejectedOp is an op the server refused, parked for the user.
type RejectedOp struct {
	Op      *syncengine.Op
	Code    string
	Message string
	// At is the device time the rejection arrived.
	At time.Time
}

// Rejected returns the parked ops in the order they were made.
//
// Codes: EREVOKED.
func (c *Client) Rejected() ([]RejectedOp, error) {
	var out []RejectedOp
	var seqs []uint64
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		return tx.Bucket(bucketRejected).ForEach(func(k, v []byte) error {
			s, err := cd.decodeOp(v)
			if err != nil {
				return fmt.Errorf("rejected op %s: %w", k, err)
			}
			out = append(out, RejectedOp{Op: s.op(), Code: s.Code, Message: s.Message, At: time.UnixMilli(s.RejectedMs).UTC()})
			seqs = append(seqs, s.Seq)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return seqs[idx[a]] < seqs[idx[b]] })
	sorted := make([]RejectedOp, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted, nil
}
