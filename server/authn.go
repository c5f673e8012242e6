package server

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"crypto/ed25519"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

type authLevel int

const (
	authNone   authLevel = iota
	authUser             // any valid access token
	authDevice           // a token bound to an enrolled, unrevoked device
	authAdmin            // an admin's token
)

const claimsKey = "claims"

func claimsOf(c *fiber.Ctx) *auth.Claims {
	cl, _ := c.Locals(claimsKey).(*auth.Claims)
	return cl
}

// authenticate checks the bearer token, the account and, for tokens bound to
// a device, that the device is not revoked.
func (s *Server) authenticate(level authLevel) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "a bearer access token is required")
		}
		cl, err := s.tokens.Verify(tok)
		if err != nil {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "access token is invalid or expired")
		}
		var revoked, disabled bool
		err = s.store.View(func(tx *boltstore.Tx) error {
			u, err := tx.User(cl.Subject)
			if err != nil {
				return err
			}
			disabled = u == nil || u.Disabled
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
			return storeErr("authenticate", err)
		}
		if disabled {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "account is disabled")
		}
		if revoked {
			return syncengine.Errorf(syncengine.EREVOKED, "this device was revoked: local data must be wiped")
		}
		if level == authDevice && cl.Device == "" {
			return errForbidden("sync needs a token of an enrolled device")
		}
		if level == authAdmin && cl.Role != auth.RoleAdmin {
			return errForbidden("only admins may do this")
		}
		c.Locals(claimsKey, cl)
		return c.Next()
	}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userView struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name,omitempty"`
	Role        string   `json:"role"`
	Scopes      []string `json:"scopes"`
}

type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	User         *userView `json:"user,omitempty"`
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var req loginRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return errInvalid("username and password are required")
	}
	var u *boltstore.User
	if err := s.store.View(func(tx *boltstore.Tx) (err error) { u, err = tx.User(req.Username); return err }); err != nil {
		return storeErr("login", err)
	}
	// A missing user is checked against a throwaway hash so that it costs
	// the same time as a wrong password and names cannot be probed.
	hash := s.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	ok, _ := auth.CheckPassword(hash, req.Password)
	if u == nil || !ok || u.Disabled {
		s.metrics.logins.WithLabelValues("fail").Inc()
		return syncengine.Errorf(syncengine.EUNAUTHORIZED, "wrong username or password")
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	tok, err := s.tokens.Issue(u.Username, u.Role, u.Scopes, "")
	if err != nil {
		return err
	}
	return c.JSON(tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.tokens.TTL().Seconds()), User: viewUser(u)})
}

func viewUser(u *boltstore.User) *userView {
	return &userView{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: u.Scopes}
}

type enrollRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func (s *Server) handleEnroll(c *fiber.Ctx) error {
	cl := claimsOf(c)
	var req enrollRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	pub, err := base64.StdEncoding.DecodeString(req.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return errInvalid("public_key must be a base64 ed25519 public key (32 bytes)")
	}
	if len(req.Name) > 100 {
		return errInvalid("name is longer than 100 characters")
	}
	refresh := auth.NewRefreshToken()
	d := &boltstore.Device{ID: newDeviceID(), Username: cl.Subject, Name: req.Name, PublicKey: pub,
		EnrolledAt: s.cfg.Now().UTC(), RefreshHash: boltstore.HashToken(refresh)}
	if err := s.store.UpdateSolo(func(tx *boltstore.Tx) error { return tx.PutDevice(d) }); err != nil {
		return storeErr("enroll", err)
	}
	tok, err := s.tokens.Issue(cl.Subject, cl.Role, cl.Scopes, d.ID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int(s.tokens.TTL().Seconds()), RefreshToken: refresh, DeviceID: d.ID})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) handleRefresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return errInvalid("refresh_token is required")
	}
	next := auth.NewRefreshToken()
	var resp tokenResponse
	err := s.store.UpdateSolo(func(tx *boltstore.Tx) error {
		d, err := tx.DeviceByRefresh(req.RefreshToken)
		if err != nil {
			return err
		}
		if d == nil {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "refresh token is not valid")
		}
		if d.Revoked() {
			return syncengine.Errorf(syncengine.EREVOKED, "this device was revoked: local data must be wiped")
		}
		u, err := tx.User(d.Username)
		if err != nil {
			return err
		}
		if u == nil || u.Disabled {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "account is disabled")
		}
		d.RefreshHash = boltstore.HashToken(next)
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		tok, err := s.tokens.Issue(u.Username, u.Role, u.Scopes, d.ID)
		if err != nil {
			return err
		}
		resp = tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.tokens.TTL().Seconds()),
			RefreshToken: next, DeviceID: d.ID, User: viewUser(u)}
		return nil
	})
	if err != nil {
		return storeErr("refresh", err)
	}
	return c.JSON(resp)
}

