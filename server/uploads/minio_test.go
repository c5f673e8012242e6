package uploads_test

import (
	"bytes"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/miniotest"
	"github.com/ruhu-dev/ruhu/assets/s3store"
	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// TestMinIOOutage: with blobs in MinIO, stopping MinIO turns PATCH and
// POST into 503 ETRANSIENT while HEAD still tells the recorded offset;
// once MinIO is back the upload resumes, completes and is processed.
func TestMinIOOutage(t *testing.T) {
	mio := miniotest.Start(t)
	opts, err := s3store.ParseURL(mio.URL("ruhu-blobs"))
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = 1
	blobs, err := s3store.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, envOptions{blobs: blobs})
	data := testJPEG(t, 900, 700, 31)
	p, a := e.create("wang", data, "v-minio", areaV1)
	if a.status != 201 {
		t.Fatal(a)
	}
	half := len(data) / 2
	if a := e.patch("wang", p, 0, data[:half], nil); a.status != 204 {
		t.Fatalf("first half: %s", a)
	}

	mio.Stop()
	if a := e.patch("wang", p, half, data[half:], nil); a.status != 503 || a.code() != "ETRANSIENT" {
		t.Errorf("PATCH while MinIO is down: %s", a)
	}
	other := testJPEG(t, 300, 200, 32)
	if _, a := e.create("wang", other, "v-minio2", areaV1); a.status != 201 {
		// Creation touches the store only to look for a duplicate of a
		// known blob; an unknown sha256 is created without it.
		t.Errorf("POST of a new blob while MinIO is down: %s", a)
	}
	h := e.do("HEAD", p, "wang", nil, nil)
	if h.status != 200 || h.header.Get("Upload-Offset") != itoa(half) {
		t.Errorf("HEAD while MinIO is down: %s offset %q", h, h.header.Get("Upload-Offset"))
	}
	if a := e.do("GET", "/v1/blobs/"+hexSHA(data), "wang", nil, nil); a.status != 404 {
		t.Errorf("blob visible before completion: %s", a)
	}

	mio.Restart()
	if a := e.patch("wang", p, half, data[half:], nil); a.status != 204 {
		t.Fatalf("resume after MinIO is back: %s", a)
	}
	b := e.waitBlob(hexSHA(data))
	if b.Status != boltstore.BlobReady {
		t.Errorf("blob %s (%s)", b.Status, b.Reason)
	}
	got := e.do("GET", "/v1/blobs/"+hexSHA(data), "wang", nil, nil)
	if !bytes.Equal(got.body, data) {
		t.Fatalf("blob from MinIO differs: %d", got.status)
	}

	// A dedup check while the store is down answers ETRANSIENT, not a
	// second copy.
	mio.Stop()
	if _, a := e.create("li", data, "v-minio4", areaV1); a.status != 503 || a.code() != "ETRANSIENT" {
		t.Errorf("POST of a known blob while MinIO is down: %s", a)
	}
	mio.Restart()
}
