package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/server/storecopy"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// countyViews reads, through the core as the operator, every record's
// view with its history and every conflict, as JSON by key.
func countyViews(t *testing.T, store core.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	app := core.New(slog.New(slog.DiscardHandler), store, testSchemas(t), core.Options{})
	out := map[string]string{}
	put := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = string(b)
	}
	var keys [][2]string
	err := store.View(func(tx core.Tx) error {
		_, err := tx.ChangesAfter(0, func(_ uint64, _ string, raw []byte) bool {
			var w syncengine.WireRecord
			if err := json.Unmarshal(raw, &w); err != nil {
				t.Errorf("feed: %v", err)
				return false
			}
			keys = append(keys, [2]string{w.Collection, w.ID})
			return true
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rec, hist, err := app.Record(ctx, core.Operator(), k[0], k[1], true)
		if err != nil {
			t.Fatalf("record %s/%s: %v", k[0], k[1], err)
		}
		put("record "+k[0]+"/"+k[1], rec.ToWire())
		for _, op := range hist {
			op.ReceivedAt = op.ReceivedAt.UTC()
		}
		put("history "+k[0]+"/"+k[1], hist)
	}
	cfs, err := app.Conflicts(ctx, core.Operator(), core.ConflictFilter{Status: "all"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cf := range cfs {
		cf.OpenedAt = cf.OpenedAt.UTC()
		if cf.Resolution != nil {
			cf.Resolution.At = cf.Resolution.At.UTC()
		}
		put("conflict "+cf.ID, cf)
	}
	return out
}

// TestMigrateDemoCounty: the demo county, with conflicts open and
// resolved, migrated by "ruhu migrate bbolt-to-postgres" gives the same
// record views, histories and conflicts; a second run into the same
// database is refused.
func TestMigrateDemoCounty(t *testing.T) {
	url := pgtest.Database(t)
	dir := t.TempDir()
	src, err := boltstore.Open(filepath.Join(dir, "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if err := seedDemo(src, now); err != nil {
		t.Fatal(err)
	}
	// Two officers change two households' phones offline from the same
	// version: two conflicts, one resolved by the township.
	ctx := context.Background()
	app := core.New(slog.New(slog.DiscardHandler), src.Core(), testSchemas(t), core.Options{Now: func() time.Time { return now }})
	var ops []*syncengine.Op
	for i, hh := range []string{"h34019900100101", "h34019900100102"} {
		rec, _, err := app.Record(ctx, core.Operator(), "households", hh, false)
		if err != nil {
			t.Fatal(err)
		}
		for j, who := range []string{"wang", "li"} {
			ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("mig-%d-%d", i, j), RecordID: hh, Collection: "households", Area: rec.Area,
				Author: who, Device: "seed", HLC: syncengine.MakeHLC(now.UnixMilli()-int64(10-j), 0),
				Set:  map[string]json.RawMessage{"phone": json.RawMessage(fmt.Sprintf(`"1390000%d%03d"`, i, j))},
				Base: map[string]string{"phone": rec.Fields["phone"].OpID}, ReceivedAt: now})
		}
	}
	if _, err := app.Load(ctx, ops); err != nil {
		t.Fatal(err)
	}
	open, err := app.Conflicts(ctx, core.Operator(), core.ConflictFilter{})
	if err != nil || len(open) != 2 {
		t.Fatalf("open conflicts %d (%v), want 2", len(open), err)
	}
	if _, err := app.Resolve(ctx, core.Operator(), open[0].ID, json.RawMessage(`"13900009999"`), "电话核实"); err != nil {
		t.Fatal(err)
	}
	want := countyViews(t, src.Core())
	var nConflicts, nRecords int
	for key := range want {
		nConflicts += btoi(strings.HasPrefix(key, "conflict "))
		nRecords += btoi(strings.HasPrefix(key, "record "))
	}
	if nConflicts != 2 || nRecords < 40 {
		t.Fatalf("the demo county has %d records and %d conflicts: too few to prove anything", nRecords, nConflicts)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	args := []string{"migrate", "bbolt-to-postgres", "--data", dir, "--store", url}
	if err := run(ctx, args, os.Getenv, &out, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	for _, line := range []string{"conflicts 2", "users ", "audit entries ", "not moved:"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}

	dst, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	got := countyViews(t, dst.Core())
	if len(got) != len(want) {
		t.Errorf("%d views after the migration, %d before", len(got), len(want))
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s:\n before %s\n after  %s", key, w, got[key])
		}
	}
	if err := core.New(slog.New(slog.DiscardHandler), dst.Core(), testSchemas(t), core.Options{}).Check(ctx); err != nil {
		t.Errorf("migrated store fails the check: %v", err)
	}
	dst.Close()

	out.Reset()
	err = run(ctx, args, os.Getenv, &out, &out)
	if !errors.Is(err, storecopy.ErrTargetNotEmpty) {
		t.Errorf("second migration: %v, want ErrTargetNotEmpty", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
