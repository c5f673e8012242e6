package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// gateStore holds every write transaction until release is closed, and
// says on entered when one arrives: a write path that is busy.
type gateStore struct {
	core.Store
	entered chan struct{}
	release chan struct{}
}

func (g gateStore) Update(fn func(core.Tx) error) error {
	g.entered <- struct{}{}
	<-g.release
	return g.Store.Update(fn)
}

// TestPushRefusedWhenWriteQueueFull: while the ops of one push wait for
// the write transaction and fill the queue, another push is refused at
// once with ETRANSIENT and a retry-after, and nothing of it is written;
// once the queue drains the same push is applied. An empty queue admits
// a batch larger than the bound.
func TestPushRefusedWhenWriteQueueFull(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	gate := gateStore{Store: st.Core(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	c := core.New(slog.New(slog.DiscardHandler), gate, reg, core.Options{Now: func() time.Time { return t0 }, MaxQueuedOps: 2})
	ctx := context.Background()
	batch := func(ids ...string) []syncengine.WireOp {
		var out []syncengine.WireOp
		for _, id := range ids {
			out = append(out, householdOp(id, township.User, township.Device).ToWire())
		}
		return out
	}
	if _, busy := c.PushBusy(township); busy {
		t.Fatal("an idle core says it is busy")
	}

	first := make(chan error, 1)
	go func() {
		res, err := c.Push(ctx, township, batch("h1", "h2"))
		if err == nil && len(res.Acked) != 2 {
			err = fmt.Errorf("acked %v, rejected %v", res.Acked, res.Rejected)
		}
		first <- err
	}()
	<-gate.entered // h1 and h2 hold the whole queue, waiting to be written

	wait, busy := c.PushBusy(township)
	if !busy || wait < 50*time.Millisecond || wait > 10*time.Second {
		t.Fatalf("PushBusy with a full queue = %v, %v; want busy with a wait of 50 ms to 10 s", wait, busy)
	}
	_, err = c.Push(ctx, township, batch("h3"))
	if code := syncengine.ErrorCode(err); code != syncengine.ETRANSIENT {
		t.Fatalf("push into a full queue answered %v (%s), want ETRANSIENT", err, code)
	}
	if after, ok := syncengine.RetryAfter(err); !ok || after <= 0 || after > wait {
		t.Fatalf("the refusal asks for a wait of %v (%v), want the appointment PushBusy gave (in %v)", after, ok, wait)
	}

	close(gate.release)
	if err := <-first; err != nil {
		t.Fatalf("the admitted push: %v", err)
	}
	if _, busy := c.PushBusy(township); busy {
		t.Fatal("the queue stays full after its push ended")
	}
	res, err := c.Push(ctx, township, batch("h3", "h4", "h5"))
	if err != nil || len(res.Acked) != 3 {
		t.Fatalf("push after the queue drained (3 ops, bound 2, empty queue): %v acked, %v rejected, err %v", res.Acked, res.Rejected, err)
	}
	<-gate.entered
	err = st.View(func(tx *boltstore.Tx) error {
		for _, id := range []string{"h1", "h2", "h3", "h4", "h5"} {
			if !tx.Exists("households", id) {
				return fmt.Errorf("household %s missing", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
