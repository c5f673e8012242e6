// Package pgstore is the server store on PostgreSQL (pgx v5): records,
// history, the change feed, conflicts, accounts, devices, refresh tokens
// and the token secret, for counties that outgrow one bbolt file or run
// several ruhu servers on one database.
//
// # Change feed
//
// A pull walks records in sequence order and keeps the last sequence it
// saw as its cursor. With concurrent writers a sequence number handed out
// before commit could commit after a higher one was already pulled, and
// that pull's cursor would skip it for ever. pgstore rules this out with
// one sequencer: a write transaction numbers its changes only while it
// holds the single row of ruhu_seq (SELECT ... FOR UPDATE), from the
// number the row holds, and it holds the row until it commits. So write
// transactions that number changes commit one after another in sequence
// order, and any snapshot a pull reads holds every sequence up to the
// highest it sees. PostgreSQL marks a transaction committed before it
// releases its row locks, so the next writer's changes are never visible
// without the previous writer's.
//
// The row is taken late: a transaction of Update reads without it and
// keeps its writes in memory (deferred.go); just before commit it takes
// the row, checks in the same round trip that the records, op ids and
// assignments it read are unchanged (else fn runs again), numbers and
// sends its writes in one pipelined batch, and commits. The lock is held
// for those two round trips and the commit, not for the whole use case.
// A writer still working has no number yet, so it cannot open a gap: it
// will be numbered after every change committed before it. (UpdateSolo,
// and any transaction that needs more than records, ops and assignments
// — a history walk, conflicts, accounts — takes the row at that first
// touch and holds it to the end, as every writer once did; that also
// serialises read-modify-write of conflicts, accounts and devices as
// bbolt's single writer does. Transactions that write only blob facts,
// upload state or web sessions never take it; they lock the blob or
// upload they change.) TestChangeFeedGap reproduces the gap a plain
// sequence would open and shows the store does not have it;
// TestChangedReadRunsAgain shows a read that changed before commit is
// read again.
package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises schema migrations
// of servers starting at once on one database.
const migrationLock = 0x72756875 // "ruhu"

// defaultMaxConns is the pool's bound when the URL sets none
// (pool_max_conns): pushes, pulls and the checks before a push each hold
// a connection while they wait for PostgreSQL, so a server answering a
// hundred tablets at once needs more than pgx's max(4, CPUs).
const defaultMaxConns = 16

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer ruhu than this one: running an older server on it could corrupt
// data it does not understand.
var ErrSchemaTooNew = errors.New("database schema is newer than this server knows")

// Store is a PostgreSQL-backed server store, safe for concurrent use by
// any number of goroutines and processes.
type Store struct {
	pool    *pgxpool.Pool
	epoch   string
	secret  []byte
	version int
	group   *groupCommit
	// beforeCommit, when set (by tests), runs in every write transaction
	// after its changes are numbered and sent, just before COMMIT.
	beforeCommit func()
}

// Open connects to the database at url (a postgres:// URL or key=value
// DSN), applies the migrations it lacks and reads the store's epoch and
// token secret, creating them on first use.
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, nil)
}

// open is Open with every statement of the store's connections reported
// to tracer when it is set (tests count round trips).
func open(ctx context.Context, url string, tracer pgx.QueryTracer) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql: %w", err)
	}
	s := &Store{pool: pool}
	s.group = &groupCommit{s: s}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.identity(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close waits for the writes under way and releases the store's
// connections.
func (s *Store) Close() {
	s.group.close()
	s.pool.Close()
}

// Epoch is the random id of the store's lineage (core.Store).
func (s *Store) Epoch() string { return s.epoch }

// Secret is the access-token signing key (core.Store).
func (s *Store) Secret() []byte { return s.secret }

// SchemaVersion is the migration the database is at.
func (s *Store) SchemaVersion() int { return s.version }

// Kind names the store for health reports.
func (s *Store) Kind() string { return "postgres" }

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations in version order; a file is
// named NNNN_what.sql.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s is not named NNNN_what.sql", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n: %s", m.name)
		}
	}
	return out, nil
}

// LatestVersion is the newest schema this build knows.
func LatestVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies missing migrations under an advisory lock, each in its
// own transaction, and refuses a database newer than this build.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return markTransient(fmt.Errorf("connect to postgresql: %w", err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("lock schema for migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // the session ends with the connection anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS ruhu_schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM ruhu_schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := len(ms); current > latest {
		return fmt.Errorf("%w: database at version %d, this server knows up to %d", ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO ruhu_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		current = m.version
	}
	s.version = current
	return nil
}

