package pgstore_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// newCore is the application core over a fresh PostgreSQL store, checked
// (records, history and feed agree) at cleanup.
func newCore(t *testing.T) *core.Core {
	t.Helper()
	s := open(t)
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c := core.New(slog.New(slog.NewTextHandler(t.Output(), nil)), s.Core(), reg, core.Options{})
	t.Cleanup(func() {
		if err := c.Check(context.Background()); err != nil {
			t.Errorf("store check: %v", err)
		}
	})
	return c
}

// enrolled adds the account u (with a password of its own), logs it in
// and enrols a tablet for it: the device's session.
func enrolled(t *testing.T, c *core.Core, u core.UserInput) core.Session {
	t.Helper()
	ctx := t.Context()
	u.Password = "correct horse 1"
	if _, err := c.AddUser(ctx, core.Operator(), u); err != nil {
		t.Fatal(err)
	}
	sess, err := c.Login(ctx, u.Username, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := c.Authenticate(ctx, sess.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	dev, err := c.Enroll(ctx, caller, "平板1", pub)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// TestCoreOnPostgres: the use cases run unchanged on PostgreSQL: an
// account logs in and enrols a device, a push is applied once (a resend
// acks without a second history entry), and a pull returns the record.
func TestCoreOnPostgres(t *testing.T) {
	c := newCore(t)
	ctx := t.Context()
	dev := enrolled(t, c, core.UserInput{Username: "tz", Role: "township", Scopes: []string{"340199001"}})
	caller, err := c.Authenticate(ctx, dev.AccessToken)
	if err != nil || caller.Device == "" {
		t.Fatalf("device token: %+v, %v", caller, err)
	}
	op := syncengine.Op{ID: "op-h1", RecordID: "h1", Collection: "households", Area: "340199001001", Author: caller.User,
		Device: caller.Device, HLC: syncengine.MakeHLC(time.Now().Add(-time.Minute).UnixMilli(), 0),
		Set: map[string]json.RawMessage{"head_name": json.RawMessage(`"张三"`), "status": json.RawMessage(`{"value":"exited","year":2019}`),
			"primary_cause": json.RawMessage(`"illness"`)}}
	for range 2 {
		res, err := c.Push(ctx, caller, []syncengine.WireOp{op.ToWire()})
		if err != nil || len(res.Acked) != 1 {
			t.Fatalf("push: %+v, %v", res, err)
		}
	}
	if _, hist, err := c.Record(ctx, caller, "households", "h1", true); err != nil || len(hist) != 1 {
		t.Fatalf("record: %d ops, %v", len(hist), err)
	}
	var pulled []syncengine.WireRecord
	page, err := c.Pull(ctx, caller, "", 0, func(raw []byte) {
		var w syncengine.WireRecord
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Error(err)
		}
		pulled = append(pulled, w)
	})
	if err != nil || len(pulled) != 1 || pulled[0].ID != "h1" || page.More {
		t.Fatalf("pull: %+v %+v %v", page, pulled, err)
	}
	pulled = nil
	if _, err := c.Pull(ctx, caller, page.Cursor, 0, func([]byte) { pulled = append(pulled, syncengine.WireRecord{}) }); err != nil || len(pulled) != 0 {
		t.Fatalf("incremental pull after the cursor: %d records, %v", len(pulled), err)
	}
}

// TestRefreshRace: one refresh token presented twice at once (two
// instances, or a tablet retrying) rotates exactly once; the loser gets
// EUNAUTHORIZED.
func TestRefreshRace(t *testing.T) {
	c := newCore(t)
	ctx := t.Context()
	if _, err := c.AddUser(ctx, core.Operator(), core.UserInput{Username: "wang", Password: "correct horse 2", Role: "officer", Scopes: []string{"340199001001"}}); err != nil {
		t.Fatal(err)
	}
	sess, err := c.Login(ctx, "wang", "correct horse 2")
	if err != nil {
		t.Fatal(err)
	}
	caller, err := c.Authenticate(ctx, sess.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	dev, err := c.Enroll(ctx, caller, "平板2", pub)
	if err != nil {
		t.Fatal(err)
	}
	const racers = 4
	var wg sync.WaitGroup
	results := make(chan error, racers)
	start := make(chan struct{})
	for range racers {
		wg.Go(func() {
			<-start
			_, err := c.Refresh(ctx, dev.RefreshToken)
			results <- err
		})
	}
	close(start)
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch syncengine.ErrorCode(err) {
		case "":
			won++
		case syncengine.EUNAUTHORIZED:
		default:
			t.Errorf("a racing refresh answered %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent refreshes of one token succeeded, want exactly 1", won, racers)
	}
}
