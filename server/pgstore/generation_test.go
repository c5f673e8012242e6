package pgstore_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestGenerationFollowsRecordWrites: the generation the server's report
// caches compare stays the same while nothing is written and changes
// when a record is.
func TestGenerationFollowsRecordWrites(t *testing.T) {
	s := open(t)
	store := s.Core()
	gen := func() uint64 {
		t.Helper()
		var g uint64
		err := store.View(func(tx core.Tx) error {
			gt, ok := tx.(interface{ Generation() uint64 })
			if !ok {
				t.Fatal("a PostgreSQL transaction tells no generation: the console would recompute every report")
			}
			g = gt.Generation()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	before := gen()
	if again := gen(); again != before {
		t.Fatalf("generation moved without a write: %d then %d", before, again)
	}
	if err := store.Update(func(tx core.Tx) error {
		_, err := syncengine.Apply(tx, op("op-gen", "h-gen"), syncengine.MergePolicy{}, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if after := gen(); after == before {
		t.Fatalf("generation %d unchanged after a record write", after)
	}
}
