package core

import (
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Store is what the core needs of a server store: transactions over
// records, history, the change feed, conflicts, accounts and devices.
// server/boltstore implements it (boltstore.Store.Core); a PostgreSQL store
// will too. A failure the store knows to be temporary (the file is closing,
// the disk is full, the database restarts) carries syncengine.ETRANSIENT;
// any other failure is an internal error.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in a write transaction that may be coalesced with
	// concurrent callers: fn may run more than once and must act only
	// through tx. An error from fn rolls the transaction back.
	Update(fn func(Tx) error) error
	// UpdateSolo runs fn in a transaction of its own, exactly once.
	UpdateSolo(fn func(Tx) error) error
	// Epoch is the random id of the store's lineage; a restored store has
	// a new one and cursors of another epoch start over.
	Epoch() string
	// Secret is the key that signs access tokens, kept with the data so
	// tokens survive restarts and every instance on one store agrees.
	Secret() []byte
}

// Tx is one transaction. Records it returns are copies the caller may
// keep; raw bytes handed to callbacks are valid only during the callback.
type Tx interface {
	syncengine.Tx

	// RecordArea returns the area code of a stored record and whether it
	// exists, without decoding the whole record.
	RecordArea(collection, id string) (area string, exists bool, err error)
	// AcceptedOp returns an accepted op (with its flags, stated stamp and
	// receive time) by id, or nil when none was accepted.
	AcceptedOp(id string) (*syncengine.Op, error)
	// History returns every accepted op of a record, in acceptance order.
	History(collection, id string) ([]*syncengine.Op, error)
	// ForEachRecord calls fn for every record of a collection.
	ForEachRecord(collection string, fn func(*syncengine.Record) error) error
	// Assigned reports whether officer has an active assignment to the
	// household.
	Assigned(officer, household string) bool

	// LastSeq is the sequence of the last change.
	LastSeq() uint64
	// ChangesAfter walks the change feed from seq+1 in order, calling fn
	// with each changed record's area and its wire JSON (a
	// syncengine.WireRecord, possibly with extra members) until fn returns
	// false. It returns the last sequence visited (seq when none).
	ChangesAfter(seq uint64, fn func(seq uint64, area string, raw []byte) bool) (uint64, error)
	// HasChangesAfter reports whether the feed holds a change after seq.
	HasChangesAfter(seq uint64) bool

	// Conflict returns a conflict by id, or nil.
	Conflict(id string) (*syncengine.Conflict, error)
	// Conflicts calls fn for every conflict until fn returns false.
	Conflicts(fn func(*syncengine.Conflict) bool) error

	// User returns an account, or nil.
	User(username string) (*User, error)
	// Users returns every account in username order.
	Users() ([]*User, error)
	// PutUser creates or replaces an account.
	PutUser(u *User) error
	// Device returns an enrolled device, or nil.
	Device(id string) (*Device, error)
	// DeviceByRefresh returns the device whose current refresh token is
	// token, or nil.
	DeviceByRefresh(token string) (*Device, error)
	// Devices returns every device in id order.
	Devices() ([]*Device, error)
	// PutDevice creates or replaces a device; its RefreshHash replaces the
	// token the device answered to before.
	PutDevice(d *Device) error
}

// User is an account. PasswordHash is an encoded argon2id hash; no
// password is ever stored.
type User struct {
	Username     string
	DisplayName  string
	Role         string
	Scopes       []string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
}

// Device is an enrolled tablet.
type Device struct {
	ID         string
	Username   string
	Name       string
	PublicKey  []byte // ed25519
	EnrolledAt time.Time
	RevokedAt  *time.Time
	// RefreshHash is HashToken of the device's current refresh token;
	// refreshing rotates it, so a stolen old token stops working.
	RefreshHash string
}

// Revoked reports whether the device was revoked.
func (d *Device) Revoked() bool { return d.RevokedAt != nil }

// CountyLen is how many leading digits of an area code name its county
// (province 2, city 2, county 2): the unit a store may partition records
// and the change feed by.
const CountyLen = 6

// ScopedFeed is a transaction whose change feed can be walked for some
// counties only, reading nothing of the others (the PostgreSQL store's
// feed is partitioned by county). The sequence stays global: a county's
// walk visits the same changes, in the same order, as a walk of the whole
// feed that skips the other counties, and its cursor is valid for both.
type ScopedFeed interface {
	// ChangesAfterIn is ChangesAfter over the changes of records whose
	// area code starts with one of counties (each CountyLen digits).
	ChangesAfterIn(seq uint64, counties []string, fn func(seq uint64, area string, raw []byte) bool) (uint64, error)
	// HasChangesAfterIn is HasChangesAfter over those changes.
	HasChangesAfterIn(seq uint64, counties []string) bool
}

// StoreChecker is a transaction that can check what the store keeps
// beside records, history and the feed (the PostgreSQL store's partition
// keys); Check runs it.
type StoreChecker interface {
	// CheckStore returns the disagreements it finds, at most a few.
	CheckStore() ([]string, error)
}
