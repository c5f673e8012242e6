// Package storetest is the conformance suite every assets.Store passes.
// A backend's own test calls Run with a constructor for fresh, empty stores.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
)

// Run runs the conformance suite against stores made by newStore. Each
// subtest gets its own store; newStore should register its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) assets.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s assets.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"OverwriteSameContent", testOverwriteSameContent},
		{"ConcurrentPutsSameKey", testConcurrentPutsSameKey},
		{"LargeObject", testLargeObject},
		{"UnknownSize", testUnknownSize},
		{"FailingReaderLeavesNothing", testFailingReader},
		{"FailedOverwriteKeepsOld", testFailedOverwriteKeepsOld},
		{"SizeMismatch", testSizeMismatch},
		{"ContextCancel", testContextCancel},
		{"Delete", testDelete},
		{"PutVerified", testPutVerified},
		{"UploadResume", testUploadResume},
		{"UploadOffsetMismatch", testUploadOffsetMismatch},
		{"UploadCutMidChunk", testUploadCutMidChunk},
		{"UploadHashMismatch", testUploadHashMismatch},
		{"UploadAbort", testUploadAbort},
		{"UploadUnknownLength", testUploadUnknownLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustGet reads the whole object under key and checks Stat agrees.
func mustGet(t *testing.T, s assets.Store, key string) []byte {
	t.Helper()
	ctx := ctxT(t)
	rc, size, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if int64(len(got)) != size {
		t.Fatalf("Get(%s) announced %d bytes, read %d", key, size, len(got))
	}
	st, err := s.Stat(ctx, key)
	if err != nil || st != size {
		t.Fatalf("Stat(%s) = %d, %v; want %d", key, st, err, size)
	}
	return got
}

func mustBeAbsent(t *testing.T, s assets.Store, key string) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := s.Stat(ctx, key); !errors.Is(err, assets.ErrNotFound) {
		t.Fatalf("Stat(%s) = %v, want ErrNotFound", key, err)
	}
	rc, _, err := s.Get(ctx, key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, assets.ErrNotFound) {
		t.Fatalf("Get(%s) = %v, want ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	for _, n := range []int{0, 1, 1000} {
		data := randomBytes(t, n)
		key := assets.OriginalKey(sum(data))
		if err := s.Put(ctx, key, bytes.NewReader(data), int64(n)); err != nil {
			t.Fatalf("Put %d bytes: %v", n, err)
		}
		if got := mustGet(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes returned %d different bytes", n, len(got))
		}
	}
}

func testNotFound(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	mustBeAbsent(t, s, assets.OriginalKey(sum([]byte("never stored"))))
	// A key that is a folder of other keys is not an object either.
	data := []byte("x")
	if err := s.Put(ctx, "a/b/c", bytes.NewReader(data), 1); err != nil {
		t.Fatal(err)
	}
	mustBeAbsent(t, s, "a/b")
	// Deleting what is absent is fine: retries are safe.
	if err := s.Delete(ctx, "a/b/absent"); err != nil {
		t.Fatalf("Delete(absent) = %v", err)
	}
}

func testInvalidKeys(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	for _, key := range []string{"", "/abs", "a/../b", "../x", "a//b", "A", "a/", ".hidden", assets.OriginalKey("not-a-hash")} {
		if err := s.Put(ctx, key, bytes.NewReader(nil), 0); !errors.Is(err, assets.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, assets.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, id := range []string{"", "a/b", "..", "a b"} {
		if _, err := s.AppendUpload(ctx, id, 0, bytes.NewReader(nil), 0); !errors.Is(err, assets.ErrInvalidKey) {
			t.Errorf("AppendUpload(%q) = %v, want ErrInvalidKey", id, err)
		}
	}
}

func testOverwriteSameContent(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 4096)
	key := assets.OriginalKey(sum(data))
	for i := range 3 {
		if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("Put #%d: %v", i, err)
		}
	}
	if got := mustGet(t, s, key); !bytes.Equal(got, data) {
		t.Fatal("content changed after repeated puts")
	}
}

func testConcurrentPutsSameKey(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 256<<10)
	key := assets.OriginalKey(sum(data))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- s.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	if got := mustGet(t, s, key); !bytes.Equal(got, data) {
		t.Fatal("concurrent puts of the same content left different content")
	}
}

