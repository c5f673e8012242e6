package client

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/argon2"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Tablet keys: the key of the PII fields (pii.go) once a PIN is set.
//
// The data key (random, 32 bytes) seals the values. With a PIN set it is
// kept in the file only wrapped (AES-256-GCM) under a key-encryption key
//
//	KEK = HMAC-SHA256(share, "ruhu tablet kek v1" ‖ 0 ‖ argon2id(PIN, salt))
//
// where share is the device's key share the server hands out at each sync
// (POST /v1/device/key-share) with a lease (tablet_keys.lease_days, 14 by
// default). Unlocking derives the KEK and unwraps the data key, which then
// lives in memory only, until Lock (the field app's lock screen) or the
// lease's end. Past the lease without a sync, personal fields cannot be
// read (ErrLeaseExpired) and the share is scrubbed from the file; a revoked
// device never gets the share again. The wrong PINs in a row are counted
// in the file: after three, each try waits longer (ErrPINWait), and at the
// policy's count (tablet_keys.max_pin_failures, 10) the whole file is
// wiped, as a revocation wipes it.
//
// Time is the device clock corrected by the offset to the server measured
// at sync, never earlier than the latest reading seen: setting the clock
// back does not stretch the lease or shorten a wait, and setting it ahead
// only ends the lease sooner.
//
// Without a PIN (the tablet CLI, tests), the data key lives in the file
// as before (meta pii_key): setting the first PIN makes a fresh data key,
// reseals every value under it, and rewrites the file so that no free
// page keeps the old key.

// Stable codes of the tablet key, beside syncengine's.
const (
	// CodeLocked: personal fields are sealed until the PIN is entered.
	CodeLocked = "ELOCKED"
	// CodeLeaseExpired: the key share's lease ran out (or the tablet never
	// had one): sync, then enter the PIN.
	CodeLeaseExpired = "ELEASE"
	// CodeWrongPIN: the PIN was wrong; the message says how many tries
	// are left before the data is wiped.
	CodeWrongPIN = "EPIN"
	// CodePINWait: too many wrong PINs just now; the message says how long
	// to wait before the next try.
	CodePINWait = "EPINWAIT"
)

// Sentinels of the tablet key; errors.Is finds them and
// syncengine.ErrorCode gives their codes.
var (
	// ErrLocked: the PIN has not been entered since launch or Lock.
	ErrLocked = &syncengine.Error{Code: CodeLocked, Message: "个人信息已加密：请输入 PIN 解锁"}
	// ErrLeaseExpired: no key share within its lease; sync to renew it.
	ErrLeaseExpired = &syncengine.Error{Code: CodeLeaseExpired, Message: "密钥租期已过：请联网同步后再输入 PIN 解锁"}
	// ErrWrongPIN is wrapped by the error of a wrong PIN.
	ErrWrongPIN = &syncengine.Error{Code: CodeWrongPIN, Message: "PIN 不正确"}
	// ErrPINWait is wrapped by the error of a try made too soon.
	ErrPINWait = &syncengine.Error{Code: CodePINWait, Message: "PIN 错误次数过多，请稍后再试"}
	// ErrPINWiped: the policy's count of wrong PINs was reached and the
	// local data wiped (code EREVOKED: log in and enrol again).
	ErrPINWiped = &syncengine.Error{Code: syncengine.EREVOKED, Message: "PIN 连续错误次数过多，本机数据已清除；请重新登录并登记设备"}
)

// pinError carries a message with figures (tries left, seconds to wait)
// and still matches its sentinel.
type pinError struct {
	coded    *syncengine.Error
	sentinel error
}

func (e *pinError) Error() string   { return e.coded.Error() }
func (e *pinError) Unwrap() []error { return []error{e.coded, e.sentinel} }

