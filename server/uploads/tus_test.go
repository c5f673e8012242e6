package uploads_test

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
)

func TestOptionsAdvertisesTus(t *testing.T) {
	e := startEnv(t, envOptions{maxSize: 1 << 20})
	a := e.do("OPTIONS", "/v1/uploads", "", map[string]string{"Tus-Resumable": ""}, nil)
	want := map[string]string{"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0", "Tus-Max-Size": "1048576",
		"Tus-Extension": "creation,creation-with-upload,checksum,termination,expiration", "Tus-Checksum-Algorithm": "sha256"}
	if a.status != 204 {
		t.Fatalf("OPTIONS: %s", a)
	}
	for k, v := range want {
		if got := a.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestTusErrors: each protocol error answers with tus's status code, the
// API's JSON code, and Tus-Resumable.
func TestTusErrors(t *testing.T) {
	e := startEnv(t, envOptions{maxSize: 1 << 20})
	data := testJPEG(t, 64, 48, 1)
	ok := func(user string) string {
		p, a := e.create(user, data, "v-err", areaV1)
		if a.status != 201 || p == "" {
			t.Fatalf("create: %s", a)
		}
		return p
	}
	tests := []struct {
		name       string
		run        func() answer
		status     int
		code       string
		checkAfter func(t *testing.T)
	}{
		{"wrong chunk checksum", func() answer {
			return e.patch("wang", ok("wang"), 0, data[:100], map[string]string{"Upload-Checksum": "sha256 " + b64SHA(data[:99])})
		}, 460, "EINVALID", nil},
		{"unsupported checksum algorithm", func() answer {
			return e.patch("wang", ok("wang"), 0, data[:100], map[string]string{"Upload-Checksum": "md5 " + b64SHA(data[:100])})
		}, 400, "EINVALID", nil},
		{"offset mismatch", func() answer { return e.patch("wang", ok("wang"), 10, data[:100], nil) }, 409, "ECONFLICT", nil},
		{"oversize", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Length": fmt.Sprint(1<<20 + 1),
				"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "photo", "collection", "visits", "record_id", "v1", "area", areaV1)}, nil)
		}, 413, "ETOOLARGE", nil},
		{"chunk past Upload-Length", func() answer {
			return e.patch("wang", ok("wang"), 0, append(append([]byte{}, data...), 1, 2, 3), nil)
		}, 413, "ETOOLARGE", nil},
		{"unknown upload", func() answer { return e.do("HEAD", "/v1/uploads/0123456789abcdef", "wang", nil, nil) }, 404, "", nil},
		{"unknown upload patch", func() answer { return e.patch("wang", "/v1/uploads/0123456789abcdef", 0, data[:10], nil) }, 404, "ENOTFOUND", nil},
		{"another area's record", func() answer { _, a := e.create("wang", data, "v-x", areaVX); return a }, 403, "EFORBIDDEN", nil},
		{"role that writes no visits", func() answer { _, a := e.create("auditor", data, "v-a", areaV1); return a }, 403, "EFORBIDDEN", nil},
		{"another user's upload", func() answer { return e.patch("li", ok("wang"), 0, data[:10], nil) }, 404, "ENOTFOUND", nil},
		{"no token", func() answer { return e.do("POST", "/v1/uploads", "", map[string]string{"Upload-Length": "10"}, nil) }, 401, "EUNAUTHORIZED", nil},
		{"missing Tus-Resumable", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Tus-Resumable": "", "Upload-Length": "10"}, nil)
		}, 412, "EINVALID", nil},
		{"old Tus-Resumable", func() answer {
			return e.do("HEAD", "/v1/uploads/0123456789abcdef", "wang", map[string]string{"Tus-Resumable": "0.2.2"}, nil)
		}, 412, "", nil},
		{"missing sha256 metadata", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Length": "10",
				"Upload-Metadata": meta("kind", "photo", "collection", "visits", "record_id", "v1", "area", areaV1)}, nil)
		}, 400, "EINVALID", nil},
		{"bad kind", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Length": "10",
				"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "video", "collection", "visits", "record_id", "v1", "area", areaV1)}, nil)
		}, 400, "EINVALID", nil},
		{"malformed metadata", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Length": "10", "Upload-Metadata": "sha256 !!!"}, nil)
		}, 400, "EINVALID", nil},
		{"deferred length", func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Defer-Length": "1",
				"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "photo", "collection", "visits", "record_id", "v1", "area", areaV1)}, nil)
		}, 400, "EINVALID", nil},
		{"wrong content type", func() answer {
			return e.do("PATCH", ok("wang"), "wang", map[string]string{"Upload-Offset": "0", "Content-Type": "image/jpeg"}, data)
		}, 415, "EINVALID", nil},
		{"whole file does not match its sha256", func() answer {
			bad := append([]byte{}, data...)
			bad[len(bad)/2] ^= 0xFF
			p := ok("wang") // promised hexSHA(data)
			return e.patch("wang", p, 0, bad, nil)
		}, 460, "EINVALID", func(t *testing.T) {
			if _, err := e.blobs.Stat(t.Context(), assets.OriginalKey(hexSHA(data))); err == nil {
				t.Error("a blob that failed its sha256 is visible")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.run()
			if a.status != tc.status {
				t.Fatalf("status %s, want %d", a, tc.status)
			}
			if tc.code != "" && a.code() != tc.code {
				t.Errorf("code %q, want %q (%s)", a.code(), tc.code, a)
			}
			if a.header.Get("Tus-Resumable") != "1.0.0" {
				t.Errorf("no Tus-Resumable on %s", a)
			}
			if tc.checkAfter != nil {
				tc.checkAfter(t)
			}
		})
	}
}

