package client_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// fakeServer is a minimal in-memory implementation of the HTTP contract
// (docs: /work/notes/api.md) for the client behaviours the real server
// cannot easily be made to show: 503s, cut connections, revocation, a
// restore from backup, clocks. End-to-end tests against the real server
// live with cmd/ruhu.
type fakeServer struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	now      time.Time // the server clock (fixed unless advanced)
	maxAhead time.Duration
	epoch    string
	seq      uint64
	records  map[string]*syncengine.Record
	changed  map[string]uint64 // record key → seq of its last change
	ops      map[string]*syncengine.Op
	clock    *syncengine.Clock

	devices   map[string]string // device id → current refresh token
	access    map[string]string // access token → device id ("" for a user token)
	revoked   map[string]bool
	nextToken int

	// Fault injection.
	fail503    int                               // answer the next n sync requests 503
	busyHeader http.Header                       // headers of those 503s (Retry-After…)
	cutAfter   int                               // apply the next n pushes, then cut the connection
	reject     func(op *syncengine.Op) string    // non-empty: reject the op with this message
	onPush     func(req *syncengine.PushRequest) // observes every push body
	refuseAll  func(op *syncengine.WireOp) bool  // true: refuse the whole request 400
	pushes     []int                             // ops per push request, in order
	pulls      int
	pullBody   []byte // when set, every pull answers 200 with these bytes
	refreshes  int
	publicKeys map[string]string

	// tus serves /v1/uploads when set (tusserver_test.go).
	tus http.Handler

	// Key shares (tabletkeys_test.go): the lease handed out, the wrong
	// PINs that wipe, how many shares were asked, and whether the server
	// has the endpoint at all.
	keyLease       time.Duration
	maxPINFailures int
	keyShares      int
	noKeyShare     bool
}

const (
	fakeUser      = "wang"
	fakeOtherUser = "li" // another officer taking over a tablet
	fakePassword  = "secret"
)

func newFakeServer(t testing.TB) *fakeServer {
	f := &fakeServer{
		t:          t,
		now:        time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC),
		maxAhead:   5 * time.Minute,
		epoch:      "ep1",
		records:    map[string]*syncengine.Record{},
		changed:    map[string]uint64{},
		ops:        map[string]*syncengine.Op{},
		devices:    map[string]string{},
		access:     map[string]string{},
		revoked:    map[string]bool{},
		publicKeys: map[string]string{},

		keyLease:       14 * 24 * time.Hour,
		maxPINFailures: 10,
	}
	f.clock = syncengine.NewClock(func() time.Time { return f.now })
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) URL() string { return f.srv.URL }

func (f *fakeServer) token() string {
	f.nextToken++
	return "t" + strconv.Itoa(f.nextToken)
}

// rawBody is sent as is, valid JSON or not.
type rawBody []byte