// Meta keys of the tablet key.
const (
	metaKeyWrap     = "key_wrap"         // keyWrap JSON: the data key under PIN and share
	metaKeyShare    = "key_share"        // the server's share (32 bytes)
	metaKeyLease    = "key_lease_ms"     // end of the share's lease, server time
	metaKeyMaxFails = "key_max_failures" // wrong PINs in a row that wipe the file
	metaKeyFails    = "key_pin_failures" // wrong PINs in a row so far
	metaKeyRetryAt  = "key_retry_at_ms"  // no PIN try before this
	metaKeySeen     = "key_seen_ms"      // the latest clock reading seen
)

// Argon2id cost of a PIN (OWASP's minimum for argon2id: 19 MiB, 2
// passes, 1 lane): 191 ms a try on one core of the shared test machine,
// so guessing every 6-digit PIN offline costs about two days of a core —
// and is impossible without the share.
const (
	pinArgonTime    = 2
	pinArgonMemory  = 19 * 1024
	pinArgonThreads = 1
	// defaultMaxPINFailures applies until the server's policy says.
	defaultMaxPINFailures = 10
	// pinFreeTries is how many wrong PINs in a row cost no wait.
	pinFreeTries = 3
)

// keyWrapAD binds a wrapped data key to its purpose.
var keyWrapAD = []byte("ruhu tablet data key v1")

// keyWrap is the stored wrapped data key and how its KEK is derived.
type keyWrap struct {
	Salt    []byte `json:"salt"`
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
	Sealed  []byte `json:"sealed"` // nonce ‖ AES-GCM(KEK, data key)
}

// pinKey is argon2id(pin) with the wrap's salt and cost.
func (w *keyWrap) pinKey(pin string) []byte {
	return argon2.IDKey([]byte(pin), w.Salt, w.Time, w.Memory, w.Threads, 32)
}

// kek combines the PIN's key with the server's share.
func kek(pinKey, share []byte) []byte {
	m := hmac.New(sha256.New, share)
	m.Write([]byte("ruhu tablet kek v1\x00"))
	m.Write(pinKey)
	return m.Sum(nil)
}

func (w *keyWrap) open(pinKey, share []byte) ([]byte, error) {
	aead, err := newAEAD(kek(pinKey, share))
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(w.Sealed) < n {
		return nil, errors.New("wrapped key is corrupt")
	}
	return aead.Open(nil, w.Sealed[:n], w.Sealed[n:], keyWrapAD)
}

// newKeyWrap wraps dek under pin and share with a fresh salt; it returns
// the wrap and the PIN's key.
func newKeyWrap(pin string, share, dek []byte) (*keyWrap, []byte, error) {
	w := &keyWrap{Salt: make([]byte, 16), Time: pinArgonTime, Memory: pinArgonMemory, Threads: pinArgonThreads}
	if _, err := rand.Read(w.Salt); err != nil {
		return nil, nil, fmt.Errorf("pin salt: %w", err)
	}
	pk := w.pinKey(pin)
	aead, err := newAEAD(kek(pk, share))
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("wrap nonce: %w", err)
	}
	w.Sealed = aead.Seal(nonce, nonce, dek, keyWrapAD)
	return w, pk, nil
}

// keyState is what the file holds of the tablet key.
type keyState struct {
	wrap       *keyWrap // nil until a PIN is set
	share      []byte
	leaseUntil time.Time
	maxFails   int
	fails      int
	retryAt    time.Time
	seen       time.Time
}

func (s keyState) protected() bool { return s.wrap != nil }

func msTime(m meta, key string) time.Time {
	if v, ok := m.int(key); ok {
		return time.UnixMilli(v).UTC()
	}
	return time.Time{}
}

func readKeyState(m meta) keyState {
	s := keyState{share: m.bytes(metaKeyShare), leaseUntil: msTime(m, metaKeyLease), retryAt: msTime(m, metaKeyRetryAt),
		seen: msTime(m, metaKeySeen), maxFails: defaultMaxPINFailures}
	if raw := m.bytes(metaKeyWrap); raw != nil {
		var w keyWrap
		if json.Unmarshal(raw, &w) == nil {
			s.wrap = &w
		} else {
			s.wrap = &keyWrap{} // unreadable: opens with no PIN, never falls back to no PIN
		}
	}
	if n, ok := m.int(metaKeyMaxFails); ok && n > 0 {
		s.maxFails = int(n)
	}
	if n, ok := m.int(metaKeyFails); ok {
		s.fails = int(n)
	}
	return s
}

