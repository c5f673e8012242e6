package fieldapp_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/schemas"
)

// deviceClock is the tablet's clock in these tests: the app's clock.
type deviceClock struct{ *clock }

func (deviceClock) BootID() string        { return "" }
func (deviceClock) Uptime() time.Duration { return 0 }

// keyServer is the part of the server the lock screen needs: login,
// enrolment and the key share, on the tests' clock; revoked refuses the
// share as the server refuses a revoked device.
type keyServer struct {
	*httptest.Server
	clk *clock

	mu      sync.Mutex
	revoked bool
}

func newKeyServer(t *testing.T, clk *clock) *keyServer {
	ks := &keyServer{clk: clk}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, map[string]any{"access_token": "user-token", "token_type": "Bearer", "expires_in": 900,
			"user": map[string]any{"username": "wang", "role": "officer", "scopes": []string{"340199001"}}})
	})
	mux.HandleFunc("POST /v1/devices", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 201, map[string]any{"device_id": "d1", "refresh_token": "refresh", "access_token": "device-token", "expires_in": 900})
	})
	mux.HandleFunc("POST /v1/device/key-share", func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		revoked := ks.revoked
		ks.mu.Unlock()
		if revoked {
			answer(w, 403, map[string]string{"code": "EREVOKED", "message": "this device was revoked"})
			return
		}
		share := sha256.Sum256([]byte("d1"))
		answer(w, 200, map[string]any{"share": share[:], "lease_until": clk.Now().Add(14 * 24 * time.Hour),
			"lease_seconds": 14 * 24 * 3600, "max_pin_failures": 10})
	})
	ks.Server = httptest.NewServer(mux)
	t.Cleanup(ks.Close)
	return ks
}

// TestLockScreenDerivesTheKey: the setup screen enrols the tablet, fetches
// its key share and sets the PIN; the lock screen's unlock derives the key
// (a wrong PIN is EPIN), locking seals the personal fields; past the
// lease the app stays locked and the right PIN answers ELEASE until
// "sync and unlock" renews the share; a revoked device is refused it and
// wiped.
func TestLockScreenDerivesTheKey(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)}
	srv := newKeyServer(t, clk)
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(filepath.Join(t.TempDir(), "tablet.db"), client.Options{Validator: reg, DeviceClock: deviceClock{clk}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	app, err := fieldapp.New(fieldapp.Options{Client: c, Schemas: reg, IdleLock: 10 * time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	web := httptest.NewServer(app.Handler())
	t.Cleanup(web.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if _, err := hc.Get(app.LaunchURL(web.URL)); err != nil {
		t.Fatal(err)
	}
	expect := func(what, method, path, body string, status int, contains string) string {
		t.Helper()
		code, got := do(t, hc, method, web.URL+path, body)
		if code != status || !strings.Contains(got, contains) {
			t.Fatalf("%s: %d %s, want %d with %q", what, code, got, status, contains)
		}
		return got
	}
	// Typed as the county hands it out, without http://.
	expect("setup", "POST", "/api/setup", `{"server":"`+strings.TrimPrefix(srv.URL, "http://")+`","user":"wang","password":"pw","device_name":"平板","pin":"2468"}`, 200, `"server":"`+srv.URL+`"`)
	expect("PIN after setup", "GET", "/api/me", "", 200, `"has_pin":true`)
	if _, err := c.Save(context.Background(), "households", "h1", "340199001001",
		map[string]json.RawMessage{"head_name": json.RawMessage(`"张三丰"`), "status": json.RawMessage(`{"value":"poor","year":2026}`), "primary_cause": json.RawMessage(`"illness"`)}); err != nil {
		t.Fatal(err)
	}
	expect("households after setup", "GET", "/api/households/h1", "", 200, "张三丰")

	expect("lock", "POST", "/api/lock/lock", "", 200, `"locked":true`)
	expect("households locked", "GET", "/api/households/h1", "", http.StatusLocked, "ELOCKED")
	expect("wrong PIN", "POST", "/api/lock/unlock", `{"pin":"1111"}`, http.StatusUnauthorized, client.CodeWrongPIN)
	expect("lock state", "GET", "/api/lock", "", 200, `"pin_failures":1`)
	expect("right PIN", "POST", "/api/lock/unlock", `{"pin":"2468"}`, 200, `"locked":false`)
	expect("households unlocked", "GET", "/api/households/h1", "", 200, "张三丰")

	clk.Advance(15 * 24 * time.Hour) // no sync for longer than the lease
	expect("households past the lease", "GET", "/api/households/h1", "", http.StatusLocked, "ELOCKED")
	expect("lock state past the lease", "GET", "/api/lock", "", 200, `"lease_valid":false`)
	expect("right PIN past the lease", "POST", "/api/lock/unlock", `{"pin":"2468"}`, http.StatusLocked, client.CodeLeaseExpired)
	expect("sync and unlock", "POST", "/api/lock/renew", `{"pin":"2468"}`, 200, `"locked":false`)
	expect("households after renewing", "GET", "/api/households/h1", "", 200, "张三丰")

	srv.mu.Lock()
	srv.revoked = true
	srv.mu.Unlock()
	clk.Advance(15 * 24 * time.Hour)
	expect("right PIN, revoked, past the lease", "POST", "/api/lock/unlock", `{"pin":"2468"}`, http.StatusLocked, client.CodeLeaseExpired)
	// The server's English ("this device was revoked") is said in Chinese.
	revoked := expect("sync and unlock, revoked", "POST", "/api/lock/renew", `{"pin":"2468"}`, http.StatusGone, "EREVOKED")
	if !strings.Contains(revoked, "本设备已被管理员停用") || strings.Contains(revoked, "this device") {
		t.Errorf("revoked answer %s: want the reason in Chinese", revoked)
	}
	if _, err := c.Get("households", "h1"); err == nil {
		t.Fatal("the revoked tablet still reads its household")
	}
}
