package core

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Session is what a login, an enrolment or a refresh hands out.
type Session struct {
	// AccessToken is a short-lived bearer token (JWT) good for ExpiresIn.
	AccessToken string
	ExpiresIn   time.Duration
	// RefreshToken and DeviceID are set by Enroll and Refresh: the token
	// is bound to the device and rotates on every refresh.
	RefreshToken string
	DeviceID     string
	// User is the account (Login and Refresh).
	User *User
}

// Authenticate turns an access token into its caller, checking that the
// account is still active and, for a device-bound token, that the device
// is enrolled to that user and not revoked. The caller's role and scopes
// are read from the account, so a change takes effect at once. Errors:
// EUNAUTHORIZED for a missing, forged or expired token or a disabled
// account, EREVOKED for a revoked device (the tablet must wipe its data).
func (c *Core) Authenticate(ctx context.Context, accessToken string) (Caller, error) {
	if accessToken == "" {
		return Caller{}, syncengine.Errorf(syncengine.EUNAUTHORIZED, "a bearer access token is required")
	}
	cl, err := c.tokens.Verify(accessToken)
	if err != nil {
		return Caller{}, syncengine.Errorf(syncengine.EUNAUTHORIZED, "access token is invalid or expired")
	}
	var revoked, disabled bool
	var role string
	var scopes []string
	err = c.store.View(func(tx Tx) error {
		if err := prefetchAccount(tx, cl.Subject, cl.Device); err != nil {
			return err
		}
		u, err := tx.User(cl.Subject)
		if err != nil {
			return err
		}
		disabled = u == nil || u.Disabled
		if u != nil {
			role, scopes = u.Role, u.Scopes
		}
		if cl.Device != "" {
			d, err := tx.Device(cl.Device)
			if err != nil {
				return err
			}
			revoked = d == nil || d.Revoked() || d.Username != cl.Subject
		}
		return nil
	})
	if err != nil {
		return Caller{}, c.storeErr(ctx, "authenticate", err)
	}
	if disabled {
		return Caller{}, syncengine.Errorf(syncengine.EUNAUTHORIZED, "account is disabled")
	}
	if revoked {
		return Caller{}, errRevoked
	}
	// The role and scopes are the account's as stored, not the token's: a
	// change by an admin holds from the next request.
	return Caller{User: cl.Subject, Role: role, Scopes: scopes, Device: cl.Device}, nil
}

var errRevoked = syncengine.Errorf(syncengine.EREVOKED, "this device was revoked: local data must be wiped")

// Login checks a password and returns an access token without a device
// (enrol a device with it to sync). A wrong password, an unknown user and
// a disabled account all answer EUNAUTHORIZED "wrong username or
// password", after the same work, so names cannot be probed. Empty fields
// are EINVALID.
func (c *Core) Login(ctx context.Context, username, password string) (Session, error) {
	if username == "" || password == "" {
		return Session{}, errInvalid("username and password are required")
	}
	var u *User
	if err := c.store.View(func(tx Tx) (err error) { u, err = tx.User(username); return err }); err != nil {
		return Session{}, c.storeErr(ctx, "login", err)
	}
	// A missing user is checked against a throwaway hash so that it costs
	// the same time as a wrong password.
	c.dummyOnce.Do(func() { c.dummyHash, _ = auth.HashPassword(auth.NewRefreshToken()) })
	hash := c.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	ok, _ := auth.CheckPassword(hash, password)
	if u == nil || !ok || u.Disabled {
		area := ""
		if u != nil {
			area = commonArea(u.Scopes)
		}
		if err := c.store.Update(func(tx Tx) error {
			return c.record(tx, Caller{User: username}, audit.KindLoginFailed, area, nil)
		}); err != nil {
			return Session{}, c.storeErr(ctx, "login: audit", err)
		}
		return Session{}, syncengine.Errorf(syncengine.EUNAUTHORIZED, "wrong username or password")
	}
	if err := c.store.Update(func(tx Tx) error {
		return c.record(tx, Caller{User: u.Username}, audit.KindLogin, commonArea(u.Scopes), map[string]string{"role": u.Role})
	}); err != nil {
		return Session{}, c.storeErr(ctx, "login: audit", err)
	}
	tok, err := c.tokens.Issue(u.Username, u.Role, u.Scopes, "")
	if err != nil {
		return Session{}, c.storeErr(ctx, "issue token", err)
	}
	return Session{AccessToken: tok, ExpiresIn: c.tokens.TTL(), User: u}, nil
}