// keySlot holds the data key while it may be used. It outlives reopenings
// of the file (a rewrite after SetPIN), not the process.
type keySlot struct {
	now func() time.Time
	// tries serialises PIN tries, so parallel ones cannot all read the
	// same count of wrong PINs and exceed the limit.
	tries sync.Mutex

	mu         sync.Mutex
	protected  bool
	dek        []byte
	aead       cipher.AEAD
	pinKey     []byte // argon2id(PIN), kept while unlocked to re-derive after a renewal
	leaseUntil time.Time
	seen       time.Time
}

func newKeySlot(now func() time.Time) *keySlot { return &keySlot{now: now} }

// staticSlot is a slot always holding key (resealing).
func staticSlot(key []byte) (*keySlot, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &keySlot{dek: key, aead: aead}, nil
}

// load takes the file's state: a legacy key is usable at once; a
// protected file keeps a key already in memory (a rewritten file) and
// otherwise stays locked until Unlock.
func (k *keySlot) load(s keyState, legacyKey []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.leaseUntil = s.leaseUntil
	if s.seen.After(k.seen) {
		k.seen = s.seen
	}
	if s.protected() {
		k.protected = true
		return nil
	}
	k.protected = false
	k.pinKey = nil
	return k.installLocked(legacyKey)
}

func (k *keySlot) installLocked(dek []byte) error {
	aead, err := newAEAD(dek)
	if err != nil {
		return err
	}
	k.dek, k.aead = dek, aead
	return nil
}

// clockLocked is now, never before the latest reading seen.
func (k *keySlot) clockLocked() time.Time {
	if now := k.now(); now.After(k.seen) {
		k.seen = now
	}
	return k.seen
}

// current returns the cipher of the PII fields, or why there is none.
func (k *keySlot) current() (cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.protected {
		if k.aead == nil {
			return nil, ErrLocked
		}
		return k.aead, nil
	}
	if !k.clockLocked().Before(k.leaseUntil) {
		k.dropLocked(false)
		return nil, ErrLeaseExpired
	}
	if k.aead == nil {
		return nil, ErrLocked
	}
	return k.aead, nil
}

// dropLocked forgets the data key, and the PIN's key too when all.
func (k *keySlot) dropLocked(all bool) {
	clear(k.dek)
	k.dek, k.aead = nil, nil
	if all {
		clear(k.pinKey)
		k.pinKey = nil
	}
}

// forget drops every key in memory (Lock, wipe).
func (k *keySlot) forget() {
	k.mu.Lock()
	k.dropLocked(true)
	k.mu.Unlock()
}

// KeyState is the state of the tablet key, for a lock screen.
type KeyState struct {
	// Protected: a PIN is set; personal fields need it.
	Protected bool
	// Unlocked: personal fields can be read now.
	Unlocked bool
	// LeaseUntil is when the key share's lease ends (server time); zero
	// when the tablet holds no share.
	LeaseUntil time.Time
	// LeaseValid: the tablet holds a share whose lease has not ended, so
	// the PIN can unlock without a sync.
	LeaseValid bool
	// PINFailures wrong PINs in a row so far, of MaxPINFailures.
	PINFailures, MaxPINFailures int
	// RetryAt: no PIN try before it (zero: now).
	RetryAt time.Time
}

