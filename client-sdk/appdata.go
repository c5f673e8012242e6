package client

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// bucketApp holds what a field app keeps between launches beside the
// records: drafts of forms being filled ("draft/<id>"), sealed like the
// PII fields since they hold what was typed of them. It lives in the
// tablet file, so a draft survives the app being killed mid-form, and a
// revocation wipes it with the rest. The PIN is in tabletkeys.go.
var bucketApp = []byte("app")

const (
	appDraftPrefix = "draft/"
	// maxDraft bounds one draft (form values, signature strokes and the
	// photos chosen so far).
	maxDraft = 64 << 20
)

// SaveDraft stores (or replaces) the draft id: opaque bytes the app reads
// back with Draft after a restart.
//
// Codes: EINVALID (empty id or over 64 MiB), ELOCKED and ELEASE (the key
// is locked: drafts are sealed), EREVOKED.
func (c *Client) SaveDraft(id string, data []byte) error {
	if id == "" || len(id) > 200 || !utf8.ValidString(id) {
		return syncengine.Errorf(syncengine.EINVALID, "草稿编号无效")
	}
	if len(data) > maxDraft {
		return syncengine.Errorf(syncengine.EINVALID, "草稿过大（%d 字节，最多 %d）", len(data), maxDraft)
	}
	return c.update(func(tx *bolt.Tx, cd codec) error {
		sealed, err := cd.pii.sealBlob(appDraftPrefix+id, data)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketApp).Put([]byte(appDraftPrefix+id), sealed); err != nil {
			return fmt.Errorf("save draft %s: %w", id, err)
		}
		return nil
	})
}

// Draft returns the draft id.
//
// Codes: ENOTFOUND, ELOCKED, ELEASE, EREVOKED.
func (c *Client) Draft(id string) ([]byte, error) {
	var out []byte
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		v := tx.Bucket(bucketApp).Get([]byte(appDraftPrefix + id))
		if v == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "没有草稿 %s", id)
		}
		plain, err := cd.pii.openBlob(appDraftPrefix+id, v)
		if err != nil {
			return err
		}
		out = bytes.Clone(plain)
		return nil
	})
	return out, err
}

// DraftIDs returns the ids of the stored drafts, sorted.
//
// Codes: EREVOKED.
func (c *Client) DraftIDs() ([]string, error) {
	var out []string
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		cur := tx.Bucket(bucketApp).Cursor()
		p := []byte(appDraftPrefix)
		for k, _ := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = cur.Next() {
			out = append(out, string(k[len(p):]))
		}
		return nil
	})
	return out, err
}

// DeleteDraft removes the draft id; removing a missing draft is no error.
//
// Codes: EREVOKED.
func (c *Client) DeleteDraft(id string) error {
	return c.update(func(tx *bolt.Tx, _ codec) error {
		return tx.Bucket(bucketApp).Delete([]byte(appDraftPrefix + id))
	})
}

// ValidPIN reports whether pin has the form of a PIN: 4 to 12 digits.
func ValidPIN(pin string) bool { return validPIN(pin) }

func validPIN(pin string) bool {
	if len(pin) < 4 || len(pin) > 12 {
		return false
	}
	for _, r := range pin {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// DismissRejected removes a parked op from the rejected list, once the
// user has re-entered its change (or decided to drop it). The op stays
// refused: nothing is sent.
//
// Codes: ENOTFOUND (no such rejected op), EREVOKED.
func (c *Client) DismissRejected(opID string) error {
	return c.update(func(tx *bolt.Tx, _ codec) error {
		b := tx.Bucket(bucketRejected)
		if b.Get([]byte(opID)) == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "没有被拒绝的操作 %s", opID)
		}
		return b.Delete([]byte(opID))
	})
}

// Blob returns an evidence file kept on this tablet (a photo original or
// evidence copy, a signature image), named by its sha256. Files leave the
// tablet once uploaded.
//
// Codes: EINVALID (not a sha256), ENOTFOUND (not, or no longer, here).
func (c *Client) Blob(sha string) ([]byte, error) {
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return nil, syncengine.Errorf(syncengine.EINVALID, "%q 不是 sha256", sha)
	}
	b, err := os.ReadFile(c.blobs.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "本机没有文件 %s（可能已上传）", sha)
	}
	if err != nil {
		return nil, fmt.Errorf("read evidence %s: %w", sha, err)
	}
	return b, nil
}

// StorageBytes is the space the tablet's data takes: the store file and
// the evidence files beside it.
func (c *Client) StorageBytes() (int64, error) {
	var total int64
	if st, err := os.Stat(c.path); err == nil {
		total += st.Size()
	}
	err := filepath.WalkDir(c.blobs.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("evidence folder size: %w", err)
	}
	return total, nil
}
