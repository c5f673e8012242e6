package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// plainStore hides a store's ReadsBesideWrites: a push over it admits the
// whole batch before its write transaction, as every push once did.
type plainStore struct{ core.Store }

// watchedStore counts the read transactions that began while one of its
// write transactions' functions was running, and can fail the nth View.
// Views from the third on (a push's later admission chunks: the first
// checks its envelope, the second admits its first chunk) wait up to 5 s
// for a write function to be running, so that an overlapping push shows
// as one whatever the scheduler does.
type watchedStore struct {
	core.Store
	writing     atomic.Int32
	viewsInside atomic.Int32
	views       atomic.Int32
	failView    int32 // fail the View with this number (1-based); 0: none
	started     chan struct{}
	once        sync.Once
}

func (w *watchedStore) ReadsBesideWrites() bool { return true }

func (w *watchedStore) View(fn func(core.Tx) error) error {
	n := w.views.Add(1)
	if n >= 3 {
		select {
		case <-w.started:
		case <-time.After(5 * time.Second):
		}
	}
	if w.writing.Load() > 0 {
		w.viewsInside.Add(1)
	}
	if n == w.failView {
		return errors.New("disk gone")
	}
	return w.Store.View(fn)
}

func (w *watchedStore) Update(fn func(core.Tx) error) error {
	return w.Store.Update(func(tx core.Tx) error {
		w.writing.Add(1)
		defer w.writing.Add(-1)
		w.once.Do(func() { close(w.started) })
		return fn(tx)
	})
}

// mixedBatch is n household ops with, spread over the batch (so over
// several admission chunks), ops refused before the write transaction (bad
// shape, out of scope), a resend of an earlier op of the batch, an op id
// reused for other content, and changes to records created earlier in the
// batch (admitted as creations, applied as changes).
func mixedBatch(n int) []syncengine.WireOp {
	var out []syncengine.WireOp
	for i := 0; len(out) < n; i++ {
		op := householdOp(fmt.Sprintf("h%04d", i), township.User, township.Device)
		switch i % 97 {
		case 13:
			op.Set["head_name"] = json.RawMessage(`{"not":"a name"}`) // fails the schema
		case 29:
			op.Area = "340299001001" // outside the caller's scope
		}
		out = append(out, op.ToWire())
		switch {
		case i > 0 && i%151 == 0:
			out = append(out, out[len(out)-2]) // the op before, again
		case i > 0 && i%173 == 0:
			reused := householdOp(fmt.Sprintf("h%04d", i-1), township.User, township.Device)
			reused.ID = out[len(out)-3].ID // an earlier op's id, other content
			reused.Set["head_name"] = json.RawMessage(`"李四"`)
			out = append(out, reused.ToWire())
		case i > 0 && i%211 == 0:
			change := householdOp(fmt.Sprintf("h%04d", i-5), township.User, township.Device)
			change.ID = fmt.Sprintf("op-change-%d", i)
			change.HLC++
			change.Set = map[string]json.RawMessage{"head_name": json.RawMessage(`"王五"`)}
			out = append(out, change.ToWire())
		}
	}
	return out[:n]
}

// TestPushOverlapsAdmissionWithTheWrite: on a store whose reads may run
// beside its writes, a large push admits its later ops while its write
// transaction runs, and answers and stores exactly what admitting the
// whole batch first does.
func TestPushOverlapsAdmissionWithTheWrite(t *testing.T) {
	ctx := context.Background()
	batch := mixedBatch(syncengine.MaxPushOps)

	plain, plainStoreOf, _ := newCore(t, func(s core.Store) core.Store { return plainStore{s} })
	want, err := plain.Push(ctx, township, batch)
	if err != nil {
		t.Fatal(err)
	}
	var w *watchedStore
	overlap, overlapStoreOf, _ := newCore(t, func(s core.Store) core.Store { w = &watchedStore{Store: s, started: make(chan struct{})}; return w })
	got, err := overlap.Push(ctx, township, batch)
	if err != nil {
		t.Fatal(err)
	}
	if w.viewsInside.Load() == 0 {
		t.Errorf("no admission ran beside the write transaction (%d views)", w.views.Load())
	}
	if len(want.Rejected) == 0 || len(want.Acked) == 0 {
		t.Fatalf("the batch should mix acked and refused ops: %d acked, %d refused", len(want.Acked), len(want.Rejected))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overlapped push answered\n%+v\nwant\n%+v", got, want)
	}
	for _, id := range []string{"h0000", "h0206", "h0500"} {
		a, b := storedRecord(t, plainStoreOf.Core(), id), storedRecord(t, overlapStoreOf.Core(), id)
		if a == nil || !reflect.DeepEqual(a, b) {
			t.Errorf("record %s: overlapped push stored\n%+v\nwant\n%+v", id, b, a)
		}
	}
}

func storedRecord(t *testing.T, st core.Store, id string) *syncengine.Record {
	t.Helper()
	var r *syncengine.Record
	if err := st.View(func(tx core.Tx) (err error) {
		r, err = tx.Record("households", id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPushFailingLateAdmissionWritesNothing: when admitting a later chunk
// fails (the store went away), the push fails whole and the ops of the
// chunks before, already applied in the open transaction, are not stored.
func TestPushFailingLateAdmissionWritesNothing(t *testing.T) {
	ctx := context.Background()
	var w *watchedStore
	c, st, _ := newCore(t, func(s core.Store) core.Store {
		// View 1 checks the envelope, 2 admits the first chunk, 3 the second.
		w = &watchedStore{Store: s, failView: 3, started: make(chan struct{})}
		return w
	})
	batch := mixedBatch(syncengine.MaxPushOps)
	if _, err := c.Push(ctx, township, batch); err == nil {
		t.Fatal("push succeeded with a failing admission")
	}
	if r := storedRecord(t, st.Core(), "h0000"); r != nil {
		t.Errorf("first chunk's record stored: %+v", r)
	}
	if w.viewsInside.Load() == 0 {
		t.Error("the failing admission did not run beside the write transaction")
	}
}
