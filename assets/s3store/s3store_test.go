package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/miniotest"
	"github.com/ruhu-dev/ruhu/assets/s3store"
	"github.com/ruhu-dev/ruhu/assets/storetest"
)

func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) assets.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A bucket per subtest: fresh and empty, without a new server.
		s, err := s3store.OpenURL(ctx, srv.URL(fmt.Sprintf("conformance-%d", n.Add(1))))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenCreatesBucketOnce(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	opts, err := s3store.ParseURL("s3://" + srv.Endpoint + "/photos")
	if err != nil {
		t.Fatal(err)
	}
	opts.AccessKey, opts.SecretKey = srv.AccessKey, srv.SecretKey
	first, err := s3store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open creating the bucket: %v", err)
	}
	if err := first.Put(ctx, "a/b", bytes.NewReader([]byte("kept")), 4); err != nil {
		t.Fatal(err)
	}
	second, err := s3store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open of an existing bucket: %v", err)
	}
	if n, err := second.Stat(ctx, "a/b"); err != nil || n != 4 {
		t.Fatalf("object written before reopening: Stat = %d, %v", n, err)
	}
	opts.SecretKey = "wrong-secret"
	if _, err := s3store.Open(ctx, opts); err == nil || assets.IsTransient(err) {
		t.Fatalf("Open with a wrong secret = %v, want a permanent error", err)
	}
}

func TestStoppedServerIsTransientAndWorkResumes(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	s, err := s3store.OpenURL(ctx, srv.URL("outage"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("photo bytes before the outage")
	if err := s.Put(ctx, "orig/before", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	calls := map[string]func() error{
		"Put": func() error { return s.Put(ctx, "orig/during", bytes.NewReader(data), int64(len(data))) },
		"Get": func() error {
			_, _, err := s.Get(ctx, "orig/before")
			return err
		},
		"Stat":   func() error { _, err := s.Stat(ctx, "orig/before"); return err },
		"Delete": func() error { return s.Delete(ctx, "orig/before") },
		"AppendUpload": func() error {
			_, err := s.AppendUpload(ctx, "u1", 0, bytes.NewReader(data), int64(len(data)))
			return err
		},
		"UploadSize": func() error { _, err := s.UploadSize(ctx, "u1"); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if !assets.IsTransient(err) {
			t.Errorf("%s while MinIO is stopped = %v, want a transient error", name, err)
		}
		if errors.Is(err, assets.ErrNotFound) {
			t.Errorf("%s while MinIO is stopped claims not found: %v", name, err)
		}
		t.Logf("%s failed after %s: %v", name, time.Since(start).Round(time.Millisecond), err)
	}
	if _, err := s3store.OpenURL(ctx, srv.URL("outage")); !assets.IsTransient(err) {
		t.Errorf("Open while MinIO is stopped = %v, want a transient error", err)
	}

	srv.Restart()
	if n, err := s.Stat(ctx, "orig/before"); err != nil || n != int64(len(data)) {
		t.Fatalf("after restart Stat = %d, %v", n, err)
	}
	if err := s.Put(ctx, "orig/during", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("after restart Put: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    s3store.Options
		wantErr bool
	}{
		{raw: "s3://AK:SK@127.0.0.1:9000/bucket?secure=false",
			want: s3store.Options{Endpoint: "127.0.0.1:9000", AccessKey: "AK", SecretKey: "SK", Bucket: "bucket"}},
		{raw: "s3://AK:S%2FK@minio.example:443/ruhu?secure=true&region=cn-north-1",
			want: s3store.Options{Endpoint: "minio.example:443", AccessKey: "AK", SecretKey: "S/K", Bucket: "ruhu", Secure: true, Region: "cn-north-1"}},
		{raw: "s3://127.0.0.1:9000/bucket/",
			want: s3store.Options{Endpoint: "127.0.0.1:9000", Bucket: "bucket"}},
		{raw: "http://127.0.0.1:9000/bucket", wantErr: true},
		{raw: "s3://127.0.0.1:9000/", wantErr: true},
		{raw: "s3://127.0.0.1:9000/a/b", wantErr: true},
		{raw: "s3:///bucket", wantErr: true},
		{raw: "s3://h:1/b?secure=maybe", wantErr: true},
	}
	for _, tc := range tests {
		got, err := s3store.ParseURL(tc.raw)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseURL(%q) = %+v, want an error", tc.raw, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

// racingReader runs race once, on its first Read, before handing out r:
// the racing append starts after its rival passed the offset check.
type racingReader struct {
	r    *bytes.Reader
	race func()
	done bool
}

func (r *racingReader) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		r.race()
	}
	return r.r.Read(p)
}

// TestConcurrentAppendsAtOneOffset: two servers on one bucket append at
// the same offset at once; the one that stores its chunk second must not
// replace the first's (a shorter chunk would leave a gap behind chunks
// appended after the longer one): it answers ErrOffsetMismatch and the
// upload stays whole and consistent.
func TestConcurrentAppendsAtOneOffset(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	a, err := s3store.OpenURL(ctx, srv.URL("race"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3store.OpenURL(ctx, srv.URL("race"))
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("L"), 4000)
	short := bytes.Repeat([]byte("s"), 1000)
	var raced error
	slow := &racingReader{r: bytes.NewReader(short), race: func() {
		_, raced = b.AppendUpload(ctx, "u", 0, bytes.NewReader(long), int64(len(long)))
	}}
	n, err := a.AppendUpload(ctx, "u", 0, struct{ io.Reader }{slow}, -1)
	if raced != nil {
		t.Fatalf("the first append: %v", raced)
	}
	if !errors.Is(err, assets.ErrOffsetMismatch) || n != int64(len(long)) {
		t.Fatalf("the second append at the same offset = %d, %v; want %d, ErrOffsetMismatch", n, err, len(long))
	}
	if size, err := a.UploadSize(ctx, "u"); err != nil || size != int64(len(long)) {
		t.Fatalf("UploadSize = %d, %v; want %d", size, err, len(long))
	}
}
