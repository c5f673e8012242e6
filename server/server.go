// Package server is ruhu's HTTP API: authentication, enrolled devices, the
// push/pull sync endpoints, records with history, conflicts, metrics and the
// OpenAPI document. It runs on fiber over the bbolt store.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Config holds the server's tunables. Every zero value means the default
// named on the field.
type Config struct {
	// MaxClockAhead is how far past the server's clock an op may be stamped
	// and still keep its stamp; beyond it the op is restamped and flagged.
	// Zero means 5 minutes.
	MaxClockAhead time.Duration
	// AccessTTL is the life of access tokens. Zero means 15 minutes.
	AccessTTL time.Duration
	// BodyLimit bounds request bodies in bytes, compressed or not. Zero
	// means 16 MiB.
	BodyLimit int
	// Now is the server's clock. Nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.MaxClockAhead == 0 {
		c.MaxClockAhead = 5 * time.Minute
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validator is what the server needs of the schema registry.
type Validator interface {
	Known(collection string) bool
	Policy(collection string) schemas.CollectionPolicy
	ValidatePatch(collection string, fields map[string]json.RawMessage) error
	ValidateRecord(collection string, fields map[string]json.RawMessage) error
}

// Server is the HTTP API.
type Server struct {
	log     *slog.Logger
	cfg     Config
	store   *boltstore.Store
	schemas Validator
	tokens  *auth.Tokens
	clock   *syncengine.Clock
	metrics *metrics
	app     *fiber.App
	routes  []route
	// dummyHash is a password hash of nothing, checked for unknown users.
	dummyHash string
}

// New builds the server; it does not listen. log and store are required.
func New(log *slog.Logger, cfg Config, store *boltstore.Store, reg Validator) *Server {
	cfg.setDefaults()
	s := &Server{
		log:     log,
		cfg:     cfg,
		store:   store,
		schemas: reg,
		tokens:  auth.NewTokens(store.Secret(), cfg.AccessTTL, cfg.Now),
		clock:   syncengine.NewClock(cfg.Now),
		metrics: newMetrics(),
	}
	s.dummyHash, _ = auth.HashPassword(auth.NewRefreshToken())
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             cfg.BodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           2 * time.Minute,
		WriteTimeout:          2 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		AppName:               "ruhu",
	})
	s.app.Use(func(c *fiber.Ctx) error {
		c.Set("X-Ruhu-Server-Time", strconv.FormatInt(s.cfg.Now().UnixMilli(), 10))
		start := time.Now()
		err := c.Next()
		s.metrics.observeRequest(c, err, time.Since(start))
		return err
	})
	s.app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	s.routes = s.routeTable()
	for _, r := range s.routes {
		handlers := []fiber.Handler{}
		if r.auth != authNone {
			handlers = append(handlers, s.authenticate(r.auth))
		}
		handlers = append(handlers, r.handler)
		s.app.Add(r.method, r.path, handlers...)
	}
	return s
}

// App exposes the fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.app.ShutdownWithContext(ctx)
}

// Store returns the server's store.
func (s *Server) Store() *boltstore.Store { return s.store }

func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code := syncengine.ErrorCode(err)
	msg := syncengine.ErrorMessage(err)
	if fe, ok := err.(*fiber.Error); ok {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			code, msg = syncengine.ETOOLARGE, "request body is too large"
		case fiber.StatusNotFound:
			code, msg = syncengine.ENOTFOUND, "no such endpoint"
		case fiber.StatusMethodNotAllowed:
			code, msg = syncengine.EINVALID, "method not allowed"
		default:
			if fe.Code < 500 {
				code, msg = syncengine.EINVALID, fe.Message
			}
		}
	}
	// Errors raised before routing (a body over the limit is refused by
	// the HTTP layer) skip the middleware: the contract still promises the
	// server time on every response.
	c.Set("X-Ruhu-Server-Time", strconv.FormatInt(s.cfg.Now().UnixMilli(), 10))
	if code == syncengine.EINTERNAL {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	s.metrics.errors.WithLabelValues(code).Inc()
	return c.Status(httpStatus(code)).JSON(errorBody{Code: code, Message: msg})
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// httpStatus maps each stable code to its HTTP status, in one table.
func httpStatus(code string) int {
	switch code {
	case syncengine.EINVALID:
		return fiber.StatusBadRequest
	case syncengine.EUNAUTHORIZED:
		return fiber.StatusUnauthorized
	case syncengine.EFORBIDDEN, syncengine.EREVOKED:
		return fiber.StatusForbidden
	case syncengine.ENOTFOUND:
		return fiber.StatusNotFound
	case syncengine.ECONFLICT:
		return fiber.StatusConflict
	case syncengine.ETOOLARGE:
		return fiber.StatusRequestEntityTooLarge
	case syncengine.ETRANSIENT:
		return fiber.StatusServiceUnavailable
	default:
		return fiber.StatusInternalServerError
	}
}

func errInvalid(format string, args ...any) error {
	return syncengine.Errorf(syncengine.EINVALID, format, args...)
}

func errForbidden(format string, args ...any) error {
	return syncengine.Errorf(syncengine.EFORBIDDEN, format, args...)
}

// storeErr turns a store failure into an error for the client: the detail
// is logged by the error handler, the client sees EINTERNAL.
func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if syncengine.ErrorCode(err) != syncengine.EINTERNAL {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
