package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The test county: two townships of county 340199 and a village of another
// county (340188) that most users may not see.
const (
	areaV1 = "340199001001" // township 340199001
	areaV2 = "340199001002" // township 340199001
	areaV3 = "340199002001" // township 340199002
	areaVX = "340188001001" // another county

	testPassword = "correct-horse-7"
)

// testStart is the fixed server time every test starts at; seed stamps are
// two months earlier.
var testStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testClock is the server's injected clock; tests move it explicitly.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// testUsers is one account of every role, two officers (for conflicts) and
// two team members (for "only their own check-ins").
func testUsers() []server.UserInput {
	return []server.UserInput{
		{Username: "admin", Role: "admin", Scopes: []string{""}},
		{Username: "county", Role: "county", Scopes: []string{"340199"}},
		{Username: "township", Role: "township", Scopes: []string{"340199001"}},
		{Username: "wang", Role: "officer", Scopes: []string{"340199001"}},
		{Username: "li", Role: "officer", Scopes: []string{"340199001"}},
		{Username: "zhao", Role: "team_member", Scopes: []string{areaV1}},
		{Username: "sun", Role: "team_member", Scopes: []string{areaV1}},
		{Username: "auditor", Role: "auditor", Scopes: []string{"340199"}},
	}
}

// pick returns the named users in the order given.
func pick(users []server.UserInput, names ...string) []server.UserInput {
	var out []server.UserInput
	for _, n := range names {
		for _, u := range users {
			if u.Username == n {
				out = append(out, u)
			}
		}
	}
	return out
}

// roleUser names the account the tests use for each role.
var roleUser = map[string]string{
	"officer": "wang", "team_member": "zhao", "township": "township",
	"county": "county", "auditor": "auditor", "admin": "admin",
}

var roles = []string{"officer", "team_member", "township", "county", "auditor", "admin"}

// seedBuilder makes the fixed seed ops: ids "seed-NNN", stamps two months
// before testStart.
type seedBuilder struct {
	ops []*syncengine.Op
}

func (b *seedBuilder) add(col, id, area string, set map[string]any) *syncengine.Op {
	n := len(b.ops) + 1
	op := &syncengine.Op{ID: fmt.Sprintf("seed-%03d", n), RecordID: id, Collection: col, Area: area,
		Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).UnixMilli()+int64(n), 0),
		Set: fields(set), ReceivedAt: testStart}
	b.ops = append(b.ops, op)
	return op
}

// standardSeed is the data every authorization test starts from. Seeded
// conflicts: households hV1a, hV3a and hVXa each have two concurrent phone
// writes from the same base.
func standardSeed() []*syncengine.Op {
	var b seedBuilder
	for _, v := range []struct{ id, code, township string }{
		{"vV1", areaV1, "340199001"}, {"vV2", areaV2, "340199001"}, {"vV3", areaV3, "340199002"}, {"vVX", areaVX, "340188001"},
	} {
		b.add("villages", v.id, v.code, map[string]any{"code": v.code, "name": "村" + v.id, "township_code": v.township,
			"center": map[string]any{"lat": 31.7, "lon": 117.1}})
	}
	households := map[string]string{"hV1a": areaV1, "hV1b": areaV1, "hV2a": areaV2, "hV3a": areaV3, "hVXa": areaVX}
	created := map[string]*syncengine.Op{}
	for _, id := range sortedKeys(households) {
		created[id] = b.add("households", id, households[id], map[string]any{"head_name": "户主" + id,
			"status": map[string]any{"value": "exited", "year": 2019}, "phone": "13800000000", "primary_cause": "illness"})
	}
	b.add("members", "mV1a", areaV1, map[string]any{"household_id": "hV1a", "name": "张三", "relation": "head"})
	b.add("assignments", "a1", areaV1, map[string]any{"officer": "wang", "household_id": "hV1a", "active": true})
	b.add("assignments", "a2", areaV1, map[string]any{"officer": "li", "household_id": "hV1a", "active": true})
	b.add("assignments", "a3", areaV2, map[string]any{"officer": "wang", "household_id": "hV2a", "active": true})
	b.add("teams", "tV1", areaV1, map[string]any{"village_code": areaV1, "members": []string{"sun", "zhao"}})
	b.add("visits", "visV1", areaV1, visitFields("hV1a", "wang"))
	for _, id := range []string{"hV1a", "hV3a", "hVXa"} {
		for _, phone := range []string{"13811111111", "13822222222"} {
			op := b.add("households", id, households[id], map[string]any{"phone": phone})
			op.Base = map[string]string{"phone": created[id].ID}
		}
	}
	return b.ops
}

