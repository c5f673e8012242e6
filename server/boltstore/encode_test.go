package boltstore

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

var awkward = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f", "中文备注：户主在家", "emoji 🏠", "\u2028\u2029", "<html>&amp;"}

func randString(r *rand.Rand) string { return awkward[r.Intn(len(awkward))] }

// TestEncodersMatchStructTags proves the hand-written encoders produce JSON
// that decodes to exactly what the stored structs hold, for awkward strings.
func TestEncodersMatchStructTags(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for i := 0; i < 300; i++ {
		val, _ := json.Marshal(randString(r))
		op := &syncengine.Op{ID: "op" + randString(r), RecordID: randString(r), Collection: "visits", Area: "340199001001",
			Author: randString(r), Device: randString(r), HLC: syncengine.HLC(r.Uint64() >> 1),
			Set:        map[string]json.RawMessage{randString(r): val, "n": json.RawMessage(`{"a":[1,2.5,"x"]}`)},
			Base:       map[string]string{randString(r): randString(r)},
			ReceivedAt: time.UnixMilli(r.Int63n(1 << 42)).UTC()}
		if r.Intn(2) == 0 {
			op.Tombstone = &syncengine.Tombstone{Reason: randString(r)}
			op.DeviceTime = time.UnixMilli(r.Int63n(1 << 42)).UTC()
			op.ServerTimeEst = time.UnixMilli(r.Int63n(1 << 42)).UTC()
			op.AddFlag(syncengine.FlagClockSuspect)
			op.AddFlag(syncengine.FlagRestamped)
			op.StatedHLC = syncengine.HLC(r.Uint64() >> 1)
		}
		var got StoredOp
		if err := json.Unmarshal(encodeOp(op, uint64(i)), &got); err != nil {
			t.Fatalf("op %d: %v\n%s", i, err, encodeOp(op, uint64(i)))
		}
		want := StoredOp{WireOp: op.ToWire(), Flags: op.Flags, StatedHLC: uint64(op.StatedHLC), ReceivedAt: op.ReceivedAt.UnixMilli(), Seq: uint64(i),
			Digest: syncengine.OpDigest(op)}
		wb, _ := json.Marshal(want)
		var wantBack StoredOp
		_ = json.Unmarshal(wb, &wantBack)
		if !reflect.DeepEqual(got, wantBack) {
			t.Fatalf("op %d:\n got %+v\nwant %+v", i, got, wantBack)
		}

		rec, _, err := syncengine.ApplyOp(nil, op, syncengine.MergePolicy{})
		if err != nil {
			t.Fatal(err)
		}
		var gr storedRecord
		if err := json.Unmarshal(encodeRecord(rec, 7), &gr); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		rb, _ := json.Marshal(storedRecord{WireRecord: rec.ToWire(), Seq: 7})
		var wr storedRecord
		_ = json.Unmarshal(rb, &wr)
		if !reflect.DeepEqual(gr, wr) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, gr, wr)
		}
	}
}
