package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/s3store"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/pgstore"
)

// serveConfig is what `ruhu serve` is told by flags and environment.
type serveConfig struct {
	listen        string
	dataDir       string
	store         string
	maxClockAhead time.Duration
	bodyLimit     int
	seedDemo      bool
	blobs         string
	maxUpload     int64
	policies      string
	signedPush    bool
	photoLease    time.Duration
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func parseServeFlags(fs *flag.FlagSet, args []string, getenv func(string) string) (serveConfig, error) {
	var c serveConfig
	fs.StringVar(&c.listen, "listen", envOr(getenv, "RUHU_LISTEN", ":8080"), "listen address (env RUHU_LISTEN)")
	fs.StringVar(&c.dataDir, "data", envOr(getenv, "RUHU_DATA", "./data"), "data directory (env RUHU_DATA)")
	fs.StringVar(&c.store, "store", getenv("RUHU_STORE"), "record store: empty for the bbolt file <data>/ruhu.db, or a postgres:// URL (migrated at start; several servers may share one database; env RUHU_STORE)")
	skew, err := time.ParseDuration(envOr(getenv, "RUHU_MAX_CLOCK_AHEAD", "5m"))
	if err != nil {
		return c, fmt.Errorf("RUHU_MAX_CLOCK_AHEAD: %w", err)
	}
	fs.DurationVar(&c.maxClockAhead, "max-clock-ahead", skew, "ops stamped further ahead of the server clock are restamped and flagged (env RUHU_MAX_CLOCK_AHEAD)")
	fs.IntVar(&c.bodyLimit, "body-limit", 16<<20, "largest request body in bytes")
	fs.BoolVar(&c.seedDemo, "seed-demo", false, "seed the demo county into an empty store")
	fs.StringVar(&c.blobs, "blobs", getenv("RUHU_BLOBS"), "evidence blob store: a folder (default <data>/blobs) or s3://ACCESS:SECRET@host:port/bucket?secure=false; credentials may come from RUHU_S3_ACCESS_KEY and RUHU_S3_SECRET_KEY instead (env RUHU_BLOBS)")
	fs.Int64Var(&c.maxUpload, "max-upload", 25<<20, "largest photo or signature upload in bytes")
	fs.StringVar(&c.policies, "policies", getenv("RUHU_POLICIES"), "folder of policy YAML files (<area-prefix>[-<year>].yaml, default.yaml) layered over the shipped defaults (env RUHU_POLICIES)")
	fs.BoolVar(&c.signedPush, "require-signed-push", getenv("RUHU_REQUIRE_SIGNED_PUSH") == "1", "refuse push batches without a device signature (turn on once every tablet runs a signing version; env RUHU_REQUIRE_SIGNED_PUSH=1)")
	lease, err := time.ParseDuration(envOr(getenv, "RUHU_PHOTO_LEASE", "2m"))
	if err != nil {
		return c, fmt.Errorf("RUHU_PHOTO_LEASE: %w", err)
	}
	fs.DurationVar(&c.photoLease, "photo-lease", lease, "with several servers on one store: how long a server's claim on a photo it processes lasts unrenewed, so another takes it up after a crash (env RUHU_PHOTO_LEASE)")
	return c, fs.Parse(args)
}

// openStore opens the store in dataDir, creating the folder.
func openStore(dataDir string) (*boltstore.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return boltstore.Open(filepath.Join(dataDir, "ruhu.db"), boltstore.Options{})
}

// openServeStore opens the store a server runs on: PostgreSQL when spec
// is a postgres:// URL (its migrations applied; a database migrated past
// what this build knows is refused), else the bbolt file in dataDir. It
// returns the store and how to close it.
func openServeStore(ctx context.Context, spec, dataDir string) (server.Store, func(), error) {
	if strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") {
		pg, err := pgstore.Open(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		return pg.Core(), pg.Close, nil
	}
	if spec != "" {
		return nil, nil, fmt.Errorf("--store %q: want a postgres:// URL, or nothing for the bbolt file in --data", spec)
	}
	bolt, err := openStore(dataDir)
	if err != nil {
		return nil, nil, err
	}
	return bolt.Core(), func() { bolt.Close() }, nil
}

// openBlobs opens the blob store named by spec: an s3:// URL (credentials
// from the URL, else from the environment) or a folder, by default
// <dataDir>/blobs.
func openBlobs(ctx context.Context, spec, dataDir string, getenv func(string) string) (assets.Store, error) {
	if !strings.HasPrefix(spec, "s3://") {
		if spec == "" {
			spec = filepath.Join(dataDir, "blobs")
		}
		return diskstore.Open(spec)
	}
	opts, err := s3store.ParseURL(spec)
	if err != nil {
		return nil, err
	}
	if opts.AccessKey == "" {
		opts.AccessKey = getenv("RUHU_S3_ACCESS_KEY")
	}
	if opts.SecretKey == "" {
		opts.SecretKey = getenv("RUHU_S3_SECRET_KEY")
	}
	return s3store.Open(ctx, opts)
}

// runServe runs the server until ctx ends. ready, if not nil, receives the
// base URL once the server accepts connections.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := parseServeFlags(fs, args, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, closeStore, err := openServeStore(ctx, cfg.store, cfg.dataDir)
	if err != nil {
		return err
	}
	defer closeStore()
	if cfg.seedDemo {
		if err := seedDemoInto(store, time.Now()); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	policies, err := loadPolicies(cfg.policies)
	if err != nil {
		return err
	}
	blobs, err := openBlobs(ctx, cfg.blobs, cfg.dataDir, getenv)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	srv := server.New(log, server.Config{MaxClockAhead: cfg.maxClockAhead, BodyLimit: cfg.bodyLimit,
		Blobs: blobs, MaxUploadSize: cfg.maxUpload, Policies: policies, RequireSignedPush: cfg.signedPush,
		PhotoLease: cfg.photoLease}, store, reg)
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + hostPort(ln.Addr())
	fmt.Fprintf(stdout, "ruhu server listening on %s (data %s, store %s schema %d)\n", url, cfg.dataDir, store.Kind(), store.SchemaVersion())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- url
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// hostPort names a listener address so a browser on this machine can use
// it: an unspecified host becomes 127.0.0.1.
func hostPort(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