// KeyState reports the tablet key's state.
//
// Codes: EREVOKED (wiped).
func (c *Client) KeyState() (KeyState, error) {
	var s keyState
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		s = readKeyState(meta{tx.Bucket(bucketMeta)})
		return nil
	})
	if err != nil {
		return KeyState{}, err
	}
	out := KeyState{Protected: s.protected(), PINFailures: s.fails, MaxPINFailures: s.maxFails, RetryAt: s.retryAt}
	c.keys.mu.Lock()
	now := c.keys.clockLocked()
	c.keys.mu.Unlock()
	if s.share != nil {
		out.LeaseUntil = s.leaseUntil
		out.LeaseValid = now.Before(s.leaseUntil)
	}
	_, err = c.keys.current()
	out.Unlocked = err == nil
	return out, nil
}

// HasPIN reports whether a PIN protects the personal fields.
//
// Codes: EREVOKED.
func (c *Client) HasPIN() (bool, error) {
	s, err := c.KeyState()
	return s.Protected, err
}

// Lock forgets the keys in memory: personal fields stay sealed until
// Unlock. The field app calls it when its lock screen shows.
func (c *Client) Lock() { c.keys.forget() }

// SetPIN sets or changes the PIN (4 to 12 digits) that, with the server's
// key share, unlocks the personal fields. It needs a key share within its
// lease (sync or RenewKeyShare first) and, to change a PIN, an unlocked
// key. The first PIN replaces the data key kept in the file by a fresh
// one, reseals every value and rewrites the file; the key stays unlocked.
//
// Codes: EINVALID, ELEASE (no share within its lease), ELOCKED (changing
// the PIN of a locked key), EREVOKED.
func (c *Client) SetPIN(pin string) error {
	if !validPIN(pin) {
		return syncengine.Errorf(syncengine.EINVALID, "PIN 须为 4 到 12 位数字")
	}
	var s keyState
	var legacy []byte
	if err := c.view(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		s, legacy = readKeyState(m), m.bytes(metaPIIKey)
		return nil
	}); err != nil {
		return err
	}
	c.keys.mu.Lock()
	now := c.keys.clockLocked()
	var dek []byte
	if s.protected() {
		dek = bytes.Clone(c.keys.dek)
	}
	c.keys.mu.Unlock()
	if s.share == nil || !now.Before(s.leaseUntil) {
		return fmt.Errorf("set PIN: %w", ErrLeaseExpired)
	}
	if s.protected() && dek == nil {
		return fmt.Errorf("set PIN: %w", ErrLocked)
	}
	fresh := dek == nil
	if fresh {
		dek = make([]byte, 32)
		if _, err := rand.Read(dek); err != nil {
			return fmt.Errorf("make data key: %w", err)
		}
	}
	w, pk, err := newKeyWrap(pin, s.share, dek)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return err
	}
	var to codec
	if fresh && legacy != nil {
		from, err := staticSlot(legacy)
		if err != nil {
			return err
		}
		next, err := staticSlot(dek)
		if err != nil {
			return err
		}
		to = codec{pii: &piiCipher{keys: next, fields: c.opts.PIIFields}}
		fromCodec := codec{pii: &piiCipher{keys: from, fields: c.opts.PIIFields}}
		err = c.update(func(tx *bolt.Tx, _ codec) error {
			if err := reseal(tx, fromCodec, to); err != nil {
				return err
			}
			return c.putWrap(tx, raw)
		})
		if err != nil {
			return fmt.Errorf("set PIN: %w", err)
		}
	} else if err := c.update(func(tx *bolt.Tx, _ codec) error { return c.putWrap(tx, raw) }); err != nil {
		return fmt.Errorf("set PIN: %w", err)
	}
	c.keys.mu.Lock()
	c.keys.protected = true
	err = c.keys.installLocked(dek)
	c.keys.pinKey = pk
	c.keys.mu.Unlock()
	if err != nil {
		return err
	}
	// The old data key, the old wrap and the values sealed under them sit
	// in free pages until overwritten: rewrite the file without them.
	return c.compactFile()
}

// putWrap stores a new wrap, drops the legacy key and clears the count.
func (c *Client) putWrap(tx *bolt.Tx, raw []byte) error {
	m := meta{tx.Bucket(bucketMeta)}
	if err := m.put(metaKeyWrap, raw); err != nil {
		return err
	}
	return m.del(metaPIIKey, metaKeyFails, metaKeyRetryAt)
}

