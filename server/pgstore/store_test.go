package pgstore_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/core/storetest"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

func open(t testing.TB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestConformance runs the store conformance suite against PostgreSQL,
// each subtest in a database of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store { return open(t).Core() })
}
