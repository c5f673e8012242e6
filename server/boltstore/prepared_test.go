package boltstore

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestPreparedWritesEncodeAsTheTransactionWould: the stored forms written
// ahead (PrepareWrite), ended with any sequence, any number of times, are
// byte for byte what encodeOp and encodeRecord write, for awkward strings.
func TestPreparedWritesEncodeAsTheTransactionWould(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	var cs CoreStore
	for i := range 300 {
		val, _ := json.Marshal(randString(r))
		op := &syncengine.Op{ID: "op" + randString(r), RecordID: randString(r), Collection: "visits", Area: "340199001001",
			Author: randString(r), Device: randString(r), HLC: syncengine.HLC(r.Uint64() >> 1),
			Set:        map[string]json.RawMessage{randString(r): val, "n": json.RawMessage(`{"a":[1,2.5,"x"]}`)},
			ReceivedAt: time.UnixMilli(r.Int63n(1 << 42)).UTC()}
		if r.Intn(2) == 0 {
			op.Base = map[string]string{randString(r): randString(r)}
			op.AddFlag(syncengine.FlagRestamped)
			op.StatedHLC = syncengine.HLC(r.Uint64() >> 1)
			op.Digest = syncengine.OpDigest(op)
		}
		created, err := syncengine.PrepareCreate(op, syncengine.MergePolicy{})
		if err != nil {
			t.Fatal(err)
		}
		p := cs.PrepareWrite(op, created.Record()).(*preparedWrite)
		tx := &Tx{prepared: p}
		for _, seq := range []uint64{uint64(i), 1<<64 - 1, 3} {
			if got, want := tx.preparedOp(op, seq), encodeOp(op, seq); !bytes.Equal(got, want) {
				t.Fatalf("op %d at %d:\n got %s\nwant %s", i, seq, got, want)
			}
			if got, want := tx.preparedRecord(created.Record(), op, seq), encodeRecord(created.Record(), seq); !bytes.Equal(got, want) {
				t.Fatalf("record %d at %d:\n got %s\nwant %s", i, seq, got, want)
			}
		}
		other := *op
		if tx.preparedOp(&other, 1) != nil || tx.preparedRecord(created.Record(), &other, 1) != nil {
			t.Fatal("what was prepared for one op was used for another")
		}
		if rec := created.Record().Clone(); tx.preparedRecord(rec, op, 1) != nil {
			t.Fatal("what was prepared for one record was used for another state")
		}
	}
}

// TestApplyStoresWhatWasPrepared: an op applied after WillApply is stored
// in the form prepared for it, and one applied without is encoded anew.
func TestApplyStoresWhatWasPrepared(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ruhu.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs := s.Core()
	mk := func(id string) (*syncengine.Op, *syncengine.Created) {
		op := &syncengine.Op{ID: "op-" + id, RecordID: id, Collection: "visits", Area: "340199001001", Author: "wang", Device: "d1",
			HLC: syncengine.MakeHLC(1_700_000_000_000, 0), ReceivedAt: time.UnixMilli(1_700_000_000_000).UTC(),
			Set: map[string]json.RawMessage{"notes": json.RawMessage(`"x"`)}}
		op.Digest = syncengine.OpDigest(op)
		c, err := syncengine.PrepareCreate(op, syncengine.MergePolicy{})
		if err != nil {
			t.Fatal(err)
		}
		return op, c
	}
	a, ca := mk("v1")
	b, cb := mk("v2")
	pa, pb := cs.PrepareWrite(a, ca.Record()), cs.PrepareWrite(b, cb.Record())
	// Marks what is stored: a digest no encoding of the ops would give.
	pa.(*preparedWrite).opTail = []byte(`,"digest":"prepared"}`)
	pb.(*preparedWrite).opTail = []byte(`,"digest":"prepared"}`)
	err = cs.Update(func(tx core.Tx) error {
		tx.(core.PreparedTx).WillApply(a, pa)
		if _, err := syncengine.ApplyCreated(tx, a, syncengine.MergePolicy{}, a.ReceivedAt, ca); err != nil {
			return err
		}
		tx.(core.PreparedTx).WillApply(nil, nil)
		_, err := syncengine.ApplyCreated(tx, b, syncengine.MergePolicy{}, b.ReceivedAt, cb)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		for op, want := range map[*syncengine.Op]string{a: "prepared", b: b.Digest} {
			so, err := tx.StoredOp(op.ID)
			if err != nil || so == nil {
				t.Fatalf("op %s: %v %v", op.ID, so, err)
			}
			if so.Digest != want {
				t.Errorf("op %s stored with digest %q, want %q", op.ID, so.Digest, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
