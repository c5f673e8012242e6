package uploads

import (
	"errors"
	"fmt"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Tx is what the service needs of a transaction: the core's records,
// blob facts and upload state. The transactions of the store given to New
// implement it.
type Tx interface {
	core.Tx
	core.BlobTx
	core.UploadTx
}

// ErrIncompleteStore is returned when a store's transaction lacks what Tx
// needs.
var ErrIncompleteStore = errors.New("store transaction lacks blobs or uploads")

// asTx returns tx as a Tx.
func asTx(tx core.Tx) (Tx, error) {
	t, ok := tx.(Tx)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrIncompleteStore, tx)
	}
	return t, nil
}

// view runs fn in a read-only transaction.
func (s *Service) view(fn func(Tx) error) error {
	return s.store.View(func(tx core.Tx) error {
		t, err := asTx(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// update runs fn in a write transaction that may be coalesced with
// concurrent callers (fn may run more than once).
func (s *Service) update(fn func(Tx) error) error {
	return s.store.Update(func(tx core.Tx) error {
		t, err := asTx(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}