type apiError struct {
	status int
	code   string
	msg    string
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if f.tus != nil && strings.HasPrefix(r.URL.Path, "/v1/uploads") {
		f.tus.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("X-Ruhu-Server-Time", strconv.FormatInt(f.now.UnixMilli(), 10))
	out, aerr, cut := f.route(r)
	if cut {
		hj, ok := w.(http.Hijacker)
		if !ok {
			f.t.Error("fake server: cannot hijack")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	status := http.StatusOK
	if aerr != nil {
		status, out = aerr.status, map[string]string{"code": aerr.code, "message": aerr.msg}
		if status == http.StatusServiceUnavailable {
			for k, v := range f.busyHeader {
				w.Header()[k] = v
			}
		}
	} else if r.URL.Path == "/v1/devices" {
		status = http.StatusCreated
	}
	body, _ := json.Marshal(out)
	if b, ok := out.(rawBody); ok {
		body = b
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (f *fakeServer) decode(r *http.Request, v any) *apiError {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return &apiError{400, syncengine.EINVALID, "bad gzip"}
		}
		rd = zr
	}
	if err := json.NewDecoder(rd).Decode(v); err != nil {
		return &apiError{400, syncengine.EINVALID, "bad json: " + err.Error()}
	}
	return nil
}

// authDevice returns the device of a device-bound bearer token.
func (f *fakeServer) authDevice(r *http.Request) (string, *apiError) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	dev, ok := f.access[tok]
	if !ok {
		return "", &apiError{401, syncengine.EUNAUTHORIZED, "bad token"}
	}
	if f.revoked[dev] {
		return "", &apiError{403, syncengine.EREVOKED, "device revoked"}
	}
	if dev == "" {
		return "", &apiError{403, syncengine.EFORBIDDEN, "token not bound to a device"}
	}
	return dev, nil
}

func (f *fakeServer) route(r *http.Request) (any, *apiError, bool) {
	switch r.URL.Path {
	case "/v1/auth/login":
		var in struct{ Username, Password string }
		if e := f.decode(r, &in); e != nil {
			return nil, e, false
		}
		if (in.Username != fakeUser && in.Username != fakeOtherUser) || in.Password != fakePassword {
			return nil, &apiError{401, syncengine.EUNAUTHORIZED, "wrong username or password"}, false
		}
		tok := f.token()
		f.access[tok] = ""
		return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 900,
			"user": map[string]any{"username": in.Username, "role": "officer", "scopes": []string{"340199"}}}, nil, false
	case "/v1/devices":
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, ok := f.access[tok]; !ok {
			return nil, &apiError{401, syncengine.EUNAUTHORIZED, "bad token"}, false
		}
		var in struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		}
		if e := f.decode(r, &in); e != nil {
			return nil, e, false
		}
		dev := fmt.Sprintf("dev%d", len(f.devices)+1)
		f.publicKeys[dev] = in.PublicKey
		rt, at := f.token(), f.token()
		f.devices[dev] = rt
		f.access[at] = dev
		return map[string]any{"device_id": dev, "refresh_token": rt, "access_token": at, "expires_in": 900}, nil, false
	case "/v1/auth/refresh":
		var in struct {
			RefreshToken string `json:"refresh_token"`
		}
		if e := f.decode(r, &in); e != nil {
			return nil, e, false
		}
		for dev, rt := range f.devices {
			if rt == in.RefreshToken {
				if f.revoked[dev] {
					return nil, &apiError{403, syncengine.EREVOKED, "device revoked"}, false
				}
				f.refreshes++
				nrt, at := f.token(), f.token()
				f.devices[dev] = nrt
				f.access[at] = dev
				return map[string]any{"access_token": at, "refresh_token": nrt, "expires_in": 900}, nil, false
			}
		}
		return nil, &apiError{401, syncengine.EUNAUTHORIZED, "unknown refresh token"}, false
	case "/v1/sync/push":
		dev, e := f.authDevice(r)
		if e != nil {
			return nil, e, false
		}
		if f.fail503 > 0 {
			f.fail503--
			return nil, &apiError{503, syncengine.ETRANSIENT, "busy"}, false
		}
		var req syncengine.PushRequest
		if e := f.decode(r, &req); e != nil {
			return nil, e, false
		}
		if f.refuseAll != nil {
			for i := range req.Ops {
				if f.refuseAll(&req.Ops[i]) {
					f.pushes = append(f.pushes, len(req.Ops))
					return nil, &apiError{400, syncengine.EINVALID, "malformed op " + req.Ops[i].ID}, false
				}
			}
		}
		resp := f.push(dev, &req)
		if f.cutAfter > 0 {
			f.cutAfter--
			return nil, nil, true
		}
		return resp, nil, false
	case "/v1/device/key-share":
		dev, e := f.authDevice(r)
		if e != nil {
			return nil, e, false
		}
		if f.noKeyShare {
			break
		}
		f.keyShares++
		share := sha256.Sum256([]byte("key share of " + dev))
		return map[string]any{"share": share[:], "lease_until": f.now.Add(f.keyLease), "lease_seconds": int64(f.keyLease.Seconds()),
			"max_pin_failures": f.maxPINFailures}, nil, false
	case "/v1/sync/pull":
		if _, e := f.authDevice(r); e != nil {
			return nil, e, false
		}
		if f.fail503 > 0 {
			f.fail503--
			return nil, &apiError{503, syncengine.ETRANSIENT, "busy"}, false
		}
		if f.pullBody != nil {
			return rawBody(f.pullBody), nil, false
		}
		return f.pull(r), nil, false
	}
	return nil, &apiError{404, syncengine.ENOTFOUND, "no route"}, false
}