func TestExpiredUploadIsGoneAndCleaned(t *testing.T) {
	e := startEnv(t, envOptions{})
	data := testJPEG(t, 64, 48, 2)
	p, a := e.create("wang", data, "v-exp", areaV1)
	if a.status != 201 {
		t.Fatal(a)
	}
	exp, err := time.Parse(time.RFC1123, a.header.Get("Upload-Expires"))
	if err != nil || !exp.After(e.clock.Now()) {
		t.Fatalf("Upload-Expires %q: %v", a.header.Get("Upload-Expires"), err)
	}
	if a := e.patch("wang", p, 0, data[:100], nil); a.status != 204 {
		t.Fatal(a)
	}
	id := p[strings.LastIndex(p, "/")+1:]
	e.clock.Add(8 * 24 * time.Hour)
	if a := e.patch("wang", p, 100, data[100:200], nil); a.status != 410 || a.code() != "ENOTFOUND" {
		t.Fatalf("PATCH after expiry: %s", a)
	}
	if n, _ := e.blobs.UploadSize(t.Context(), id); n != 0 {
		t.Errorf("expired staging still holds %d bytes", n)
	}
	if a := e.do("HEAD", p, "wang", nil, nil); a.status != 404 {
		t.Errorf("HEAD after cleanup: %s", a)
	}

	// The sweeper removes expired uploads nobody asks about.
	p2, _ := e.create("wang", data, "v-exp2", areaV1)
	if a := e.patch("wang", p2, 0, data[:100], nil); a.status != 204 {
		t.Fatal(a)
	}
	e.clock.Add(8 * 24 * time.Hour)
	n, err := e.srv.Uploads().Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if a := e.do("HEAD", p2, "wang", nil, nil); a.status != 404 {
		t.Errorf("HEAD after sweep: %s", a)
	}
}

