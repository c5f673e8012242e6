package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestSeededRecordsAreValid: the demo seed writes through core.Load, which
// holds each op to its schema; this checks the stored result, record by
// record, against the schemas once more.
func TestSeededRecordsAreValid(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "seed.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := seedDemo(store, time.Now()); err != nil {
		t.Fatal(err)
	}
	reg := testSchemas(t)
	counted := 0
	err = store.View(func(tx *boltstore.Tx) error {
		for _, col := range reg.Collections() {
			err := tx.ForEachRecord(col, func(r *syncengine.Record) error {
				counted++
				if err := reg.ValidateRecord(col, r.Values()); err != nil {
					t.Errorf("seeded %s/%s: %v", col, r.ID, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counted < 20 {
		t.Fatalf("only %d seeded records checked", counted)
	}
}

// TestTwoServersSeedOnePostgresAtOnce: two servers started at once with
// --seed-demo on one empty PostgreSQL database both find no users and
// seed together; both must start (neither fails on the other's accounts)
// and the database ends with the county seeded once.
func TestTwoServersSeedOnePostgresAtOnce(t *testing.T) {
	url := pgtest.Database(t)
	now := time.Now()
	stores := make([]*pgstore.Store, 2)
	for i := range stores {
		s, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	errs := make(chan error, len(stores))
	for _, s := range stores {
		go func() { errs <- seedDemoInto(s.Core(), now) }()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Errorf("a seeding server failed: %v", err)
		}
	}
	once, err := boltstore.Open(filepath.Join(t.TempDir(), "once.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	if err := seedDemo(once, now); err != nil {
		t.Fatal(err)
	}
	count := func(s core.Store) (records, users int) {
		err := s.View(func(tx core.Tx) error {
			for _, col := range collection.All() {
				if err := tx.ForEachRecord(col, func(*syncengine.Record) error { records++; return nil }); err != nil {
					return err
				}
			}
			us, err := tx.Users()
			users = len(us)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return records, users
	}
	gotR, gotU := count(stores[0].Core())
	wantR, wantU := count(once.Core())
	if gotR != wantR || gotU != wantU {
		t.Errorf("seeded twice at once: %d records, %d users; seeded once: %d records, %d users", gotR, gotU, wantR, wantU)
	}
}
