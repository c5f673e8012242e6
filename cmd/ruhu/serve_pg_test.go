package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

// TestServeRefusesNewerSchema: `ruhu serve --store` on a database a newer
// ruhu migrated past what this build knows does not start.
func TestServeRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO ruhu_schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')", pgstore.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	err = runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--store", url}, func(string) string { return "" }, &out, &out, nil)
	if !errors.Is(err, pgstore.ErrSchemaTooNew) {
		t.Fatalf("serve on a newer schema: %v, want ErrSchemaTooNew", err)
	}
	// RUHU_STORE names the store as --store does; anything but a
	// postgres:// URL is refused rather than read as a folder.
	err = runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir()}, func(k string) string {
		if k == "RUHU_STORE" {
			return url
		}
		return ""
	}, &out, &out, nil)
	if !errors.Is(err, pgstore.ErrSchemaTooNew) {
		t.Fatalf("serve with RUHU_STORE on a newer schema: %v, want ErrSchemaTooNew", err)
	}
	if err := runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--store", "mysql://x"}, func(string) string { return "" }, &out, &out, nil); err == nil {
		t.Fatal("serve accepted --store mysql://x")
	}
}

// TestServeOnPostgres runs `ruhu serve --store postgres://…` as a real
// process on a database of its own: /healthz names the store and its
// schema; the compliance report of the seeded demo county equals the one
// a bbolt server seeded with the same county answers; the web console
// signs in and shows the households, a household's file and the reports;
// two tablets edit one
// household and converge with one conflict; a photo is uploaded over tus,
// stored and processed.
func TestServeOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped in -short")
	}
	url := pgtest.Database(t)
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &serverProcess{t: t, addr: freeAddr(t), data: filepath.Join(dir, "server"), store: url, log: logf}
	p.start()
	defer p.stop()
	base := "http://" + p.addr
	ctx := context.Background()

	var health struct {
		Status string `json:"status"`
		Store  string `json:"store"`
		Schema int    `json:"schema"`
	}
	if code := (&api{t: t, url: base}).do("GET", "/healthz", nil, &health); code != 200 || health.Store != "postgres" || health.Schema != pgstore.LatestVersion() {
		t.Fatalf("/healthz: %d %+v, want postgres at schema %d", code, health, pgstore.LatestVersion())
	}

	reportPath := "/v1/reports/compliance?area=340199&period=" + demoReportPeriod(time.Now()).Label
	var onPG reportJSON
	if code := login(t, base, "county").do("GET", reportPath, nil, &onPG); code != 200 {
		t.Fatalf("report on postgres: %d", code)
	}
	if len(onPG.Summary) < 100 || len(onPG.Lists) < 100 {
		t.Fatalf("report on postgres is nearly empty: %s %s", onPG.Summary, onPG.Lists)
	}

	// The web console: a session kept in PostgreSQL, the household file
	// read through the store's scans.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.PostForm(base+"/login", neturl.Values{"username": {"county"}, "password": {demoPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, path := range []string{"/households", "/households/" + demoHousehold, "/reports"} {
		resp, err := browser.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
			t.Fatalf("console %s on postgres: %s", path, resp.Status)
		}
		if path == "/households/"+demoHousehold && !strings.Contains(string(page), demoHousehold) {
			t.Fatalf("the household file does not name the household")
		}
	}

	// Push and pull: two officers, one household, one field each and one
	// field both.
	a, b := twoTabletsEditOneHousehold(t, ctx, dir, base)
	county := login(t, base, "county")
	rec := county.record("households", demoHousehold)
	for name, c := range map[string]*client.Client{"wang": a, "li": b} {
		got, err := c.Get("households", demoHousehold)
		if err != nil {
			t.Fatal(err)
		}
		valuesEqual(t, name, got.Values, rec.Record.Fields)
	}
	var conflicts struct {
		Conflicts []struct {
			Field string `json:"field"`
		} `json:"conflicts"`
	}
	county.do("GET", "/v1/conflicts", nil, &conflicts)
	if len(conflicts.Conflicts) != 1 || conflicts.Conflicts[0].Field != "address" {
		t.Fatalf("want one conflict on address, got %+v", conflicts.Conflicts)
	}

	// A photo over tus: stored byte for byte, then processed.
	original := cameraJPEG(t, 1200, 900, 3)
	if _, err := a.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: demoHousehold, Stage: "after", Original: original}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := a.UploadAll(ctx, nil)
	if err != nil || rep.Failed != 0 || rep.Uploaded == 0 {
		t.Fatalf("upload: %+v, %v", rep, err)
	}
	wang := login(t, base, "wang")
	sha := hexSHA256(original)
	if code, got := wang.getBlob(sha); code != 200 || string(got) != string(original) {
		t.Fatalf("original on the server: %d, %d bytes", code, len(got))
	}
	var info struct {
		Status string `json:"status"`
		Width  int    `json:"width"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if code := wang.do("GET", "/v1/blobs/"+sha+"/info", nil, &info); code != 200 {
			t.Fatalf("blob info: %d", code)
		}
		if info.Status != "processing" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info.Status != "ready" || info.Width != 1200 {
		t.Fatalf("blob after processing: %+v", info)
	}

	// The report over PostgreSQL, read before the edits above, is the
	// report over bbolt seeded with the same county.
	bolt := startServer(t, filepath.Join(dir, "bolt"))
	var onBolt reportJSON
	if code := login(t, bolt.url, "county").do("GET", reportPath, nil, &onBolt); code != 200 {
		t.Fatalf("report on bbolt: %d", code)
	}
	if !sameJSON(onPG.Summary, onBolt.Summary) || !sameJSON(onPG.Lists, onBolt.Lists) {
		t.Errorf("reports differ:\npostgres %s\n%s\nbbolt    %s\n%s", onPG.Summary, onPG.Lists, onBolt.Summary, onBolt.Lists)
	}
}

// reportJSON is the part of a compliance report the tests compare.
type reportJSON struct {
	Summary json.RawMessage `json:"summary"`
	Lists   json.RawMessage `json:"lists"`
}

// TestRestoredPostgresMakesTabletsResync: the server's database is
// restored (pg_restore) from a pg_dump taken before some of a tablet's
// ops; the restored database has a new epoch, so the tablet resyncs in
// full and sends again the ops the server lost, as after a bbolt restore.
func TestRestoredPostgresMakesTabletsResync(t *testing.T) {
	for _, bin := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("no %s: %v", bin, err)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "server")
	db := pgtest.Database(t)
	srv := startServerWith(t, data, "127.0.0.1:0", []string{"--store", db})
	addr := strings.TrimPrefix(srv.url, "http://")
	ctx := context.Background()
	tab := newTablet(t, dir, srv.url, "wang")
	save := func(from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			id := tab.NewID()
			ids = append(ids, id)
			if _, err := tab.Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, "wang", i)); err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}
	early := save(0, 3)
	if _, err := tab.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "ruhu.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", dump, db).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	late := save(3, 6)
	if rep, err := tab.Sync(ctx, nil); err != nil || rep.Reset {
		t.Fatalf("sync before restore: %+v %v", rep, err)
	}
	srv.stop()
	restored := pgtest.Database(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "-d", restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	srv = startServerWith(t, data, addr, []string{"--store", restored})
	rep, err := tab.Sync(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Reset {
		t.Fatalf("a tablet syncing with a restored server must be told to resync: %+v", rep)
	}
	county := login(t, srv.url, "county")
	for _, id := range append(early, late...) {
		county.record("visits", id) // fails the test when the restored server lacks it
	}
}

// TestAdminCommandsOnPostgres: on a fresh database `ruhu user add --store`
// creates the first account (no file, no running server needed), and
// `ruhu device revoke --store` revokes a device while a server runs on the
// database: its next request is refused.
func TestAdminCommandsOnPostgres(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Database(t)
	var out syncBuffer
	env := func(k string) string {
		if k == "RUHU_STORE" {
			return db
		}
		return ""
	}
	if err := run(ctx, []string{"user", "add", "--username", "root", "--password", "root-password-1", "--role", "admin", "--scope", "34"}, env, &out, &out); err != nil {
		t.Fatalf("user add: %v\n%s", err, out.String())
	}
	srv := startServerWith(t, filepath.Join(t.TempDir(), "server"), "127.0.0.1:0", []string{"--store", db})
	a := &api{t: t, url: srv.url}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := a.do("POST", "/v1/auth/login", map[string]string{"username": "root", "password": "root-password-1"}, &tok); code != 200 {
		t.Fatalf("login as the account made by user add: %d", code)
	}
	a.token = tok.AccessToken
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var dev struct {
		DeviceID    string `json:"device_id"`
		AccessToken string `json:"access_token"`
	}
	if code := a.do("POST", "/v1/devices", map[string]string{"name": "t", "public_key": base64.StdEncoding.EncodeToString(pub)}, &dev); code != 201 {
		t.Fatalf("enroll: %d", code)
	}
	if err := run(ctx, []string{"device", "revoke", "--store", db, dev.DeviceID}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("device revoke: %v\n%s", err, out.String())
	}
	if code := (&api{t: t, url: srv.url, token: dev.AccessToken}).do("GET", "/v1/sync/pull", nil, nil); code != 403 {
		t.Fatalf("pull by a device revoked from the command line: %d, want 403", code)
	}
}

// TestAuditVerifyOnPostgres: `ruhu audit verify --store` and `audit
// anchor --store` read the chain of a running PostgreSQL server; a byte
// changed in an entry's row is found and named.
func TestAuditVerifyOnPostgres(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Database(t)
	srv := startServerWith(t, filepath.Join(t.TempDir(), "server"), "127.0.0.1:0", []string{"--store", db})
	login(t, srv.url, "wang")
	login(t, srv.url, "county")
	var out syncBuffer
	if err := run(ctx, []string{"audit", "verify", "--store", db}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit chain ok") {
		t.Fatalf("audit verify printed %q", out.String())
	}
	if err := run(ctx, []string{"audit", "anchor", "--store", db}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("audit anchor: %v\n%s", err, out.String())
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE audit SET body = overlay(body placing '\\x58'::bytea from 12 for 1) WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"audit", "verify", "--store", db}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("audit verify of a changed entry: %v", err)
	}
	t.Logf("changed entry found: %v", err)
}
