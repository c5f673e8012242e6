package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// withoutIndexes hides a transaction's visit indexes (core.VisitIndexTx).
type withoutIndexes struct{ Tx }

// TestGatherPhotosFromIndexEqualsRecords: the photo citations gathered
// through the store's index of visits citing photos are those gathered
// from every visit record, after random visits (with, without, with
// empty and malformed photo lists) in three villages, edits and
// tombstones, under several area prefixes. The seed is printed;
// RUHU_SEED reruns one.
func TestGatherPhotosFromIndexEqualsRecords(t *testing.T) {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RUHU_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	areas := []string{"340199001001", "340199001002", "340199002001"}
	photoLists := []string{`["aa","bb"]`, `["cc"]`, `[]`, `null`, `[ ]`, `"dd"`, `["aa"]`}
	err = store.UpdateSolo(func(tx *boltstore.Tx) error {
		for i := range 400 {
			n := rng.IntN(60)
			op := &syncengine.Op{ID: fmt.Sprintf("op%d", i), Collection: "visits", RecordID: "v" + strconv.Itoa(n), Area: areas[n%len(areas)],
				Author: "wang", Device: "d1", HLC: syncengine.MakeHLC(1_790_000_000_000+int64(i)*1000, 0),
				ReceivedAt: time.UnixMilli(1_790_000_000_000), Set: map[string]json.RawMessage{}}
			switch rng.IntN(10) {
			case 0:
				op.Tombstone, op.Set = &syncengine.Tombstone{Reason: "录错"}, nil
			default:
				op.Set["household_id"] = json.RawMessage(`"h` + strconv.Itoa(rng.IntN(5)) + `"`)
				op.Set["visited_at"] = json.RawMessage(`"2026-08-0` + strconv.Itoa(1+rng.IntN(9)) + `T10:00:00+08:00"`)
				if rng.IntN(3) > 0 {
					op.Set["photo_sha256s"] = json.RawMessage(photoLists[rng.IntN(len(photoLists))])
				}
				if rng.IntN(2) == 0 {
					op.Set["gps"] = json.RawMessage(`{"lat":32.1,"lon":118.2,"accuracy_m":9}`)
				}
			}
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, op.ReceivedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	show := func(g *photoGatherer) []string {
		var out []string
		for _, p := range g.photos {
			out = append(out, fmt.Sprintf("%s %s %v %v %v", p.ID, p.HouseholdID, p.RecordTime, p.RecordGPS, g.refs[p.ID]))
		}
		slices.Sort(out)
		return out
	}
	cited := 0
	for _, prefix := range []string{"", "340199", "340199001", "340199001002", "35"} {
		err := store.Core().View(func(ctx core.Tx) error {
			tx := ctx.(Tx)
			indexed, err := gatherPhotos(tx, prefix)
			if err != nil {
				return err
			}
			plain, err := gatherPhotos(withoutIndexes{tx}, prefix)
			if err != nil {
				return err
			}
			if a, b := show(indexed), show(plain); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("seed %d under %q:\nindex   %v\nrecords %v", seed, prefix, a, b)
			}
			cited += len(plain.photos)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if cited == 0 {
		t.Fatalf("seed %d: no photo cited", seed)
	}
}
