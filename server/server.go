// Package server is ruhu's HTTP API: authentication, enrolled devices, the
// push/pull sync endpoints, records with history, conflicts, metrics and the
// OpenAPI document. It runs on fiber; every use case is the application
// core's (package server/core): handlers parse requests, call the core and
// write its answers.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/uploads"
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
	// RequireSignedPush refuses push batches without a device signature
	// (core.Options.RequireSignedPush). False accepts them from tablets
	// older than batch signing; a signature that is sent is always checked.
	RequireSignedPush bool

	// Blobs stores evidence blobs (photos, signatures). Nil turns the
	// tus upload endpoint and the blob endpoints off.
	Blobs assets.Store
	// MaxUploadSize bounds one upload in bytes. Zero means 25 MiB.
	MaxUploadSize int64
	// UploadExpiry is how long an unfinished upload is kept after its
	// last chunk. Zero means 7 days.
	UploadExpiry time.Duration
	// PhotoWorkers bounds how many photos are processed at once. Zero
	// means 2.
	PhotoWorkers int
	// PhotoLease is how long a server's claim on a photo it processes
	// lasts without renewal when several servers share the store
	// (uploads.Options.Lease): a photo whose server died is processed by
	// another after at most this. Zero means 2 minutes.
	PhotoLease time.Duration

	// Policies holds the field rules' figures per jurisdiction and year
	// for reports. Nil means the shipped defaults (rules.DefaultPolicies).
	Policies *rules.PolicySet

	// Evidence holds the tolerances of the photo findings and of the
	// evidence-complete housing case; the zero value means the defaults
	// documented on EvidencePolicy.
	Evidence EvidencePolicy

	// NoConsole turns off the web console (package console), which is
	// otherwise served at "/" beside the API.
	NoConsole bool
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
	if c.Policies == nil {
		// The shipped files are checked by the rules tests; should they
		// fail, Policies stays nil and reports answer EINTERNAL.
		c.Policies, _ = rules.DefaultPolicies()
	}
}

// Validator is what the server needs of the schema registry: what the
// core needs.
type Validator = core.Validator

// Server is the HTTP API.
type Server struct {
	log *slog.Logger
	cfg Config
	// store is read by the report, evidence and upload endpoints; every
	// other use case goes through core.
	store   Store
	core    *core.Core
	schemas Validator
	metrics *metrics
	app     *fiber.App
	routes  []route
	// uploads is the tus endpoint and blob pipeline; nil when Blobs is.
	uploads *uploads.Service
	// gzipReaders holds idle *gzip.Reader for request bodies (body.go).
	gzipReaders sync.Pool
}

// New builds the server; it does not listen. log and store are required.
func New(log *slog.Logger, cfg Config, store Store, reg Validator) *Server {
	cfg.setDefaults()
	s := &Server{
		log:     log,
		cfg:     cfg,
		store:   store,
		schemas: reg,
		metrics: newMetrics(),
	}
	s.core = core.New(log, store, reg, core.Options{
		MaxClockAhead: cfg.MaxClockAhead, AccessTTL: cfg.AccessTTL, Now: cfg.Now, RequireSignedPush: cfg.RequireSignedPush,
		Policies: cfg.Policies, HousingEvidence: s.housingEvidenceComplete})
	if cfg.Blobs != nil {
		s.uploads = uploads.New(log, store, cfg.Blobs, s.uploadCaller, uploads.Options{
			MaxSize: cfg.MaxUploadSize, Expiry: cfg.UploadExpiry, Workers: cfg.PhotoWorkers, Now: cfg.Now,
			Lease: cfg.PhotoLease})
	}
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             cfg.BodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           2 * time.Minute,
		WriteTimeout:          2 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		AppName:               "ruhu",
		// Request bodies are streamed so that an upload cut midway keeps
		// what arrived; bufferBody restores the limit for every other route.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	s.app.Use(func(c *fiber.Ctx) error {
		c.Set("X-Ruhu-Server-Time", strconv.FormatInt(s.cfg.Now().UnixMilli(), 10))
		start := time.Now()
		err := c.Next()
		s.metrics.observeRequest(c, err, time.Since(start))
		return err
	})
	s.app.Use(s.bufferBody)
	s.app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	if s.uploads != nil {
		s.app.Use(uploads.PathPrefix, s.uploads.Protocol)
	}
	s.routes = s.routeTable()
	for _, r := range s.routes {
		handlers := []fiber.Handler{}
		if r.auth != authNone {
			handlers = append(handlers, s.authenticate(r.auth))
		}
		handlers = append(handlers, r.handler)
		s.app.Add(r.method, r.path, handlers...)
	}
	if s.uploads != nil {
		// HEAD is outside the route table: fiber lists HEAD beside GET, and
		// the OpenAPI document describes it under the PATCH route.
		s.app.Add(fiber.MethodHead, uploads.PathPrefix+"/:id", s.authenticate(authUser), s.uploads.HandleHead)
	}
	if !cfg.NoConsole {
		s.mountConsole() // last: the API's routes answer their paths first
	}
	return s
}

// bufferBody reads the request body of every route but the upload routes
// into memory, refusing more than BodyLimit with 413 ETOOLARGE: the HTTP
// layer streams bodies (for uploads) and so no longer enforces the limit.
func (s *Server) bufferBody(c *fiber.Ctx) error {
	req := c.Request()
	if !req.IsBodyStream() || req.Header.ContentLength() == 0 ||
		(s.uploads != nil && strings.HasPrefix(c.Path(), uploads.PathPrefix)) {
		return c.Next()
	}
	if req.Header.ContentLength() > s.cfg.BodyLimit {
		c.Set(fiber.HeaderConnection, "close") // the unread rest must not be taken for a request
		return fiber.ErrRequestEntityTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), int64(s.cfg.BodyLimit)+1))
	if err != nil {
		c.Set(fiber.HeaderConnection, "close")
		return errInvalid("request body could not be read: %v", err)
	}
	if len(body) > s.cfg.BodyLimit {
		c.Set(fiber.HeaderConnection, "close")
		return fiber.ErrRequestEntityTooLarge
	}
	req.SetBody(body)
	return c.Next()
}

// uploadCaller tells the upload service who an authenticated request is.
func (s *Server) uploadCaller(c *fiber.Ctx) (uploads.Caller, bool) {
	cl := claimsOf(c)
	if cl == nil {
		return uploads.Caller{}, false
	}
	return uploads.Caller{Username: cl.Subject, Role: cl.Role, Scopes: cl.Scopes}, true
}

// Core returns the application core the handlers call (the web console
// calls the same one).
func (s *Server) Core() *core.Core { return s.core }

// Uploads returns the upload service (blob facts for the evidence
// checks), nil when the server has no blob store.
func (s *Server) Uploads() *uploads.Service { return s.uploads }

// App exposes the fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.app.ShutdownWithContext(ctx)
	if s.uploads != nil {
		s.uploads.Close()
	}
	return err
}

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
	if code == syncengine.EINTERNAL && !core.IsLogged(err) {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	s.metrics.errors.WithLabelValues(code).Inc()
	status := httpStatus(code)
	var protocolStatus interface{ HTTPStatus() int }
	if errors.As(err, &protocolStatus) {
		status = protocolStatus.HTTPStatus() // tus answers 460, 410, 412...
	}
	return c.Status(status).JSON(errorBody{Code: code, Message: msg})
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

// storeErr turns a failure of a store read outside the core (reports,
// evidence) into an error for the client: the detail is logged by the
// error handler, the client sees EINTERNAL.
func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if syncengine.ErrorCode(err) != syncengine.EINTERNAL {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
