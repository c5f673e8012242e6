package syncengine

import (
	"bytes"
	"encoding/json"
	"sort"
)

// FieldState is the current version of one field of a record: its value and
// the write that put it there.
type FieldState struct {
	Value  json.RawMessage
	HLC    HLC
	Device string
	Author string
	OpID   string
	// Base is the op id of the version the writer had seen ("" for none).
	Base string
	// Flags are the flags of the op that wrote this version (restamped…).
	Flags []string
}

// Wins reports whether version a beats version b under the merge rule:
// the higher HLC wins, then the higher device id, then the higher op id.
// It is a strict total order on distinct writes, so it is never true both
// ways and replicas agree on every winner.
func Wins(a, b FieldState) bool {
	if a.HLC != b.HLC {
		return a.HLC > b.HLC
	}
	if a.Device != b.Device {
		return a.Device > b.Device
	}
	return a.OpID > b.OpID
}

// Concurrent reports whether two writes of one field happened without
// either writer seeing the other's version: neither is the base of the
// other. A write whose base is the other write is sequential, not a
// conflict.
func Concurrent(a, b FieldState) bool {
	if a.OpID == b.OpID {
		return false
	}
	return a.Base != b.OpID && b.Base != a.OpID
}

// Record is the merged state of one record on a replica.
type Record struct {
	ID         string
	Collection string
	Area       string
	Fields     map[string]FieldState
}

// Key returns the store key "collection/id".
func (r *Record) Key() string { return r.Collection + "/" + r.ID }

// Deleted reports whether the record carries a tombstone, and its reason.
func (r *Record) Deleted() (bool, string) {
	f, ok := r.Fields[DeletedField]
	if !ok || len(f.Value) == 0 || string(f.Value) == "null" {
		return false, ""
	}
	var t Tombstone
	_ = json.Unmarshal(f.Value, &t)
	return true, t.Reason
}

// Values returns the record's field values without versions or tombstone.
func (r *Record) Values() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(r.Fields))
	for name, f := range r.Fields {
		if name != DeletedField {
			out[name] = f.Value
		}
	}
	return out
}

// Version returns the highest HLC among the record's fields.
func (r *Record) Version() HLC {
	var v HLC
	for _, f := range r.Fields {
		if f.HLC > v {
			v = f.HLC
		}
	}
	return v
}

// Flags returns the union of the flags of the record's current versions.
func (r *Record) Flags() []string {
	set := map[string]bool{}
	for _, f := range r.Fields {
		for _, fl := range f.Flags {
			set[fl] = true
		}
	}
	out := make([]string, 0, len(set))
	for fl := range set {
		out = append(out, fl)
	}
	sort.Strings(out)
	return out
}

// Clone returns a deep copy of the record's map (values are shared: they are
// never mutated in place).
func (r *Record) Clone() *Record {
	c := *r
	c.Fields = make(map[string]FieldState, len(r.Fields))
	for k, v := range r.Fields {
		c.Fields[k] = v
	}
	return &c
}

// MergePolicy is what the merge needs to know of a collection.
type MergePolicy struct {
	// AppendOnly collections hold evidence: a field, once set, keeps its
	// value; only the Annotations fields (and the tombstone) may change.
	AppendOnly  bool
	Annotations []string
}

func (p MergePolicy) mutable(field string) bool {
	if !p.AppendOnly || field == DeletedField {
		return true
	}
	for _, a := range p.Annotations {
		if a == field {
			return true
		}
	}
	return false
}

// Contest is a concurrent write of one field to a value different from the
// current one: the raw material of a conflict record.
type Contest struct {
	Field    string
	Current  FieldState // the version in place before the op
	Incoming FieldState // the op's write
}

// Outcome is what applying one op did to a record.
type Outcome struct {
	Changed  []string  // fields whose winning version changed
	Contests []Contest // concurrent writes to different values
}

func (op *Op) state(w FieldWrite) FieldState {
	return FieldState{
		Value:  w.Value,
		HLC:    op.HLC,
		Device: op.Device,
		Author: op.Author,
		OpID:   op.ID,
		Base:   op.Base[w.Name],
		Flags:  op.Flags,
	}
}

// ApplyOp merges op into rec (which may be nil for a record not seen yet)
// and returns the new state and what changed. rec is not modified. It
// returns EINVALID when the op targets a different collection or area than
// the record has, or changes a set field of an append-only record; such an
// op changes nothing.
func ApplyOp(rec *Record, op *Op, pol MergePolicy) (*Record, Outcome, error) {
	var out Outcome
	if rec == nil {
		// Sized for every write: a visit's dozen fields otherwise grow the
		// map twice, a third of what applying it allocated.
		rec = &Record{ID: op.RecordID, Collection: op.Collection, Area: op.Area, Fields: make(map[string]FieldState, len(op.Set)+1)}
	} else {
		if rec.Collection != op.Collection || rec.ID != op.RecordID {
			return nil, out, Errorf(EINVALID, "op %s: targets %s, not %s", op.ID, op.Key(), rec.Key())
		}
		if rec.Area != op.Area {
			return nil, out, Errorf(EINVALID, "op %s: area code %s differs from the record's %s (area codes do not change)", op.ID, op.Area, rec.Area)
		}
		rec = rec.Clone()
	}
	writes := op.Changes()
	if pol.AppendOnly {
		for _, w := range writes {
			cur, ok := rec.Fields[w.Name]
			if ok && !pol.mutable(w.Name) && cur.OpID != op.ID && !JSONEqual(cur.Value, w.Value) {
				return nil, out, Errorf(EINVALID, "op %s: %s is append-only: field %s is already set", op.ID, op.Collection, w.Name)
			}
		}
	}
	for _, w := range writes {
		in := op.state(w)
		cur, ok := rec.Fields[w.Name]
		if !ok {
			rec.Fields[w.Name] = in
			out.Changed = append(out.Changed, w.Name)
			continue
		}
		if cur.OpID == op.ID {
			continue // the same write again
		}
		if Concurrent(in, cur) && !JSONEqual(cur.Value, in.Value) {
			out.Contests = append(out.Contests, Contest{Field: w.Name, Current: cur, Incoming: in})
		}
		if Wins(in, cur) {
			rec.Fields[w.Name] = in
			out.Changed = append(out.Changed, w.Name)
		}
	}
	return rec, out, nil
}

// MergeRecords merges two states of one record field by field under the
// merge rule. It is commutative, associative and idempotent. A nil state is
// a record not seen yet; merging two of them gives nil.
func MergeRecords(a, b *Record) *Record {
	if a == nil {
		if b == nil {
			return nil
		}
		return b.Clone()
	}
	out := a.Clone()
	if b == nil {
		return out
	}
	for name, fb := range b.Fields {
		if fa, ok := out.Fields[name]; !ok || Wins(fb, fa) {
			out.Fields[name] = fb
		}
	}
	return out
}

// JSONEqual reports whether two JSON values are equal as values (object key
// order and insignificant whitespace do not matter).
func JSONEqual(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}