// TestUploadPipeline: chunks with checksums, HEAD, dedup, processing facts
// (EXIF time and GPS, pHash, sizes), download with ETag and scope.
func TestUploadPipeline(t *testing.T) {
	e := startEnv(t, envOptions{})
	lat := [3][2]uint32{{31, 1}, {13, 1}, {456, 10}}
	lon := [3][2]uint32{{121, 1}, {28, 1}, {30, 1}}
	data := photobench.WithEXIF(testJPEG(t, 1600, 1200, 3), 6, "2024:03:05 14:30:00", lat, lon)
	sha := hexSHA(data)
	c := e.client("wang")
	c.Checksum = true
	st, err := c.Upload(t.Context(), tusclient.File{Data: data, Kind: "photo", Collection: "visits", RecordID: "v-1", Area: areaV1})
	if err != nil {
		t.Fatal(err)
	}
	if st.BytesSent != int64(len(data)) || st.Deduped {
		t.Errorf("stats %+v for %d bytes", st, len(data))
	}
	b := e.waitBlob(sha)
	if b.Status != boltstore.BlobReady {
		t.Fatalf("status %s (%s)", b.Status, b.Reason)
	}
	// Orientation 6 turns 1600×1200 upright into 1200×1600.
	if b.Width != 1200 || b.Height != 1600 || b.Type != "image/jpeg" || !b.HasPHash {
		t.Errorf("facts %+v", b)
	}
	wantTaken := time.Date(2024, 3, 5, 14, 30, 0, 0, time.FixedZone("CST", 8*3600))
	if b.TakenAt == nil || !b.TakenAt.Equal(wantTaken) {
		t.Errorf("taken_at %v, want %v", b.TakenAt, wantTaken)
	}
	if b.GPS == nil || b.GPS.Lat < 31.229 || b.GPS.Lat > 31.23 || b.GPS.Lon < 121.474 || b.GPS.Lon > 121.476 {
		t.Errorf("gps %+v", b.GPS)
	}
	if len(b.Refs) != 1 || b.Refs[0].UploadedBy != "wang" || b.Refs[0].RecordID != "v-1" {
		t.Errorf("refs %+v", b.Refs)
	}
	facts, err := e.srv.Uploads().Facts(t.Context(), sha)
	if err != nil || facts.PHash != b.PHash {
		t.Errorf("Facts: %+v %v", facts, err)
	}

	got := e.do("GET", "/v1/blobs/"+sha, "li", nil, nil)
	if got.status != 200 || !bytes.Equal(got.body, data) || got.header.Get("ETag") != `"`+sha+`"` || got.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("GET original: %d %d bytes etag %q type %q", got.status, len(got.body), got.header.Get("ETag"), got.header.Get("Content-Type"))
	}
	if a := e.do("GET", "/v1/blobs/"+sha, "li", map[string]string{"If-None-Match": `"` + sha + `"`}, nil); a.status != 304 {
		t.Errorf("If-None-Match: %s", a)
	}
	for size, side := range map[string]int{"thumb": 256, "preview": 1280} {
		a := e.do("GET", "/v1/blobs/"+sha+"?size="+size, "wang", nil, nil)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(a.body))
		if a.status != 200 || err != nil || max(cfg.Width, cfg.Height) != side || cfg.Width > cfg.Height {
			t.Errorf("%s: %d %v %dx%d", size, a.status, err, cfg.Width, cfg.Height)
		}
	}
	if a := e.do("GET", "/v1/blobs/"+sha, "zhou", nil, nil); a.status != 404 || a.code() != "ENOTFOUND" {
		t.Errorf("other county sees the blob: %s", a)
	}
	info := e.do("GET", "/v1/blobs/"+sha+"/info", "wang", nil, nil)
	if info.status != 200 || !strings.Contains(string(info.body), `"phash":"`) || !strings.Contains(string(info.body), `"status":"ready"`) {
		t.Errorf("info: %s", info)
	}

	// The same photo for another household completes at once and is
	// recorded against both records.
	st, err = e.client("li").Upload(t.Context(), tusclient.File{Data: data, Kind: "photo", Collection: "visits", RecordID: "v-2", Area: areaV1})
	if err != nil || !st.Deduped || st.BytesSent != 0 {
		t.Fatalf("dedup upload: %+v %v", st, err)
	}
	e.store.View(func(tx *boltstore.Tx) error { b, _ = tx.Blob(sha); return nil })
	if len(b.Refs) != 2 {
		t.Errorf("refs after dedup: %+v", b.Refs)
	}

	// Bytes that are no image are stored (they hashed right) but fail.
	junk := []byte(strings.Repeat("not a photo ", 100))
	if _, err := e.client("wang").Upload(t.Context(), tusclient.File{Data: junk, Kind: "photo", Collection: "visits", RecordID: "v-3", Area: areaV1}); err != nil {
		t.Fatal(err)
	}
	if b := e.waitBlob(hexSHA(junk)); b.Status != boltstore.BlobFailed || b.Reason == "" {
		t.Errorf("junk: %+v", b)
	}
	if a := e.do("GET", "/v1/blobs/"+hexSHA(junk)+"?size=thumb", "wang", nil, nil); a.status != 404 {
		t.Errorf("thumb of junk: %s", a)
	}
}

