// Package diskstore keeps evidence blobs in a local folder: the default
// backend of a single `ruhu serve` process.
//
// Layout under the root folder:
//
//	objects/<key>   committed objects (keys contain slashes, so this is a tree)
//	uploads/<id>    staged resumable uploads, appended in place
//	tmp/            temp files of Puts in flight; same filesystem as objects/
//
// Every write lands in tmp/ (or uploads/), is fsynced, then renamed into
// objects/ and the parent folder fsynced, so a reader or a crash never leaves
// a partial object under a key.
package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
)

// Store is a blob folder. Safe for concurrent use by one process; two
// processes must not share a folder (upload appends are serialised in memory).
type Store struct {
	root    string
	uploads keyedMutex
}

var _ assets.Store = (*Store)(nil)

// staleTemp is how old a leftover temp file must be before Open removes it.
const staleTemp = time.Hour

// Open prepares the blob folder dir, creating it if needed, and removes temp
// files left over by a crash.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob folder %s: %w", dir, err)
	}
	s := &Store{root: abs}
	for _, sub := range []string{"objects", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o750); err != nil {
			return nil, fmt.Errorf("open blob folder %s: %w", dir, err)
		}
	}
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return nil, fmt.Errorf("open blob folder %s: %w", dir, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(s.tmpDir(), e.Name()))
		}
	}
	return s, nil
}

// Root returns the absolute path of the blob folder.
func (s *Store) Root() string { return s.root }

func (s *Store) tmpDir() string { return filepath.Join(s.root, "tmp") }

func (s *Store) objectPath(key string) (string, error) {
	if !assets.ValidKey(key) {
		return "", fmt.Errorf("key %q: %w", key, assets.ErrInvalidKey)
	}
	return filepath.Join(s.root, "objects", filepath.FromSlash(key)), nil
}

func (s *Store) uploadPath(id string) (string, error) {
	if !assets.ValidUploadID(id) {
		return "", fmt.Errorf("upload id %q: %w", id, assets.ErrInvalidKey)
	}
	return filepath.Join(s.root, "uploads", id), nil
}

// Put implements assets.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	path, err := s.objectPath(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "put-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, contextReader{ctx, assets.ExactReader(r, size)}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: close: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := moveInto(tmp.Name(), path); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	committed = true
	return nil
}

// moveInto renames from to path atomically and makes the rename durable.
func moveInto(from, path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := os.Rename(from, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// Get implements assets.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	path, err := s.objectPath(key)
	if err != nil {
		return nil, 0, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, notFound(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("get %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("get %s: %w", key, assets.ErrNotFound)
	}
	return f, info.Size(), nil
}

// Stat implements assets.Store.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	path, err := s.objectPath(key)
	if err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("stat %s: %w", key, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", key, notFound(err))
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("stat %s: %w", key, assets.ErrNotFound)
	}
	return info.Size(), nil
}

// Delete implements assets.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	path, err := s.objectPath(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return nil // a folder of the key tree, not an object
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// AppendUpload implements assets.Store. Bytes received before r fails are
// kept (and fsynced), so a dropped connection costs only what was not yet
// received; the final hash check in CommitUpload catches anything wrong.
func (s *Store) AppendUpload(ctx context.Context, id string, offset int64, r io.Reader, size int64) (int64, error) {
	path, err := s.uploadPath(id)
	if err != nil {
		return 0, fmt.Errorf("append upload: %w", err)
	}
	unlock := s.uploads.lock(id)
	defer unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return 0, fmt.Errorf("append upload %s: %w", id, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append upload %s: %w", id, err)
	}
	if info.Size() != offset {
		return info.Size(), fmt.Errorf("append upload %s at %d: upload holds %d bytes: %w", id, offset, info.Size(), assets.ErrOffsetMismatch)
	}
	src := io.Reader(contextReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	n, copyErr := io.Copy(f, src)
	syncErr := f.Sync()
	newSize := offset + n
	switch {
	case copyErr != nil:
		return newSize, fmt.Errorf("append upload %s: kept %d of the chunk: %w", id, n, copyErr)
	case syncErr != nil:
		// Not durable: report the old size so the client resends the chunk.
		if err := f.Truncate(offset); err != nil {
			return 0, fmt.Errorf("append upload %s: sync: %w (and truncate: %v)", id, syncErr, err)
		}
		return offset, fmt.Errorf("append upload %s: sync: %w", id, syncErr)
	case size >= 0 && n < size:
		return newSize, fmt.Errorf("append upload %s: chunk ended after %d of %d bytes: %w", id, n, size, assets.ErrSizeMismatch)
	}
	return newSize, nil
}

// UploadSize implements assets.Store.
func (s *Store) UploadSize(ctx context.Context, id string) (int64, error) {
	path, err := s.uploadPath(id)
	if err != nil {
		return 0, fmt.Errorf("upload size: %w", err)
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("upload size %s: %w", id, err)
	}
	return info.Size(), nil
}

// CommitUpload implements assets.Store. The staged file is renamed into
// place, so committing costs one read for the hash and no copy.
func (s *Store) CommitUpload(ctx context.Context, id, key, wantSHA256 string) (int64, error) {
	path, err := s.uploadPath(id)
	if err != nil {
		return 0, fmt.Errorf("commit upload: %w", err)
	}
	dest, err := s.objectPath(key)
	if err != nil {
		return 0, fmt.Errorf("commit upload %s: %w", id, err)
	}
	unlock := s.uploads.lock(id)
	defer unlock()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Never appended to: an empty upload, committed only if the caller
		// promised the hash of nothing.
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o640)
	}
	if err != nil {
		return 0, fmt.Errorf("commit upload %s: %w", id, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, contextReader{ctx, f})
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("commit upload %s: hash: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(wantSHA256) {
		return 0, fmt.Errorf("commit upload %s: staged bytes hash to %s, want %s: %w", id, got, wantSHA256, assets.ErrHashMismatch)
	}
	if err := moveInto(path, dest); err != nil {
		return 0, fmt.Errorf("commit upload %s to %s: %w", id, key, err)
	}
	return n, nil
}

// AbortUpload implements assets.Store.
func (s *Store) AbortUpload(ctx context.Context, id string) error {
	path, err := s.uploadPath(id)
	if err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	unlock := s.uploads.lock(id)
	defer unlock()
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort upload %s: %w", id, err)
	}
	return nil
}

func notFound(err error) error {
	// ENOTDIR: "a/b" looked up where "a" is an object: absent, not broken.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w (%v)", assets.ErrNotFound, err)
	}
	return err
}

// contextReader stops a copy as soon as ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// keyedMutex serialises work per upload id without one lock for all.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(id string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*refMutex)
	}
	m := k.locks[id]
	if m == nil {
		m = &refMutex{}
		k.locks[id] = m
	}
	m.refs++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		m.refs--
		if m.refs == 0 {
			delete(k.locks, id)
		}
		k.mu.Unlock()
	}
}