// identity reads the epoch and token secret, creating each on first use
// (the first of several servers starting at once wins).
func (s *Store) identity(ctx context.Context) error {
	get := func(key string, fresh []byte) ([]byte, error) {
		if _, err := s.pool.Exec(ctx, "INSERT INTO ruhu_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, fresh); err != nil {
			return nil, fmt.Errorf("initialise %s: %w", key, err)
		}
		var v []byte
		if err := s.pool.QueryRow(ctx, "SELECT value FROM ruhu_meta WHERE key = $1", key).Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		return v, nil
	}
	epoch, err := get("epoch", []byte(randomHex(16)))
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	if secret, err = get("jwt_secret", secret); err != nil {
		return err
	}
	if epoch, err = s.renewIfRestored(ctx, epoch); err != nil {
		return err
	}
	s.epoch, s.secret = string(epoch), secret
	return nil
}

// renewIfRestored gives a restored database a new epoch, as a bbolt
// backup gets one, so that tablets start their pulls over and send again
// what the restore lost. A database knows it was restored by its anchor:
// the object ids of the database and of the ruhu_meta table, kept in
// ruhu_meta. Restoring a dump (pg_restore, psql) creates the table anew
// and so changes its id; the anchor restored with the data then names
// another table. A physical copy (a streaming replica promoted after a
// failover) keeps both ids and its epoch: it lost nothing a tablet was
// told. It returns the epoch to use; of several servers starting at once
// on a restored database, one renews it and the others read it.
func (s *Store) renewIfRestored(ctx context.Context, epoch []byte) ([]byte, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var here string
		if err := tx.QueryRow(ctx, `SELECT (SELECT oid FROM pg_database WHERE datname = current_database())::text
			|| '/' || 'ruhu_meta'::regclass::oid::text`).Scan(&here); err != nil {
			return fmt.Errorf("read the database's anchor: %w", err)
		}
		var anchor []byte
		err := tx.QueryRow(ctx, "SELECT value FROM ruhu_meta WHERE key = 'epoch_anchor' FOR UPDATE").Scan(&anchor)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// The first start, or a database from before anchors.
			_, err = tx.Exec(ctx, "INSERT INTO ruhu_meta (key, value) VALUES ('epoch_anchor', $1) ON CONFLICT (key) DO NOTHING", []byte(here))
		case err != nil:
		case string(anchor) == here:
		default:
			if _, err = tx.Exec(ctx, "UPDATE ruhu_meta SET value = $1 WHERE key = 'epoch'", []byte(randomHex(16))); err == nil {
				_, err = tx.Exec(ctx, "UPDATE ruhu_meta SET value = $1 WHERE key = 'epoch_anchor'", []byte(here))
			}
		}
		if err != nil {
			return fmt.Errorf("check the epoch's anchor: %w", err)
		}
		return tx.QueryRow(ctx, "SELECT value FROM ruhu_meta WHERE key = 'epoch'").Scan(&epoch)
	})
	if err != nil {
		return nil, markTransient(err)
	}
	return epoch, nil
}

