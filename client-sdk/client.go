package client

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Client is one tablet's local store and sync client. It is safe for
// concurrent use; at most one Sync runs at a time.
type Client struct {
	path string
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex // guards db and codec, which a wipe replaces
	db     *bolt.DB
	codec  codec
	closed bool

	syncMu   sync.Mutex // one Sync at a time
	uploadMu sync.Mutex // one Upload at a time
	// refreshMu serialises token refreshes: Sync and Upload may both find
	// the access token expired, and a refresh token works only once.
	refreshMu sync.Mutex
	// activeUpload is the queue seq of the upload being sent (0: none).
	activeUpload atomic.Uint64
	// blobs holds the evidence files beside the tablet file (blobs.go).
	blobs blobDir

	clock *syncengine.Clock
	// keys holds the key of the PII fields while it may be used
	// (tabletkeys.go); it outlives reopenings of the file.
	keys *keySlot
	// offsetMs is server time − device time, valid when offsetKnown.
	offsetMs    atomic.Int64
	offsetKnown atomic.Bool
}

// Open opens (creating if needed) the tablet file at path. The file is
// locked by this process until Close.
func Open(path string, opts Options) (*Client, error) {
	c := &Client{path: path, opts: opts.withDefaults(), blobs: blobDirFor(path)}
	c.log = c.opts.Logger
	c.clock = syncengine.NewClock(c.physicalNow)
	c.keys = newKeySlot(c.physicalNow)
	if err := c.openFile(); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes the file. A Sync in flight fails at its next step.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", c.path, err)
	}
	return nil
}

// openFile opens the bbolt file, creates missing buckets and the PII key
// (or loads the state of a PIN-protected one, tabletkeys.go), and restores
// the clock state. Called with c.mu held or before sharing.
func (c *Client) openFile() error {
	db, err := bolt.Open(c.path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open tablet store %s: %w", c.path, err)
	}
	var (
		key      []byte
		ks       keyState
		wiped    bool
		lastHLC  int64
		offset   int64
		offsetOK bool
	)
	err = db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWiped) != nil {
			wiped = true
			return nil // a wiped file stays empty until the next login
		}
		for _, name := range dataBuckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		m := meta{tx.Bucket(bucketMeta)}
		ks = readKeyState(m)
		key = m.bytes(metaPIIKey)
		if key == nil && !ks.protected() {
			key = make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("make pii key: %w", err)
			}
			if err := m.put(metaPIIKey, key); err != nil {
				return err
			}
		}
		lastHLC, _ = m.int(metaLastHLC)
		offset, offsetOK = m.int(metaOffsetMs)
		return nil
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("initialise tablet store %s: %w", c.path, err)
	}
	var pii *piiCipher
	if !wiped {
		if err := c.keys.load(ks, key); err != nil {
			db.Close()
			return err
		}
		pii = &piiCipher{keys: c.keys, fields: c.opts.PIIFields}
	}
	c.db = db
	c.codec = codec{pii: pii}
	c.offsetMs.Store(offset)
	c.offsetKnown.Store(offsetOK)
	c.clock.Reset(syncengine.HLC(lastHLC))
	return nil
}

// errRevoked is returned by every call on a wiped store; the wipe marker
// says why it was wiped (wipeRevoked or wipePIN).
func errRevoked(marker *bolt.Bucket) error {
	if string(marker.Get([]byte("reason"))) == wipePIN {
		return ErrPINWiped
	}
	return syncengine.Errorf(syncengine.EREVOKED, "此设备已被停用，本地数据已清除；请重新登录并登记设备")
}

// Why a store was wiped.
const (
	wipeRevoked = "revoked" // the server revoked the device
	wipePIN     = "pin"     // too many wrong PINs in a row
)

// handle returns the open database and codec, or the reason there is none.
func (c *Client) handle() (*bolt.DB, codec, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, codec{}, errors.New("tablet store is closed")
	}
	return c.db, c.codec, nil
}

// view runs fn in a read transaction of a usable (not wiped) store.
func (c *Client) view(fn func(tx *bolt.Tx, cd codec) error) error {
	db, cd, err := c.handle()
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketWiped); b != nil {
			return errRevoked(b)
		}
		return fn(tx, cd)
	})
}

// update runs fn in a write transaction of a usable (not wiped) store.
func (c *Client) update(fn func(tx *bolt.Tx, cd codec) error) error {
	db, cd, err := c.handle()
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketWiped); b != nil {
			return errRevoked(b)
		}
		return fn(tx, cd)
	})
}

// wipe destroys the local data after the server revoked the device, or
// too many wrong PINs (reason wipeRevoked, wipePIN). The file is removed
// and recreated rather than emptied, because bbolt leaves deleted values
// in free pages. Only a marker remains, so the next Open still knows why
// the tablet is empty. The evidence files and the key in memory go too.
func (c *Client) wipe(reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("tablet store is closed")
	}
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("wipe: close: %w", err)
	}
	if err := os.Remove(c.path); err != nil {
		return fmt.Errorf("wipe: remove %s: %w", c.path, err)
	}
	db, err := bolt.Open(c.path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		c.closed = true
		return fmt.Errorf("wipe: recreate %s: %w", c.path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketWiped)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("reason"), []byte(reason)); err != nil {
			return err
		}
		return b.Put([]byte("at"), []byte(time.Now().UTC().Format(time.RFC3339)))
	})
	if err != nil {
		db.Close()
		c.closed = true
		return fmt.Errorf("wipe: mark %s: %w", c.path, err)
	}
	c.db = db
	c.codec = codec{}
	c.keys.forget()
	c.offsetMs.Store(0)
	c.offsetKnown.Store(false)
	c.clock.Reset(0)
	if err := c.blobs.removeAll(); err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	c.log.Warn("local data wiped", "reason", reason, "path", c.path)
	return nil
}

// unwipe turns a wiped file back into an empty usable store (on login).
func (c *Client) unwipe() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("tablet store is closed")
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketWiped) == nil {
			return nil
		}
		return tx.DeleteBucket(bucketWiped)
	})
	if err != nil {
		return fmt.Errorf("clear wipe marker: %w", err)
	}
	if err := c.db.Close(); err != nil {
		c.closed = true
		return fmt.Errorf("reopen after wipe: %w", err)
	}
	if err := c.openFile(); err != nil {
		c.closed = true
		return err
	}
	return nil
}

// physicalNow is the clock's physical source: device time corrected by the
// offset measured at the last sync.
func (c *Client) physicalNow() time.Time {
	t := c.opts.DeviceClock.Now()
	if c.offsetKnown.Load() {
		t = t.Add(time.Duration(c.offsetMs.Load()) * time.Millisecond)
	}
	return t
}
