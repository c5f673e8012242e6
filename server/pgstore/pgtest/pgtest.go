// Package pgtest gives a test its own PostgreSQL database on the server
// the machine runs (127.0.0.1:5432, trust auth, or RUHU_TEST_POSTGRES),
// dropped when the test ends. When no server answers the test is skipped,
// unless RUHU_REQUIRE_EXTERNAL=1, in which case it fails: CI must never
// pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the maintenance database of the machine's server.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is RUHU_TEST_POSTGRES or DefaultAdminURL.
func AdminURL() string {
	if u := os.Getenv("RUHU_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// Database creates an empty database for tb and returns its URL; the
// database is dropped (its connections closed by force) at cleanup.
func Database(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		msg := "pgtest: no PostgreSQL at " + admin + " (" + err.Error() + ")"
		if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
			tb.Fatal(msg + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
		}
		tb.Skip(msg)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	name := "ruhu_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}
