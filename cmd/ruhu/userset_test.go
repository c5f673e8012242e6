package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestUserSet: `ruhu user set` on a stopped server's data folder moves an
// officer, disables and enables him, each change an audit entry in a chain
// that verifies; bad flags, bad values and an unknown user are refused
// with nothing recorded.
func TestUserSet(t *testing.T) {
	ctx := context.Background()
	noenv := func(string) string { return "" }
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, noenv, &out, &out)
		return out.String(), err
	}
	dir := t.TempDir()
	if out, err := cmd("user", "add", "--data", dir, "--username", "qian", "--password", "long-password-1", "--role", "officer", "--scope", "340199002"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scope", "340199001001", "--scope", "340199001002"}, "user qian: officer 340199001001,340199001002, enabled\n"},
		{[]string{"--role", "township", "--scope", "340199001"}, "user qian: township 340199001, enabled\n"},
		{[]string{"--disable"}, "user qian: township 340199001, disabled\n"},
		{[]string{"--enable", "--name", "钱七"}, "user qian: township 340199001, enabled\n"},
	} {
		out, err := cmd(append([]string{"user", "set", "--data", dir, "--username", "qian"}, tc.args...)...)
		if err != nil || out != tc.want {
			t.Errorf("user set %v: %v\n%q, want %q", tc.args, err, out, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		code string // "" for a usage error
	}{
		{[]string{"--disable"}, ""},                                              // no --username
		{[]string{"--username", "qian", "--disable", "--enable"}, ""},            // both
		{[]string{"--username", "qian", "extra"}, ""},                            // stray argument
		{[]string{"--username", "qian"}, syncengine.EINVALID},                    // nothing to change
		{[]string{"--username", "qian", "--role", "mayor"}, syncengine.EINVALID}, // unknown role
		{[]string{"--username", "qian", "--scope", "34x"}, syncengine.EINVALID},  // bad scope
		{[]string{"--username", "nobody", "--disable"}, syncengine.ENOTFOUND},
	} {
		out, err := cmd(append([]string{"user", "set", "--data", dir}, tc.args...)...)
		switch {
		case err == nil:
			t.Errorf("user set %v: accepted\n%s", tc.args, out)
		case tc.code == "" && !strings.Contains(err.Error(), "usage: ruhu user"):
			t.Errorf("user set %v: %v, want the usage", tc.args, err)
		case tc.code != "" && syncengine.ErrorCode(err) != tc.code:
			t.Errorf("user set %v: %v, want %s", tc.args, err, tc.code)
		}
	}
	// One entry for the account's creation and one per change.
	if out, err := cmd("audit", "verify", "--data", dir); err != nil || !strings.HasPrefix(out, "audit chain ok: 5 entries") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// TestUserSetAgainstRunningServer: while the server holds its store file,
// `ruhu user set --server` goes through the admin API; the disabled
// officer can no longer log in.
func TestUserSetAgainstRunningServer(t *testing.T) {
	srv := startServer(t, filepath.Join(t.TempDir(), "server"))
	env := func(k string) string {
		if k == "RUHU_ADMIN_PASSWORD" {
			return demoPassword
		}
		return ""
	}
	a := &api{t: t, url: srv.url}
	wang := map[string]string{"username": "wang", "password": demoPassword}
	if code := a.do("POST", "/v1/auth/login", wang, nil); code != 200 {
		t.Fatalf("wang's login before: %d", code)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"user", "set", "--server", srv.url, "--username", "wang", "--disable"}, env, &out, &out)
	if err != nil || !strings.HasSuffix(out.String(), ", disabled\n") {
		t.Fatalf("user set: %v\n%s", err, out.String())
	}
	if code := a.do("POST", "/v1/auth/login", wang, nil); code != 401 {
		t.Errorf("disabled wang's login answered %d", code)
	}
	err = run(context.Background(), []string{"user", "set", "--server", srv.url, "--username", "admin", "--disable"}, env, &out, &out)
	if syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Errorf("admin disabling self: %v", err)
	}
}
