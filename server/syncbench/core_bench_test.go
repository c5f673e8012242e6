package syncbench

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// coreEnv is a core over a bbolt store with fsync off and one officer
// assigned to its household: the CPU cost of the push and pull paths
// without HTTP, gzip or disk flushes.
func coreEnv(b *testing.B) (*core.Core, core.Caller) {
	b.Helper()
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "b.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	return coreEnvOn(b, store.Core())
}

// coreEnvOn is coreEnv over any store.
func coreEnvOn(b *testing.B, store core.Store) (*core.Core, core.Caller) {
	b.Helper()
	reg, err := schemas.New()
	if err != nil {
		b.Fatal(err)
	}
	app := core.New(slog.New(slog.DiscardHandler), store, reg, core.Options{})
	_, err = app.Load(context.Background(), []*syncengine.Op{
		{ID: "seed-h", RecordID: "h-solo", Collection: "households", Area: area, Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(1, 0),
			Set: map[string]json.RawMessage{"head_name": json.RawMessage(`"张建国"`), "status": json.RawMessage(`{"value":"exited","year":2019}`), "primary_cause": json.RawMessage(`"illness"`)}},
		{ID: "seed-a", RecordID: "a-solo", Collection: "assignments", Area: area, Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(2, 0),
			Set: map[string]json.RawMessage{"officer": mustJSON("solo"), "household_id": mustJSON("h-solo"), "active": json.RawMessage(`true`)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return app, core.Caller{User: "solo", Role: "officer", Scopes: []string{"340199"}, Device: "dev-solo"}
}

// BenchmarkCorePush1000 admits and applies batches of 1,000 new visit ops
// through core.PushSigned (an unsigned envelope, as the push handler
// passes); ns/op is per batch.
func BenchmarkCorePush1000(b *testing.B) {
	app, caller := coreEnv(b)
	var seq atomic.Int64
	ops := visitOps("solo", caller.Device, b.N*syncengine.MaxPushOps, &seq)
	env := &core.BatchEnvelope{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := ops[i*syncengine.MaxPushOps : (i+1)*syncengine.MaxPushOps]
		res, err := app.PushSigned(context.Background(), caller, batch, env)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Acked) != len(batch) {
			b.Fatalf("%d acked of %d: %+v", len(res.Acked), len(batch), res.Rejected[:min(1, len(res.Rejected))])
		}
	}
}

// BenchmarkCorePull2000 pulls the first 2,000 of 10,000 visit records
// through core.Pull, copying each out as the pull handler does.
func BenchmarkCorePull2000(b *testing.B) {
	app, caller := coreEnv(b)
	var seq atomic.Int64
	ops := visitOps("solo", caller.Device, 10000, &seq)
	for i := 0; i < len(ops); i += syncengine.MaxPushOps {
		if _, err := app.PushSigned(context.Background(), caller, ops[i:i+syncengine.MaxPushOps], &core.BatchEnvelope{}); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 0, 4<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, n := buf[:0], 0
		_, err := app.Pull(context.Background(), caller, "", 2000, func(raw []byte) {
			buf = append(buf, raw...)
			n++
		})
		if err != nil || n != 2000 {
			b.Fatal(err, n)
		}
	}
}
