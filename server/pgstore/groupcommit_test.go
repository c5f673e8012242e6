package pgstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestGroupedWritesFailAlone: writes that queue while the server's
// writers are busy run together in one transaction; one that fails gets
// its own error and leaves nothing behind, and the others all land.
func TestGroupedWritesFailAlone(t *testing.T) {
	s := open(t).Core()
	release := make(chan struct{})
	var busy sync.WaitGroup
	started := make(chan struct{}, 8)
	for i := range 2 { // occupy the writers (maxWriters)
		busy.Go(func() {
			if err := s.Update(func(tx core.Tx) error {
				started <- struct{}{}
				<-release
				_, err := syncengine.Apply(tx, op(fmt.Sprintf("op-busy-%d", i), fmt.Sprintf("busy%d", i)), syncengine.MergePolicy{}, t0)
				return err
			}); err != nil {
				t.Error(err)
			}
		})
	}
	<-started
	<-started
	errBad := errors.New("this write fails")
	const queued = 10
	errs := make([]error, queued)
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() {
			errs[i] = s.Update(func(tx core.Tx) error {
				if _, err := syncengine.Apply(tx, op(fmt.Sprintf("op-q%d", i), fmt.Sprintf("q%d", i)), syncengine.MergePolicy{}, t0); err != nil {
					return err
				}
				// Entries of one group are linked in the database one
				// after another (Tx.flush): the chain must verify.
				if err := tx.(core.AuditTx).AppendAudit(&audit.Entry{Time: t0, Kind: audit.KindLogin, Actor: fmt.Sprintf("q%d", i)}); err != nil {
					return err
				}
				if i == 3 {
					return errBad
				}
				return nil
			})
		})
	}
	time.Sleep(200 * time.Millisecond) // let them queue
	close(release)
	busy.Wait()
	wg.Wait()
	for i, err := range errs {
		if i == 3 {
			if !errors.Is(err, errBad) {
				t.Errorf("the failing write answered %v", err)
			}
		} else if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	ids, _ := pull(t, s, 0)
	if len(ids) != queued-1+2 {
		t.Errorf("the feed holds %v, want the 2 busy writes and %d queued ones", ids, queued-1)
	}
	for _, id := range ids {
		if id == "q3" {
			t.Error("the failed write's record is in the feed")
		}
	}
	err := s.View(func(tx core.Tx) error {
		head, err := tx.(core.AuditTx).VerifyAudit(nil)
		if err != nil {
			return err
		}
		if head.Seq != queued-1 {
			t.Errorf("audit head at %d, want %d entries", head.Seq, queued-1)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}
