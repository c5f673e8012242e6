// Package storetest is the conformance suite every core.Store passes:
// records, history, the change feed, conflicts, the assignment index,
// accounts, devices and refresh tokens, rollback, concurrent writers, and
// what the HTTP server keeps beside them (blob facts, upload state, web
// sessions, the audit chain, area scans and report rows).
// boltstore and pgstore run it from their tests, so the core can rely on
// one behaviour whichever store a server runs on.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Opener returns a new, empty store that lives until the test ends.
type Opener func(t *testing.T) core.Store

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const area = "340199001001"

// Run runs every conformance test against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, core.Store)
	}{
		{"RecordsAndHistory", testRecordsAndHistory},
		{"ChangeFeed", testChangeFeed},
		{"ChangeFeedPages", testChangeFeedPages},
		{"Conflicts", testConflicts},
		{"Assignments", testAssignments},
		{"Accounts", testAccounts},
		{"Rollback", testRollback},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Identity", testIdentity},
		{"Blobs", testBlobs},
		{"Uploads", testUploads},
		{"WebSessions", testWebSessions},
		{"Audit", testAudit},
		{"Scans", testScans},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
			if t.Failed() {
				return
			}
			if err := core.New(slog.New(slog.DiscardHandler), s, nil, core.Options{}).Check(t.Context()); err != nil {
				t.Errorf("Check after the test: %v", err)
			}
		})
	}
}

// opMaker makes ops with increasing stamps and ids.
type opMaker struct {
	prefix string
	n      int
}

func (m *opMaker) op(col, id string, set map[string]any) *syncengine.Op {
	m.n++
	s := map[string]json.RawMessage{}
	for k, v := range set {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		s[k] = b
	}
	return &syncengine.Op{ID: fmt.Sprintf("%sop-%04d", m.prefix, m.n), RecordID: id, Collection: col, Area: area, Author: "wang",
		Device: "d1", HLC: syncengine.MakeHLC(t0.UnixMilli()+int64(m.n), 0), Set: s, ReceivedAt: t0}
}

func apply(t *testing.T, s core.Store, ops ...*syncengine.Op) {
	t.Helper()
	if err := applyErr(s, ops...); err != nil {
		t.Fatal(err)
	}
}

func applyErr(s core.Store, ops ...*syncengine.Op) error {
	return s.Update(func(tx core.Tx) error {
		for _, op := range ops {
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, t0); err != nil {
				return fmt.Errorf("apply %s: %w", op.ID, err)
			}
		}
		return nil
	})
}

func view(t *testing.T, s core.Store, fn func(core.Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatal(err)
	}
}

