package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// roundTrips counts what a store sends: each statement and each
// pipelined batch is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if d.SQL != "COMMIT" { // a read-only transaction's COMMIT goes out after its answer
		r.n.Add(1)
	}
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestPushRoundTripsDoNotGrowWithTheBatch: a write transaction that
// prefetches its batch and applies it makes two round trips whatever the
// batch's size (BEGIN and the reads; the sequencer, writes and COMMIT),
// where it made several per op when each read and write was a statement.
func TestPushRoundTripsDoNotGrowWithTheBatch(t *testing.T) {
	var rt roundTrips
	s, err := pgstore.OpenTraced(t.Context(), pgtest.Database(t), &rt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	store := s.Core()
	batch := 0
	push := func(n int) int64 {
		batch++
		ops := make([]*syncengine.Op, n)
		keys := core.PrefetchKeys{}
		for i := range ops {
			ops[i] = op(fmt.Sprintf("op-%d-%d", batch, i), fmt.Sprintf("h-%d-%d", batch, i))
			keys.Ops = append(keys.Ops, ops[i].ID)
			keys.Records = append(keys.Records, core.RecordKey{Collection: ops[i].Collection, ID: ops[i].RecordID})
		}
		before := rt.n.Load()
		err := store.Update(func(tx core.Tx) error {
			if err := tx.(core.Prefetcher).Prefetch(keys); err != nil {
				return err
			}
			for _, o := range ops {
				if _, err := syncengine.Apply(tx, o, syncengine.MergePolicy{}, t0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return rt.n.Load() - before
	}
	one, many := push(1), push(50)
	if one != 2 || many != 2 {
		t.Errorf("round trips of a push of 1 op: %d, of 50 ops: %d; want 2 each", one, many)
	}
	if ids, _ := pull(t, store, 0); len(ids) != 51 {
		t.Errorf("the feed holds %d records, want 51", len(ids))
	}
}

// TestAuthenticateIsOneRoundTrip: checking a device token reads the
// account and the device in one round trip (prefetched with BEGIN), and
// reads them afresh each time: a revocation holds at once.
func TestAuthenticateIsOneRoundTrip(t *testing.T) {
	var rt roundTrips
	s, err := pgstore.OpenTraced(t.Context(), pgtest.Database(t), &rt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(slog.New(slog.DiscardHandler), s.Core(), reg, core.Options{})
	ctx := t.Context()
	dev := enrolled(t, c, core.UserInput{Username: "wang", Role: "officer", Scopes: []string{"340199"}})
	before := rt.n.Load()
	got, err := c.Authenticate(ctx, dev.AccessToken)
	if n := rt.n.Load() - before; n != 1 {
		t.Errorf("authenticating a device token took %d round trips, want 1", n)
	}
	if err != nil || got.User != "wang" || got.Role != "officer" || got.Device == "" {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	if err := c.RevokeDevice(ctx, core.Operator(), got.Device); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, dev.AccessToken); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("a revoked device's token: %v, want EREVOKED", err)
	}
}
