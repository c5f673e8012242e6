package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
)

// bucketWebSessions holds the web console's browser sessions:
// sha256(cookie token) hex -> WebSession JSON. The bucket is created by the
// first session written, so stores made before the console need no
// migration. Keys are hashes so that a copy of the store file (a backup)
// holds no cookie a browser could present.
var bucketWebSessions = []byte("websessions")

// WebSession is core.WebSession: one signed-in browser of the web
// console, keyed by the hash of its cookie token.
type WebSession = core.WebSession

// WebSession returns the session stored under key, or nil when there is
// none (expired ones included: the caller judges expiry by its clock).
func (t *Tx) WebSession(key string) (*WebSession, error) {
	b := t.tx.Bucket(bucketWebSessions)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	var s WebSession
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("decode web session: %w", err)
	}
	return &s, nil
}

// PutWebSession creates or replaces a session (write transactions only).
func (t *Tx) PutWebSession(s *WebSession) error {
	if s.Key == "" {
		return fmt.Errorf("web session without a key")
	}
	b, err := t.tx.CreateBucketIfNotExists(bucketWebSessions)
	if err != nil {
		return fmt.Errorf("web sessions bucket: %w", err)
	}
	buf, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.Put([]byte(s.Key), buf)
}

// DeleteWebSession removes a session; removing an absent one is no error.
func (t *Tx) DeleteWebSession(key string) error {
	b := t.tx.Bucket(bucketWebSessions)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

// DeleteExpiredWebSessions removes every session that expired before now
// and returns how many it removed.
func (t *Tx) DeleteExpiredWebSessions(now time.Time) (int, error) {
	b := t.tx.Bucket(bucketWebSessions)
	if b == nil {
		return 0, nil
	}
	var dead [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var s WebSession
		if err := json.Unmarshal(v, &s); err != nil || !s.ExpiresAt.After(now) {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}
