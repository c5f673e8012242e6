// Package peertest gives a test the PouchDB peer's node packages,
// installing them with npm into the cache folder `make tools` uses when
// they are missing. Without node or npm, or when the install fails, the
// test is skipped, unless RUHU_REQUIRE_EXTERNAL=1, in which case it
// fails: CI must never pass by skipping.
package peertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
)

// Modules returns the node_modules folder holding the pinned packages.
func Modules(tb testing.TB) string {
	tb.Helper()
	skip := func(msg string) {
		tb.Helper()
		if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
			tb.Fatal(msg + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
		}
		tb.Skip(msg)
	}
	mods, err := pouchpeer.ModulesDir()
	if err != nil {
		skip(err.Error())
	}
	if err := pouchpeer.Installed(mods); err == nil {
		return mods
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := pouchpeer.Install(ctx, mods); err != nil {
		skip("peertest: " + err.Error() + " (`make tools` installs it)")
	}
	return mods
}
