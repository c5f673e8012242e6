package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func op(id, record string) *syncengine.Op {
	return &syncengine.Op{ID: id, RecordID: record, Collection: "households", Area: "340199001001", Author: "wang", Device: "d1",
		HLC: syncengine.MakeHLC(t0.UnixMilli(), 0), Set: map[string]json.RawMessage{"phone": json.RawMessage(`"1"`)}, ReceivedAt: t0}
}

// pull walks the feed after cursor as a tablet's pull does and returns the
// record ids it got and its new cursor.
func pull(t *testing.T, s core.Store, cursor uint64) ([]string, uint64) {
	t.Helper()
	var ids []string
	err := s.View(func(tx core.Tx) error {
		last, err := tx.ChangesAfter(cursor, func(_ uint64, _ string, raw []byte) bool {
			var w syncengine.WireRecord
			if err := json.Unmarshal(raw, &w); err != nil {
				t.Error(err)
			}
			ids = append(ids, w.ID)
			return true
		})
		cursor = last
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, cursor
}

// TestChangeFeedGap first reproduces the gap a sequence allocated before
// commit opens (two transactions commit in reverse order of their numbers
// and a pull between the commits moves its cursor past the first one's
// change for ever), then shows the store has no such gap: a writer
// numbers its changes only under the sequencer, just before commit, so a
// second writer cannot commit before a first one numbered before it, a
// writer that is slow before it commits holds no number that a quicker
// one could pass, and a pull taken at any moment misses nothing.
func TestChangeFeedGap(t *testing.T) {
	url := pgtest.Database(t)
	ctx := t.Context()

	t.Run("a plain sequence skips a change", func(t *testing.T) {
		conn := func() *pgx.Conn {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(context.Background()) })
			return c
		}
		a, b, reader := conn(), conn(), conn()
		if _, err := reader.Exec(ctx, "CREATE TABLE naive_feed (seq bigserial PRIMARY KEY, record text NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		txA, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer txA.Rollback(ctx) //nolint:errcheck // committed below
		if _, err := txA.Exec(ctx, "INSERT INTO naive_feed (record) VALUES ('first')"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Exec(ctx, "INSERT INTO naive_feed (record) VALUES ('second')"); err != nil { // commits at once
			t.Fatal(err)
		}
		naivePull := func(cursor int64) ([]string, int64) {
			rows, err := reader.Query(ctx, "SELECT seq, record FROM naive_feed WHERE seq > $1 ORDER BY seq", cursor)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var rec string
				if err := rows.Scan(&cursor, &rec); err != nil {
					t.Fatal(err)
				}
				got = append(got, rec)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return got, cursor
		}
		got1, cursor := naivePull(0)
		if err := txA.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		got2, _ := naivePull(cursor)
		if all := append(got1, got2...); slices.Contains(all, "first") || !slices.Equal(all, []string{"second"}) {
			t.Fatalf("the naive feed gave %v: the gap did not open, so this test proves nothing", all)
		}
	})

	t.Run("the store's sequencer closes it", func(t *testing.T) {
		s, err := pgstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		store := s.Core()

		var got []string
		var cursor uint64
		pullNow := func() {
			ids, c := pull(t, store, cursor)
			got, cursor = append(got, ids...), c
		}
		// The first writer to reach commit pauses there: its change is
		// numbered and sent, and it holds the sequencer.
		numbered, releaseFirst := make(chan struct{}), make(chan struct{})
		var paused atomic.Bool
		pgstore.SetBeforeCommit(s, func() {
			if paused.CompareAndSwap(false, true) {
				close(numbered)
				<-releaseFirst
			}
		})
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- store.Update(func(tx core.Tx) error {
				_, err := syncengine.Apply(tx, op("op-first", "first"), syncengine.MergePolicy{}, t0)
				return err
			})
		}()
		<-numbered
		secondDone := make(chan error, 1)
		go func() {
			secondDone <- store.Update(func(tx core.Tx) error {
				_, err := syncengine.Apply(tx, op("op-second", "second"), syncengine.MergePolicy{}, t0)
				return err
			})
		}()
		select {
		case err := <-secondDone:
			close(releaseFirst)
			t.Fatalf("the second writer committed (%v) while the first, numbered before it, was still open", err)
		case <-time.After(300 * time.Millisecond):
		}
		pullNow() // between: neither is visible
		if len(got) != 0 {
			t.Fatalf("a pull saw %v before any writer committed", got)
		}
		close(releaseFirst)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		pullNow()
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}
		pullNow()
		if !slices.Equal(got, []string{"first", "second"}) {
			t.Fatalf("pulls got %v, want first then second with nothing skipped", got)
		}
	})

	t.Run("a writer slow before commit holds no number", func(t *testing.T) {
		s, err := pgstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		store := s.Core()
		var got []string
		_, cursor := pull(t, store, 0) // after the subtest above
		pullNow := func() {
			ids, c := pull(t, store, cursor)
			got, cursor = append(got, ids...), c
		}

		wrote, releaseFirst, firstDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			firstDone <- store.Update(func(tx core.Tx) error {
				if _, err := syncengine.Apply(tx, op("op-slow", "slow"), syncengine.MergePolicy{}, t0); err != nil {
					return err
				}
				close(wrote)
				<-releaseFirst // slow to commit, before its change is numbered
				return nil
			})
		}()
		<-wrote
		// The second writer starts later and commits first, numbered
		// first: the first holds no number yet.
		if err := store.Update(func(tx core.Tx) error {
			_, err := syncengine.Apply(tx, op("op-quick", "quick"), syncengine.MergePolicy{}, t0)
			return err
		}); err != nil {
			close(releaseFirst)
			t.Fatal(err)
		}
		pullNow()
		close(releaseFirst)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		pullNow()
		if !slices.Equal(got, []string{"quick", "slow"}) {
			t.Fatalf("pulls got %v, want quick then slow with nothing skipped", got)
		}
	})
}