// reseal rewrites every sealed value of the file from one codec's key to
// another's: records, the outbox, sent and rejected ops, and drafts.
func reseal(tx *bolt.Tx, from, to codec) error {
	type kv struct{ k, v []byte }
	collect := func(b *bolt.Bucket, prefix []byte) []kv {
		var out []kv
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, kv{bytes.Clone(k), bytes.Clone(v)})
		}
		return out
	}
	records := tx.Bucket(bucketRecords)
	for _, e := range collect(records, nil) {
		entry, err := from.decodeEntry(e.v)
		if err != nil {
			return fmt.Errorf("reseal record %s: %w", e.k, err)
		}
		b, err := to.encodeEntry(entry)
		if err != nil {
			return err
		}
		if err := records.Put(e.k, b); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{bucketOutbox, bucketSent, bucketRejected} {
		bk := tx.Bucket(name)
		for _, e := range collect(bk, nil) {
			op, err := from.decodeOp(e.v)
			if err != nil {
				return fmt.Errorf("reseal %s %x: %w", name, e.k, err)
			}
			b, err := to.encodeOp(op)
			if err != nil {
				return err
			}
			if err := bk.Put(e.k, b); err != nil {
				return err
			}
		}
	}
	app := tx.Bucket(bucketApp)
	for _, e := range collect(app, []byte(appDraftPrefix)) {
		plain, err := from.pii.openBlob(string(e.k), e.v)
		if err != nil {
			return fmt.Errorf("reseal %s: %w", e.k, err)
		}
		b, err := to.pii.sealBlob(string(e.k), plain)
		if err != nil {
			return err
		}
		if err := app.Put(e.k, b); err != nil {
			return err
		}
	}
	return nil
}

