package boltstore_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestForEachRecordIn: only the collection's records under the prefix are
// returned, in id order, ids with JSON escapes included.
func TestForEachRecordIn(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	var m opMaker
	apply(t, s,
		m.op("visits", "v1", "340199001001", map[string]any{"n": 1}),
		m.op("visits", `v"2\`, "340199001002", map[string]any{"n": 2}),
		m.op("visits", "v3", "340199002001", map[string]any{"n": 3}),
		m.op("visits", "v4", "340188001001", map[string]any{"n": 4}),
		m.op("visitsx", "v5", "340199001001", map[string]any{"n": 5}),
		m.op("households", "h1", "340199001001", map[string]any{"n": 6}),
	)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"v1", `v"2\`, "v3", "v4"}},
		{"340199", []string{"v1", `v"2\`, "v3"}},
		{"340199001", []string{"v1", `v"2\`}},
		{"340199001002", []string{`v"2\`}},
		{"35", nil},
	}
	for _, tc := range tests {
		var got []string
		err := s.View(func(tx *boltstore.Tx) error {
			return tx.ForEachRecordIn("visits", tc.prefix, func(r *syncengine.Record) error {
				if r.Collection != "visits" {
					t.Errorf("record of %s returned", r.Collection)
				}
				got = append(got, r.ID)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("prefix %q: got %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

// TestOpReceivedAt: the receipt time comes back to the millisecond, also
// when a field of the op is itself named received_at; an unknown op is
// not found.
func TestOpReceivedAt(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "ruhu.db"))
	defer s.Close()
	var m opMaker
	a := m.op("checkins", "c1", "340199001001", map[string]any{"member": "zhao"})
	a.ReceivedAt = time.Date(2026, 5, 3, 1, 2, 3, 456e6, time.UTC)
	b := m.op("checkins", "c2", "340199001001", map[string]any{"received_at": 1, "nested": map[string]any{"received_at": 2}})
	b.ReceivedAt = time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	apply(t, s, a, b)
	err := s.View(func(tx *boltstore.Tx) error {
		for _, op := range []*syncengine.Op{a, b} {
			got, ok, err := tx.OpReceivedAt(op.ID)
			if err != nil || !ok || !got.Equal(op.ReceivedAt) {
				t.Errorf("op %s: got %v %v %v, want %v", op.ID, got, ok, err, op.ReceivedAt)
			}
		}
		if _, ok, err := tx.OpReceivedAt("nope"); ok || err != nil {
			t.Errorf("unknown op: ok %v err %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
