package boltstore

import (
	"encoding/json"
	"fmt"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Upload is core.Upload: the state of one resumable (tus) upload.
type Upload = core.Upload

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
