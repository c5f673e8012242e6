package diskstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/storetest"
)

// openChecked opens a store in a temp folder; at cleanup it checks that no
// temp file was left behind by any Put, failed or not.
func openChecked(t *testing.T) *diskstore.Store {
	dir := t.TempDir()
	s, err := diskstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		left, err := os.ReadDir(filepath.Join(dir, "tmp"))
		if err != nil {
			t.Errorf("read tmp: %v", err)
		}
		for _, e := range left {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) assets.Store { return openChecked(t) })
}

func TestReopenKeepsObjectsAndUploads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := diskstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "preview/ab/x.jpg", bytes.NewReader([]byte("preview")), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "u1", 0, bytes.NewReader([]byte("half")), 4); err != nil {
		t.Fatal(err)
	}
	reopened, err := diskstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := reopened.Stat(ctx, "preview/ab/x.jpg"); err != nil || n != 7 {
		t.Fatalf("after reopen Stat = %d, %v", n, err)
	}
	if n, err := reopened.UploadSize(ctx, "u1"); err != nil || n != 4 {
		t.Fatalf("after reopen UploadSize = %d, %v", n, err)
	}
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := diskstore.Open(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "put-stale")
	fresh := filepath.Join(dir, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := diskstore.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file survived Open: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file (a Put in flight elsewhere) was removed: %v", err)
	}
}