// UserInput is what creating a user takes, from the admin API or the CLI.
type UserInput struct {
	Username    string   `json:"username"`
	Password    string   `json:"password"`
	Role        string   `json:"role"`
	Scopes      []string `json:"scopes"`
	DisplayName string   `json:"display_name,omitempty"`
}

// ErrUserExists is returned when creating a user whose name is taken.
var ErrUserExists = syncengine.Errorf(syncengine.ECONFLICT, "user already exists")

// AddUser validates and stores a new user. It returns EINVALID for bad
// input and ErrUserExists (ECONFLICT) for a taken name.
func AddUser(store *boltstore.Store, in UserInput, now time.Time) error {
	if err := validateUsername(in.Username); err != nil {
		return err
	}
	if !auth.ValidRole(in.Role) {
		return errInvalid("role %q is not one of %s", in.Role, strings.Join(auth.Roles, ", "))
	}
	if err := auth.ValidateScopes(in.Role, in.Scopes); err != nil {
		return errInvalid("%v", err)
	}
	if len(in.Password) < 8 {
		return errInvalid("password must have at least 8 characters")
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	return store.UpdateSolo(func(tx *boltstore.Tx) error {
		old, err := tx.User(in.Username)
		if err != nil {
			return err
		}
		if old != nil {
			return ErrUserExists
		}
		return tx.PutUser(&boltstore.User{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role,
			Scopes: in.Scopes, PasswordHash: hash, CreatedAt: now.UTC()})
	})
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

// RevokeDevice marks a device revoked: its next request fails with
// EREVOKED and its SDK wipes local data. ENOTFOUND if there is no such
// device.
func RevokeDevice(store *boltstore.Store, id string, now time.Time) error {
	return store.UpdateSolo(func(tx *boltstore.Tx) error {
		d, err := tx.Device(id)
		if err != nil {
			return err
		}
		if d == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no device %s", id)
		}
		if d.RevokedAt == nil {
			t := now.UTC()
			d.RevokedAt = &t
		}
		return tx.PutDevice(d)
	})
}

func (s *Server) handleAddUser(c *fiber.Ctx) error {
	var in UserInput
	if err := s.decodeJSON(c, &in); err != nil {
		return err
	}
	if err := AddUser(s.store, in, s.cfg.Now()); err != nil {
		if errors.Is(err, ErrUserExists) {
			return err
		}
		return storeErr("add user", err)
	}
	return c.Status(fiber.StatusCreated).JSON(userView{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role, Scopes: in.Scopes})
}

func (s *Server) handleListUsers(c *fiber.Ctx) error {
	var out []userView
	err := s.store.View(func(tx *boltstore.Tx) error {
		users, err := tx.Users()
		for _, u := range users {
			out = append(out, *viewUser(u))
		}
		return err
	})
	if err != nil {
		return storeErr("list users", err)
	}
	return c.JSON(fiber.Map{"users": out})
}

type deviceView struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Name       string     `json:"name"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) handleListDevices(c *fiber.Ctx) error {
	var out []deviceView
	err := s.store.View(func(tx *boltstore.Tx) error {
		ds, err := tx.Devices()
		for _, d := range ds {
			out = append(out, deviceView{ID: d.ID, Username: d.Username, Name: d.Name, EnrolledAt: d.EnrolledAt, RevokedAt: d.RevokedAt})
		}
		return err
	})
	if err != nil {
		return storeErr("list devices", err)
	}
	return c.JSON(fiber.Map{"devices": out})
}

func (s *Server) handleRevokeDevice(c *fiber.Ctx) error {
	if err := RevokeDevice(s.store, c.Params("id"), s.cfg.Now()); err != nil {
		return storeErr("revoke", err)
	}
	return c.JSON(fiber.Map{"revoked": c.Params("id")})
}

func newDeviceID() string { return "d" + auth.NewRefreshToken()[:16] }
