package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server a test started itself: a cluster made by
// initdb in a temporary folder, listening on a free loopback port, with
// the machine's PostgreSQL binaries. Unlike the machine's shared server,
// a test may stop and restart it.
type Server struct {
	// Port is the port it listens on (the same after a restart).
	Port int

	tb   testing.TB
	dir  string
	cred *syscall.Credential // the postgres account when the test runs as root
}

// Start makes and starts a private server, stopped and removed at
// cleanup. It skips the test when initdb and pg_ctl are missing, unless
// RUHU_REQUIRE_EXTERNAL=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := "pgtest: no " + bin + " on PATH: " + err.Error()
			if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
				tb.Fatal(msg + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
			}
			tb.Skip(msg)
		}
	}
	dir, err := os.MkdirTemp("", "ruhu-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{tb: tb, dir: dir}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("pgtest: running as root and no postgres account: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	if out, err := s.command("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C").CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// URL is the URL of a database on the server.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// Stop stops the server at once, as a crash would (pg_ctl stop -m
// immediate: no checkpoint, clients cut off). Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	_ = s.command("pg_ctl", "-D", s.data(), "stop", "-m", "immediate", "-w").Run() // an error means it was not running
}

// Restart starts the server on its port and waits until it accepts
// connections.
func (s *Server) Restart() {
	s.tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.Port, s.dir)
	if out, err := s.command("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.dir, "server.log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		s.tb.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return
		}
		if ctx.Err() != nil {
			s.tb.Fatalf("pgtest: the restarted server does not accept connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