// seededConflictID is the id of the conflict standardSeed opens on a
// household's phone: it is named after the second concurrent write.
func seededConflictID(t *testing.T, ts *testServer, household string) string {
	t.Helper()
	var id string
	err := ts.store.View(func(tx *boltstore.Tx) error {
		return tx.Conflicts(func(c *syncengine.Conflict) bool {
			if c.RecordID == household && c.Field == "phone" {
				id = c.ID
			}
			return true
		})
	})
	if err != nil || id == "" {
		t.Fatalf("no seeded conflict on %s (err %v)", household, err)
	}
	return id
}

func visitFields(household, officer string) map[string]any {
	return map[string]any{"household_id": household, "officer": officer, "visited_at": "2026-02-28T10:00:00+08:00",
		"checklist": map[string]any{"food": "ok", "clothing": "ok", "education": "na", "medical": "ok", "housing": "problem", "drinking_water": "ok"}}
}

func fields(set map[string]any) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(set))
	for k, v := range set {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testServer is a real server: a bbolt file in a temp dir, the real schema
// registry, listening on loopback.
type testServer struct {
	t      testing.TB
	cfg    server.Config
	clock  *testClock
	store  *boltstore.Store
	reg    *schemas.Registry
	srv    *server.Server
	url    string
	client *http.Client
	logs   *lockedBuffer
	stop   func()

	mu       sync.Mutex
	sessions map[string]*session
	logical  uint16
}

// session is a user signed in on an enrolled device.
type session struct {
	user    string
	login   string // access token from the password login (no device)
	device  string
	access  string // device-bound access token
	refresh string
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serverOptions struct {
	cfg   server.Config
	users []server.UserInput
	seed  []*syncengine.Op
	path  string // store file; "" makes one in t.TempDir()
}

// startServer opens the store, creates the users through server.AddUser,
// applies the seed ops through syncengine.Apply and serves on loopback
// until the test ends. At cleanup it fails the test if the server logged
// an internal error or if the store's records, history and change feed
// disagree (core.Check).
func startServer(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	clock := &testClock{now: testStart}
	cfg := opts.cfg
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	path := opts.path
	if path == "" {
		path = filepath.Join(t.TempDir(), "ruhu.db")
	}
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	reg, err := schemas.New()
	if err != nil {
		t.Fatalf("schemas: %v", err)
	}
	for _, u := range opts.users {
		u.Password = testPassword
		if err := server.AddUser(store.Core(), u, testStart); err != nil {
			t.Fatalf("add user %s: %v", u.Username, err)
		}
	}
	if len(opts.seed) > 0 {
		applyOps(t, store, reg, opts.seed)
	}
	ts := &testServer{t: t, cfg: cfg, clock: clock, store: store, reg: reg, logs: &lockedBuffer{},
		client: &http.Client{Timeout: 30 * time.Second}, sessions: map[string]*session{}}
	ts.serve()
	t.Cleanup(func() {
		ts.stop()
		if err := ts.srv.Core().Check(context.Background()); err != nil {
			t.Errorf("store check: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
		if strings.Contains(ts.logs.String(), "level=ERROR") {
			t.Errorf("server logged internal errors:\n%s", ts.logs.String())
		}
	})
	return ts
}

// serve builds a server over ts.store and listens on a fresh loopback port.
func (ts *testServer) serve() {
	t := ts.t
	log := slog.New(slog.NewTextHandler(ts.logs, nil))
	ts.srv = server.New(log, ts.cfg, ts.store.Core(), ts.reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts.url = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	srv := ts.srv
	go func() { done <- srv.Serve(ln) }()
	ts.stop = func() {
		// fasthttp waits for every connection to go idle, and counts a
		// connection that never carried a request as busy for its first
		// 5 s: drop the client's spare connections first, and allow for
		// that delay on a loaded machine.
		ts.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Errorf("server did not stop")
		}
	}
}

// restart stops the HTTP server and starts a new server process over the
// same store file, as after a crash or deploy: the new server's clock
// remembers nothing.
func (ts *testServer) restart() {
	ts.stop()
	ts.serve()
}

// applyOps applies ops to the store through syncengine.Apply, with each
// collection's merge policy, as the seed command does.
func applyOps(t testing.TB, store *boltstore.Store, reg *schemas.Registry, ops []*syncengine.Op) {
	t.Helper()
	err := store.UpdateSolo(func(tx *boltstore.Tx) error {
		for _, op := range ops {
			p := reg.Policy(op.Collection)
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}, testStart); err != nil {
				return fmt.Errorf("seed %s: %w", op.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nextHLC returns a stamp at the server's current time, unique within the
// test.
func (ts *testServer) nextHLC() syncengine.HLC {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.logical++
	return syncengine.MakeHLC(ts.clock.Now().UnixMilli(), ts.logical)
}

// as returns the user's session, logging in and enrolling a device the
// first time (argon2 costs ~50 ms per login, so each user logs in once).
func (ts *testServer) as(user string) *session {
	ts.mu.Lock()
	s := ts.sessions[user]
	ts.mu.Unlock()
	if s != nil {
		return s
	}
	s = &session{user: user, login: ts.login(user, testPassword)}
	ts.enroll(s, "tablet of "+user)
	ts.mu.Lock()
	ts.sessions[user] = s
	ts.mu.Unlock()
	return s
}

// newDevice enrolls another device for an already signed-in user.
func (ts *testServer) newDevice(user string) *session {
	base := ts.as(user)
	s := &session{user: user, login: base.login}
	ts.enroll(s, "second tablet of "+user)
	return s
}

func (ts *testServer) login(user, password string) string {
	ts.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		User        struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	ts.mustJSON("POST", "/v1/auth/login", "", map[string]string{"username": user, "password": password}, 200, &out)
	if out.AccessToken == "" || out.TokenType != "Bearer" || out.User.Username != user || out.ExpiresIn != 900 {
		ts.t.Fatalf("login %s: unexpected answer %+v", user, out)
	}
	return out.AccessToken
}

// enroll registers a new device key for s's user, fills in s's device and
// tokens, and returns the device's private key for tests that sign.
func (ts *testServer) enroll(s *session, name string) ed25519.PrivateKey {
	ts.t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		ts.t.Fatal(err)
	}
	var out struct {
		DeviceID     string `json:"device_id"`
		RefreshToken string `json:"refresh_token"`
		AccessToken  string `json:"access_token"`
	}
	ts.mustJSON("POST", "/v1/devices", s.login, map[string]string{"name": name, "public_key": base64.StdEncoding.EncodeToString(pub)}, 201, &out)
	if out.DeviceID == "" || out.RefreshToken == "" || out.AccessToken == "" {
		ts.t.Fatalf("enroll %s: unexpected answer %+v", s.user, out)
	}
	s.device, s.access, s.refresh = out.DeviceID, out.AccessToken, out.RefreshToken
	return priv
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the "code" of an error body.
func (r response) errorCode() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request with a JSON body (nil for none, []byte sent as is)
// and checks the contract's X-Ruhu-Server-Time header on the answer.
func (ts *testServer) do(method, path, token string, body any, header ...string) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if ms, err := strconv.ParseInt(resp.Header.Get("X-Ruhu-Server-Time"), 10, 64); err != nil || ms != ts.clock.Now().UnixMilli() {
		ts.t.Errorf("%s %s (%d): X-Ruhu-Server-Time is %q, want %d", method, path, resp.StatusCode, resp.Header.Get("X-Ruhu-Server-Time"), ts.clock.Now().UnixMilli())
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// mustJSON sends a request, requires the status and decodes the answer.
func (ts *testServer) mustJSON(method, path, token string, body any, want int, out any) {
	ts.t.Helper()
	r := ts.do(method, path, token, body)
	if r.status != want {
		ts.t.Fatalf("%s %s: got %s, want status %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			ts.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
}

// expectError requires an error answer with the status and code.
func (ts *testServer) expectError(r response, status int, code string) {
	ts.t.Helper()
	if r.status != status || r.errorCode() != code {
		ts.t.Errorf("got %s, want %d %s", r, status, code)
	}
}

// op builds a wire op written by s, stamped now.
func (ts *testServer) op(s *session, id, col, rid, area string, set map[string]any) syncengine.WireOp {
	return syncengine.WireOp{ID: id, RecordID: rid, Collection: col, Area: area, Author: s.user, Device: s.device,
		HLC: uint64(ts.nextHLC()), Set: fields(set)}
}

// push sends ops and requires a 200 PushResponse.
func (ts *testServer) push(s *session, ops ...syncengine.WireOp) syncengine.PushResponse {
	ts.t.Helper()
	var out syncengine.PushResponse
	ts.mustJSON("POST", "/v1/sync/push", s.access, syncengine.PushRequest{Ops: ops}, 200, &out)
	if len(out.Acked)+len(out.Rejected) != len(ops) {
		ts.t.Errorf("push of %d ops answered %d acks and %d rejections", len(ops), len(out.Acked), len(out.Rejected))
	}
	return out
}

// pull fetches one page and requires 200.
func (ts *testServer) pull(s *session, cursor string, limit int) syncengine.PullResponse {
	ts.t.Helper()
	var out syncengine.PullResponse
	ts.mustJSON("GET", pullPath(cursor, limit), s.access, nil, 200, &out)
	return out
}

func pullPath(cursor string, limit int) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return "/v1/sync/pull"
	}
	return "/v1/sync/pull?" + q.Encode()
}

// pullAll follows pages from cursor until More is false and returns every
// record key ("col/id") seen, failing on a key seen twice.
func (ts *testServer) pullAll(s *session, cursor string, limit int) ([]string, string) {
	ts.t.Helper()
	var keys []string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 1000 {
			ts.t.Fatal("pull never ends")
		}
		p := ts.pull(s, cursor, limit)
		for _, r := range p.Records {
			k := r.Collection + "/" + r.ID
			if seen[k] {
				ts.t.Errorf("record %s returned twice in one walk", k)
			}
			seen[k] = true
			keys = append(keys, k)
		}
		cursor = p.Cursor
		if !p.More {
			break
		}
	}
	sort.Strings(keys)
	return keys, cursor
}

// recordResponse is GET /v1/records/{col}/{id}.
type recordResponse struct {
	Record struct {
		ID       string                     `json:"id"`
		Area     string                     `json:"area"`
		Fields   map[string]json.RawMessage `json:"fields"`
		Versions map[string]struct {
			HLC    uint64   `json:"hlc"`
			Author string   `json:"author"`
			Device string   `json:"device"`
			OpID   string   `json:"op_id"`
			Flags  []string `json:"flags"`
		} `json:"versions"`
		Flags []string `json:"flags"`
	} `json:"record"`
	// Evidence, SignatureStatus and HousingEvidence are what the view adds
	// for records that cite files, for signatures and for housing cases.
	Evidence *struct {
		Status   string   `json:"status"`
		Cited    []string `json:"cited"`
		Missing  []string `json:"missing"`
		Unusable []struct {
			SHA256 string `json:"sha256"`
		} `json:"unusable"`
	} `json:"evidence"`
	SignatureStatus string `json:"signature_status"`
	HousingEvidence *struct {
		Complete bool     `json:"complete"`
		Missing  []string `json:"missing"`
	} `json:"housing_evidence"`
	History []struct {
		ID        string                     `json:"id"`
		Author    string                     `json:"author"`
		Device    string                     `json:"device"`
		HLC       uint64                     `json:"hlc"`
		StatedHLC uint64                     `json:"stated_hlc"`
		Set       map[string]json.RawMessage `json:"set"`
		Flags     []string                   `json:"flags"`
	} `json:"history"`
}

func (ts *testServer) record(token, col, id string) recordResponse {
	ts.t.Helper()
	var out recordResponse
	ts.mustJSON("GET", "/v1/records/"+col+"/"+id+"?history=1", token, nil, 200, &out)
	return out
}

// storeRecord reads a record straight from the store (nil when absent).
func (ts *testServer) storeRecord(col, id string) *syncengine.Record {
	ts.t.Helper()
	var rec *syncengine.Record
	if err := ts.store.View(func(tx *boltstore.Tx) (err error) { rec, err = tx.Record(col, id); return err }); err != nil {
		ts.t.Fatal(err)
	}
	return rec
}

// lastSeq is the store's change sequence: it moves on every applied op.
func (ts *testServer) lastSeq() uint64 {
	var seq uint64
	_ = ts.store.View(func(tx *boltstore.Tx) error { seq = tx.LastSeq(); return nil })
	return seq
}

// rejection returns the rejection of op id, if any.
func rejection(resp syncengine.PushResponse, id string) (syncengine.Rejection, bool) {
	for _, r := range resp.Rejected {
		if r.OpID == id {
			return r, true
		}
	}
	return syncengine.Rejection{}, false
}

func acked(resp syncengine.PushResponse, id string) bool {
	for _, a := range resp.Acked {
		if a == id {
			return true
		}
	}
	return false
}

func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