func testLargeObject(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 8<<20)
	key := assets.OriginalKey(sum(data))
	if err := assets.PutVerified(ctx, s, key, bytes.NewReader(data), int64(len(data)), sum(data)); err != nil {
		t.Fatalf("PutVerified 8 MiB: %v", err)
	}
	if got := mustGet(t, s, key); sum(got) != sum(data) {
		t.Fatal("8 MiB object came back different")
	}
}

// onlyReader hides any Seek/ReadAt/WriteTo so backends must stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testUnknownSize(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 300<<10)
	key := assets.OriginalKey(sum(data))
	if err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, -1); err != nil {
		t.Fatalf("Put of unknown size: %v", err)
	}
	if got := mustGet(t, s, key); !bytes.Equal(got, data) {
		t.Fatal("unknown-size put came back different")
	}
}

// failingReader yields n bytes of data, then fails.
type failingReader struct {
	data []byte
	n    int
	err  error
}

var errBoom = errors.New("storetest: reader failed on purpose")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n, len(f.data))
	copy(p, f.data[:k])
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

func testFailingReader(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 2<<20)
	key := assets.OriginalKey(sum(data))
	for _, size := range []int64{int64(len(data)), -1} {
		err := s.Put(ctx, key, &failingReader{data: data, n: 1 << 20, err: errBoom}, size)
		if err == nil {
			t.Fatalf("Put(size %d) with a reader failing midway succeeded", size)
		}
		if assets.IsTransient(err) {
			t.Errorf("a failing source reader is reported as a transient store failure: %v", err)
		}
		mustBeAbsent(t, s, key)
	}
}

func testFailedOverwriteKeepsOld(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	old := randomBytes(t, 10000)
	if err := s.Put(ctx, "derived/x.jpg", bytes.NewReader(old), int64(len(old))); err != nil {
		t.Fatal(err)
	}
	next := randomBytes(t, 1<<20)
	if err := s.Put(ctx, "derived/x.jpg", &failingReader{data: next, n: 512 << 10, err: errBoom}, int64(len(next))); err == nil {
		t.Fatal("overwrite with failing reader succeeded")
	}
	if got := mustGet(t, s, "derived/x.jpg"); !bytes.Equal(got, old) {
		t.Fatal("a failed overwrite changed the object")
	}
}

func testSizeMismatch(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 1000)
	for _, tc := range []struct {
		name string
		size int64
	}{{"short", 1001}, {"long", 999}} {
		key := "sizes/" + tc.name
		err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, tc.size)
		if !errors.Is(err, assets.ErrSizeMismatch) {
			t.Errorf("%s: Put = %v, want ErrSizeMismatch", tc.name, err)
		}
		mustBeAbsent(t, s, key)
	}
}

// cancellingReader cancels its context after the first read.
type cancellingReader struct {
	r      io.Reader
	cancel context.CancelFunc
	reads  int
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	c.reads++
	if c.reads == 2 {
		c.cancel()
		time.Sleep(10 * time.Millisecond) // let the HTTP client notice, as a slow client would
	}
	return c.r.Read(p)
}

func testContextCancel(t *testing.T, s assets.Store) {
	data := randomBytes(t, 1<<20)
	key := assets.OriginalKey(sum(data))

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(done, key, bytes.NewReader(data), int64(len(data))); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	mustBeAbsent(t, s, key)
	if _, err := s.Stat(done, key); err == nil {
		t.Fatal("Stat with a cancelled context succeeded")
	}

	ctx, cancelMid := context.WithCancel(context.Background())
	defer cancelMid()
	r := &cancellingReader{r: onlyReader{bytes.NewReader(data)}, cancel: cancelMid}
	if err := s.Put(ctx, key, r, int64(len(data))); err == nil {
		t.Fatal("Put cancelled midway succeeded")
	}
	mustBeAbsent(t, s, key)
}

