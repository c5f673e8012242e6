package core_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// auditCore is a core over a fresh bbolt store with opts (Now fixed at t0).
func auditCore(t *testing.T, opts core.Options) (*core.Core, *boltstore.Store) {
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
	opts.Now = func() time.Time { return t0 }
	return core.New(slog.New(slog.DiscardHandler), st.Core(), reg, opts), st
}

// enrolled adds township user tz, logs in and enrols a tablet; it returns
// the device's caller and key.
func enrolled(t *testing.T, c *core.Core) (core.Caller, ed25519.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.AddUser(ctx, core.Operator(), core.UserInput{Username: "tz", Password: "long-enough-1", Role: "township", Scopes: []string{"340199001"}}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(ctx, "tz", "long-enough-1")
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.Authenticate(ctx, s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err = c.Enroll(ctx, user, "tablet", pub)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.Authenticate(ctx, s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return dev, priv
}

// signed returns a batch, its body and its envelope signed with key as dev.
func signed(t *testing.T, dev core.Caller, key ed25519.PrivateKey, id string) ([]syncengine.WireOp, *core.BatchEnvelope) {
	t.Helper()
	batch := []syncengine.WireOp{householdOp(id, dev.User, dev.Device).ToWire()}
	body, err := json.Marshal(syncengine.PushRequest{Ops: batch})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := syncengine.ParseBatchSignature(syncengine.SignBatch(key, dev.Device, body))
	if err != nil {
		t.Fatal(err)
	}
	return batch, &core.BatchEnvelope{Digest: syncengine.BatchDigest(body), Signature: sig}
}

// TestAuditRecordsUseCases: each audited use case leaves one entry, in
// order, in a chain that verifies; a batch whose signature does not verify
// is refused whole with EFORBIDDEN and leaves none.
func TestAuditRecordsUseCases(t *testing.T) {
	c, st := auditCore(t, core.Options{})
	ctx := context.Background()
	dev, key := enrolled(t, c)
	if _, err := c.Login(ctx, "tz", "wrong-password"); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("wrong password: %v", err)
	}
	batch, env := signed(t, dev, key, "h1")
	if res, err := c.PushSigned(ctx, dev, batch, env); err != nil || len(res.Acked) != 1 {
		t.Fatalf("signed push: %+v %v", res, err)
	}
	// The same signature over another batch, and a signature by another key.
	other, otherEnv := signed(t, dev, key, "h2")
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	_, forged := signed(t, dev, otherKey, "h2")
	replayed := &core.BatchEnvelope{Digest: otherEnv.Digest, Signature: env.Signature}
	for name, e := range map[string]*core.BatchEnvelope{"replayed signature": replayed, "another key": forged} {
		if _, err := c.PushSigned(ctx, dev, other, e); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
			t.Errorf("%s: answered %v, want EFORBIDDEN", name, err)
		}
	}
	if _, _, err := c.Record(ctx, dev, "households", "h2", false); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Errorf("a refused batch was applied: %v", err)
	}
	// An old tablet's unsigned batch passes by default, marked.
	if res, err := c.Push(ctx, dev, other); err != nil || len(res.Acked) != 1 {
		t.Fatalf("unsigned push: %+v %v", res, err)
	}
	// A resend applies nothing new and records nothing.
	if _, err := c.PushSigned(ctx, dev, batch, env); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeDevice(ctx, core.Operator(), dev.Device); err != nil {
		t.Fatal(err)
	}

	head, err := st.VerifyAudit(nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	entries, err := c.AuditTrail(ctx, core.Operator(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []audit.Kind
	for _, e := range slices.Backward(entries) {
		kinds = append(kinds, e.Kind)
	}
	want := []audit.Kind{audit.KindUser, audit.KindLogin, audit.KindEnroll, audit.KindLoginFailed, audit.KindPush, audit.KindPush, audit.KindRevoke}
	if !slices.Equal(kinds, want) || head.Seq != uint64(len(want)) {
		t.Fatalf("entries %v (head %d), want %v", kinds, head.Seq, want)
	}
	push := entries[2] // the signed push, newest first: revoke, unsigned push, signed push
	if push.Detail["signature"] != base64.StdEncoding.EncodeToString(env.Signature) || push.Device != dev.Device ||
		push.Area != "340199001001" || push.Detail["applied"] != "1" {
		t.Errorf("signed push entry: %+v", push)
	}
	if entries[1].Detail["signature"] != "none" {
		t.Errorf("unsigned push entry: %+v", entries[1])
	}
	if entries[3].Actor != "tz" || entries[3].Area != "340199001" {
		t.Errorf("failed login entry: %+v", entries[3])
	}
}

// TestRequireSignedPush: with the option on, an unsigned batch is refused.
func TestRequireSignedPush(t *testing.T) {
	c, _ := auditCore(t, core.Options{RequireSignedPush: true})
	dev, key := enrolled(t, c)
	batch, env := signed(t, dev, key, "h1")
	if _, err := c.Push(context.Background(), dev, batch); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
		t.Fatalf("unsigned push answered %v, want EFORBIDDEN", err)
	}
	if res, err := c.PushSigned(context.Background(), dev, batch, env); err != nil || len(res.Acked) != 1 {
		t.Fatalf("signed push: %+v %v", res, err)
	}
}

// TestAuditTrailScope: auditors, county staff and admins read the trail of
// an area their scopes cover, and only entries within it.
func TestAuditTrailScope(t *testing.T) {
	c, _ := auditCore(t, core.Options{})
	ctx := context.Background()
	for _, u := range []core.UserInput{
		{Username: "a1", Password: "long-enough-1", Role: "officer", Scopes: []string{"340199001001"}},
		{Username: "a2", Password: "long-enough-1", Role: "officer", Scopes: []string{"340199002001"}},
	} {
		if _, err := c.AddUser(ctx, core.Operator(), u); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		caller   core.Caller
		area     string
		wantCode string
		want     int
	}{
		{"auditor of the county", core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}, "340199", "", 2},
		{"auditor, one township", core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}, "340199001", "", 1},
		{"auditor beyond scope", core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199001"}}, "340199", syncengine.EFORBIDDEN, 0},
		{"county", core.Caller{User: "cy", Role: "county", Scopes: []string{"3401"}}, "340199002", "", 1},
		{"township may not", core.Caller{User: "tz", Role: "township", Scopes: []string{"340199001"}}, "340199001", syncengine.EFORBIDDEN, 0},
		{"auditor without an area", core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}, "", syncengine.EINVALID, 0},
		{"bad area", core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}, "3401x", syncengine.EINVALID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.AuditTrail(ctx, tt.caller, tt.area, 0, 0)
			if code := syncengine.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("answered %v, want %q", err, tt.wantCode)
			}
			if len(got) != tt.want {
				t.Fatalf("%d entries, want %d", len(got), tt.want)
			}
		})
	}
}
