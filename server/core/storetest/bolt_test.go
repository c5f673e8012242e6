package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/core/storetest"
)

// TestBolt runs the conformance suite against the embedded bbolt store.
// (pgstore runs it against PostgreSQL in its own tests.)
func TestBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Core()
	})
}
