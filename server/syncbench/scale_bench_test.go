package syncbench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// pgCoreEnv is coreEnv on a PostgreSQL database of its own (pgtest), with
// the database's URL.
func pgCoreEnv(b *testing.B) (*core.Core, core.Caller, string) {
	b.Helper()
	url := pgtest.Database(b)
	store, err := pgstore.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	app, caller := coreEnvOn(b, store.Core())
	return app, caller, url
}

// BenchmarkScalePGPush1000 is BenchmarkCorePush1000 on PostgreSQL:
// batches of 1,000 new visit ops admitted and applied through the core,
// one transaction each (synchronous commit, as the server of this machine
// is configured). Besides ns/op (per batch) it reports ops/s and
// bytes/visit: what the records and ops tables (their partitions with
// indexes and TOAST, and their key tables) hold per visit, its current
// state and its history row. These are the per-instance figures
// docs/SCALE.md starts from.
func BenchmarkScalePGPush1000(b *testing.B) {
	app, caller, url := pgCoreEnv(b)
	var seq atomic.Int64
	ops := visitOps("solo", caller.Device, b.N*syncengine.MaxPushOps, &seq)
	env := &core.BatchEnvelope{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := ops[i*syncengine.MaxPushOps : (i+1)*syncengine.MaxPushOps]
		res, err := app.PushSigned(context.Background(), caller, batch, env)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Acked) != len(batch) {
			b.Fatalf("%d acked of %d", len(res.Acked), len(batch))
		}
	}
	b.StopTimer()
	n := float64(b.N * syncengine.MaxPushOps)
	b.ReportMetric(n/b.Elapsed().Seconds(), "ops/s")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var size int64
	// Every partition of records and ops (a partitioned table's own size
	// is 0), and the key tables beside them.
	if err := conn.QueryRow(ctx, `SELECT sum(pg_total_relation_size(relid))::bigint FROM (
		SELECT relid FROM pg_partition_tree('records') UNION SELECT relid FROM pg_partition_tree('ops')
		UNION SELECT to_regclass(t) FROM unnest(ARRAY['records', 'ops', 'record_keys', 'op_keys']) AS t) r
		WHERE relid IS NOT NULL`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size)/n, "bytes/visit")
}

// BenchmarkScalePGPull2000 is BenchmarkCorePull2000 on PostgreSQL: the
// first 2,000 of 10,000 visit records pulled through core.Pull.
func BenchmarkScalePGPull2000(b *testing.B) {
	app, caller, _ := pgCoreEnv(b)
	var seq atomic.Int64
	ops := visitOps("solo", caller.Device, 10000, &seq)
	for i := 0; i < len(ops); i += syncengine.MaxPushOps {
		if _, err := app.PushSigned(context.Background(), caller, ops[i:i+syncengine.MaxPushOps], &core.BatchEnvelope{}); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 0, 4<<20)
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

// BenchmarkScalePGEmptyPull is the pull of a tablet that is up to date:
// from the cursor at the end of 10,000 visit records, through core.Pull on
// PostgreSQL (one read transaction, nothing to send).
func BenchmarkScalePGEmptyPull(b *testing.B) {
	app, caller, _ := pgCoreEnv(b)
	var seq atomic.Int64
	ops := visitOps("solo", caller.Device, 10000, &seq)
	for i := 0; i < len(ops); i += syncengine.MaxPushOps {
		if _, err := app.PushSigned(context.Background(), caller, ops[i:i+syncengine.MaxPushOps], &core.BatchEnvelope{}); err != nil {
			b.Fatal(err)
		}
	}
	cursor := ""
	for more := true; more; {
		page, err := app.Pull(context.Background(), caller, cursor, syncengine.MaxPullLimit, func([]byte) {})
		if err != nil {
			b.Fatal(err)
		}
		cursor, more = page.Cursor, page.More
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		page, err := app.Pull(context.Background(), caller, cursor, syncengine.DefaultPullLimit, func([]byte) { n++ })
		if err != nil || n != 0 || page.More || page.Reset {
			b.Fatal(err, n, page)
		}
	}
}
