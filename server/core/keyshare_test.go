package core_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestKeyShare: an enrolled device gets the same 32-byte share at every
// call with a lease of the policy's 14 days from now; another device of
// the same user gets another share; a session without a device gets none;
// once revoked, the device never gets it again, even with a token issued
// before the revocation.
func TestKeyShare(t *testing.T) {
	c, _ := auditCore(t, core.Options{})
	ctx := context.Background()
	dev, _ := enrolled(t, c)
	a, err := c.KeyShare(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Share) != core.KeyShareSize || !a.LeaseUntil.Equal(t0.Add(14*24*time.Hour)) || a.MaxPINFailures != 10 {
		t.Fatalf("share %+v", a)
	}
	if b, err := c.KeyShare(ctx, dev); err != nil || !bytes.Equal(a.Share, b.Share) {
		t.Fatalf("second call: %v, %v", b, err)
	}
	s, err := c.Login(ctx, "tz", "long-enough-1")
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.Authenticate(ctx, s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyShare(ctx, user); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
		t.Fatalf("session without a device: %v", err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	s, err = c.Enroll(ctx, user, "second tablet", pub)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Authenticate(ctx, s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.KeyShare(ctx, other); err != nil || bytes.Equal(a.Share, b.Share) {
		t.Fatalf("another device's share: %v, %v", b, err)
	}
	if err := c.RevokeDevice(ctx, core.Operator(), dev.Device); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyShare(ctx, dev); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("revoked device: %v, want EREVOKED", err)
	}
}
