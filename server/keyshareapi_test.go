package server_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

type keyShareAnswer struct {
	Share          []byte    `json:"share"`
	LeaseUntil     time.Time `json:"lease_until"`
	LeaseSeconds   int64     `json:"lease_seconds"`
	MaxPINFailures int       `json:"max_pin_failures"`
}

// TestKeyShareOverHTTP: an enrolled device gets its share with the lease
// of the policy, uncacheable, the same at each sync; a user token without
// a device is refused; a revoked device is refused with EREVOKED.
func TestKeyShareOverHTTP(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()})
	s := ts.as("wang")
	r := ts.do("POST", "/v1/device/key-share", s.access, nil)
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("key share: %s (Cache-Control %q)", r, r.header.Get("Cache-Control"))
	}
	var a, b keyShareAnswer
	ts.mustJSON("POST", "/v1/device/key-share", s.access, nil, 200, &a)
	ts.mustJSON("POST", "/v1/device/key-share", s.access, nil, 200, &b)
	if len(a.Share) != 32 || !bytes.Equal(a.Share, b.Share) || a.LeaseSeconds != 14*24*3600 || a.MaxPINFailures != 10 ||
		!a.LeaseUntil.Equal(ts.clock.Now().Add(14*24*time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("answers %+v and %+v", a, b)
	}
	ts.expectError(ts.do("POST", "/v1/device/key-share", s.login, nil), 403, syncengine.EFORBIDDEN)
	ts.mustJSON("POST", "/v1/admin/devices/"+s.device+"/revoke", ts.as("admin").login, nil, 200, nil)
	r = ts.do("POST", "/v1/device/key-share", s.access, nil)
	if r.errorCode() != syncengine.EREVOKED || bytes.Contains(r.body, []byte("share")) {
		t.Fatalf("revoked device: %s", r)
	}
}
