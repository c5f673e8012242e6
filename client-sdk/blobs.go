package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Evidence files on the tablet.
//
// Photo originals (several MB each), evidence copies and signature images
// are kept as files in a folder beside the tablet file, "<file>.blobs/",
// named by the sha256 of their bytes, not inside bbolt: bbolt maps its
// whole file into memory and never gives freed pages back to the file
// system, so megabytes of photos would bloat it for good once uploaded.
// The folder is per tablet file, so two stores in one directory never
// share (or wipe) each other's evidence.
//
// A file is written completely (temporary name, fsync, rename) before the
// transaction that records the photo and queues its upload, so a queue
// item never names a file that is not all there. A crash between the two
// leaves an unreferenced file, which the next attach of the same bytes
// reuses. Files are removed once every upload of their bytes is done, and
// the whole folder goes when the device is revoked or another user's data
// is dropped.
type blobDir struct{ dir string }

func blobDirFor(dbPath string) blobDir { return blobDir{dir: dbPath + ".blobs"} }

func (b blobDir) path(sha string) string { return filepath.Join(b.dir, sha) }

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// put stores data under its sha256 and returns the sha and whether the file
// is new (false: the same bytes were already there).
func (b blobDir) put(data []byte) (sha string, created bool, err error) {
	sha = sha256Hex(data)
	final := b.path(sha)
	if st, err := os.Stat(final); err == nil && st.Size() == int64(len(data)) {
		return sha, false, nil
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return "", false, fmt.Errorf("evidence folder %s: %w", b.dir, err)
	}
	tmp, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return "", false, fmt.Errorf("store evidence %s: %w", sha, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("store evidence %s: %w", sha, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("store evidence %s: sync: %w", sha, err)
	}
	if err := tmp.Close(); err != nil {
		return "", false, fmt.Errorf("store evidence %s: %w", sha, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", false, fmt.Errorf("store evidence %s: %w", sha, err)
	}
	if d, err := os.Open(b.dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return sha, true, nil
}

// open opens the file of sha for reading.
func (b blobDir) open(sha string) (*os.File, error) {
	f, err := os.Open(b.path(sha))
	if err != nil {
		return nil, fmt.Errorf("evidence file %s: %w", sha, err)
	}
	return f, nil
}

// remove deletes the file of sha; a missing file is not an error.
func (b blobDir) remove(sha string) error {
	if err := os.Remove(b.path(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove evidence %s: %w", sha, err)
	}
	return nil
}

// removeAll deletes the folder and every file in it.
func (b blobDir) removeAll() error {
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("remove evidence folder %s: %w", b.dir, err)
	}
	return nil
}
