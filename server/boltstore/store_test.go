package boltstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{LockTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return s
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// opMaker makes ops with increasing stamps and ids op-001, op-002, …
type opMaker struct{ n int }

func (m *opMaker) op(col, id, area string, set map[string]any) *syncengine.Op {
	m.n++
	s := map[string]json.RawMessage{}
	for k, v := range set {
		s[k] = raw(v)
	}
	return &syncengine.Op{ID: fmt.Sprintf("op-%03d", m.n), RecordID: id, Collection: col, Area: area, Author: "wang", Device: "d1",
		HLC: syncengine.MakeHLC(t0.UnixMilli()+int64(m.n), 0), Set: s, ReceivedAt: t0}
}

func apply(t *testing.T, s *boltstore.Store, ops ...*syncengine.Op) {
	t.Helper()
	err := s.UpdateSolo(func(tx *boltstore.Tx) error {
		for _, op := range ops {
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, t0); err != nil {
				return fmt.Errorf("apply %s: %w", op.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReopenFindsEverything writes every kind of data, closes the file,
// reopens it and finds it all again.
func TestReopenFindsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ruhu.db")
	s := openStore(t, path)
	epoch, secret := s.Epoch(), slices.Clone(s.Secret())
	if len(epoch) != 16 || len(secret) != 32 {
		t.Fatalf("epoch %q, secret of %d bytes", epoch, len(secret))
	}
	var m opMaker
	create := m.op("households", "h1", "340199001001", map[string]any{"head_name": "张三", "phone": "1"})
	a := m.op("households", "h1", "340199001001", map[string]any{"phone": "2"})
	a.Base = map[string]string{"phone": create.ID}
	b := m.op("households", "h1", "340199001001", map[string]any{"phone": "3"})
	b.Base = map[string]string{"phone": create.ID}
	b.Flags, b.StatedHLC = []string{syncengine.FlagRestamped}, b.HLC+99
	b.DeviceTime, b.ServerTimeEst = t0.Add(-time.Hour), t0
	assign := m.op("assignments", "a1", "340199001001", map[string]any{"officer": "wang", "household_id": "h1", "active": true})
	apply(t, s, create, a, b, assign)
	revoked := t0.Add(time.Minute)
	err := s.UpdateSolo(func(tx *boltstore.Tx) error {
		if err := tx.PutUser(&boltstore.User{Username: "wang", Role: "officer", Scopes: []string{"340199001"}, PasswordHash: "h", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutDevice(&boltstore.Device{ID: "d1", Username: "wang", Name: "平板", PublicKey: []byte{1, 2, 3}, EnrolledAt: t0, RefreshHash: boltstore.HashToken("r1")}); err != nil {
			return err
		}
		return tx.PutDevice(&boltstore.Device{ID: "d2", Username: "wang", EnrolledAt: t0, RevokedAt: &revoked, RefreshHash: boltstore.HashToken("r2")})
	})
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	_ = s.View(func(tx *boltstore.Tx) error { seq = tx.LastSeq(); return nil })

	// A second process cannot open the file while it is held.
	if _, err := boltstore.Open(path, boltstore.Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
	defer s.Close()
	if s.Epoch() != epoch || !slices.Equal(s.Secret(), secret) {
		t.Errorf("epoch or secret changed on reopen")
	}
	err = s.View(func(tx *boltstore.Tx) error {
		if tx.LastSeq() != seq {
			t.Errorf("last seq %d, want %d", tx.LastSeq(), seq)
		}
		rec, err := tx.Record("households", "h1")
		if err != nil || rec == nil {
			t.Fatalf("record: %v %v", rec, err)
		}
		if f := rec.Fields["phone"]; string(f.Value) != `"3"` || f.OpID != b.ID || f.Base != create.ID || !slices.Equal(f.Flags, b.Flags) || f.HLC != b.HLC {
			t.Errorf("phone version %+v", f)
		}
		if string(rec.Fields["head_name"].Value) != `"张三"` || rec.Area != "340199001001" {
			t.Errorf("record %+v", rec)
		}
		hist, err := tx.History("households", "h1")
		if err != nil {
			return err
		}
		var ids []string
		for _, h := range hist {
			ids = append(ids, h.ID)
		}
		if !slices.Equal(ids, []string{create.ID, a.ID, b.ID}) {
			t.Errorf("history %v", ids)
		}
		so, err := tx.StoredOp(b.ID)
		if err != nil || so == nil {
			t.Fatalf("stored op: %v %v", so, err)
		}
		back := so.Op()
		if back.StatedHLC != b.StatedHLC || !back.DeviceTime.Equal(b.DeviceTime) || !back.ServerTimeEst.Equal(b.ServerTimeEst) ||
			!back.ReceivedAt.Equal(t0) || !slices.Equal(back.Flags, b.Flags) || back.Base["phone"] != create.ID {
			t.Errorf("stored op round trip: %+v", back)
		}
		if ok, _ := tx.OpApplied(a.ID); !ok {
			t.Errorf("op %s not applied after reopen", a.ID)
		}
		c, err := tx.OpenConflict("households", "h1", "phone")
		if err != nil || c == nil || len(c.Candidates) != 2 || c.Candidates[0].OpID != b.ID || c.Status != syncengine.ConflictOpen {
			t.Errorf("open conflict after reopen: %+v %v", c, err)
		}
		if !tx.Assigned("wang", "h1") {
			t.Errorf("assignment index lost")
		}
		u, err := tx.User("wang")
		if err != nil || u == nil || u.Role != "officer" || !u.CreatedAt.Equal(t0) {
			t.Errorf("user %+v %v", u, err)
		}
		d, err := tx.DeviceByRefresh("r1")
		if err != nil || d == nil || d.ID != "d1" || d.Name != "平板" || d.Revoked() || !slices.Equal(d.PublicKey, []byte{1, 2, 3}) {
			t.Errorf("device by refresh %+v %v", d, err)
		}
		d2, err := tx.Device("d2")
		if err != nil || d2 == nil || !d2.Revoked() || !d2.RevokedAt.Equal(revoked) {
			t.Errorf("revoked device %+v %v", d2, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefreshIndexRotates: replacing a device's refresh hash drops the old
// token from the index.
func TestRefreshIndexRotates(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	put := func(hash string) {
		if err := s.UpdateSolo(func(tx *boltstore.Tx) error {
			return tx.PutDevice(&boltstore.Device{ID: "d1", Username: "wang", RefreshHash: hash})
		}); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(tok string) string {
		var id string
		_ = s.View(func(tx *boltstore.Tx) error {
			d, err := tx.DeviceByRefresh(tok)
			if d != nil {
				id = d.ID
			}
			return err
		})
		return id
	}
	put(boltstore.HashToken("old"))
	put(boltstore.HashToken("new"))
	if lookup("old") != "" || lookup("new") != "d1" {
		t.Errorf("after rotation: old -> %q, new -> %q", lookup("old"), lookup("new"))
	}
}

// TestHistoryOrder: history is in acceptance order (not stamp order), and
// one record's history never mixes with another whose id extends it.
func TestHistoryOrder(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	var m opMaker
	early := m.op("households", "h1", "340199001001", map[string]any{"head_name": "a"})
	mid := m.op("households", "h1", "340199001001", map[string]any{"phone": "1"})
	other := m.op("households", "h10", "340199001001", map[string]any{"head_name": "b"})
	otherCol := m.op("members", "h1", "340199001001", map[string]any{"name": "c"})
	late := m.op("households", "h1", "340199001001", map[string]any{"phone": "2"})
	// mid arrives last although it was stamped before late: it loses the
	// merge and still joins the history, at the end.
	apply(t, s, early, other, late, otherCol, mid)
	_ = s.View(func(tx *boltstore.Tx) error {
		for _, tc := range []struct {
			col, id string
			want    []string
		}{
			{"households", "h1", []string{early.ID, late.ID, mid.ID}},
			{"households", "h10", []string{other.ID}},
			{"members", "h1", []string{otherCol.ID}},
			{"households", "h", nil},
		} {
			hist, err := tx.History(tc.col, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range hist {
				ids = append(ids, h.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("history of %s/%s: %v, want %v", tc.col, tc.id, ids, tc.want)
			}
		}
		rec, _ := tx.Record("households", "h1")
		if string(rec.Fields["phone"].Value) != `"2"` {
			t.Errorf("late-arriving older write won: %s", rec.Fields["phone"].Value)
		}
		return nil
	})
}

// TestChangesAfter: the change index holds each record once, at its last
// change, so a pull walks it once whatever its number of edits.
func TestChangesAfter(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	var m opMaker
	area := "340199001001"
	apply(t, s, m.op("households", "A", area, map[string]any{"x": 1}), m.op("households", "B", area, map[string]any{"x": 1}))
	var mid uint64
	_ = s.View(func(tx *boltstore.Tx) error { mid = tx.LastSeq(); return nil })
	apply(t, s, m.op("households", "A", area, map[string]any{"x": 2}), m.op("households", "C", area, map[string]any{"x": 1}),
		m.op("households", "B", area, map[string]any{"x": 2}), m.op("households", "A", area, map[string]any{"y": 3}))
	// An op that changes no winning value (an older stamp) adds history
	// but does not move its record.
	stale := m.op("households", "C", area, map[string]any{"x": 0})
	stale.HLC = syncengine.MakeHLC(t0.UnixMilli()-1000, 0)
	apply(t, s, stale)

	walk := func(from uint64, stopAfter int) ([]string, uint64) {
		var keys []string
		var last uint64
		_ = s.View(func(tx *boltstore.Tx) error {
			var prev uint64
			var err error
			last, err = tx.ChangesAfter(from, func(ch boltstore.Change) bool {
				if ch.Seq <= prev || ch.Seq <= from {
					t.Errorf("change seq %d after %d (from %d)", ch.Seq, prev, from)
				}
				prev = ch.Seq
				keys = append(keys, ch.Record.ID+fmt.Sprint(len(ch.Record.Fields)))
				return stopAfter == 0 || len(keys) < stopAfter
			})
			if err != nil {
				t.Fatal(err)
			}
			return nil
		})
		return keys, last
	}
	all, last := walk(0, 0)
	if !slices.Equal(all, []string{"C1", "B1", "A2"}) {
		t.Errorf("changes from 0: %v", all)
	}
	if got, _ := walk(mid, 0); !slices.Equal(got, []string{"C1", "B1", "A2"}) {
		t.Errorf("changes after the first two edits: %v", got)
	}
	first, stop := walk(0, 1)
	if !slices.Equal(first, []string{"C1"}) {
		t.Errorf("stopped walk: %v", first)
	}
	rest, end := walk(stop, 0)
	if !slices.Equal(rest, []string{"B1", "A2"}) || end != last {
		t.Errorf("walk resumed from %d: %v ending %d, want B1 A2 ending %d", stop, rest, end, last)
	}
	if got, none := walk(last, 0); len(got) != 0 || none != last {
		t.Errorf("walk from the end: %v, last %d", got, none)
	}
	_ = s.View(func(tx *boltstore.Tx) error {
		if !tx.HasChangesAfter(stop) || tx.HasChangesAfter(last) {
			t.Errorf("HasChangesAfter(%d) %v, HasChangesAfter(%d) %v", stop, tx.HasChangesAfter(stop), last, tx.HasChangesAfter(last))
		}
		if tx.LastSeq() < last {
			t.Errorf("last seq %d below last change %d", tx.LastSeq(), last)
		}
		return nil
	})
}

// TestAssignmentIndex: the officer→household index follows every edit of
// the assignments collection.
func TestAssignmentIndex(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	var m opMaker
	area := "340199001001"
	steps := []struct {
		name string
		op   *syncengine.Op
		want map[string]bool // "officer/household" -> assigned
	}{
		{"create", m.op("assignments", "a1", area, map[string]any{"officer": "wang", "household_id": "h1", "active": true}),
			map[string]bool{"wang/h1": true, "li/h1": false, "wang/h2": false}},
		{"deactivate", m.op("assignments", "a1", area, map[string]any{"active": false}),
			map[string]bool{"wang/h1": false}},
		{"reactivate", m.op("assignments", "a1", area, map[string]any{"active": true}),
			map[string]bool{"wang/h1": true}},
		{"hand over to another officer", m.op("assignments", "a1", area, map[string]any{"officer": "li"}),
			map[string]bool{"wang/h1": false, "li/h1": true}},
		{"move to another household", m.op("assignments", "a1", area, map[string]any{"household_id": "h2"}),
			map[string]bool{"li/h1": false, "li/h2": true}},
		{"inactive from the start", m.op("assignments", "a2", area, map[string]any{"officer": "zhao", "household_id": "h3", "active": false}),
			map[string]bool{"zhao/h3": false, "li/h2": true}},
		{"a household record named like an assignment is not one", m.op("households", "a3", area, map[string]any{"officer": "sun", "household_id": "h4", "active": true}),
			map[string]bool{"sun/h4": false}},
		{"delete", deleteOp(m.op("assignments", "a1", area, nil)),
			map[string]bool{"li/h2": false}},
		// A new assignment for the same pair is made before the old one is
		// ended (a yearly renewal): ending the old one must not take the
		// officer off the household.
		{"renewal: new assignment", m.op("assignments", "a4", area, map[string]any{"officer": "wang", "household_id": "h5", "active": true, "start_date": "2026-01-01"}),
			map[string]bool{"wang/h5": true}},
		{"renewal: second assignment of the same pair", m.op("assignments", "a5", area, map[string]any{"officer": "wang", "household_id": "h5", "active": true, "start_date": "2027-01-01"}),
			map[string]bool{"wang/h5": true}},
		{"renewal: old one ended", m.op("assignments", "a4", area, map[string]any{"active": false, "end_date": "2026-12-31"}),
			map[string]bool{"wang/h5": true}},
		{"renewal: new one ended too", m.op("assignments", "a5", area, map[string]any{"active": false}),
			map[string]bool{"wang/h5": false}},
	}
	for _, st := range steps {
		apply(t, s, st.op)
		_ = s.View(func(tx *boltstore.Tx) error {
			for pair, want := range st.want {
				officer, household, _ := strings.Cut(pair, "/")
				if got := tx.Assigned(officer, household); got != want {
					t.Errorf("after %s: Assigned(%s, %s) = %v, want %v", st.name, officer, household, got, want)
				}
			}
			return nil
		})
	}
	// The index survives a reopen of the file too (checked in
	// TestReopenFindsEverything); a backup carries it and gets a new epoch.
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(path); err != nil {
		t.Fatal(err)
	}
	b := openStore(t, path)
	defer b.Close()
	if b.Epoch() == s.Epoch() {
		t.Errorf("backup kept the epoch %s", s.Epoch())
	}
	_ = b.View(func(tx *boltstore.Tx) error {
		if tx.Assigned("wang", "h1") || tx.Assigned("li", "h2") {
			t.Errorf("backup index differs")
		}
		return nil
	})
}

func deleteOp(op *syncengine.Op) *syncengine.Op {
	op.Set = nil
	op.Tombstone = &syncengine.Tombstone{Reason: "assigned by mistake"}
	return op
}
