package pgstore_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestServerDownIsTransient: while the PostgreSQL server is down, reads and
// writes fail with ETRANSIENT (a client retries), never EINTERNAL; once
// it is back the same store works again without being reopened.
func TestServerDownIsTransient(t *testing.T) {
	pg := pgtest.Start(t)
	s, err := pgstore.Open(t.Context(), pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Core()
	read := func() error { return c.View(func(tx core.Tx) error { tx.LastSeq(); return nil }) }
	write := func() error {
		return c.Update(func(tx core.Tx) error { return tx.PutUser(&core.User{Username: "wang", Role: "officer"}) })
	}
	if err := read(); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	for i, f := range []func() error{read, write, read} {
		if err := f(); syncengine.ErrorCode(err) != syncengine.ETRANSIENT {
			t.Errorf("call %d while the database is down: %v (code %s), want ETRANSIENT", i, err, syncengine.ErrorCode(err))
		}
	}
	pg.Restart()
	for i, f := range []func() error{write, read} {
		if err := f(); err != nil {
			t.Errorf("call %d after the restart: %v", i, err)
		}
	}
}
