package uploads_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
)

const (
	areaV1 = "340199001001" // in the officers' township 340199001
	areaVX = "340188001001" // another county
	pw     = "correct-horse-7"
)

// clock is the server's injected clock; tests move it explicitly.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a real server on loopback over a real bbolt file and a blob store
// (a folder by default).
type env struct {
	t      testing.TB
	dir    string
	clock  *clock
	blobs  assets.Store
	store  *boltstore.Store
	srv    *server.Server
	url    string
	cfg    server.Config
	tokens map[string]string
}

type envOptions struct {
	blobs   assets.Store // nil: a diskstore in the test's folder
	maxSize int64
}

func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, tokens: map[string]string{}}
	e.blobs = o.blobs
	if e.blobs == nil {
		ds, err := diskstore.Open(filepath.Join(e.dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		e.blobs = ds
	}
	e.cfg = server.Config{Now: e.clock.Now, Blobs: e.blobs, MaxUploadSize: o.maxSize, AccessTTL: 90 * 24 * time.Hour}
	e.start()
	for _, u := range []server.UserInput{
		{Username: "wang", Role: "officer", Scopes: []string{"340199001"}},
		{Username: "li", Role: "officer", Scopes: []string{"340199001"}},
		{Username: "zhou", Role: "officer", Scopes: []string{"340188"}},
		{Username: "auditor", Role: "auditor", Scopes: []string{"340199"}},
	} {
		u.Password = pw
		if err := server.AddUser(e.store.Core(), u, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	e.t.Helper()
	st, err := boltstore.Open(filepath.Join(e.dir, "ruhu.db"), boltstore.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	reg, err := schemas.New()
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.srv = server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), e.cfg, st.Core(), reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	go func() { _ = e.srv.Serve(ln) }()
}

func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	_ = e.store.Close()
	e.srv = nil
}

// restart stops the server and opens the same files again (new port).
func (e *env) restart() {
	e.stop()
	e.start()
}

func (e *env) token(user string) string {
	e.t.Helper()
	if tok, ok := e.tokens[user]; ok {
		return tok
	}
	resp, err := http.Post(e.url+"/v1/auth/login", "application/json", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		e.t.Fatalf("login %s: %d %v", user, resp.StatusCode, err)
	}
	e.tokens[user] = out.AccessToken
	return out.AccessToken
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) code() string {
	var e struct{ Code string }
	_ = json.Unmarshal(a.body, &e)
	return e.Code
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// do sends one request; headers with an empty value are left out, and
// Tus-Resumable is added unless headers name it.
func (e *env) do(method, path, user string, headers map[string]string, body []byte) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if _, ok := headers["Tus-Resumable"]; !ok {
		req.Header.Set("Tus-Resumable", "1.0.0")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.token(user))
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func meta(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(parts, ",")
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func b64SHA(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// create starts an upload of data for record rec in area and returns its
// path.
func (e *env) create(user string, data []byte, rec, area string) (string, answer) {
	e.t.Helper()
	a := e.do("POST", "/v1/uploads", user, map[string]string{
		"Upload-Length":   fmt.Sprint(len(data)),
		"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "photo", "collection", "visits", "record_id", rec, "area", area, "filename", "a.jpg"),
	}, nil)
	return a.header.Get("Location"), a
}

func (e *env) patch(user, path string, offset int, chunk []byte, extra map[string]string) answer {
	h := map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": fmt.Sprint(offset)}
	for k, v := range extra {
		h[k] = v
	}
	return e.do("PATCH", path, user, h, chunk)
}

func (e *env) client(user string) *tusclient.Client {
	return &tusclient.Client{Endpoint: e.url, Token: e.token(user), ChunkSize: 32 << 10}
}

// waitBlob polls the blob's facts until processing is over.
func (e *env) waitBlob(sha string) *boltstore.Blob {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var b *boltstore.Blob
		if err := e.store.View(func(tx *boltstore.Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
			e.t.Fatal(err)
		}
		if b != nil && b.Status != boltstore.BlobProcessing {
			return b
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("blob %s not processed in time: %+v", sha, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStaged waits until the server recorded bytes of the upload for
// record rec (a cut request may still be on its way through the server
// when the client already gave up) and returns the offset.
func (e *env) waitStaged(rec string) int64 {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var off int64
		err := e.store.View(func(tx *boltstore.Tx) error {
			return tx.Uploads(func(u *boltstore.Upload) bool {
				if u.RecordID == rec {
					off = u.Offset
				}
				return true
			})
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if off > 0 {
			return off
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no bytes of the upload for %s arrived", rec)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testJPEG is a synthetic photo, different per seed.
func testJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	b, err := photobench.JPEG(w, h, seed, 80)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