func (f *fakeServer) push(dev string, req *syncengine.PushRequest) *syncengine.PushResponse {
	if f.onPush != nil {
		f.onPush(req)
	}
	f.pushes = append(f.pushes, len(req.Ops))
	resp := &syncengine.PushResponse{Acked: []string{}}
	for _, w := range req.Ops {
		op := w.FromWire()
		if _, dup := f.ops[op.ID]; dup {
			resp.Acked = append(resp.Acked, op.ID)
			continue
		}
		reject := func(code, msg string) {
			resp.Rejected = append(resp.Rejected, syncengine.Rejection{OpID: op.ID, Code: code, Message: msg})
		}
		if err := op.Validate(); err != nil {
			reject(syncengine.ErrorCode(err), syncengine.ErrorMessage(err))
			continue
		}
		if op.Author != fakeUser || op.Device != dev {
			reject(syncengine.EFORBIDDEN, "author or device mismatch")
			continue
		}
		if f.reject != nil {
			if msg := f.reject(op); msg != "" {
				reject(syncengine.EINVALID, msg)
				continue
			}
		}
		if stamp, restamped := f.clock.Admit(op.HLC, f.maxAhead); restamped {
			op.StatedHLC, op.HLC = op.HLC, stamp
			op.AddFlag(syncengine.FlagRestamped)
		}
		next, out, err := syncengine.ApplyOp(f.records[op.Key()], op, syncengine.MergePolicy{})
		if err != nil {
			reject(syncengine.ErrorCode(err), syncengine.ErrorMessage(err))
			continue
		}
		f.ops[op.ID] = op
		if len(out.Changed) > 0 {
			f.records[op.Key()] = next
			f.seq++
			f.changed[op.Key()] = f.seq
		}
		resp.Acked = append(resp.Acked, op.ID)
		if len(op.Flags) > 0 {
			resp.Flagged = append(resp.Flagged, syncengine.FlaggedOp{OpID: op.ID, Flags: op.Flags, HLC: uint64(op.HLC)})
		}
	}
	resp.ServerTime = f.now.UnixMilli()
	return resp
}

func (f *fakeServer) pull(r *http.Request) *syncengine.PullResponse {
	f.pulls++
	cur, err := syncengine.DecodeCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		f.t.Errorf("fake server: bad cursor: %v", err)
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = syncengine.DefaultPullLimit
	}
	resp := &syncengine.PullResponse{Records: []syncengine.WireRecord{}, ServerTime: f.now.UnixMilli()}
	from := cur.Seq
	if cur.Epoch != "" && (cur.Epoch != f.epoch || cur.Seq > f.seq) {
		resp.Reset, from = true, 0
	}
	type change struct {
		key string
		seq uint64
	}
	var changes []change
	for k, s := range f.changed {
		if s > from {
			changes = append(changes, change{k, s})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].seq < changes[j].seq })
	last := from
	for i, ch := range changes {
		if i == limit {
			resp.More = true
			break
		}
		resp.Records = append(resp.Records, f.records[ch.key].ToWire())
		last = ch.seq
	}
	resp.Cursor = syncengine.Cursor{Epoch: f.epoch, Seq: last}.Encode()
	return resp
}

// seed applies an op made by someone else (a supervisor, another tablet).
func (f *fakeServer) seed(op *syncengine.Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op.HLC == 0 {
		op.HLC = f.clock.Now()
	}
	next, _, err := syncengine.ApplyOp(f.records[op.Key()], op, syncengine.MergePolicy{})
	if err != nil {
		f.t.Fatalf("seed %s: %v", op.ID, err)
	}
	f.ops[op.ID] = op
	f.records[op.Key()] = next
	f.seq++
	f.changed[op.Key()] = f.seq
}

// restore simulates a restore from a backup taken before anything was
// pushed: a new epoch and an empty store.
func (f *fakeServer) restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch += "r"
	f.seq = 0
	f.records = map[string]*syncengine.Record{}
	f.changed = map[string]uint64{}
	f.ops = map[string]*syncengine.Op{}
}

// expireAccessTokens makes every access token unknown (they expired).
func (f *fakeServer) expireAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access = map[string]string{}
}

func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeServer) record(key string) *syncengine.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.records[key]
}

func (f *fakeServer) opCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops)
}
