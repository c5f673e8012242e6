package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
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
