package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestTabletKeyAgainstTheServer: against `ruhu serve`, a tablet's sync
// fetches its key share (POST /v1/device/key-share) with the policy's
// 14-day lease; the PIN set with it unlocks the demo household's head
// name after a restart of the tablet; once an admin revokes the device,
// the server refuses it the share and the tablet wipes its data, names
// included.
func TestTabletKeyAgainstTheServer(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", dir + "/server", "--seed-demo"},
			func(string) string { return "" }, &out, &out, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start in 30 s")
	}
	t.Cleanup(func() { cancel(); <-done })

	tab := newTablet(t, dir, url, "wang")
	if _, err := tab.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ks, err := tab.KeyState()
	if err != nil || !ks.LeaseValid || ks.MaxPINFailures != 10 || time.Until(ks.LeaseUntil) < 13*24*time.Hour {
		t.Fatalf("key state after the sync: %+v, %v", ks, err)
	}
	h, err := tab.Get("households", demoHousehold)
	if err != nil {
		t.Fatal(err)
	}
	head := h.String("head_name")
	if err := tab.SetPIN("802113"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tablet-wang.db")
	tab.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if head == "" || strings.Contains(string(file), head) {
		t.Fatalf("head name %q in clear in the tablet file", head)
	}
	tab, err = client.Open(path, client.Options{Validator: testSchemas(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	if _, err := tab.Get("households", demoHousehold); !errors.Is(err, client.ErrLocked) {
		t.Fatalf("after a restart, before the PIN: %v", err)
	}
	if err := tab.Unlock("802113"); err != nil {
		t.Fatal(err)
	}
	if h, err := tab.Get("households", demoHousehold); err != nil || h.String("head_name") != head {
		t.Fatalf("after the PIN: %v, %v", h, err)
	}

	// The tablet CLI on the same file: sealed without the PIN, readable
	// with RUHU_TABLET_PIN.
	tab.Close()
	tdir := filepath.Join(dir, "cli")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, filepath.Join(tdir, "tablet.db")); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(tdir, "tablet.db")
	cli := func(pin string) (string, error) {
		var out, errOut strings.Builder
		err := runTablet(ctx, []string{"--data", tdir, "households"}, func(k string) string {
			if k == "RUHU_TABLET_PIN" {
				return pin
			}
			return ""
		}, &out, &errOut)
		return out.String(), err
	}
	if out, err := cli(""); !errors.Is(err, client.ErrLocked) {
		t.Fatalf("CLI without the PIN: %v\n%s", err, out)
	}
	if out, err := cli("802113"); err != nil || !strings.Contains(out, head) {
		t.Fatalf("CLI with RUHU_TABLET_PIN: %v\n%s", err, out)
	}
	if tab, err = client.Open(path, client.Options{Validator: testSchemas(t)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })

	admin := login(t, url, "admin")
	dev, err := tab.Status()
	if err != nil {
		t.Fatal(err)
	}
	if code := admin.do("POST", "/v1/admin/devices/"+dev.DeviceID+"/revoke", nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if err := tab.RenewKeyShare(ctx); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("key share for a revoked device: %v", err)
	}
	if _, err := tab.Get("households", demoHousehold); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("after the refusal: %v, want EREVOKED (wiped)", err)
	}
}