// Unlock derives the key from pin and the key share and unseals the
// personal fields. A wrong PIN counts: after three in a row each try waits
// longer, and at the policy's count the local data is wiped. Without a
// PIN set it does nothing.
//
// Codes: EINVALID (not 4 to 12 digits; not counted), ELEASE (no share
// within its lease: sync first; not counted), EPINWAIT, EPIN, EREVOKED
// (ErrPINWiped, or wiped before).
func (c *Client) Unlock(pin string) error {
	if !validPIN(pin) {
		return syncengine.Errorf(syncengine.EINVALID, "PIN 须为 4 到 12 位数字")
	}
	c.keys.tries.Lock()
	defer c.keys.tries.Unlock()
	var s keyState
	if err := c.view(func(tx *bolt.Tx, _ codec) error {
		s = readKeyState(meta{tx.Bucket(bucketMeta)})
		return nil
	}); err != nil {
		return err
	}
	if !s.protected() {
		return nil
	}
	c.keys.mu.Lock()
	now := c.keys.clockLocked()
	c.keys.mu.Unlock()
	if now.Before(s.retryAt) {
		wait := s.retryAt.Sub(now).Round(time.Second)
		return &pinError{syncengine.Errorf(CodePINWait, "PIN 错误次数过多，请 %s后再试", waitText(wait)), ErrPINWait}
	}
	if s.share == nil || !now.Before(s.leaseUntil) {
		if s.share != nil {
			if err := c.scrubShare(); err != nil {
				c.log.Warn("scrub expired key share", "err", err)
			}
		}
		return ErrLeaseExpired
	}
	pk := s.wrap.pinKey(pin)
	dek, err := s.wrap.open(pk, s.share)
	if err != nil {
		return c.wrongPIN(s, now)
	}
	err = c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		if err := m.del(metaKeyFails, metaKeyRetryAt); err != nil {
			return err
		}
		return m.putInt(metaKeySeen, now.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	c.keys.protected = true
	c.keys.leaseUntil = s.leaseUntil
	c.keys.pinKey = pk
	return c.keys.installLocked(dek)
}

// wrongPIN counts a wrong PIN: it wipes the store at the policy's count,
// else sets the wait before the next try.
func (c *Client) wrongPIN(s keyState, now time.Time) error {
	fails := s.fails + 1
	if fails >= s.maxFails {
		c.keys.forget()
		if err := c.wipe(wipePIN); err != nil {
			return fmt.Errorf("%w; wipe failed: %v", ErrPINWiped, err)
		}
		return ErrPINWiped
	}
	var retry time.Time
	if fails >= pinFreeTries {
		wait := 30 * time.Second << min(fails-pinFreeTries, 7) // 30 s doubling, at most 64 min
		retry = now.Add(wait)
	}
	err := c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		if err := m.putInt(metaKeyFails, int64(fails)); err != nil {
			return err
		}
		if err := m.putInt(metaKeySeen, now.UnixMilli()); err != nil {
			return err
		}
		if retry.IsZero() {
			return m.del(metaKeyRetryAt)
		}
		return m.putInt(metaKeyRetryAt, retry.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("count wrong PIN: %w", err)
	}
	left := s.maxFails - fails
	return &pinError{syncengine.Errorf(CodeWrongPIN, "PIN 不正确，再错 %d 次本机数据将被清除", left), ErrWrongPIN}
}

// scrubShare removes an expired share and rewrites the file, so no page
// keeps it.
func (c *Client) scrubShare() error {
	if err := c.update(func(tx *bolt.Tx, _ codec) error {
		return meta{tx.Bucket(bucketMeta)}.del(metaKeyShare)
	}); err != nil {
		return err
	}
	return c.compactFile()
}

// keyShareResponse is the server's answer (server/keyshareapi.go).
type keyShareResponse struct {
	Share          []byte    `json:"share"`
	LeaseUntil     time.Time `json:"lease_until"`
	LeaseSeconds   int64     `json:"lease_seconds"`
	MaxPINFailures int       `json:"max_pin_failures"`
}

// RenewKeyShare asks the server for this device's key share and a fresh
// lease; Sync does it first. A key unlocked before its lease ran out is
// usable again at once. A server without the endpoint leaves the key as
// it was (nil error); a revoked device gets EREVOKED and the store is
// wiped.
//
// Codes: EUNAUTHORIZED (not enrolled, or the login expired), EREVOKED,
// ETRANSIENT, ECONFLICT (the server's share changed while the key is
// locked: unlock, then sync again).
func (c *Client) RenewKeyShare(ctx context.Context) error {
	server, err := c.enrolledServer()
	if err != nil {
		return err
	}
	tr := c.transport(server, nil)
	return c.afterAuthError(c.renewKeyShare(ctx, tr, func(ctx context.Context, fn func(context.Context) error) error {
		err := fn(ctx)
		if isCode(err, syncengine.EUNAUTHORIZED) {
			if err := c.refresh(ctx, tr); err != nil {
				return err
			}
			err = fn(ctx)
		}
		return err
	}))
}

// renewKeyShare is RenewKeyShare over tr, each request run by retry.
func (c *Client) renewKeyShare(ctx context.Context, tr *HTTPTransport, retry func(context.Context, func(context.Context) error) error) error {
	var resp keyShareResponse
	err := retry(ctx, func(ctx context.Context) error {
		return tr.do(ctx, http.MethodPost, "/v1/device/key-share", nil, &resp)
	})
	if isCode(err, syncengine.ENOTFOUND) {
		c.log.Debug("server hands out no key share", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("key share: %w", err)
	}
	if len(resp.Share) != 32 || resp.LeaseUntil.IsZero() {
		return syncengine.Errorf(syncengine.EINTERNAL, "key share: malformed answer")
	}
	var s keyState
	if err := c.view(func(tx *bolt.Tx, _ codec) error {
		s = readKeyState(meta{tx.Bucket(bucketMeta)})
		return nil
	}); err != nil {
		return err
	}
	// Never hold the slot's lock across a transaction: readers take it
	// inside theirs.
	c.keys.mu.Lock()
	dek, pinKey := bytes.Clone(c.keys.dek), bytes.Clone(c.keys.pinKey)
	c.keys.mu.Unlock()
	wrap := s.wrap
	var rewrap []byte
	if s.protected() && s.share != nil && !hmac.Equal(s.share, resp.Share) {
		if dek == nil || pinKey == nil {
			return syncengine.Errorf(syncengine.ECONFLICT, "服务器密钥份额已更换：请先输入 PIN 解锁再同步")
		}
		w := *s.wrap
		aead, err := newAEAD(kek(pinKey, resp.Share))
		if err != nil {
			return err
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		w.Sealed = aead.Seal(nonce, nonce, dek, keyWrapAD)
		if rewrap, err = json.Marshal(&w); err != nil {
			return err
		}
		wrap = &w
	}
	err = c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		if rewrap != nil {
			if err := m.put(metaKeyWrap, rewrap); err != nil {
				return err
			}
		}
		if err := m.put(metaKeyShare, resp.Share); err != nil {
			return err
		}
		if resp.MaxPINFailures > 0 {
			if err := m.putInt(metaKeyMaxFails, int64(resp.MaxPINFailures)); err != nil {
				return err
			}
		}
		return m.putInt(metaKeyLease, resp.LeaseUntil.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("store key share: %w", err)
	}
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	c.keys.leaseUntil = resp.LeaseUntil
	if s.protected() && c.keys.aead == nil && c.keys.pinKey != nil {
		// Unlocked before the lease ran out: the same PIN opens the key.
		if dek, err := wrap.open(c.keys.pinKey, resp.Share); err == nil {
			return c.keys.installLocked(dek)
		}
	}
	return nil
}

// resetKeys forgets the previous user's key material (wrap, share, lease,
// wrong-PIN count) and drafts when another user takes the tablet, and
// makes a fresh file key: the new user sets their own PIN. The caller
// loads the key into the slot once this commits and rewrites the file.
func resetKeys(tx *bolt.Tx) ([]byte, error) {
	m := meta{tx.Bucket(bucketMeta)}
	if err := m.del(metaKeyWrap, metaKeyShare, metaKeyLease, metaKeyMaxFails, metaKeyFails, metaKeyRetryAt); err != nil {
		return nil, fmt.Errorf("drop key material: %w", err)
	}
	if err := tx.DeleteBucket(bucketApp); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return nil, fmt.Errorf("drop drafts: %w", err)
	}
	if _, err := tx.CreateBucket(bucketApp); err != nil {
		return nil, fmt.Errorf("recreate drafts: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make pii key: %w", err)
	}
	return key, m.put(metaPIIKey, key)
}

// compactFile rewrites the tablet file with only its live pages (bbolt
// keeps deleted and overwritten values in free pages) and reopens it.
func (c *Client) compactFile() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("tablet store is closed")
	}
	tmp := c.path + ".rewrite"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("rewrite tablet file: %w", err)
	}
	if err := bolt.Compact(dst, c.db, 4<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("rewrite tablet file: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rewrite tablet file: %w", err)
	}
	if err := c.db.Close(); err != nil {
		c.closed = true
		return fmt.Errorf("rewrite tablet file: close: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		c.log.Error("rewrite tablet file: the old file stays", "err", err)
		os.Remove(tmp)
	}
	if err := c.openFile(); err != nil {
		c.closed = true
		return err
	}
	return nil
}

// waitText says a PIN wait the way the officer reads it ("29 秒",
// "2 分 5 秒", "1 小时 4 分"), not as Go's "2m5s".
func waitText(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%d 小时 %d 分", h, m)
	case m > 0 && sec > 0:
		return fmt.Sprintf("%d 分 %d 秒", m, sec)
	case m > 0:
		return fmt.Sprintf("%d 分钟", m)
	}
	return fmt.Sprintf("%d 秒", max(sec, 1))
}
