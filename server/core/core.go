// Package core is ruhu's application core: every use case of the server —
// admit and apply a push, pull, read a record, list and resolve conflicts,
// import a household register, load operator data (the demo seed, bench
// fixtures), log in, refresh, enrol and revoke devices, add users — with
// the role, scope, assignment and schema checks they need, over a Store
// interface.
//
// Every writer goes through it: the fiber handlers of package server only
// parse requests and write answers; CLI commands, the demo seed, the web
// console and benches call it directly. It imports no HTTP framework and
// no storage engine.
//
// Errors carry the stable codes of syncengine. A store failure the store
// marks temporary answers ETRANSIENT (retry); any other unexpected failure
// is logged here and answers EINTERNAL with a message that hides it.
package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Validator is what the core needs of the schema registry
// (schemas.Registry implements it).
type Validator interface {
	Known(collection string) bool
	Policy(collection string) schemas.CollectionPolicy
	ValidatePatch(collection string, fields map[string]json.RawMessage) error
	ValidateRecord(collection string, fields map[string]json.RawMessage) error
}

// Caller is who asks: the signed-in user, their role and area-code scopes,
// and the enrolled device the request comes from ("" for a session
// without one: the web console, an admin CLI).
type Caller struct {
	User   string
	Role   string
	Scopes []string
	Device string
}

// Operator returns the caller of commands run by whoever holds the store
// itself (the CLI over a stopped server's data folder, the demo seed,
// benches): an admin of every area.
func Operator() Caller {
	return Caller{User: "operator", Role: auth.RoleAdmin, Scopes: []string{""}}
}

// Options are the core's tunables; every zero value means the default
// named on the field.
type Options struct {
	// MaxClockAhead is how far past the server's clock an op may be
	// stamped and keep its stamp; beyond it the op is restamped and
	// flagged. Zero means 5 minutes.
	MaxClockAhead time.Duration
	// AccessTTL is the life of access tokens. Zero means 15 minutes.
	AccessTTL time.Duration
	// Now is the server's clock. Nil means time.Now.
	Now func() time.Time
	// RequireSignedPush refuses push batches that carry no device
	// signature (syncengine.ErrBatchSignature). False accepts them from
	// tablets older than batch signing, and their audit entries say
	// "signature": "none"; a signature that is present is always checked.
	RequireSignedPush bool
	// Policies holds the figures the exit, review and ledger procedures
	// are judged under at push (rules.CheckOp). Nil means the shipped
	// defaults (rules.DefaultPolicies).
	Policies *rules.PolicySet
	// HousingEvidence judges whether a housing case's evidence is
	// complete, for the exit standards (the server's evidence checker).
	// Nil counts every case as lacking evidence, so no exit passes on
	// evidence nobody checked.
	HousingEvidence func(tx Tx, housingCase *syncengine.Record) (bool, error)
	// MaxQueuedOps bounds the pushed ops between admission and the end
	// of their write transaction; a push that would pass it is refused
	// with ETRANSIENT and a retry-after (syncengine.RetryAfterError).
	// Zero means DefaultMaxQueuedOps; a negative value sets no bound.
	MaxQueuedOps int
}

// Core runs the use cases. It is safe for concurrent use.
type Core struct {
	log     *slog.Logger
	store   Store
	schemas Validator
	opts    Options
	clock   *syncengine.Clock
	tokens  *auth.Tokens
	queue   *writeQueue

	dummyOnce sync.Once
	dummyHash string // a password hash of nothing, checked for unknown users
}

// New builds the core over store. log, store and reg are required.
func New(log *slog.Logger, store Store, reg Validator, opts Options) *Core {
	if opts.MaxClockAhead == 0 {
		opts.MaxClockAhead = 5 * time.Minute
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Policies == nil {
		// The shipped files are checked by the rules tests; should they
		// fail, pushes of procedure ops answer EINTERNAL.
		opts.Policies, _ = rules.DefaultPolicies()
	}
	if opts.MaxQueuedOps == 0 {
		opts.MaxQueuedOps = DefaultMaxQueuedOps
	}
	return &Core{log: log, store: store, schemas: reg, opts: opts,
		clock:  syncengine.NewClock(opts.Now),
		tokens: auth.NewTokens(store.Secret(), opts.AccessTTL, opts.Now),
		queue:  newWriteQueue(opts.MaxQueuedOps, time.Now)}
}

// Epoch is the store's lineage id (see Store.Epoch).
func (c *Core) Epoch() string { return c.store.Epoch() }

// LastSeq returns the sequence of the store's last change: a cheap read
// that proves the store answers (health checks).
func (c *Core) LastSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	err := c.store.View(func(tx Tx) error { seq = tx.LastSeq(); return nil })
	return seq, c.storeErr(ctx, "read last sequence", err)
}

// storeErr turns the error of a transaction into the caller's answer: an
// error with a code other than EINTERNAL (a use-case refusal raised inside
// the transaction, or a store failure marked ETRANSIENT) passes as it is;
// anything else is logged and answers EINTERNAL without its detail.
func (c *Core) storeErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if syncengine.ErrorCode(err) != syncengine.EINTERNAL {
		return err
	}
	if IsLogged(err) {
		return err
	}
	c.log.ErrorContext(ctx, "core: "+what+" failed", "err", err)
	return loggedError{fmt.Errorf("%s: %w", what, err)}
}

// loggedError is an internal failure the core has logged already.
type loggedError struct{ err error }

func (e loggedError) Error() string { return e.err.Error() }
func (e loggedError) Unwrap() error { return e.err }

// IsLogged reports whether err is an internal failure that the core has
// already logged, so that callers do not log it twice.
func IsLogged(err error) bool {
	var le loggedError
	return errors.As(err, &le)
}

// HashToken returns the hex sha256 under which stores index a refresh
// token (Device.RefreshHash).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func errInvalid(format string, args ...any) error {
	return syncengine.Errorf(syncengine.EINVALID, format, args...)
}

func errForbidden(format string, args ...any) error {
	return syncengine.Errorf(syncengine.EFORBIDDEN, format, args...)
}

// mergePolicy is what the merge needs of a collection's schema policy.
func (c *Core) mergePolicy(collection string) syncengine.MergePolicy {
	p := c.schemas.Policy(collection)
	return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
}

func jsonStringIs(raw json.RawMessage, want string) bool {
	s, ok := jsonString(raw)
	return ok && s == want
}

// jsonString returns the string a JSON value holds; ok is false when it is
// not a string. A string written plainly (no escapes, no control
// characters, valid UTF-8) is read without encoding/json, which every
// pushed visit paid twice (its officer and household checks); anything
// else is left to json.Unmarshal, so the meaning is always the standard
// library's.
func jsonString(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		inner := raw[1 : n-1]
		plain := utf8.Valid(inner)
		for _, c := range inner {
			if c == '"' || c == '\\' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
