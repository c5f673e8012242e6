package pgstore_test

import (
	"fmt"
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// BenchmarkApply is one push transaction of one op, as a tablet's
// single-op push costs the store (commit included, fsync as configured).
func BenchmarkApply(b *testing.B) {
	store := open(b).Core()
	b.ResetTimer()
	for i := range b.N {
		err := store.Update(func(tx core.Tx) error {
			_, err := syncengine.Apply(tx, op(fmt.Sprintf("op-%d", i), fmt.Sprintf("h%d", i%1000)), syncengine.MergePolicy{}, t0)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