func testDelete(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := []byte("to be deleted")
	key := assets.ThumbKey(sum(data))
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeAbsent(t, s, key)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func testPutVerified(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 100<<10)
	good := sum(data)
	bad := sum(append([]byte{1}, data...))
	for _, size := range []int64{int64(len(data)), -1} {
		key := fmt.Sprintf("verified/%d", size+1)
		err := assets.PutVerified(ctx, s, key, onlyReader{bytes.NewReader(data)}, size, bad)
		if !errors.Is(err, assets.ErrHashMismatch) {
			t.Fatalf("size %d: PutVerified with wrong hash = %v, want ErrHashMismatch", size, err)
		}
		mustBeAbsent(t, s, key)
		if err := assets.PutVerified(ctx, s, key, onlyReader{bytes.NewReader(data)}, size, good); err != nil {
			t.Fatalf("size %d: PutVerified with right hash: %v", size, err)
		}
		if got := mustGet(t, s, key); !bytes.Equal(got, data) {
			t.Fatal("PutVerified stored different bytes")
		}
	}
	if err := assets.PutVerified(ctx, s, "verified/x", bytes.NewReader(data), -1, "zz"); !errors.Is(err, assets.ErrHashMismatch) {
		t.Fatalf("PutVerified with a malformed hash = %v", err)
	}
	mustBeAbsent(t, s, "verified/x")
}

func appendChunks(t *testing.T, s assets.Store, id string, data []byte, chunk int) {
	t.Helper()
	ctx := ctxT(t)
	var off int64
	for off < int64(len(data)) {
		end := min(off+int64(chunk), int64(len(data)))
		n, err := s.AppendUpload(ctx, id, off, bytes.NewReader(data[off:end]), end-off)
		if err != nil {
			t.Fatalf("AppendUpload at %d: %v", off, err)
		}
		if n != end {
			t.Fatalf("AppendUpload at %d returned size %d, want %d", off, n, end)
		}
		off = n
	}
}

func testUploadResume(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 700<<10)
	sha := sum(data)
	if n, err := s.UploadSize(ctx, "up1"); err != nil || n != 0 {
		t.Fatalf("UploadSize of a fresh upload = %d, %v; want 0, nil", n, err)
	}
	appendChunks(t, s, "up1", data[:300<<10], 100<<10)
	// A restart: the client asks where to resume.
	n, err := s.UploadSize(ctx, "up1")
	if err != nil || n != 300<<10 {
		t.Fatalf("UploadSize = %d, %v; want %d", n, err, 300<<10)
	}
	rest := data[n:]
	if got, err := s.AppendUpload(ctx, "up1", n, onlyReader{bytes.NewReader(rest)}, -1); err != nil || got != int64(len(data)) {
		t.Fatalf("AppendUpload of the rest = %d, %v", got, err)
	}
	key := assets.OriginalKey(sha)
	size, err := s.CommitUpload(ctx, "up1", key, sha)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("CommitUpload = %d, %v", size, err)
	}
	if got := mustGet(t, s, key); !bytes.Equal(got, data) {
		t.Fatal("committed upload differs from the data sent")
	}
	if n, err := s.UploadSize(ctx, "up1"); err != nil || n != 0 {
		t.Fatalf("after commit UploadSize = %d, %v; want staging gone", n, err)
	}
}

func testUploadOffsetMismatch(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 3000)
	appendChunks(t, s, "up2", data[:1000], 1000)
	for _, off := range []int64{0, 999, 1001} {
		n, err := s.AppendUpload(ctx, "up2", off, bytes.NewReader(data[1000:2000]), 1000)
		if !errors.Is(err, assets.ErrOffsetMismatch) {
			t.Fatalf("AppendUpload at %d = %v, want ErrOffsetMismatch", off, err)
		}
		if n != 1000 {
			t.Fatalf("AppendUpload at %d reported size %d, want the current 1000", off, n)
		}
	}
	if n, _ := s.UploadSize(ctx, "up2"); n != 1000 {
		t.Fatalf("a refused append changed the upload to %d bytes", n)
	}
}

