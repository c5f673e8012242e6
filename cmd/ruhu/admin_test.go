package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestAdminCommandsAgainstRunningServer: while the server holds its store
// file, `ruhu user add` and `ruhu device revoke` go through the admin API;
// the revoked tablet's next sync fails with EREVOKED and wipes its data.
func TestAdminCommandsAgainstRunningServer(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	ctx := context.Background()
	env := func(k string) string {
		if k == "RUHU_ADMIN_PASSWORD" {
			return demoPassword
		}
		return ""
	}
	var out bytes.Buffer
	err := run(ctx, []string{"user", "add", "--server", srv.url, "--username", "qian", "--password", "qian-password-1", "--role", "officer", "--scope", "340199002"}, env, &out, &out)
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out.String())
	}
	login(t, srv.url, "county") // the server still serves
	tab := newTablet(t, dir, srv.url, "wang")
	if _, err := tab.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, err := tab.Status()
	if err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"device", "revoke", "--server", srv.url, st.DeviceID}, env, &out, &out)
	if err != nil {
		t.Fatalf("device revoke: %v\n%s", err, out.String())
	}
	if _, err := tab.Sync(ctx, nil); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("sync after revoke: %v, want EREVOKED", err)
	}
	if _, err := tab.Get("households", demoHousehold); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("local data after revoke: %v, want EREVOKED (wiped)", err)
	}
	// A wrong admin password is refused with its code, nothing revoked.
	err = run(ctx, []string{"device", "revoke", "--server", srv.url, "--admin-password", "wrong-password", st.DeviceID}, env, &out, &out)
	if syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("wrong admin password: %v", err)
	}
	err = run(ctx, []string{"device", "revoke", "--server", srv.url, "no-such-device"}, env, &out, &out)
	if syncengine.ErrorCode(err) != syncengine.ENOTFOUND || !strings.Contains(err.Error(), "no-such-device") {
		t.Fatalf("unknown device: %v", err)
	}
}
