package boltstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
)

// User is an account. PasswordHash is an encoded argon2id hash; the store
// never sees a password.
type User struct {
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name,omitempty"`
	Role         string    `json:"role"`
	Scopes       []string  `json:"scopes"`
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Device is an enrolled tablet.
type Device struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Name       string     `json:"name"`
	PublicKey  []byte     `json:"public_key"` // ed25519
	EnrolledAt time.Time  `json:"enrolled_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// RefreshHash is the sha256 of the current refresh token; refreshing
	// rotates it, so a stolen old token stops working.
	RefreshHash string `json:"refresh_hash"`
}

// Revoked reports whether the device was revoked.
func (d *Device) Revoked() bool { return d.RevokedAt != nil }

// User returns a user, or nil when absent.
func (t *Tx) User(username string) (*User, error) {
	v := t.tx.Bucket(bucketUsers).Get([]byte(username))
	if v == nil {
		return nil, nil
	}
	var u User
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("decode user %s: %w", username, err)
	}
	return &u, nil
}

// PutUser creates or replaces a user.
func (t *Tx) PutUser(u *User) error {
	buf, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketUsers).Put([]byte(u.Username), buf)
}

// Users returns every user in username order.
func (t *Tx) Users() ([]*User, error) {
	var out []*User
	err := t.tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("decode user %s: %w", k, err)
		}
		out = append(out, &u)
		return nil
	})
	return out, err
}

// Device returns a device, or nil when absent.
func (t *Tx) Device(id string) (*Device, error) {
	v := t.tx.Bucket(bucketDevices).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var d Device
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, fmt.Errorf("decode device %s: %w", id, err)
	}
	return &d, nil
}

// Devices returns every device in id order.
func (t *Tx) Devices() ([]*Device, error) {
	var out []*Device
	err := t.tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode device %s: %w", k, err)
		}
		out = append(out, &d)
		return nil
	})
	return out, err
}

// PutDevice creates or replaces a device and keeps the refresh-token index
// pointing at it.
func (t *Tx) PutDevice(d *Device) error {
	old, err := t.Device(d.ID)
	if err != nil {
		return err
	}
	rb := t.tx.Bucket(bucketRefresh)
	if old != nil && old.RefreshHash != "" && old.RefreshHash != d.RefreshHash {
		if err := rb.Delete([]byte(old.RefreshHash)); err != nil {
			return err
		}
	}
	if d.RefreshHash != "" {
		if err := rb.Put([]byte(d.RefreshHash), []byte(d.ID)); err != nil {
			return err
		}
	}
	buf, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketDevices).Put([]byte(d.ID), buf)
}

// DeviceByRefresh returns the device a refresh token belongs to, or nil.
func (t *Tx) DeviceByRefresh(token string) (*Device, error) {
	id := t.tx.Bucket(bucketRefresh).Get([]byte(HashToken(token)))
	if id == nil {
		return nil, nil
	}
	return t.Device(string(id))
}

// HashToken returns the hex sha256 under which a refresh token is indexed
// (the core's Device.RefreshHash).
func HashToken(token string) string { return core.HashToken(token) }
