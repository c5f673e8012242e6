package server

import (
	"errors"
	"fmt"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Store is what the server runs on: the application core's store, whose
// transactions also implement Tx (server/boltstore's Store.Core,
// server/pgstore's Store).
type Store interface {
	core.Store
	// Kind names the storage engine ("bbolt", "postgres") for /healthz.
	Kind() string
	// SchemaVersion is the version of the store's layout the server runs
	// on (for PostgreSQL, the last migration applied), for /healthz.
	SchemaVersion() int
}

// Tx is what the server's own readers (reports, evidence, the web
// console) need of a transaction beside the core's use cases: blob facts,
// web sessions and bulk scans of an area.
type Tx interface {
	core.Tx
	core.BlobTx
	core.WebSessionTx
	core.ScanTx
}

// ErrIncompleteStore is returned when a store's transaction lacks what Tx
// needs: a store implementation that is not finished.
var ErrIncompleteStore = errors.New("store transaction lacks blobs, web sessions or scans")

// serverTx returns tx as a Tx.
func serverTx(tx core.Tx) (Tx, error) {
	t, ok := tx.(Tx)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrIncompleteStore, tx)
	}
	return t, nil
}

// view runs fn in a read-only transaction of store.
func view(store core.Store, fn func(Tx) error) error {
	return store.View(func(tx core.Tx) error {
		t, err := serverTx(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// updateSolo runs fn in a write transaction of its own, exactly once.
func updateSolo(store core.Store, fn func(Tx) error) error {
	return store.UpdateSolo(func(tx core.Tx) error {
		t, err := serverTx(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}