// Enroll registers caller's tablet with its ed25519 public key (which
// verifies its signatures) and returns a device-bound access token and
// refresh token. name is a label for admins, at most 100 bytes. A key of
// the wrong size or a long name is EINVALID.
func (c *Core) Enroll(ctx context.Context, caller Caller, name string, publicKey []byte) (Session, error) {
	if len(publicKey) != ed25519.PublicKeySize {
		return Session{}, errInvalid("public_key must be a base64 ed25519 public key (32 bytes)")
	}
	if len(name) > 100 {
		return Session{}, errInvalid("name is longer than 100 characters")
	}
	refresh := auth.NewRefreshToken()
	d := &Device{ID: "d" + auth.NewRefreshToken()[:16], Username: caller.User, Name: name, PublicKey: publicKey,
		EnrolledAt: c.opts.Now().UTC(), RefreshHash: HashToken(refresh)}
	if err := c.store.UpdateSolo(func(tx Tx) error {
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		return c.record(tx, Caller{User: caller.User, Device: d.ID}, audit.KindEnroll, commonArea(caller.Scopes),
			map[string]string{"name": audit.Clip(name), "public_key": base64.StdEncoding.EncodeToString(publicKey)})
	}); err != nil {
		return Session{}, c.storeErr(ctx, "enroll", err)
	}
	tok, err := c.tokens.Issue(caller.User, caller.Role, caller.Scopes, d.ID)
	if err != nil {
		return Session{}, c.storeErr(ctx, "issue token", err)
	}
	return Session{AccessToken: tok, ExpiresIn: c.tokens.TTL(), RefreshToken: refresh, DeviceID: d.ID}, nil
}

// Refresh exchanges a device's refresh token for a new access token and a
// new refresh token (the old one stops working). Errors: EINVALID for an
// empty token, EUNAUTHORIZED for an unknown token or a disabled account,
// EREVOKED for a revoked device.
func (c *Core) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	if refreshToken == "" {
		return Session{}, errInvalid("refresh_token is required")
	}
	next := auth.NewRefreshToken()
	var s Session
	err := c.store.UpdateSolo(func(tx Tx) error {
		d, err := tx.DeviceByRefresh(refreshToken)
		if err != nil {
			return err
		}
		if d == nil {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "refresh token is not valid")
		}
		if d.Revoked() {
			return errRevoked
		}
		u, err := tx.User(d.Username)
		if err != nil {
			return err
		}
		if u == nil || u.Disabled {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "account is disabled")
		}
		d.RefreshHash = HashToken(next)
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		tok, err := c.tokens.Issue(u.Username, u.Role, u.Scopes, d.ID)
		if err != nil {
			return err
		}
		s = Session{AccessToken: tok, ExpiresIn: c.tokens.TTL(), RefreshToken: next, DeviceID: d.ID, User: u}
		return nil
	})
	if err != nil {
		return Session{}, c.storeErr(ctx, "refresh", err)
	}
	return s, nil
}

// UserInput is what creating a user takes, from the admin API, the web
// console or the CLI.
type UserInput struct {
	Username    string   `json:"username"`
	Password    string   `json:"password"`
	Role        string   `json:"role"`
	Scopes      []string `json:"scopes"`
	DisplayName string   `json:"display_name,omitempty"`
}

