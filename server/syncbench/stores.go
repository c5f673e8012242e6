package syncbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/pgstore"
)

// DefaultPostgresBigStoreRecords is the size of the store for the empty
// pull on PostgreSQL when Options.BigStoreRecords is zero: the million
// records of the target, as on bbolt. The core's Load stores
// about 5,000 records a second there since its batches are prefetched
// and written in one round trip (2 cores, loaded: 202 s for a million;
// it was 1,200 a second, when this was 100,000). The key
// big_store_records says which count a run used.
const DefaultPostgresBigStoreRecords = 1000000

// ErrInstances is returned by Run when Options.Instances is more than one
// on bbolt: a bbolt file is opened by one process only.
var ErrInstances = errors.New("several instances need a postgres:// store")

// ErrStoreURL is returned by Run when Options.Store is neither empty nor
// a postgres:// URL.
var ErrStoreURL = errors.New("store: want a postgres:// URL, or nothing for bbolt")

// backend makes the fresh store of each stage of a run: a bbolt file in
// the working folder, or a PostgreSQL database of its own (ruhu_bench_
// and a random suffix) on the server of Options.Store, dropped by close.
type backend struct {
	kind      string // "bbolt" or "postgres"
	instances int
	dir       string
	admin     string // the postgres URL the databases are made beside
	prefix    string
	created   []string
}

func newBackend(o Options) (*backend, error) {
	b := &backend{kind: "bbolt", instances: max(o.Instances, 1), dir: o.Dir}
	switch {
	case o.Store == "":
		if b.instances > 1 {
			return nil, fmt.Errorf("%w (got %d on bbolt)", ErrInstances, b.instances)
		}
	case strings.HasPrefix(o.Store, "postgres://") || strings.HasPrefix(o.Store, "postgresql://"):
		buf := make([]byte, 6)
		_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported platforms
		b.kind, b.admin, b.prefix = "postgres", o.Store, "ruhu_bench_"+hex.EncodeToString(buf)
		if o.DatabasePrefix != "" {
			b.prefix = o.DatabasePrefix
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrStoreURL, o.Store)
	}
	return b, nil
}

// adminExec runs one statement on the maintenance database of the URL.
func (b *backend) adminExec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(b.admin), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// database creates the stage's database and returns its URL with extra
// run-time parameters (name=value pairs) added.
func (b *backend) database(ctx context.Context, stage string, params ...string) (string, error) {
	name := b.prefix + "_" + stage
	if err := b.adminExec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("bench database: %w", err)
	}
	b.created = append(b.created, name)
	return b.stageURL(name, params...)
}

func (b *backend) stageURL(name string, params ...string) (string, error) {
	u, err := url.Parse(b.admin)
	if err != nil {
		return "", fmt.Errorf("store URL: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close drops every database the run made.
func (b *backend) close() error {
	var errs []error
	for _, name := range b.created {
		errs = append(errs, b.adminExec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"))
	}
	b.created = nil
	return errors.Join(errs...)
}

// opener opens one more store over a stage's data.
type opener func() (server.Store, func(), error)

// start makes the stage's fresh store and runs the instances over it,
// with tokens for users.
func (b *backend) start(ctx context.Context, stage string, users []string) (*env, error) {
	if b.kind == "bbolt" {
		return start(filepath.Join(b.dir, stage+".db"), users)
	}
	u, err := b.database(ctx, stage)
	if err != nil {
		return nil, err
	}
	return startOn(b.instances, openPostgres(ctx, u), users, nil)
}

// load makes the stage's fresh store and fills it with n records with
// durability off (the load is setup, not the measurement); start then
// opens the same stage.
func (b *backend) load(ctx context.Context, stage string, n int) (func(users []string) (*env, error), error) {
	if b.kind == "bbolt" {
		path := filepath.Join(b.dir, stage+".db")
		store, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			return nil, err
		}
		err = loadBig(store.Core(), n)
		store.Close()
		return func(users []string) (*env, error) { return start(path, users) }, err
	}
	u, err := b.database(ctx, stage, "synchronous_commit", "off")
	if err != nil {
		return nil, err
	}
	store, err := pgstore.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	err = loadBig(store.Core(), n)
	store.Close()
	if err != nil {
		return nil, err
	}
	plain, err := b.stageURL(b.prefix + "_" + stage)
	if err != nil {
		return nil, err
	}
	return func(users []string) (*env, error) { return startOn(b.instances, openPostgres(ctx, plain), users, nil) }, nil
}

func openPostgres(ctx context.Context, u string) opener {
	return func() (server.Store, func(), error) {
		s, err := pgstore.Open(ctx, u)
		if err != nil {
			return nil, nil, err
		}
		return s.Core(), s.Close, nil
	}
}

func openBolt(path string) opener {
	return func() (server.Store, func(), error) {
		s, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s.Core(), func() { s.Close() }, nil
	}
}

// startOn runs n server instances, each with its own HTTP listener on
// loopback and its own store from open (over the same data), wrapped by
// wrap when set, and enrolls users through them.
func startOn(n int, open opener, users []string, wrap func(server.Store) server.Store) (*env, error) {
	reg, err := schemas.New()
	if err != nil {
		return nil, err
	}
	e := &env{
		http:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, DisableCompression: false}, Timeout: 2 * time.Minute},
		tokens: map[string]string{}, device: map[string]string{}, next: new(atomic.Uint64)}
	for i := 0; i < n; i++ {
		st, closeStore, err := open()
		if err != nil {
			e.close()
			return nil, fmt.Errorf("instance %d: %w", i+1, err)
		}
		e.closers = append(e.closers, closeStore)
		if wrap != nil {
			st = wrap(st)
		}
		srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), server.Config{}, st, reg)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			e.close()
			return nil, err
		}
		go srv.Serve(ln)
		e.srvs = append(e.srvs, srv)
		e.urls = append(e.urls, "http://"+ln.Addr().String())
		if i == 0 {
			e.store, e.srv, e.url = st, srv, e.urls[0]
		}
	}
	for _, u := range users {
		if err := e.enroll(u); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

// base is the URL of the instance the next request goes to, round-robin.
func (e *env) base() string {
	if len(e.urls) < 2 {
		return e.url
	}
	return e.urls[e.next.Add(1)%uint64(len(e.urls))]
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range e.srvs {
		srv.Shutdown(ctx)
	}
	for _, c := range e.closers {
		c()
	}
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "the store URL"
}