func testUploadCutMidChunk(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 600<<10)
	sha := sum(data)
	appendChunks(t, s, "up3", data[:200<<10], 200<<10)
	// The connection drops 100 KiB into the second chunk.
	n, err := s.AppendUpload(ctx, "up3", 200<<10, &failingReader{data: data[200<<10 : 400<<10], n: 100 << 10, err: errBoom}, 200<<10)
	if err == nil {
		t.Fatal("AppendUpload with a failing reader succeeded")
	}
	if n < 200<<10 || n > 300<<10 {
		t.Fatalf("after a cut chunk the upload reports %d bytes, want between %d and %d", n, 200<<10, 300<<10)
	}
	if got, _ := s.UploadSize(ctx, "up3"); got != n {
		t.Fatalf("UploadSize = %d, but AppendUpload reported %d", got, n)
	}
	// Resume from where the store says; at most one chunk is resent.
	if got, err := s.AppendUpload(ctx, "up3", n, bytes.NewReader(data[n:]), int64(len(data))-n); err != nil || got != int64(len(data)) {
		t.Fatalf("resume = %d, %v", got, err)
	}
	if _, err := s.CommitUpload(ctx, "up3", assets.OriginalKey(sha), sha); err != nil {
		t.Fatalf("commit after resume: %v", err)
	}
	if got := mustGet(t, s, assets.OriginalKey(sha)); !bytes.Equal(got, data) {
		t.Fatal("resumed upload differs from the data sent")
	}
}

func testUploadHashMismatch(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 50<<10)
	appendChunks(t, s, "up4", data, 20<<10)
	wrong := sum([]byte("something else"))
	key := assets.OriginalKey(wrong)
	if _, err := s.CommitUpload(ctx, "up4", key, wrong); !errors.Is(err, assets.ErrHashMismatch) {
		t.Fatalf("CommitUpload with wrong hash = %v, want ErrHashMismatch", err)
	}
	mustBeAbsent(t, s, key)
	if n, _ := s.UploadSize(ctx, "up4"); n != int64(len(data)) {
		t.Fatalf("a refused commit changed the staging to %d bytes", n)
	}
}

func testUploadAbort(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 30<<10)
	appendChunks(t, s, "up5", data, 10<<10)
	if err := s.AbortUpload(ctx, "up5"); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	if n, err := s.UploadSize(ctx, "up5"); err != nil || n != 0 {
		t.Fatalf("after abort UploadSize = %d, %v", n, err)
	}
	if err := s.AbortUpload(ctx, "never-started"); err != nil {
		t.Fatalf("AbortUpload of an unknown id: %v", err)
	}
	// An empty upload commits only to the hash of nothing.
	empty := sum(nil)
	if n, err := s.CommitUpload(ctx, "empty", assets.OriginalKey(empty), empty); err != nil || n != 0 {
		t.Fatalf("commit of an empty upload = %d, %v", n, err)
	}
}

// testUploadUnknownLength appends chunks whose length the store is not
// told (the tablet's chunked PATCH bodies): a small one and one of several
// MiB, which a store may handle differently; the upload commits whole.
func testUploadUnknownLength(t *testing.T, s assets.Store) {
	ctx := ctxT(t)
	data := randomBytes(t, 3<<20)
	n, err := s.AppendUpload(ctx, "up6", 0, onlyReader{bytes.NewReader(data[:64<<10])}, -1)
	if err != nil || n != 64<<10 {
		t.Fatalf("AppendUpload of a small chunk of unknown length = %d, %v", n, err)
	}
	if n, err = s.AppendUpload(ctx, "up6", n, onlyReader{bytes.NewReader(data[n:])}, -1); err != nil || n != int64(len(data)) {
		t.Fatalf("AppendUpload of a large chunk of unknown length = %d, %v", n, err)
	}
	sha := sum(data)
	if size, err := s.CommitUpload(ctx, "up6", assets.OriginalKey(sha), sha); err != nil || size != int64(len(data)) {
		t.Fatalf("CommitUpload = %d, %v", size, err)
	}
}