func testRecordsAndHistory(t *testing.T, s core.Store) {
	var m opMaker
	create := m.op(collection.Households, "h1", map[string]any{"head_name": "张三", "phone": "1"})
	a := m.op(collection.Households, "h1", map[string]any{"phone": "2"})
	a.Base = map[string]string{"phone": create.ID}
	b := m.op(collection.Households, "h1", map[string]any{"phone": "3"})
	b.Base = map[string]string{"phone": create.ID}
	b.Flags, b.StatedHLC = []string{syncengine.FlagRestamped}, b.HLC+99
	other := m.op(collection.Households, "h2", map[string]any{"head_name": "李四"})
	apply(t, s, create, a)
	apply(t, s, b, other)
	view(t, s, func(tx core.Tx) error {
		r, err := tx.Record(collection.Households, "h1")
		if err != nil || r == nil {
			return fmt.Errorf("record h1: %v, %v", r, err)
		}
		if got := string(r.Values()["head_name"]); got != `"张三"` {
			t.Errorf("head_name = %s", got)
		}
		if missing, err := tx.Record(collection.Households, "nope"); missing != nil || err != nil {
			t.Errorf("absent record: %v, %v", missing, err)
		}
		if ar, ok, err := tx.RecordArea(collection.Households, "h1"); ar != area || !ok || err != nil {
			t.Errorf("RecordArea = %q %v %v", ar, ok, err)
		}
		if _, ok, err := tx.RecordArea(collection.Households, "nope"); ok || err != nil {
			t.Errorf("RecordArea of an absent record: %v %v", ok, err)
		}
		h, err := tx.History(collection.Households, "h1")
		if err != nil {
			return err
		}
		var ids []string
		for _, op := range h {
			ids = append(ids, op.ID)
		}
		if want := []string{create.ID, a.ID, b.ID}; !slices.Equal(ids, want) {
			t.Errorf("history = %v, want %v", ids, want)
		}
		got, err := tx.AcceptedOp(b.ID)
		if err != nil || got == nil {
			return fmt.Errorf("accepted op %s: %v, %v", b.ID, got, err)
		}
		if !got.HasFlag(syncengine.FlagRestamped) || got.StatedHLC != b.StatedHLC || !got.ReceivedAt.Equal(t0) ||
			string(got.Set["phone"]) != `"3"` || got.Base["phone"] != create.ID {
			t.Errorf("accepted op read back as %+v", got)
		}
		if got.Digest != syncengine.OpDigest(b) {
			t.Errorf("digest %q, want %q", got.Digest, syncengine.OpDigest(b))
		}
		if none, err := tx.AcceptedOp("nope"); none != nil || err != nil {
			t.Errorf("AcceptedOp(absent) = %v, %v", none, err)
		}
		if ok, err := tx.OpApplied(a.ID); !ok || err != nil {
			t.Errorf("OpApplied(%s) = %v, %v", a.ID, ok, err)
		}
		if d, ok := tx.(syncengine.OpDigests); ok {
			if got, found, err := d.AcceptedDigest(a.ID); !found || err != nil || got != syncengine.OpDigest(a) {
				t.Errorf("AcceptedDigest = %q %v %v", got, found, err)
			}
		}
		var seen []string
		err = tx.ForEachRecord(collection.Households, func(r *syncengine.Record) error {
			seen = append(seen, r.ID)
			return nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(seen, []string{"h1", "h2"}) {
			t.Errorf("ForEachRecord = %v", seen)
		}
		return nil
	})
	// A resend of an accepted op changes nothing; the same id with other
	// content is refused.
	if err := applyErr(s, a); err != nil {
		t.Fatalf("resend: %v", err)
	}
	reused := *a
	reused.Set = map[string]json.RawMessage{"phone": json.RawMessage(`"999"`)}
	if err := applyErr(s, &reused); syncengine.ErrorCode(err) != syncengine.ECONFLICT {
		t.Errorf("an op id reused with other content: %v, want ECONFLICT", err)
	}
}

// feed returns the change feed after seq as record ids with their seqs.
func feed(t *testing.T, s core.Store, after uint64) (ids []string, seqs []uint64, last uint64) {
	t.Helper()
	view(t, s, func(tx core.Tx) error {
		var err error
		last, err = tx.ChangesAfter(after, func(seq uint64, ar string, raw []byte) bool {
			var w syncengine.WireRecord
			if err := json.Unmarshal(raw, &w); err != nil {
				t.Errorf("change %d is not a wire record: %v", seq, err)
			}
			if ar != w.Area {
				t.Errorf("change %d: area %q, record's %q", seq, ar, w.Area)
			}
			ids = append(ids, w.ID)
			seqs = append(seqs, seq)
			return true
		})
		return err
	})
	return ids, seqs, last
}

func testChangeFeed(t *testing.T, s core.Store) {
	var m opMaker
	apply(t, s, m.op(collection.Households, "h1", map[string]any{"phone": "1"}))
	apply(t, s, m.op(collection.Households, "h2", map[string]any{"phone": "1"}))
	apply(t, s, m.op(collection.Households, "h3", map[string]any{"phone": "1"}))
	apply(t, s, m.op(collection.Households, "h1", map[string]any{"phone": "2"}))
	ids, seqs, last := feed(t, s, 0)
	if !slices.Equal(ids, []string{"h2", "h3", "h1"}) {
		t.Errorf("feed = %v, want each record once at its last change", ids)
	}
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("seqs %v not strictly increasing", seqs)
	}
	var lastSeq uint64
	view(t, s, func(tx core.Tx) error {
		lastSeq = tx.LastSeq()
		if !tx.HasChangesAfter(0) || tx.HasChangesAfter(lastSeq) {
			t.Errorf("HasChangesAfter(0)=%v HasChangesAfter(last)=%v", tx.HasChangesAfter(0), tx.HasChangesAfter(lastSeq))
		}
		return nil
	})
	if last != seqs[len(seqs)-1] || lastSeq < last {
		t.Errorf("ChangesAfter returned %d, LastSeq %d, feed ends at %d", last, lastSeq, seqs[len(seqs)-1])
	}
	if ids, _, _ := feed(t, s, seqs[0]); !slices.Equal(ids, []string{"h3", "h1"}) {
		t.Errorf("feed after %d = %v", seqs[0], ids)
	}
	if ids, _, got := feed(t, s, lastSeq); len(ids) != 0 || got != lastSeq {
		t.Errorf("feed after the last seq = %v, returned %d", ids, got)
	}
	// Stopping early returns the last sequence visited.
	view(t, s, func(tx core.Tx) error {
		got, err := tx.ChangesAfter(0, func(uint64, string, []byte) bool { return false })
		if got != seqs[0] || err != nil {
			t.Errorf("stopped walk returned %d, %v; want %d", got, err, seqs[0])
		}
		return nil
	})
}

// testChangeFeedPages writes more changes than a store reads per query.
func testChangeFeedPages(t *testing.T, s core.Store) {
	m := opMaker{}
	const n = 1203
	var ops []*syncengine.Op
	for i := range n {
		ops = append(ops, m.op(collection.Households, fmt.Sprintf("h%05d", i), map[string]any{"phone": "1"}))
	}
	apply(t, s, ops...)
	ids, _, _ := feed(t, s, 0)
	if len(ids) != n || ids[0] != "h00000" || ids[n-1] != fmt.Sprintf("h%05d", n-1) {
		t.Fatalf("feed holds %d records (%v…), want %d", len(ids), ids[:min(3, len(ids))], n)
	}
	count := 0
	view(t, s, func(tx core.Tx) error {
		return tx.ForEachRecord(collection.Households, func(*syncengine.Record) error { count++; return nil })
	})
	if count != n {
		t.Errorf("ForEachRecord visited %d, want %d", count, n)
	}
}

func testConflicts(t *testing.T, s core.Store) {
	var m opMaker
	create := m.op(collection.Households, "h1", map[string]any{"phone": "1"})
	a := m.op(collection.Households, "h1", map[string]any{"phone": "2"})
	b := m.op(collection.Households, "h1", map[string]any{"phone": "3"})
	a.Base = map[string]string{"phone": create.ID}
	b.Base = map[string]string{"phone": create.ID}
	apply(t, s, create, a, b)
	var open *syncengine.Conflict
	view(t, s, func(tx core.Tx) error {
		var err error
		if open, err = tx.OpenConflict(collection.Households, "h1", "phone"); err != nil || open == nil {
			return fmt.Errorf("open conflict: %v, %v", open, err)
		}
		if len(open.Candidates) != 2 || open.Area != area || open.Status != syncengine.ConflictOpen {
			t.Errorf("conflict read back as %+v", open)
		}
		byID, err := tx.Conflict(open.ID)
		if err != nil || byID == nil || byID.ID != open.ID || !byID.OpenedAt.Equal(open.OpenedAt) {
			t.Errorf("Conflict(%s) = %+v, %v", open.ID, byID, err)
		}
		if none, err := tx.OpenConflict(collection.Households, "h1", "head_name"); none != nil || err != nil {
			t.Errorf("no conflict on another field: %v, %v", none, err)
		}
		return nil
	})
	// Resolving closes it: no open conflict on the field, still listed.
	err := s.Update(func(tx core.Tx) error {
		c, err := tx.Conflict(open.ID)
		if err != nil {
			return err
		}
		c.Status = syncengine.ConflictResolved
		c.Resolution = &syncengine.Resolution{By: "li", At: t0, Value: json.RawMessage(`"3"`), Note: "电话核实"}
		return tx.PutConflict(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx core.Tx) error {
		if c, err := tx.OpenConflict(collection.Households, "h1", "phone"); c != nil || err != nil {
			t.Errorf("resolved conflict still open: %v, %v", c, err)
		}
		var all []*syncengine.Conflict
		if err := tx.Conflicts(func(c *syncengine.Conflict) bool { all = append(all, c); return true }); err != nil {
			return err
		}
		if len(all) != 1 || all[0].Status != syncengine.ConflictResolved || all[0].Resolution == nil || all[0].Resolution.Note != "电话核实" {
			t.Errorf("conflicts = %+v", all)
		}
		return nil
	})
}

func testAssignments(t *testing.T, s core.Store) {
	var m opMaker
	apply(t, s, m.op(collection.Assignments, "as1", map[string]any{"officer": "wang", "household_id": "h1", "active": true}))
	apply(t, s, m.op(collection.Assignments, "as2", map[string]any{"officer": "wang", "household_id": "h2", "active": true}))
	apply(t, s, m.op(collection.Assignments, "as3", map[string]any{"officer": "wang", "household_id": "h2", "active": true}))
	apply(t, s, m.op(collection.Assignments, "as2", map[string]any{"active": false}))
	view(t, s, func(tx core.Tx) error {
		for _, c := range []struct {
			officer, household string
			want               bool
		}{{"wang", "h1", true}, {"wang", "h2", true}, {"li", "h1", false}, {"wang", "h9", false}} {
			if got := tx.Assigned(c.officer, c.household); got != c.want {
				t.Errorf("Assigned(%s, %s) = %v, want %v", c.officer, c.household, got, c.want)
			}
		}
		return nil
	})
	apply(t, s, m.op(collection.Assignments, "as3", map[string]any{"active": false}))
	view(t, s, func(tx core.Tx) error {
		if tx.Assigned("wang", "h2") {
			t.Error("wang still assigned to h2 after both assignments ended")
		}
		return nil
	})
}

func testAccounts(t *testing.T, s core.Store) {
	now := t0.Truncate(time.Millisecond)
	users := []*core.User{
		{Username: "zhang", DisplayName: "张工", Role: "county", Scopes: []string{"340199"}, PasswordHash: "$argon2id$x", CreatedAt: now},
		{Username: "li", Role: "officer", Scopes: []string{"340199001001"}, PasswordHash: "$argon2id$y", Disabled: true, CreatedAt: now},
	}
	revoked := now.Add(time.Hour)
	dev := &core.Device{ID: "dev1", Username: "li", Name: "平板1", PublicKey: []byte{1, 2, 3}, EnrolledAt: now,
		RefreshHash: core.HashToken("token-1")}
	err := s.Update(func(tx core.Tx) error {
		for _, u := range users {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		if err := tx.PutDevice(dev); err != nil {
			return err
		}
		return tx.PutDevice(&core.Device{ID: "dev0", Username: "zhang", Name: "旧", EnrolledAt: now, RevokedAt: &revoked})
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx core.Tx) error {
		u, err := tx.User("zhang")
		if err != nil || u == nil || u.DisplayName != "张工" || !slices.Equal(u.Scopes, []string{"340199"}) || !u.CreatedAt.Equal(now) {
			t.Errorf("User(zhang) = %+v, %v", u, err)
		}
		if none, err := tx.User("nobody"); none != nil || err != nil {
			t.Errorf("User(nobody) = %v, %v", none, err)
		}
		us, err := tx.Users()
		if err != nil || len(us) != 2 || us[0].Username != "li" || !us[0].Disabled {
			t.Errorf("Users() = %+v, %v", us, err)
		}
		d, err := tx.DeviceByRefresh("token-1")
		if err != nil || d == nil || d.ID != "dev1" || string(d.PublicKey) != "\x01\x02\x03" || d.Revoked() {
			t.Errorf("DeviceByRefresh = %+v, %v", d, err)
		}
		ds, err := tx.Devices()
		if err != nil || len(ds) != 2 || ds[0].ID != "dev0" || !ds[0].Revoked() || !ds[0].RevokedAt.Equal(revoked) {
			t.Errorf("Devices() = %+v, %v", ds, err)
		}
		return nil
	})
	// Rotation: the old token stops working, the new one finds the device.
	err = s.Update(func(tx core.Tx) error {
		d, err := tx.Device("dev1")
		if err != nil || d == nil {
			return fmt.Errorf("device dev1: %v, %v", d, err)
		}
		d.RefreshHash = core.HashToken("token-2")
		return tx.PutDevice(d)
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx core.Tx) error {
		if d, err := tx.DeviceByRefresh("token-1"); d != nil || err != nil {
			t.Errorf("rotated-out token still finds %v (%v)", d, err)
		}
		if d, err := tx.DeviceByRefresh("token-2"); d == nil || err != nil || d.ID != "dev1" {
			t.Errorf("new token finds %v (%v)", d, err)
		}
		if d, err := tx.Device("nope"); d != nil || err != nil {
			t.Errorf("Device(nope) = %v, %v", d, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s core.Store) {
	var m opMaker
	apply(t, s, m.op(collection.Households, "h1", map[string]any{"phone": "1"}))
	_, _, before := feed(t, s, 0)
	boom := errors.New("boom")
	err := s.Update(func(tx core.Tx) error {
		if _, err := syncengine.Apply(tx, m.op(collection.Households, "h2", map[string]any{"phone": "1"}), syncengine.MergePolicy{}, t0); err != nil {
			return err
		}
		if err := tx.PutUser(&core.User{Username: "ghost", Role: "admin"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the use case's error", err)
	}
	view(t, s, func(tx core.Tx) error {
		if r, _ := tx.Record(collection.Households, "h2"); r != nil {
			t.Error("a rolled-back record is stored")
		}
		if u, _ := tx.User("ghost"); u != nil {
			t.Error("a rolled-back user is stored")
		}
		if tx.HasChangesAfter(before) {
			t.Error("a rolled-back change is in the feed")
		}
		return nil
	})
}

// testConcurrentWriters: writers at once lose nothing, and the feed holds
// each record once in strictly increasing sequence.
func testConcurrentWriters(t *testing.T, s core.Store) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			m := opMaker{prefix: fmt.Sprintf("w%d-", w)}
			for i := range each {
				// Every writer also edits one shared record, so the
				// merges read and write the same row.
				op := m.op(collection.Households, fmt.Sprintf("w%d-h%d", w, i), map[string]any{"phone": "1"})
				shared := m.op(collection.Households, "shared", map[string]any{fmt.Sprintf("f%d", w): i})
				if err := applyErr(s, op, shared); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids, seqs, _ := feed(t, s, 0)
	if len(ids) != writers*each+1 {
		t.Errorf("feed holds %d records, want %d", len(ids), writers*each+1)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("feed seqs not increasing at %d: %d after %d", i, seqs[i], seqs[i-1])
		}
	}
	view(t, s, func(tx core.Tx) error {
		r, err := tx.Record(collection.Households, "shared")
		if err != nil || r == nil {
			return fmt.Errorf("shared record: %v, %v", r, err)
		}
		for w := range writers {
			if got := string(r.Values()[fmt.Sprintf("f%d", w)]); got != fmt.Sprint(each-1) {
				t.Errorf("shared f%d = %s, want %d (a lost update)", w, got, each-1)
			}
		}
		h, err := tx.History(collection.Households, "shared")
		if err != nil {
			return err
		}
		if len(h) != writers*each {
			t.Errorf("shared history holds %d ops, want %d", len(h), writers*each)
		}
		return nil
	})
}

func testIdentity(t *testing.T, s core.Store) {
	if len(s.Epoch()) < 16 || len(s.Secret()) < 32 {
		t.Errorf("epoch %q, secret of %d bytes", s.Epoch(), len(s.Secret()))
	}
}
