package boltstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// Upload is the server's memory of one resumable (tus) upload: who started
// it, for which record, how long it is and how far it got. It lives in
// bbolt so an upload survives a server restart; the bytes themselves are
// staged in the blob store under the upload's id.
type Upload struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// Length is the announced size in bytes (tus Upload-Length).
	Length int64 `json:"length"`
	// Offset is the staged size last seen by the server. The blob store is
	// the authority; this copy answers HEAD while the store is down.
	Offset int64 `json:"offset"`
	// SHA256 is the lowercase hex digest the whole file must have.
	SHA256 string `json:"sha256"`
	// Kind is "photo" or "signature".
	Kind string `json:"kind"`
	// Collection, RecordID and Area name the record that cites the blob.
	Collection string    `json:"collection"`
	RecordID   string    `json:"record_id"`
	Area       string    `json:"area"`
	CreatedAt  time.Time `json:"created_at"`
	// ExpiresAt is when an unfinished upload is given up and its staging
	// removed; every accepted chunk pushes it back.
	ExpiresAt time.Time `json:"expires_at"`
	// Done is set once the blob is committed (or was already there): the
	// upload then reports Offset == Length until it expires.
	Done bool `json:"done,omitempty"`
}

// Upload returns an upload, or nil when absent.
func (t *Tx) Upload(id string) (*Upload, error) {
	v := t.tx.Bucket(bucketUploads).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var u Upload
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("decode upload %s: %w", id, err)
	}
	return &u, nil
}

// PutUpload creates or replaces an upload.
func (t *Tx) PutUpload(u *Upload) error {
	buf, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode upload %s: %w", u.ID, err)
	}
	return t.tx.Bucket(bucketUploads).Put([]byte(u.ID), buf)
}

// DeleteUpload forgets an upload; deleting an absent one is not an error.
func (t *Tx) DeleteUpload(id string) error {
	return t.tx.Bucket(bucketUploads).Delete([]byte(id))
}

// Uploads calls fn for every upload in id order until fn returns false.
func (t *Tx) Uploads(fn func(*Upload) bool) error {
	c := t.tx.Bucket(bucketUploads).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var u Upload
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("decode upload %s: %w", k, err)
		}
		if !fn(&u) {
			return nil
		}
	}
	return nil
}