// TestSchemaNewerRefused: a database migrated by a newer ruhu is refused;
// the same version reopens with the same epoch and token secret.
func TestSchemaNewerRefused(t *testing.T) {
	url := pgtest.Database(t)
	ctx := t.Context()
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	epoch, secret := s.Epoch(), string(s.Secret())
	if s.SchemaVersion() != pgstore.LatestVersion() || s.SchemaVersion() < 1 {
		t.Errorf("schema version %d, latest %d", s.SchemaVersion(), pgstore.LatestVersion())
	}
	s.Close()
	again, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if again.Epoch() != epoch || string(again.Secret()) != secret {
		t.Error("reopening changed the epoch or the token secret")
	}
	again.Close()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "INSERT INTO ruhu_schema_migrations (version, name) VALUES ($1, 'from the future')", pgstore.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Open(ctx, url); !errors.Is(err, pgstore.ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestRestartIsTransient: when PostgreSQL ends the connection under an
// open transaction (a restart, a failover), the use case fails with
// ETRANSIENT so tablets retry, and the next transaction succeeds.
func TestRestartIsTransient(t *testing.T) {
	url := pgtest.Database(t)
	ctx := t.Context()
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var dbName string
	if err := s.Core().View(func(core.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	dbName = cfg.Database

	err = s.Core().Update(func(tx core.Tx) error {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbName); err != nil {
			return fmt.Errorf("terminate: %w", err)
		}
		_, err := syncengine.Apply(tx, op("op-1", "h1"), syncengine.MergePolicy{}, t0)
		return err
	})
	if code := syncengine.ErrorCode(err); code != syncengine.ETRANSIENT {
		t.Fatalf("a write cut off by the server: %v (code %s), want ETRANSIENT", err, code)
	}
	if err := s.Core().Update(func(tx core.Tx) error {
		_, err := syncengine.Apply(tx, op("op-1", "h1"), syncengine.MergePolicy{}, t0)
		return err
	}); err != nil {
		t.Fatalf("the retry failed: %v", err)
	}
}
