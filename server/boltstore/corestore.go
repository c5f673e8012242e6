package boltstore

import (
	"errors"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Core returns the store as the application core and the HTTP server see
// it (core.Store, server.Store).
func (s *Store) Core() CoreStore { return CoreStore{s} }

// CoreStore adapts Store to core.Store: the same transactions, with
// accounts in the core's types and failures of the store itself that pass
// (a closing file, a full disk) marked ETRANSIENT. Its transactions also
// keep blobs, uploads, web sessions and the audit chain, and scan areas.
type CoreStore struct{ s *Store }

var (
	_ core.Store        = CoreStore{}
	_ core.Tx           = coreTx{}
	_ core.AuditTx      = coreTx{}
	_ core.BlobTx       = coreTx{}
	_ core.UploadTx     = coreTx{}
	_ core.WebSessionTx = coreTx{}
	_ core.ScanTx       = coreTx{}

	_ core.ReadsBesideWrites = CoreStore{}
)

func (c CoreStore) View(fn func(core.Tx) error) error {
	return c.run(c.s.View, fn)
}

func (c CoreStore) Update(fn func(core.Tx) error) error {
	return c.run(c.s.Update, fn)
}

func (c CoreStore) UpdateSolo(fn func(core.Tx) error) error {
	return c.run(c.s.UpdateSolo, fn)
}

// ReadsBesideWrites implements core.ReadsBesideWrites: bbolt runs any
// number of read transactions beside its one writer, and none waits for
// the writer's function (only a remap waits, and that happens in commit).
func (c CoreStore) ReadsBesideWrites() bool { return true }

func (c CoreStore) Epoch() string  { return c.s.Epoch() }
func (c CoreStore) Secret() []byte { return c.s.Secret() }

// SchemaVersion is the layout of the store file: its buckets are created
// and its report projection rebuilt on open, so a file of any earlier
// build opens as this one. A change that needs a conversion raises it.
const SchemaVersion = 1

// Kind names the engine for health reports.
func (c CoreStore) Kind() string { return "bbolt" }

// SchemaVersion returns the file layout version (the constant
// SchemaVersion).
func (c CoreStore) SchemaVersion() int { return SchemaVersion }

// run runs fn through one of the store's transaction kinds. An error fn
// returned is the use case's and passes as it is; an error of bbolt itself
// is marked ETRANSIENT when waiting can cure it.
func (c CoreStore) run(txn func(func(*Tx) error) error, fn func(core.Tx) error) error {
	var fnErr error
	err := txn(func(tx *Tx) error {
		fnErr = fn(coreTx{tx})
		return fnErr
	})
	if err == nil || err == fnErr {
		return err
	}
	if transient(err) {
		return transientError{err}
	}
	return err
}

// transient reports whether a failure of bbolt may pass by itself: the
// store is closing (a server shutting down or restarting), another process
// holds the file, or the disk is full or busy.
func transient(err error) bool {
	return errors.Is(err, bolterrors.ErrDatabaseNotOpen) || errors.Is(err, bolterrors.ErrTimeout) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR)
}

// transientError is a store failure marked syncengine.ETRANSIENT that keeps
// its cause for logs.
type transientError struct{ err error }

func (e transientError) Error() string { return "store unavailable: " + e.err.Error() }
func (e transientError) Unwrap() []error {
	return []error{syncengine.Errorf(syncengine.ETRANSIENT, "store unavailable, retry"), e.err}
}

// coreTx adapts Tx to core.Tx.
type coreTx struct{ *Tx }

func (t coreTx) RecordArea(collection, id string) (string, bool, error) {
	raw := t.tx.Bucket(bucketRecords).Get(recordKey(collection, id))
	if raw == nil {
		return "", false, nil
	}
	if area, ok := storedArea(raw); ok {
		return area, true, nil
	}
	r, err := t.Record(collection, id)
	if err != nil || r == nil {
		return "", r != nil, err
	}
	return r.Area, true, nil
}

func (t coreTx) AcceptedOp(id string) (*syncengine.Op, error) {
	so, err := t.StoredOp(id)
	if err != nil || so == nil {
		return nil, err
	}
	return so.Op(), nil
}

func (t coreTx) History(collection, id string) ([]*syncengine.Op, error) {
	h, err := t.Tx.History(collection, id)
	if err != nil {
		return nil, err
	}
	out := make([]*syncengine.Op, len(h))
	for i, so := range h {
		out[i] = so.Op()
	}
	return out, nil
}

func (t coreTx) ChangesAfter(seq uint64, fn func(seq uint64, area string, raw []byte) bool) (uint64, error) {
	return t.ChangesAfterRaw(seq, fn)
}

func (t coreTx) User(username string) (*core.User, error) {
	u, err := t.Tx.User(username)
	if err != nil || u == nil {
		return nil, err
	}
	return coreUser(u), nil
}

func (t coreTx) Users() ([]*core.User, error) {
	us, err := t.Tx.Users()
	out := make([]*core.User, len(us))
	for i, u := range us {
		out[i] = coreUser(u)
	}
	return out, err
}

func (t coreTx) PutUser(u *core.User) error {
	return t.Tx.PutUser(&User{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: u.Scopes,
		PasswordHash: u.PasswordHash, Disabled: u.Disabled, CreatedAt: u.CreatedAt})
}

func coreUser(u *User) *core.User {
	return &core.User{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: u.Scopes,
		PasswordHash: u.PasswordHash, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

func (t coreTx) Device(id string) (*core.Device, error) {
	d, err := t.Tx.Device(id)
	if err != nil || d == nil {
		return nil, err
	}
	return coreDevice(d), nil
}

func (t coreTx) DeviceByRefresh(token string) (*core.Device, error) {
	d, err := t.Tx.DeviceByRefresh(token)
	if err != nil || d == nil {
		return nil, err
	}
	return coreDevice(d), nil
}

func (t coreTx) Devices() ([]*core.Device, error) {
	ds, err := t.Tx.Devices()
	out := make([]*core.Device, len(ds))
	for i, d := range ds {
		out[i] = coreDevice(d)
	}
	return out, err
}

func (t coreTx) PutDevice(d *core.Device) error {
	return t.Tx.PutDevice(&Device{ID: d.ID, Username: d.Username, Name: d.Name, PublicKey: d.PublicKey,
		EnrolledAt: d.EnrolledAt, RevokedAt: d.RevokedAt, RefreshHash: d.RefreshHash})
}

func coreDevice(d *Device) *core.Device {
	return &core.Device{ID: d.ID, Username: d.Username, Name: d.Name, PublicKey: d.PublicKey,
		EnrolledAt: d.EnrolledAt, RevokedAt: d.RevokedAt, RefreshHash: d.RefreshHash}
}