// NewEpoch gives the store a new lineage id, as a restore from a dump
// must: tablets then start their pulls over, as after a bbolt restore.
func (s *Store) NewEpoch(ctx context.Context) error {
	epoch := randomHex(16)
	if _, err := s.pool.Exec(ctx, "UPDATE ruhu_meta SET value = $1 WHERE key = 'epoch'", []byte(epoch)); err != nil {
		return fmt.Errorf("renew epoch: %w", err)
	}
	s.epoch = epoch
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Core returns the store as the application core and the HTTP server see
// it (core.Store, server.Store).
func (s *Store) Core() CoreStore { return CoreStore{s} }

// CoreStore is the Store as a core.Store whose transactions (*Tx) also
// keep blobs, uploads, web sessions and the audit chain, and scan areas.
type CoreStore struct{ s *Store }

var (
	_ core.Store           = CoreStore{}
	_ core.Tx              = (*Tx)(nil)
	_ syncengine.OpDigests = (*Tx)(nil)
)

func (c CoreStore) Epoch() string      { return c.s.epoch }
func (c CoreStore) Secret() []byte     { return c.s.secret }
func (c CoreStore) Kind() string       { return c.s.Kind() }
func (c CoreStore) SchemaVersion() int { return c.s.version }

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot
// for the whole use case, so a pull's last sequence and its pages agree.
func (c CoreStore) View(fn func(core.Tx) error) error {
	return c.s.run(false, false, fn)
}

// Update runs fn in a write transaction that takes the sequencer only to
// commit, having checked that what fn read is unchanged; when it changed,
// fn runs again (deferred.go). Concurrent calls on one Store are grouped
// into one transaction (groupcommit.go), as bbolt's are.
func (c CoreStore) Update(fn func(core.Tx) error) error {
	return c.s.group.do(fn)
}

// UpdateSolo runs fn once, in a write transaction that takes the
// sequencer at its first touch of the core's tables.
func (c CoreStore) UpdateSolo(fn func(core.Tx) error) error {
	return c.s.run(true, true, fn)
}

// Statements that begin run's transactions.
const (
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	beginWrite = "BEGIN ISOLATION LEVEL READ COMMITTED"
)

// run runs fn in one transaction. An error fn returned passes as it is; a
// failure of PostgreSQL that waiting can cure is marked ETRANSIENT. A
// write transaction that is not solo runs fn again when its reads
// changed before commit, up to maxOptimistic times, then solo.
func (s *Store) run(write, solo bool, fn func(core.Tx) error) error {
	ctx := context.Background()
	for try := 1; ; try++ {
		t, err := s.runOnce(ctx, write, solo || try > maxOptimistic, fn)
		if t != nil && t.readsChanged {
			continue
		}
		if err == nil {
			return nil
		}
		var coded *syncengine.Error
		if errors.As(err, &coded) {
			return err // the use case's own answer
		}
		// A failure of PostgreSQL reaches here directly or through fn (a Tx
		// method failed and the use case returned its error).
		return markTransient(err)
	}
}

// runOnce runs fn in a transaction on a connection of the pool, begun
// with its first statement (txConn) and committed with its writes.
func (s *Store) runOnce(ctx context.Context, write, solo bool, fn func(core.Tx) error) (t *Tx, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	begin := beginRead
	if write {
		begin = beginWrite
	}
	c := &txConn{conn: pc.Conn(), begin: begin}
	readDone := false
	defer func() {
		switch {
		case c.begin != "" || c.done:
			pc.Release()
		case !write && readDone:
			// A read-only transaction has nothing to commit: its answer
			// need not wait for the round trip that ends it.
			go func() {
				_, _ = c.conn.Exec(context.WithoutCancel(ctx), "COMMIT") // on failure Release closes the connection
				pc.Release()
			}()
		default:
			_, _ = c.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK") // on failure Release closes the connection
			pc.Release()
		}
	}()
	t = newTx(ctx, c, write, solo)
	err = fn(t)
	if !write && err == nil && t.err == nil {
		readDone = true
		return t, nil
	}
	switch {
	case t.readsChanged:
		return t, errReadsChanged
	case err != nil:
		return t, err
	case t.err != nil:
		return t, t.err
	}
	if write {
		if err := t.commitWrites(s.beforeCommit); err != nil {
			return t, err
		}
	}
	if c.done || c.begin != "" {
		return t, nil // committed with the writes, or never begun
	}
	if _, err := c.conn.Exec(ctx, "COMMIT"); err != nil {
		return t, fmt.Errorf("commit: %w", err)
	}
	c.done = true
	return t, nil
}

// markTransient marks failures that pass by themselves (the database
// restarts, refuses connections for now, runs out of room, or aborted
// the transaction for a serialisation conflict) as ETRANSIENT.
func markTransient(err error) error {
	if err == nil || !transient(err) {
		return err
	}
	return transientError{err}
}

func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),          // insufficient resources
			pgErr.Code == "40001", pgErr.Code == "40P01", // serialisation failure, deadlock
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, crash, not yet accepting
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// The connection ended under the query: the server stopped or
	// restarted, or the network dropped it.
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// transientError is a store failure marked syncengine.ETRANSIENT that
// keeps its cause for logs.
type transientError struct{ err error }

func (e transientError) Error() string { return "store unavailable: " + e.err.Error() }
func (e transientError) Unwrap() []error {
	return []error{syncengine.Errorf(syncengine.ETRANSIENT, "store unavailable, retry"), e.err}
}
