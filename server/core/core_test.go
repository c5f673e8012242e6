package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// syncBuffer is a log destination tests read while the core writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newCore opens a bbolt store in a temp dir and a core over it (or over
// wrap(store) when wrap is set); the log goes to the returned buffer.
func newCore(t *testing.T, wrap func(core.Store) core.Store) (*core.Core, *boltstore.Store, *syncBuffer) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	var cs core.Store = st.Core()
	if wrap != nil {
		cs = wrap(cs)
	}
	logs := &syncBuffer{}
	c := core.New(slog.New(slog.NewTextHandler(logs, nil)), cs, reg, core.Options{Now: func() time.Time { return t0 }})
	if wrap == nil {
		// Runs before the store closes (cleanups run last first); a test
		// that closes the store itself has nothing left to check.
		t.Cleanup(func() {
			if err := c.Check(context.Background()); err != nil && syncengine.ErrorCode(err) != syncengine.ETRANSIENT {
				t.Errorf("store check: %v", err)
			}
		})
	}
	return c, st, logs
}

// failingStore fails every write transaction with err, as a store whose
// disk or database went wrong.
type failingStore struct {
	core.Store
	err error
}

func (f failingStore) Update(func(core.Tx) error) error     { return f.err }
func (f failingStore) UpdateSolo(func(core.Tx) error) error { return f.err }

func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// householdOp is an op creating a valid household under 340199001001.
func householdOp(id, author, device string) *syncengine.Op {
	return &syncengine.Op{ID: "op-" + id, RecordID: id, Collection: "households", Area: "340199001001",
		Author: author, Device: device, HLC: syncengine.MakeHLC(t0.Add(-time.Hour).UnixMilli(), 0),
		Set: map[string]json.RawMessage{"head_name": raw("张三"), "status": raw(map[string]any{"value": "exited", "year": 2019}), "primary_cause": raw("illness")}}
}

var township = core.Caller{User: "tz", Role: "township", Scopes: []string{"340199001"}, Device: "d1"}

// TestStoreFailures: a store failure the store marks temporary answers
// ETRANSIENT and is not logged as an error; any other answers EINTERNAL
// without its detail, and is logged once with the detail (before the core,
// every failed push transaction answered ETRANSIENT and was never logged,
// so a bug that failed every time made tablets retry forever).
func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantLog  bool
	}{
		{"broken", errors.New("page 4096: checksum mismatch"), syncengine.EINTERNAL, true},
		{"transient", syncengine.Errorf(syncengine.ETRANSIENT, "store unavailable, retry"), syncengine.ETRANSIENT, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, logs := newCore(t, func(s core.Store) core.Store { return failingStore{s, tt.err} })
			batch := []syncengine.WireOp{householdOp("h1", township.User, township.Device).ToWire()}
			_, err := c.Push(context.Background(), township, batch)
			if code := syncengine.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("push answered %v (%s), want %s", err, code, tt.wantCode)
			}
			logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "checksum mismatch")
			if logged != tt.wantLog {
				t.Errorf("logged %v, want %v; log: %q", logged, tt.wantLog, logs.String())
			}
			if tt.wantLog {
				if msg := syncengine.ErrorMessage(err); strings.Contains(msg, "checksum") {
					t.Errorf("the caller sees the internal detail: %q", msg)
				}
				if !core.IsLogged(err) {
					t.Error("IsLogged is false for an error the core logged")
				}
			}
			// Every other writer answers the same way.
			_, err = c.AddUser(context.Background(), core.Operator(), core.UserInput{Username: "qian", Password: "long-enough-1", Role: "officer", Scopes: []string{"34"}})
			if code := syncengine.ErrorCode(err); code != tt.wantCode {
				t.Errorf("add user answered %v, want %s", err, tt.wantCode)
			}
		})
	}
}