// ErrUserExists is returned when creating a user whose name is taken.
var ErrUserExists = syncengine.Errorf(syncengine.ECONFLICT, "user already exists")

// AddUser validates and stores a new user; only admins may. Errors:
// EFORBIDDEN for another role, EINVALID for bad input (name, role, scopes,
// a password under 8 characters), ErrUserExists (ECONFLICT) for a taken
// name.
func (c *Core) AddUser(ctx context.Context, caller Caller, in UserInput) (*User, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	if err := validateUsername(in.Username); err != nil {
		return nil, err
	}
	if !auth.ValidRole(in.Role) {
		return nil, errInvalid("role %q is not one of %s", in.Role, strings.Join(auth.Roles, ", "))
	}
	if err := auth.ValidateScopes(in.Role, in.Scopes); err != nil {
		return nil, errInvalid("%v", err)
	}
	if len(in.Password) < 8 {
		return nil, errInvalid("password must have at least 8 characters")
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, c.storeErr(ctx, "hash password", err)
	}
	u := &User{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role,
		Scopes: in.Scopes, PasswordHash: hash, CreatedAt: c.opts.Now().UTC()}
	err = c.store.UpdateSolo(func(tx Tx) error {
		old, err := tx.User(in.Username)
		if err != nil {
			return err
		}
		if old != nil {
			return ErrUserExists
		}
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return c.record(tx, caller, audit.KindUser, commonArea(u.Scopes), map[string]string{"action": "create",
			"user": u.Username, "role": u.Role, "scopes": strings.Join(u.Scopes, ",")})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "add user", err)
	}
	return u, nil
}

func validateUsername(u string) error {
	if len(u) < 2 || len(u) > 64 {
		return errInvalid("username must be 2 to 64 characters")
	}
	for _, r := range u {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return errInvalid("username may hold only a-z, 0-9, '_', '-' and '.'")
		}
	}
	return nil
}

func requireAdmin(caller Caller) error {
	if caller.Role != auth.RoleAdmin {
		return errForbidden("only admins may do this")
	}
	return nil
}

// Users returns every account, in username order (admins only:
// EFORBIDDEN otherwise).
func (c *Core) Users(ctx context.Context, caller Caller) ([]*User, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	var out []*User
	err := c.store.View(func(tx Tx) (err error) { out, err = tx.Users(); return err })
	return out, c.storeErr(ctx, "list users", err)
}

// Devices returns every enrolled device, in id order (admins only:
// EFORBIDDEN otherwise).
func (c *Core) Devices(ctx context.Context, caller Caller) ([]*Device, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	var out []*Device
	err := c.store.View(func(tx Tx) (err error) { out, err = tx.Devices(); return err })
	return out, c.storeErr(ctx, "list devices", err)
}

// RevokeDevice marks a lost tablet revoked: its next request fails with
// EREVOKED and its SDK wipes local data. Revoking twice keeps the first
// time. Errors: EFORBIDDEN for a caller who is not an admin, ENOTFOUND for
// no such device.
func (c *Core) RevokeDevice(ctx context.Context, caller Caller, id string) error {
	if err := requireAdmin(caller); err != nil {
		return err
	}
	now := c.opts.Now().UTC()
	err := c.store.UpdateSolo(func(tx Tx) error {
		d, err := tx.Device(id)
		if err != nil {
			return err
		}
		if d == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no device %s", id)
		}
		if d.RevokedAt != nil {
			return nil // revoked before: nothing changes, nothing to record
		}
		d.RevokedAt = &now
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		owner, err := tx.User(d.Username)
		if err != nil {
			return err
		}
		area := ""
		if owner != nil {
			area = commonArea(owner.Scopes)
		}
		return c.record(tx, caller, audit.KindRevoke, area, map[string]string{"device": d.ID, "user": d.Username})
	})
	return c.storeErr(ctx, "revoke device", err)
}
