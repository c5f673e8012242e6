package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// syncBuffer is an io.Writer safe for a server goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// inProcServer runs `ruhu serve` through run's serve path on a free
// loopback port with a data dir, seeded with the demo county.
type inProcServer struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T, dataDir string) *inProcServer {
	t.Helper()
	return startServerAt(t, dataDir, "127.0.0.1:0")
}

// startServerAt starts the server on addr; a restarted server reuses its
// predecessor's address so tablets find it where they left it.
func startServerAt(t *testing.T, dataDir, addr string) *inProcServer {
	t.Helper()
	return startServerWith(t, dataDir, addr, testStoreArgs(t, dataDir))
}

// startServerWith is startServerAt with more arguments for `ruhu serve`
// (a --store).
func startServerWith(t *testing.T, dataDir, addr string, more []string) *inProcServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	s := &inProcServer{cancel: cancel, done: make(chan error, 1)}
	var out syncBuffer
	args := append([]string{"--listen", addr, "--data", dataDir, "--seed-demo"}, more...)
	go func() {
		s.done <- runServe(ctx, args, func(string) string { return "" }, &out, &out, ready)
	}()
	select {
	case s.url = <-ready:
	case err := <-s.done:
		t.Fatalf("server did not start: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start in 30 s")
	}
	t.Cleanup(s.stop)
	return s
}

// testStores maps a test server's data folder to the PostgreSQL database
// it runs on, so that a restarted server finds its data again.
var testStores sync.Map

// testStoreArgs is what startServerAt adds to `ruhu serve`: nothing, so
// the server runs on the bbolt file in its data folder, or with
// RUHU_TEST_SERVE_STORE=postgres a --store of its own database on the
// machine's PostgreSQL (pgtest.Database, dropped when the test ends),
// which runs the end-to-end tests against PostgreSQL.
func testStoreArgs(t *testing.T, dataDir string) []string {
	if os.Getenv("RUHU_TEST_SERVE_STORE") != "postgres" {
		return nil
	}
	url, ok := testStores.Load(dataDir)
	if !ok {
		url = pgtest.Database(t)
		testStores.Store(dataDir, url)
	}
	return []string{"--store", url.(string)}
}

func (s *inProcServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

func testSchemas(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// newTablet opens a tablet store, logs user in and enrolls it.
func newTablet(t *testing.T, dir, url, user string) *client.Client {
	t.Helper()
	reg := testSchemas(t)
	c, err := client.Open(filepath.Join(dir, "tablet-"+user+".db"), client.Options{Validator: reg, Policy: mergePolicy(reg),
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Login(ctx, url, user, demoPassword); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	if err := c.Enroll(ctx, "tablet of "+user); err != nil {
		t.Fatalf("enroll %s: %v", user, err)
	}
	return c
}

func rawFields(t testing.TB, m map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

func visitFields(t testing.TB, household, officer string, n int) map[string]json.RawMessage {
	return rawFields(t, map[string]any{"household_id": household, "officer": officer,
		"visited_at": time.Date(2026, 11, 1, 2, 0, n%60, 0, time.UTC).Format(time.RFC3339),
		"checklist":  map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"},
		"notes":      fmt.Sprintf("第%d次走访", n)})
}

// api calls the server as user with a fresh password login.
type api struct {
	t     testing.TB
	url   string
	token string
}

func login(t testing.TB, url, user string) *api {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	a := &api{t: t, url: url}
	if code := a.do("POST", "/v1/auth/login", map[string]string{"username": user, "password": demoPassword}, &out); code != 200 {
		t.Fatalf("login %s: %d", user, code)
	}
	a.token = out.AccessToken
	return a
}

func (a *api) do(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// serverRecord is GET /v1/records/... as the tests read it.
type serverRecord struct {
	Record struct {
		Fields   map[string]json.RawMessage `json:"fields"`
		Versions map[string]struct {
			OpID  string   `json:"op_id"`
			Flags []string `json:"flags"`
		} `json:"versions"`
	} `json:"record"`
	History []struct {
		ID string `json:"id"`
	} `json:"history"`
}

func (a *api) record(col, id string) serverRecord {
	a.t.Helper()
	var r serverRecord
	if code := a.do("GET", "/v1/records/"+col+"/"+id+"?history=1", nil, &r); code != 200 {
		a.t.Fatalf("GET %s/%s: %d", col, id, code)
	}
	return r
}

func sameJSON(a, b json.RawMessage) bool { return syncengine.JSONEqual(a, b) }

func valuesEqual(t testing.TB, where string, got, want map[string]json.RawMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d fields, want %d\n got %s\nwant %s", where, len(got), len(want), dump(got), dump(want))
	}
	for k, v := range want {
		if !sameJSON(got[k], v) {
			t.Fatalf("%s: field %s = %s, want %s", where, k, got[k], v)
		}
	}
}

func dump(m map[string]json.RawMessage) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+string(v))
	}
	return strings.Join(parts, " ")
}

// twoTabletsEditOneHousehold enrols wang and li against base, has each
// edit the demo household offline (one field each, address both) and
// syncs a, b, a, so both hold the merged record and the server one
// conflict on address.
func twoTabletsEditOneHousehold(t *testing.T, ctx context.Context, dir, base string) (a, b *client.Client) {
	t.Helper()
	a = newTablet(t, dir, base, "wang")
	b = newTablet(t, dir, base, "li")
	for _, c := range []*client.Client{a, b} {
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Save(ctx, collection.Households, demoHousehold, demoArea, rawFields(t, map[string]any{"phone": "13900000001", "address": "A的地址"})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Save(ctx, collection.Households, demoHousehold, demoArea, rawFields(t, map[string]any{"member_count": 6, "address": "B的地址"})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{a, b, a} {
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}
