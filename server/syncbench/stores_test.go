package syncbench_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/server/syncbench"
)

// TestPostgresTwoInstances runs the whole benchmark at small sizes on
// PostgreSQL with two servers over one database: every op is stored once,
// the figures carry the store and instance count, and the run leaves no
// database of its own behind.
func TestPostgresTwoInstances(t *testing.T) {
	pgtest.Database(t) // skips (or fails under RUHU_REQUIRE_EXTERNAL=1) without a server
	admin := pgtest.AdminURL()
	// Other runs may share the server (a bench, another package's test):
	// count only the databases named with this run's own prefix.
	prefix := fmt.Sprintf("ruhu_bench_t%d_%d", os.Getpid(), time.Now().UnixNano())
	res, err := syncbench.Run(context.Background(), syncbench.Options{Dir: t.TempDir(), Store: admin, Instances: 2,
		PushOps: 300, Tablets: 4, OpsPerTablet: 100, BigStoreRecords: 2000, DatabasePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Doubled != 0 {
		t.Fatalf("lost %d, doubled %d", res.Lost, res.Doubled)
	}
	raw, _ := json.Marshal(res)
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"store": "postgres", "instances": 2.0, "big_store_records": 2000.0, "concurrent_ops": 400.0} {
		if keys[k] != want {
			t.Errorf("%s = %v, want %v", k, keys[k], want)
		}
	}
	for _, k := range []string{"push_10k_s", "pull_10k_s", "concurrent_ops_per_s", "empty_pull_ms", "wire_bytes_per_op"} {
		if v, _ := keys[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want a positive figure", k, keys[k])
		}
	}
	if left := benchDatabases(t, admin, prefix); left != 0 {
		t.Errorf("the run left %d of its databases (%s_…): it must drop its own", left, prefix)
	}
	t.Log(string(raw))
}

// benchDatabases counts the databases whose names start with prefix.
func benchDatabases(t *testing.T, admin, prefix string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoreOptions checks the store choices Run refuses before it starts.
func TestStoreOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    syncbench.Options
		want error
	}{
		{"two instances on bbolt", syncbench.Options{Instances: 2}, syncbench.ErrInstances},
		{"not a postgres URL", syncbench.Options{Store: "mysql://x"}, syncbench.ErrStoreURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = t.TempDir()
			if _, err := syncbench.Run(context.Background(), tc.o); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