// TestCreationWithUpload: POST carries the first bytes.
func TestCreationWithUpload(t *testing.T) {
	e := startEnv(t, envOptions{})
	data := testJPEG(t, 200, 150, 4)
	a := e.do("POST", "/v1/uploads", "wang", map[string]string{
		"Upload-Length":   fmt.Sprint(len(data)),
		"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "signature", "collection", "signatures", "record_id", "s1", "area", areaV1),
		"Content-Type":    "application/offset+octet-stream",
	}, data[:1000])
	if a.status != 201 || a.header.Get("Upload-Offset") != "1000" {
		t.Fatalf("POST with data: %s offset %q", a, a.header.Get("Upload-Offset"))
	}
	p := a.header.Get("Location")
	if a := e.patch("wang", p, 1000, data[1000:], map[string]string{"Upload-Checksum": "sha256 " + b64SHA(data[1000:])}); a.status != 204 || a.header.Get("Upload-Offset") != fmt.Sprint(len(data)) {
		t.Fatalf("PATCH rest: %s", a)
	}
	h := e.do("HEAD", p, "wang", nil, nil)
	if h.status != 200 || h.header.Get("Upload-Offset") != fmt.Sprint(len(data)) || h.header.Get("Cache-Control") != "no-store" || h.header.Get("Upload-Length") != fmt.Sprint(len(data)) {
		t.Errorf("HEAD: %d %v", h.status, h.header)
	}
	if a := e.do("DELETE", p, "wang", nil, nil); a.status != 204 {
		t.Errorf("DELETE: %s", a)
	}
	if a := e.do("HEAD", p, "wang", nil, nil); a.status != 404 {
		t.Errorf("HEAD after DELETE: %s", a)
	}
	if _, err := e.blobs.Stat(t.Context(), assets.OriginalKey(hexSHA(data))); err != nil {
		t.Errorf("terminating a finished upload removed its blob: %v", err)
	}
}

// TestCutBodyKeepsWhatArrived: a PATCH whose connection drops midway keeps
// the bytes that arrived; HEAD shows them at once (the server's pending
// read is interrupted, not waited out).
func TestCutBodyKeepsWhatArrived(t *testing.T) {
	e := startEnv(t, envOptions{})
	data := testJPEG(t, 400, 300, 5)
	p, _ := e.create("wang", data, "v-cut", areaV1)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", p, e.token("wang"), len(data))
	conn.Write(data[:half])
	// Leave the connection open (a dead link sends no FIN): HEAD must
	// still learn the offset without waiting for a read timeout.
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := e.do("HEAD", p, "wang", nil, nil)
		if h.header.Get("Upload-Offset") == fmt.Sprint(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEAD after cut: %s offset %q, want %d", h, h.header.Get("Upload-Offset"), half)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn.Close()
	if a := e.patch("wang", p, half, data[half:], nil); a.status != 204 {
		t.Fatalf("resume: %s", a)
	}
	got := e.do("GET", "/v1/blobs/"+hexSHA(data), "wang", nil, nil)
	if !bytes.Equal(got.body, data) {
		t.Fatal("resumed blob differs")
	}
}

// TestOtherRoutesStillBoundBodies: streaming request bodies (for uploads)
// must not lift the body limit elsewhere, nor let an unread body be taken
// for the next request.
func TestOtherRoutesStillBoundBodies(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.srv.App() // the default 16 MiB limit
	big := bytes.Repeat([]byte("x"), 17<<20)
	resp, err := http.Post(e.url+"/v1/auth/login", "application/json", bytes.NewReader(big))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(b), "ETOOLARGE") {
			t.Errorf("oversize login body: %d %s", resp.StatusCode, b)
		}
	}
	a := e.do("POST", "/v1/auth/login", "", nil, []byte(`{"username":"wang","password":"`+pw+`"}`))
	if a.status != 200 {
		t.Errorf("login after: %s", a)
	}
}
