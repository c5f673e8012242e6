package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

type authLevel int

const (
	authNone   authLevel = iota
	authUser             // any valid access token
	authDevice           // a token bound to an enrolled, unrevoked device
	authAdmin            // an admin's token
)

const callerKey = "caller"

// callerOf returns who an authenticated request is.
func callerOf(c *fiber.Ctx) core.Caller {
	cl, _ := c.Locals(callerKey).(core.Caller)
	return cl
}

// claimsOf returns the caller as token claims (user in Subject), nil for a
// request that was not authenticated.
func claimsOf(c *fiber.Ctx) *auth.Claims {
	cl, ok := c.Locals(callerKey).(core.Caller)
	if !ok {
		return nil
	}
	claims := &auth.Claims{Role: cl.Role, Scopes: cl.Scopes, Device: cl.Device}
	claims.Subject = cl.User
	return claims
}

// authenticate checks the bearer token through the core (account active,
// device not revoked) and the level the route needs.
func (s *Server) authenticate(level authLevel) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok {
			tok = ""
		}
		cl, err := s.core.Authenticate(c.UserContext(), tok)
		if err != nil {
			return err
		}
		if level == authDevice && cl.Device == "" {
			return errForbidden("sync needs a token of an enrolled device")
		}
		if level == authAdmin && cl.Role != auth.RoleAdmin {
			return errForbidden("only admins may do this")
		}
		c.Locals(callerKey, cl)
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
	Disabled    bool     `json:"disabled,omitempty"`
}

type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	User         *userView `json:"user,omitempty"`
}

func viewSession(ss core.Session) tokenResponse {
	r := tokenResponse{AccessToken: ss.AccessToken, TokenType: "Bearer", ExpiresIn: int(ss.ExpiresIn.Seconds()),
		RefreshToken: ss.RefreshToken, DeviceID: ss.DeviceID}
	if ss.User != nil {
		r.User = viewUser(ss.User)
	}
	return r
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var req loginRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	ss, err := s.core.Login(c.UserContext(), req.Username, req.Password)
	switch syncengine.ErrorCode(err) {
	case "":
		s.metrics.logins.WithLabelValues("ok").Inc()
	case syncengine.EUNAUTHORIZED:
		s.metrics.logins.WithLabelValues("fail").Inc()
		return err
	default:
		return err
	}
	return c.JSON(viewSession(ss))
}

func viewUser(u *core.User) *userView {
	return &userView{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: u.Scopes, Disabled: u.Disabled}
}

type enrollRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func (s *Server) handleEnroll(c *fiber.Ctx) error {
	var req enrollRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	pub, err := base64.StdEncoding.DecodeString(req.PublicKey)
	if err != nil {
		return errInvalid("public_key must be a base64 ed25519 public key (32 bytes)")
	}
	ss, err := s.core.Enroll(c.UserContext(), callerOf(c), req.Name, pub)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewSession(ss))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) handleRefresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	ss, err := s.core.Refresh(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(viewSession(ss))
}

// UserInput is what creating a user takes, from the admin API or the CLI.
type UserInput = core.UserInput

// ErrUserExists is returned when creating a user whose name is taken.
var ErrUserExists = core.ErrUserExists

// AddUser stores a new user in a stopped server's store, as the operator
// (core.AddUser: EINVALID for bad input, ErrUserExists for a taken name).
func AddUser(store Store, in UserInput, now time.Time) error {
	_, err := operatorCore(store, now).AddUser(context.Background(), core.Operator(), in)
	return err
}

// RevokeDevice revokes a device in a stopped server's store, as the
// operator (core.RevokeDevice: ENOTFOUND if there is no such device).
func RevokeDevice(store Store, id string, now time.Time) error {
	return operatorCore(store, now).RevokeDevice(context.Background(), core.Operator(), id)
}

// operatorCore is a core for account commands over a store, which need no
// schemas and log nowhere but through their errors.
func operatorCore(store Store, now time.Time) *core.Core {
	return core.New(slog.New(slog.DiscardHandler), store, nil, core.Options{Now: func() time.Time { return now }})
}

func (s *Server) handleAddUser(c *fiber.Ctx) error {
	var in UserInput
	if err := s.decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.core.AddUser(c.UserContext(), callerOf(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(viewUser(u))
}

func (s *Server) handleListUsers(c *fiber.Ctx) error {
	users, err := s.core.Users(c.UserContext(), callerOf(c))
	if err != nil {
		return err
	}
	var out []userView
	for _, u := range users {
		out = append(out, *viewUser(u))
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
	ds, err := s.core.Devices(c.UserContext(), callerOf(c))
	if err != nil {
		return err
	}
	var out []deviceView
	for _, d := range ds {
		out = append(out, deviceView{ID: d.ID, Username: d.Username, Name: d.Name, EnrolledAt: d.EnrolledAt, RevokedAt: d.RevokedAt})
	}
	return c.JSON(fiber.Map{"devices": out})
}

func (s *Server) handleRevokeDevice(c *fiber.Ctx) error {
	id, err := decodedParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.core.RevokeDevice(c.UserContext(), callerOf(c), id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": id})
}
