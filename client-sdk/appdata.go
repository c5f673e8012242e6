package client

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
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
// records: drafts of forms being filled ("draft/<id>") and the lock PIN's
// verifier ("pin"). It lives in the tablet file, so a draft survives the
// app being killed mid-form, and a revocation wipes it with the rest.
var bucketApp = []byte("app")

const (
	appDraftPrefix = "draft/"
	appPIN         = "pin"
	// maxDraft bounds one draft (form values, signature strokes and the
	// photos chosen so far).
	maxDraft = 64 << 20
	// pinIterations is the PBKDF2 work per PIN check. The PIN only gates
	// the screen here; the key derivation that protects PII at rest
	// belongs to the hardening of pii.go.
	pinIterations = 100_000
)

// SaveDraft stores (or replaces) the draft id: opaque bytes the app reads
// back with Draft after a restart.
//
// Codes: EINVALID (empty id or over 64 MiB), EREVOKED.
func (c *Client) SaveDraft(id string, data []byte) error {
	if id == "" || len(id) > 200 || !utf8.ValidString(id) {
		return syncengine.Errorf(syncengine.EINVALID, "草稿编号无效")
	}
	if len(data) > maxDraft {
		return syncengine.Errorf(syncengine.EINVALID, "草稿过大（%d 字节，最多 %d）", len(data), maxDraft)
	}
	return c.update(func(tx *bolt.Tx, _ codec) error {
		if err := tx.Bucket(bucketApp).Put([]byte(appDraftPrefix+id), data); err != nil {
			return fmt.Errorf("save draft %s: %w", id, err)
		}
		return nil
	})
}

// Draft returns the draft id.
//
// Codes: ENOTFOUND, EREVOKED.
func (c *Client) Draft(id string) ([]byte, error) {
	var out []byte
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		v := tx.Bucket(bucketApp).Get([]byte(appDraftPrefix + id))
		if v == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "没有草稿 %s", id)
		}
		out = bytes.Clone(v)
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

type pinVerifier struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
	Iter int    `json:"iter"`
}

// SetPIN sets the PIN that unlocks the app (4 to 12 digits).
//
// Codes: EINVALID, EREVOKED.
func (c *Client) SetPIN(pin string) error {
	if !validPIN(pin) {
		return syncengine.Errorf(syncengine.EINVALID, "PIN 须为 4 到 12 位数字")
	}
	v := pinVerifier{Salt: make([]byte, 16), Iter: pinIterations}
	if _, err := rand.Read(v.Salt); err != nil {
		return fmt.Errorf("pin salt: %w", err)
	}
	var err error
	if v.Hash, err = pbkdf2.Key(sha256.New, pin, v.Salt, v.Iter, 32); err != nil {
		return fmt.Errorf("pin hash: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.update(func(tx *bolt.Tx, _ codec) error {
		return tx.Bucket(bucketApp).Put([]byte(appPIN), b)
	})
}

// HasPIN reports whether a PIN is set.
//
// Codes: EREVOKED.
func (c *Client) HasPIN() (bool, error) {
	var ok bool
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		ok = tx.Bucket(bucketApp).Get([]byte(appPIN)) != nil
		return nil
	})
	return ok, err
}

// CheckPIN reports whether pin is the PIN set (false when none is set).
//
// Codes: EREVOKED.
func (c *Client) CheckPIN(pin string) (bool, error) {
	var raw []byte
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		raw = bytes.Clone(tx.Bucket(bucketApp).Get([]byte(appPIN)))
		return nil
	})
	if err != nil || raw == nil {
		return false, err
	}
	var v pinVerifier
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, fmt.Errorf("pin verifier: %w", err)
	}
	got, err := pbkdf2.Key(sha256.New, pin, v.Salt, v.Iter, len(v.Hash))
	if err != nil {
		return false, fmt.Errorf("pin hash: %w", err)
	}
	return subtle.ConstantTimeCompare(got, v.Hash) == 1, nil
}

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
