package pgstore_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

// TestUpgradeFromSchema1: a database written at schema 1 (before the
// server's tables) opens at the latest schema with the tombstone flag and
// op receipt times filled in from the stored JSON: a deleted record is not
// counted or scanned, and a check-in's receipt time reads back. Its
// records and history moved into the county partitions with their keys.
func TestUpgradeFromSchema1(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	for _, q := range []string{
		string(init),
		`CREATE TABLE ruhu_schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
		 INSERT INTO ruhu_schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
		`INSERT INTO records (collection, id, area, seq, body) VALUES
		 ('households', 'h1', '340199001001', 1, convert_to('{"id":"h1","col":"households","area":"340199001001","f":{"head_name":{"v":"\u5f20\u4e09","h":1,"d":"d1","a":"wang","o":"op1"}}}', 'UTF8')),
		 ('households', 'h2', '340199001001', 2, convert_to('{"id":"h2","col":"households","area":"340199001001","f":{"_deleted":{"v":{"reason":"dup"},"h":2,"d":"d1","a":"wang","o":"op2"}}}', 'UTF8'))`,
		`INSERT INTO ops (id, collection, record_id, seq, digest, body) VALUES
		 ('op1', 'households', 'h1', 3, 'x', convert_to('{"id":"op1","received_at":` + strconv.FormatInt(received.UnixMilli(), 10) + `,"digest":"x"}', 'UTF8'))`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("build a schema-1 database: %v", err)
		}
	}
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.SchemaVersion() != pgstore.LatestVersion() {
		t.Fatalf("schema %d after open, want %d", s.SchemaVersion(), pgstore.LatestVersion())
	}
	err = s.Core().View(func(tx core.Tx) error {
		st := tx.(core.ScanTx)
		if n, err := st.CountReportRows("households", "340199"); err != nil || n != 1 {
			t.Errorf("live households after upgrade: %d, %v, want 1", n, err)
		}
		var ids []string
		if err := st.ScanRecordsIn("households", "", []string{"head_name"}, func(id, _ string, _ []core.FieldView) error {
			ids = append(ids, id)
			return nil
		}); err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] != "h1" {
			t.Errorf("scanned %v, want only h1", ids)
		}
		if at, ok, err := st.OpReceivedAt("op1"); !ok || err != nil || !at.Equal(received) {
			t.Errorf("receipt of op1 = %v %v %v, want %v", at, ok, err, received)
		}
		// The rows moved into the county partitions (0004) and are found
		// by key, the op by its record's county (its JSON names no area).
		for _, id := range []string{"h1", "h2"} {
			if r, err := tx.Record("households", id); err != nil || r == nil || r.Area != "340199001001" {
				t.Errorf("record %s after upgrade: %+v, %v", id, r, err)
			}
		}
		if h, err := tx.History("households", "h1"); err != nil || len(h) != 1 || h[0].ID != "op1" {
			t.Errorf("history of h1 after upgrade: %v, %v", h, err)
		}
		if o, err := tx.AcceptedOp("op1"); err != nil || o == nil {
			t.Errorf("op1 after upgrade: %v, %v", o, err)
		}
		n := 0
		if _, err := tx.ChangesAfter(0, func(uint64, string, []byte) bool { n++; return true }); err != nil || n != 2 {
			t.Errorf("change feed after upgrade: %d changes, %v; want 2", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ sql, want string }{
		{"SELECT string_agg(county || ':' || id, ',' ORDER BY id) FROM records", "340199:h1,340199:h2"},
		{"SELECT string_agg(area || ':' || id, ',' ORDER BY id) FROM record_keys", "340199001001:h1,340199001001:h2"},
		{"SELECT string_agg(county || ':' || id, ',') FROM ops", "340199:op1"},
		{"SELECT string_agg(county || ':' || collection || '/' || record_id || ':' || seq || ':' || id, ',') FROM op_keys", "340199:households/h1:3:op1"},
		{"SELECT count(*)::text FROM pg_partition_tree('ops') WHERE isleaf", "16"},
	} {
		var got string
		if err := conn.QueryRow(ctx, q.sql).Scan(&got); err != nil || got != q.want {
			t.Errorf("%s = %q, %v; want %q", q.sql, got, err, q.want)
		}
	}
}
