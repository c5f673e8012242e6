package syncengine_test

import (
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

var applyNow = time.UnixMilli(t0).UTC()

// snapshot copies the store's maps; stored values are never changed in place.
func (s *memStore) snapshot() memStore {
	return memStore{
		records:   maps.Clone(s.records),
		ops:       maps.Clone(s.ops),
		history:   append([]string(nil), s.history...),
		conflicts: maps.Clone(s.conflicts),
		puts:      s.puts,
	}
}

func mustApplyTx(t *testing.T, tx syncengine.Tx, op *syncengine.Op, pol syncengine.MergePolicy) syncengine.Applied {
	t.Helper()
	res, err := syncengine.Apply(tx, op, pol, applyNow)
	if err != nil {
		t.Fatalf("Apply(%s): %v", op.ID, err)
	}
	return res
}

// phoneOp writes the household field "phone" of rec-1.
func phoneOp(id string, hlc syncengine.HLC, device, value, base string) *syncengine.Op {
	s := opSpec{id: id, hlc: hlc, device: device, set: map[string]string{"phone": `"` + value + `"`}}
	if base != "" {
		s.base = map[string]string{"phone": base}
	}
	return s.op()
}

func TestApplyIdempotentByOpID(t *testing.T) {
	st := newMemStore()
	op := phoneOp("op-1", 10, "dev-a", "111", "")
	first := mustApplyTx(t, st, op, syncengine.MergePolicy{})
	if first.Duplicate || first.Record == nil || len(first.Changed) != 1 {
		t.Fatalf("first Apply = %+v", first)
	}
	before := st.snapshot()
	// The same op again, even carrying a different value (a buggy or
	// malicious re-send), changes nothing.
	again := phoneOp("op-1", 99, "dev-a", "999", "")
	res := mustApplyTx(t, st, again, syncengine.MergePolicy{})
	if !res.Duplicate || res.Record != nil || len(res.Changed) != 0 || len(res.Conflicts) != 0 {
		t.Errorf("second Apply = %+v, want a bare duplicate", res)
	}
	if got := st.snapshot(); !reflect.DeepEqual(got, before) {
		t.Errorf("a duplicate changed the store:\nbefore %+v\nafter  %+v", before, got)
	}
}

func TestApplyKeepsLosersInHistory(t *testing.T) {
	st := newMemStore()
	mustApplyTx(t, st, phoneOp("op-new", 20, "dev-a", "new", ""), syncengine.MergePolicy{})
	res := mustApplyTx(t, st, phoneOp("op-old", 10, "dev-b", "new", ""), syncengine.MergePolicy{})
	if len(res.Changed) != 0 {
		t.Errorf("the older op changed %v", res.Changed)
	}
	if want := []string{"op-new", "op-old"}; !reflect.DeepEqual(st.history, want) {
		t.Errorf("history = %v, want %v", st.history, want)
	}
	if applied, _ := st.OpApplied("op-old"); !applied {
		t.Error("the losing op is not marked applied")
	}
	if st.puts != 1 {
		t.Errorf("PutRecord called %d times, want once (the loser changes no field)", st.puts)
	}
	if got := st.records["household/rec-1"].Fields["phone"].OpID; got != "op-new" {
		t.Errorf("phone written by %s, want op-new", got)
	}
}

// checkConflict asserts the single conflict on rec-1.phone holds exactly the
// candidates named, best first, and that its winner is what the record holds.
func checkConflict(t *testing.T, st *memStore, wantCandidates ...string) *syncengine.Conflict {
	t.Helper()
	cs := st.conflictsOn("household", "rec-1", "phone")
	if len(cs) != 1 {
		t.Fatalf("%d conflicts on phone, want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	var got []string
	for _, v := range c.Candidates {
		got = append(got, v.OpID)
	}
	if !reflect.DeepEqual(got, wantCandidates) {
		t.Errorf("candidates = %v, want %v", got, wantCandidates)
	}
	if c.Status != syncengine.ConflictOpen || c.Area != testArea || !c.OpenedAt.Equal(applyNow) {
		t.Errorf("conflict = %+v", c)
	}
	if cur := st.records["household/rec-1"].Fields["phone"]; c.Winner().OpID != cur.OpID {
		t.Errorf("conflict winner %s, but the record holds %s", c.Winner().OpID, cur.OpID)
	}
	return c
}

func TestApplyConcurrentEditsOpenOneConflict(t *testing.T) {
	st := newMemStore()
	pol := syncengine.MergePolicy{}
	mustApplyTx(t, st, phoneOp("op-0", 10, "dev-a", "000", ""), pol)

	// Two devices change phone from the same base to different values.
	if res := mustApplyTx(t, st, phoneOp("op-b", 20, "dev-b", "bbb", "op-0"), pol); len(res.Conflicts) != 0 {
		t.Fatalf("the first edit from the base opened %d conflicts", len(res.Conflicts))
	}
	res := mustApplyTx(t, st, phoneOp("op-c", 15, "dev-c", "ccc", "op-0"), pol)
	if len(res.Conflicts) != 1 {
		t.Fatalf("the concurrent edit reported %d conflicts, want 1", len(res.Conflicts))
	}
	c := checkConflict(t, st, "op-b", "op-c")
	if c.ID != syncengine.ConflictID("op-c", "phone") {
		t.Errorf("conflict id %s, want the one derived from op-c", c.ID)
	}
	if got := string(st.records["household/rec-1"].Fields["phone"].Value); got != `"bbb"` {
		t.Errorf("phone = %s, want the winner \"bbb\"", got)
	}

	// A third concurrent edit joins the same conflict, and wins.
	res = mustApplyTx(t, st, phoneOp("op-d", 30, "dev-d", "ddd", "op-0"), pol)
	if len(res.Conflicts) != 1 || res.Conflicts[0].ID != c.ID {
		t.Fatalf("the third edit reported %+v, want the existing conflict %s", res.Conflicts, c.ID)
	}
	checkConflict(t, st, "op-d", "op-b", "op-c")

	// A concurrent edit to the value that already won is no new candidate.
	res = mustApplyTx(t, st, phoneOp("op-e", 5, "dev-e", "ddd", "op-0"), pol)
	if len(res.Conflicts) != 0 {
		t.Errorf("an edit agreeing with the winner reported %+v", res.Conflicts)
	}
	checkConflict(t, st, "op-d", "op-b", "op-c")
	if len(st.history) != 5 {
		t.Errorf("history holds %d ops, want 5", len(st.history))
	}
}

func TestApplySequentialEditNoConflict(t *testing.T) {
	st := newMemStore()
	pol := syncengine.MergePolicy{}
	mustApplyTx(t, st, phoneOp("op-0", 10, "dev-a", "000", ""), pol)
	res := mustApplyTx(t, st, phoneOp("op-1", 20, "dev-b", "111", "op-0"), pol)
	res2 := mustApplyTx(t, st, phoneOp("op-2", 30, "dev-a", "222", "op-1"), pol)
	if len(res.Conflicts)+len(res2.Conflicts) != 0 || len(st.conflicts) != 0 {
		t.Errorf("sequential edits opened conflicts: %+v", st.conflicts)
	}
	if got := st.records["household/rec-1"].Fields["phone"]; got.OpID != "op-2" || got.Base != "op-1" {
		t.Errorf("phone = %+v, want op-2 based on op-1", got)
	}
}

// A conflict that is already open and then meets a version it has not seen
// (here a deliberate edit made on top of its winner) must list that version
// too: it is what the record holds, and the supervisor must see it.
func TestApplyJoinedConflictListsTheCurrentVersion(t *testing.T) {
	st := newMemStore()
	pol := syncengine.MergePolicy{}
	mustApplyTx(t, st, phoneOp("op-0", 10, "dev-a", "000", ""), pol)
	mustApplyTx(t, st, phoneOp("op-b", 20, "dev-b", "bbb", "op-0"), pol)
	mustApplyTx(t, st, phoneOp("op-c", 15, "dev-c", "ccc", "op-0"), pol)
	checkConflict(t, st, "op-b", "op-c")
	// Someone who saw op-b corrects it: sequential, no new conflict.
	if res := mustApplyTx(t, st, phoneOp("op-s", 40, "dev-b", "sss", "op-b"), pol); len(res.Conflicts) != 0 {
		t.Fatalf("a sequential edit reported %+v", res.Conflicts)
	}
	// A late edit from the old base contests op-s, the version in place.
	mustApplyTx(t, st, phoneOp("op-l", 25, "dev-l", "lll", "op-0"), pol)
	checkConflict(t, st, "op-s", "op-l", "op-b", "op-c")
}

func TestApplyRefusedOpWritesNothing(t *testing.T) {
	st := newMemStore()
	visits := syncengine.MergePolicy{AppendOnly: true, Annotations: []string{"note"}}
	mustApplyTx(t, st, opSpec{id: "op-1", collection: "visit", hlc: 10, set: map[string]string{"date": `"2024-05-01"`}}.op(), visits)
	before := st.snapshot()
	bad := opSpec{id: "op-2", collection: "visit", hlc: 20, set: map[string]string{"date": `"2024-06-01"`, "note": `"x"`}}.op()
	res, err := syncengine.Apply(st, bad, visits, applyNow)
	if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
		t.Fatalf("Apply = %+v, %v; want %s", res, err, syncengine.EINVALID)
	}
	if got := st.snapshot(); !reflect.DeepEqual(got, before) {
		t.Error("a refused op changed the store")
	}
	if applied, _ := st.OpApplied("op-2"); applied {
		t.Error("a refused op is marked applied: a corrected re-send would be ignored")
	}
	// An annotation by a new op is accepted.
	mustApplyTx(t, st, opSpec{id: "op-3", collection: "visit", hlc: 30, set: map[string]string{"note": `"复核"`}}.op(), visits)
}

// failingTx fails one named method of a memStore.
type failingTx struct {
	*memStore
	fail string
}

var errDisk = errors.New("disk full")

func (f failingTx) OpApplied(id string) (bool, error) {
	if f.fail == "OpApplied" {
		return false, errDisk
	}
	return f.memStore.OpApplied(id)
}

func (f failingTx) Record(collection, id string) (*syncengine.Record, error) {
	if f.fail == "Record" {
		return nil, errDisk
	}
	return f.memStore.Record(collection, id)
}

func (f failingTx) PutRecord(rec *syncengine.Record, op *syncengine.Op) error {
	if f.fail == "PutRecord" {
		return errDisk
	}
	return f.memStore.PutRecord(rec, op)
}

func (f failingTx) AddOp(op *syncengine.Op) error {
	if f.fail == "AddOp" {
		return errDisk
	}
	return f.memStore.AddOp(op)
}

func (f failingTx) OpenConflict(collection, id, field string) (*syncengine.Conflict, error) {
	if f.fail == "OpenConflict" {
		return nil, errDisk
	}
	return f.memStore.OpenConflict(collection, id, field)
}

func (f failingTx) PutConflict(c *syncengine.Conflict) error {
	if f.fail == "PutConflict" {
		return errDisk
	}
	return f.memStore.PutConflict(c)
}

func TestApplyReturnsStoreErrors(t *testing.T) {
	for _, method := range []string{"OpApplied", "Record", "PutRecord", "AddOp", "OpenConflict", "PutConflict"} {
		t.Run(method, func(t *testing.T) {
			st := newMemStore()
			mustApplyTx(t, st, phoneOp("op-0", 10, "dev-a", "000", ""), syncengine.MergePolicy{})
			// A concurrent edit that wins touches every method of the Tx.
			_, err := syncengine.Apply(failingTx{st, method}, phoneOp("op-1", 20, "dev-b", "111", ""), syncengine.MergePolicy{}, applyNow)
			if !errors.Is(err, errDisk) {
				t.Fatalf("Apply = %v, want the store's error", err)
			}
			if syncengine.ErrorCode(err) == syncengine.EINVALID {
				t.Error("a store failure reads as a refused op")
			}
		})
	}
}
