package uploads_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server/uploads/faultproxy"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
)

// TestResumeThroughFaultyLink: 20 photos over a link that is slow and cut
// at random byte offsets arrive byte-identical, and the client sends at
// most 1.2 × the bytes plus one chunk per cut.
func TestResumeThroughFaultyLink(t *testing.T) {
	e := startEnv(t, envOptions{})
	const seed = 20260301
	t.Logf("proxy seed %d", seed)
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(e.url, "http://"),
		BytesPerSecond: 4 << 20, CutMin: 2 << 10, CutMax: 40 << 10, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	const chunk = 32 << 10
	var total, sent int64
	photos := make([][]byte, 20)
	for i := range photos {
		photos[i] = testJPEG(t, 640+16*i, 480, uint64(100+i))
		c := e.client("wang")
		c.Endpoint, c.ChunkSize = px.URL(), chunk
		c.Checksum = i%2 == 0 // half verify every chunk, half keep partial chunks
		st, err := c.Upload(t.Context(), tusclient.File{Data: photos[i], Kind: "photo", Collection: "visits", RecordID: "v-" + string(rune('a'+i)), Area: areaV1})
		if err != nil {
			t.Fatalf("photo %d: %v (stats %+v)", i, err, st)
		}
		total += int64(len(photos[i]))
		sent += st.BytesSent
	}
	cuts := int64(px.Cuts())
	t.Logf("%d bytes in 20 photos, %d sent (%.3f×), %d cuts", total, sent, float64(sent)/float64(total), cuts)
	if cuts < 10 {
		t.Errorf("only %d cuts: the link was not bad enough to test anything", cuts)
	}
	if limit := total*12/10 + chunk*cuts; sent > limit {
		t.Errorf("sent %d bytes, more than 1.2 × %d + %d cuts × %d = %d", sent, total, cuts, chunk, limit)
	}
	for i, p := range photos {
		got := e.do("GET", "/v1/blobs/"+hexSHA(p), "wang", nil, nil)
		if got.status != 200 || !bytes.Equal(got.body, p) {
			t.Errorf("photo %d: %d, %d bytes, differs from the original", i, got.status, len(got.body))
		}
	}
}

// TestClientRestartResumes: a client that gave up midway is replaced by a
// new one that finds the upload in its state folder and goes on from the
// server's offset instead of starting again.
func TestClientRestartResumes(t *testing.T) {
	e := startEnv(t, envOptions{})
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(e.url, "http://"), CutMin: 60 << 10, CutMax: 60 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	data := testJPEG(t, 1200, 900, 7)
	state := t.TempDir()
	file := tusclient.File{Data: data, Kind: "photo", Collection: "visits", RecordID: "v-restart", Area: areaV1}

	first := e.client("wang")
	first.Endpoint, first.StateDir, first.MaxFailures, first.ChunkSize = px.URL(), state, 1, len(data)
	st1, err := first.Upload(t.Context(), file)
	if !errors.Is(err, tusclient.ErrGaveUp) {
		t.Fatalf("first client: %v, want it to give up at the cut", err)
	}
	kept := e.waitStaged("v-restart")
	px.SetCutting(false)
	second := e.client("wang")
	second.Endpoint, second.StateDir, second.ChunkSize = px.URL(), state, len(data)
	st2, err := second.Upload(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	if !st2.Resumed || st2.BytesSent != int64(len(data))-kept {
		t.Errorf("second client did not resume: %+v (first sent %d of %d)", st2, st1.BytesSent, len(data))
	}
	got := e.do("GET", "/v1/blobs/"+hexSHA(data), "wang", nil, nil)
	if !bytes.Equal(got.body, data) {
		t.Fatal("blob differs")
	}
}

// TestServerRestartResumes: the server stops mid-upload and comes back on
// the same files; the upload goes on from where it was.
func TestServerRestartResumes(t *testing.T) {
	e := startEnv(t, envOptions{})
	data := testJPEG(t, 800, 600, 8)
	p, a := e.create("wang", data, "v-srv", areaV1)
	if a.status != 201 {
		t.Fatal(a)
	}
	half := len(data) / 2
	if a := e.patch("wang", p, 0, data[:half], nil); a.status != 204 {
		t.Fatal(a)
	}
	state := t.TempDir()
	// The client remembers the upload (as if it had created it).
	e.restart()
	h := e.do("HEAD", p, "wang", nil, nil)
	if h.status != 200 || h.header.Get("Upload-Offset") != itoa(half) {
		t.Fatalf("HEAD after restart: %s offset %q", h, h.header.Get("Upload-Offset"))
	}
	if a := e.patch("wang", p, half, data[half:], nil); a.status != 204 {
		t.Fatal(a)
	}
	// A client with its own state over a restart in its middle.
	other := testJPEG(t, 800, 600, 9)
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(e.url, "http://"), CutMin: 20 << 10, CutMax: 20 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	c := e.client("wang")
	c.Endpoint, c.StateDir, c.MaxFailures = px.URL(), state, 1
	file := tusclient.File{Data: other, Kind: "photo", Collection: "visits", RecordID: "v-srv2", Area: areaV1}
	if _, err := c.Upload(t.Context(), file); err == nil {
		t.Fatal("the cut did not stop the first client")
	}
	kept := e.waitStaged("v-srv2")
	e.restart()
	px.SetTarget(strings.TrimPrefix(e.url, "http://"))
	px.SetCutting(false)
	c2 := e.client("wang")
	c2.Endpoint, c2.StateDir = px.URL(), state
	st, err := c2.Upload(t.Context(), file)
	if err != nil || !st.Resumed || st.BytesSent != int64(len(other))-kept {
		t.Fatalf("after server restart: %+v %v", st, err)
	}
	for _, d := range [][]byte{data, other} {
		if got := e.do("GET", "/v1/blobs/"+hexSHA(d), "wang", nil, nil); !bytes.Equal(got.body, d) {
			t.Fatal("blob differs after restart")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
