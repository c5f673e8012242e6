package boltstore

import (
	"encoding/json"
	"fmt"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Blob facts are the core's types (core.Blob); the names stay here for
// the store's callers.
type (
	// BlobStatus is core.BlobStatus.
	BlobStatus = core.BlobStatus
	// BlobRef is core.BlobRef.
	BlobRef = core.BlobRef
	// GPS is core.GPS.
	GPS = core.GPS
	// Blob is core.Blob.
	Blob = core.Blob
)

// Blob statuses (core.BlobProcessing and its siblings).
const (
	BlobProcessing = core.BlobProcessing
	BlobReady      = core.BlobReady
	BlobFailed     = core.BlobFailed
)

// Blob returns the facts of a verified blob, or nil when no blob with
// that sha256 was ever committed. A non-nil result means the bytes were
// verified against sha when they were stored.
func (t *Tx) Blob(sha string) (*Blob, error) {
	v := t.tx.Bucket(bucketBlobs).Get([]byte(sha))
	if v == nil {
		return nil, nil
	}
	var b Blob
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("decode blob %s: %w", sha, err)
	}
	return &b, nil
}

// PutBlob creates or replaces the facts of a blob.
func (t *Tx) PutBlob(b *Blob) error {
	buf, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode blob %s: %w", b.SHA256, err)
	}
	return t.tx.Bucket(bucketBlobs).Put([]byte(b.SHA256), buf)
}

// Blobs calls fn for every blob in sha256 order until fn returns false.
func (t *Tx) Blobs(fn func(*Blob) bool) error {
	c := t.tx.Bucket(bucketBlobs).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var b Blob
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("decode blob %s: %w", k, err)
		}
		if !fn(&b) {
			return nil
		}
	}
	return nil
}