// TestClosedStoreIsTransient: bbolt refusing a transaction because the
// file is closing (a server shutting down) is marked ETRANSIENT by the
// bbolt store, so tablets retry against the next instance.
func TestClosedStoreIsTransient(t *testing.T) {
	c, st, logs := newCore(t, nil)
	st.Close()
	_, err := c.Push(context.Background(), township, []syncengine.WireOp{householdOp("h1", township.User, township.Device).ToWire()})
	if code := syncengine.ErrorCode(err); code != syncengine.ETRANSIENT {
		t.Fatalf("push on a closed store answered %v, want ETRANSIENT", err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a transient failure was logged as an error: %s", logs.String())
	}
}

// TestPushThroughCore: the core admits, applies and acks without HTTP, and
// a resend is acked again without a second history entry.
func TestPushThroughCore(t *testing.T) {
	c, _, _ := newCore(t, nil)
	ctx := context.Background()
	op := householdOp("h1", township.User, township.Device).ToWire()
	res, err := c.Push(ctx, township, []syncengine.WireOp{op})
	if err != nil || len(res.Acked) != 1 || len(res.Rejected) != 0 {
		t.Fatalf("push: %+v %v", res, err)
	}
	if res, err = c.Push(ctx, township, []syncengine.WireOp{op}); err != nil || len(res.Acked) != 1 {
		t.Fatalf("resend: %+v %v", res, err)
	}
	_, hist, err := c.Record(ctx, township, "households", "h1", true)
	if err != nil || len(hist) != 1 {
		t.Fatalf("record: %d ops, %v", len(hist), err)
	}
	other := core.Caller{User: "ty", Role: "township", Scopes: []string{"340199002"}}
	if _, _, err := c.Record(ctx, other, "households", "h1", false); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Errorf("out-of-scope read answered %v, want ENOTFOUND", err)
	}
}

// TestLoadHoldsDataRules: operator loads (the demo seed, bench fixtures)
// skip role and scope checks but not the schemas or the append-only rule,
// and a refused op writes nothing.
func TestLoadHoldsDataRules(t *testing.T) {
	visit := func(id string, set map[string]any) *syncengine.Op {
		s := map[string]json.RawMessage{}
		for k, v := range set {
			s[k] = raw(v)
		}
		return &syncengine.Op{ID: id, RecordID: "vis1", Collection: "visits", Area: "340199001001", Author: "seed", Device: "seed",
			HLC: syncengine.MakeHLC(t0.Add(-time.Hour).UnixMilli(), 0), Set: s}
	}
	whole := map[string]any{"household_id": "h1", "officer": "wang", "visited_at": "2026-02-01T09:00:00Z",
		"checklist": map[string]any{"food": "ok", "clothing": "ok", "education": "na", "medical": "ok", "housing": "ok", "drinking_water": "ok"}}
	tests := []struct {
		name     string
		ops      []*syncengine.Op
		wantCode string
	}{
		{"valid", []*syncengine.Op{householdOp("h1", "seed", "seed"), visit("v1", whole)}, ""},
		{"invalid record", []*syncengine.Op{householdOp("h2", "seed", "seed"), visit("v1", map[string]any{"notes": "无户"})}, syncengine.EINVALID},
		{"append-only field set after creation", []*syncengine.Op{visit("v1", whole), visit("v2", map[string]any{"notes": "补记"})}, syncengine.EINVALID},
		{"unknown collection", []*syncengine.Op{{ID: "x1", RecordID: "x", Collection: "nothing", Area: "340199001001", Author: "seed", Device: "seed", HLC: 1, Set: map[string]json.RawMessage{"a": raw(1)}}}, syncengine.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newCore(t, nil)
			n, err := c.Load(context.Background(), tt.ops)
			if code := syncengine.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("load answered %v, want %q", err, tt.wantCode)
			}
			if tt.wantCode == "" {
				if n != len(tt.ops) {
					t.Errorf("applied %d of %d", n, len(tt.ops))
				}
				if n, err := c.Load(context.Background(), tt.ops); err != nil || n != 0 {
					t.Errorf("reload applied %d (%v), want 0", n, err)
				}
				return
			}
			if _, _, err := c.Record(context.Background(), core.Operator(), tt.ops[0].Collection, tt.ops[0].RecordID, false); syncengine.ErrorCode(err) != syncengine.ENOTFOUND && tt.ops[0].Collection != "nothing" {
				t.Errorf("a refused load wrote its first op (%v)", err)
			}
		})
	}
}

// TestCheckFindsDisagreement: a record written past syncengine.Apply,
// without its op in history, is reported by Check; a store written
// through the core is not.
func TestCheckFindsDisagreement(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(slog.New(slog.DiscardHandler), st.Core(), reg, core.Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	if _, err := c.Load(ctx, []*syncengine.Op{householdOp("h1", "seed", "seed")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("a store written through the core fails its check: %v", err)
	}
	op := householdOp("h2", "seed", "seed")
	rec := &syncengine.Record{ID: op.RecordID, Collection: op.Collection, Area: op.Area, Fields: map[string]syncengine.FieldState{}}
	for name, v := range op.Set {
		rec.Fields[name] = syncengine.FieldState{Value: v, HLC: op.HLC, Device: op.Device, Author: op.Author, OpID: op.ID}
	}
	if err := st.UpdateSolo(func(tx *boltstore.Tx) error { return tx.PutRecord(rec, op) }); err != nil {
		t.Fatal(err)
	}
	err = c.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "households/h2 has no history") {
		t.Fatalf("check of a record without history answered %v", err)
	}
}
