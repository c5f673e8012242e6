// Package miniotest starts a real MinIO server for tests, so that S3 code is
// tested against the service it will meet in production rather than a mock.
//
// The binary is found in this order: the RUHU_MINIO_BIN environment
// variable, `minio` on PATH, then
// $HOME/.cache/ruhu-tools/minio-<version>/minio (where the project's tool
// setup builds it). When none exists the test is skipped, unless
// RUHU_REQUIRE_EXTERNAL=1, in which case it fails: CI must never pass by
// skipping.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the MinIO release the project pins (built by
// `go install github.com/minio/minio@<Version>`).
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Server is a running (or stopped) MinIO process with its own data folder.
type Server struct {
	// Endpoint is host:port of the S3 API on loopback.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey string
	SecretKey string

	tb      testing.TB
	bin     string
	dataDir string
	console string
	log     *lockedBuffer

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// FindBinary returns the MinIO binary to use, or "" when there is none.
func FindBinary() string {
	if p := os.Getenv("RUHU_MINIO_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "ruhu-tools", "minio-"+Version, "minio")
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	return ""
}

// Start launches MinIO on free loopback ports with a fresh data folder and
// stops it when the test ends. It skips (or fails, see package doc) when no
// binary is available.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := FindBinary()
	if bin == "" {
		msg := "miniotest: no MinIO binary (set RUHU_MINIO_BIN, put minio on PATH, or run `go install github.com/minio/minio@" + Version + "` into ~/.cache/ruhu-tools/minio-" + Version + "/)"
		if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
			tb.Fatal(msg + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
		}
		tb.Skip(msg)
	}
	s := &Server{
		AccessKey: "ruhu-test",
		SecretKey: "ruhu-test-secret",
		tb:        tb,
		bin:       bin,
		dataDir:   tb.TempDir(),
		log:       &lockedBuffer{},
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		// Free ports are picked by binding :0 and releasing; another process
		// may grab one in between, so retry with new ports.
		s.Endpoint, s.console = freeAddr(tb), freeAddr(tb)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("miniotest: %v\nlog:\n%s", err, s.logTail())
	}
	tb.Cleanup(s.Stop)
	return s
}

// URL returns the s3:// URL of a bucket on this server, in the form
// assets/s3store.ParseURL reads.
func (s *Server) URL(bucket string) string {
	return fmt.Sprintf("s3://%s:%s@%s/%s?secure=false", s.AccessKey, s.SecretKey, s.Endpoint, bucket)
}

func freeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("miniotest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "server", s.dataDir, "--address", s.Endpoint, "--console-address", s.console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
	)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := s.waitServing(done, 60*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// waitServing waits until MinIO answers /minio/health/live and then an
// authenticated S3 call: the health endpoints turn green before the IAM
// subsystem has loaded, and until then every signed request is refused with
// XMinioServerNotInitialized.
func (s *Server) waitServing(exited <-chan struct{}, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	httpClient := &http.Client{Timeout: time.Second}
	live := func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Endpoint+"/minio/health/live", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if err := poll(ctx, exited, live); err != nil {
		return fmt.Errorf("minio not live at %s within %s: %w", s.Endpoint, limit, err)
	}
	s3, err := minio.New(s.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		MaxRetries: 1,
	})
	if err != nil {
		return err
	}
	var lastErr error
	serving := func() bool {
		_, lastErr = s3.ListBuckets(ctx)
		return lastErr == nil
	}
	if err := poll(ctx, exited, serving); err != nil {
		return fmt.Errorf("minio at %s not serving S3 within %s: %w (last: %v)", s.Endpoint, limit, err, lastErr)
	}
	return nil
}

// poll calls ok every 50 ms until it returns true, the process exits, or
// ctx ends.
func poll(ctx context.Context, exited <-chan struct{}, ok func() bool) error {
	for {
		if ok() {
			return nil
		}
		select {
		case <-exited:
			return errors.New("minio exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop terminates the server (SIGTERM, then SIGKILL after five seconds) and
// keeps its data folder, so Restart brings the same objects back. Stopping
// a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts a stopped server again on the same address and data
// folder, and waits until it is live.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.tb.Fatalf("miniotest: restart: %v\nlog:\n%s", err, s.logTail())
	}
}

func (s *Server) logTail() string {
	b := s.log.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// lockedBuffer collects the process output while tests may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}
