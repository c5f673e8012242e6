package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "set" {
		return runUserSet(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "add" {
		return errors.New(userUsage)
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	storeURL := fs.String("store", getenv("RUHU_STORE"), "postgres:// URL of the servers' database (they may keep running); empty for the bbolt file in --data (env RUHU_STORE)")
	remote := adminFlags(fs, getenv)
	var in server.UserInput
	fs.StringVar(&in.Username, "username", "", "login name (a-z, 0-9, _ - .)")
	fs.StringVar(&in.Password, "password", "", "password, at least 8 characters")
	fs.StringVar(&in.Role, "role", "", "officer, team_member, township, county, auditor or admin")
	fs.StringVar(&in.DisplayName, "name", "", "display name")
	scopes := fs.String("scope", "", "comma-separated area-code prefixes")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *scopes != "" {
		in.Scopes = strings.Split(*scopes, ",")
	}
	if remote.url != "" {
		if err := remote.call(ctx, "POST", "/v1/admin/users", in); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (%s) created\n", in.Username, in.Role)
		return nil
	}
	store, closeStore, err := openServeStore(ctx, *storeURL, *data)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := server.AddUser(store, in, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s) created\n", in.Username, in.Role)
	return nil
}

const userUsage = "usage: ruhu user add [--data DIR | --store postgres://… | --server URL --admin USER] --username U --password P --role ROLE --scope PREFIX[,PREFIX]\n" +
	"       ruhu user set [--data DIR | --store postgres://… | --server URL --admin USER] --username U [--role ROLE] [--scope PREFIX[,PREFIX] ...] [--name NAME] [--disable | --enable]"

// runUserSet changes an existing account's role, scopes, display name or
// disabled flag (core.UpdateUser, audited); flags left out are unchanged.
func runUserSet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	storeURL := fs.String("store", getenv("RUHU_STORE"), "postgres:// URL of the servers' database (they may keep running); empty for the bbolt file in --data (env RUHU_STORE)")
	remote := adminFlags(fs, getenv)
	username := fs.String("username", "", "the account to change")
	var up server.UserUpdate
	fs.Func("role", "new role: officer, team_member, township, county, auditor or admin", func(v string) error { up.Role = &v; return nil })
	fs.Func("scope", "new comma-separated area-code prefixes, replacing the old ones (may be repeated)", func(v string) error {
		up.Scopes = append(up.Scopes, strings.Split(v, ",")...)
		return nil
	})
	fs.Func("name", "new display name", func(v string) error { up.DisplayName = &v; return nil })
	disable := fs.Bool("disable", false, "disable the account: it can no longer log in, refresh or use its tokens")
	enable := fs.Bool("enable", false, "enable a disabled account again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" || fs.NArg() != 0 || *disable && *enable {
		return errors.New(userUsage)
	}
	if *disable || *enable {
		up.Disabled = disable
	}
	var u struct { // the API's User answer
		Username string   `json:"username"`
		Role     string   `json:"role"`
		Scopes   []string `json:"scopes"`
		Disabled bool     `json:"disabled"`
	}
	if remote.url != "" {
		if err := remote.callInto(ctx, "PATCH", "/v1/admin/users/"+url.PathEscape(*username), up, &u); err != nil {
			return err
		}
	} else {
		store, closeStore, err := openServeStore(ctx, *storeURL, *data)
		if err != nil {
			return err
		}
		defer closeStore()
		stored, err := server.UpdateUser(store, *username, up, time.Now())
		if err != nil {
			return err
		}
		u.Username, u.Role, u.Scopes, u.Disabled = stored.Username, stored.Role, stored.Scopes, stored.Disabled
	}
	state := "enabled"
	if u.Disabled {
		state = "disabled"
	}
	fmt.Fprintf(stdout, "user %s: %s %s, %s\n", u.Username, u.Role, strings.Join(u.Scopes, ","), state)
	return nil
}

func runDevice(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "revoke" {
		return errors.New(deviceUsage)
	}
	fs := flag.NewFlagSet("device revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	storeURL := fs.String("store", getenv("RUHU_STORE"), "postgres:// URL of the servers' database (they may keep running); empty for the bbolt file in --data (env RUHU_STORE)")
	remote := adminFlags(fs, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(deviceUsage)
	}
	msg := fmt.Sprintf("device %s revoked: its next sync fails and it wipes its local data\n", fs.Arg(0))
	if remote.url != "" {
		if err := remote.call(ctx, "POST", "/v1/admin/devices/"+url.PathEscape(fs.Arg(0))+"/revoke", nil); err != nil {
			return err
		}
		fmt.Fprint(stdout, msg)
		return nil
	}
	store, closeStore, err := openServeStore(ctx, *storeURL, *data)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := server.RevokeDevice(store, fs.Arg(0), time.Now()); err != nil {
		return err
	}
	fmt.Fprint(stdout, msg)
	return nil
}

const deviceUsage = "usage: ruhu device revoke [--data DIR | --store postgres://… | --server URL --admin USER] DEVICE_ID"

// adminClient talks to a running server's admin API: the store file is
// locked while the server runs, so account changes then go through it.
type adminClient struct {
	url, user, password string
}

// adminFlags adds --server, --admin and --admin-password (env
// RUHU_ADMIN_PASSWORD, so the password stays out of shell history).
func adminFlags(fs *flag.FlagSet, getenv func(string) string) *adminClient {
	a := &adminClient{}
	fs.StringVar(&a.url, "server", "", "URL of a running server; its admin API is used instead of --data")
	fs.StringVar(&a.user, "admin", "admin", "admin username for --server")
	fs.StringVar(&a.password, "admin-password", getenv("RUHU_ADMIN_PASSWORD"), "admin password for --server (env RUHU_ADMIN_PASSWORD)")
	return a
}

// call logs in as the admin and sends one request; an error answer comes
// back as an error with its stable code.
func (a *adminClient) call(ctx context.Context, method, path string, body any) error {
	return a.callInto(ctx, method, path, body, nil)
}

// callInto is call decoding a successful JSON answer into out (unless out
// is nil).
func (a *adminClient) callInto(ctx context.Context, method, path string, body, out any) error {
	tr := &client.HTTPTransport{BaseURL: strings.TrimSuffix(a.url, "/"), Client: &http.Client{Timeout: time.Minute}, Now: time.Now}
	login, err := tr.Login(ctx, a.user, a.password)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, tr.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	resp, err := tr.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
	var e struct{ Code, Message string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if e.Code == "" {
		e.Code, e.Message = syncengine.EINTERNAL, resp.Status
	}
	return syncengine.Errorf(e.Code, "%s", e.Message)
}

// runBackup copies the store of a stopped server to a file and records the
// copy in the audit log (an export of everything: its sha256 and size).
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	out := fs.String("out", "", "path of the backup file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	store, err := openStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Backup(*out); err != nil {
		return err
	}
	sum, size, err := fileSHA256(*out)
	if err != nil {
		return fmt.Errorf("backup written to %s, but not audited: %w", *out, err)
	}
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	app := core.New(slog.New(slog.NewTextHandler(stderr, nil)), store.Core(), reg, core.Options{})
	if err := app.RecordExport(ctx, core.Operator(), core.Export{What: "backup", Format: "bbolt", File: *out, Via: "cli", SHA256: sum, Size: size}); err != nil {
		return fmt.Errorf("backup written to %s, but not audited: %w", *out, err)
	}
	fmt.Fprintf(stdout, "backup written to %s\n", *out)
	return nil
}

// fileSHA256 returns the hex sha256 and the size of a file, read as a
// stream.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
