package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
)

// TestBenchPeerSaysHowToInstall: without the peer's packages, `ruhu bench
// peer` stops at once and names the command that installs them.
func TestBenchPeerSaysHowToInstall(t *testing.T) {
	err := runBench(context.Background(), []string{"peer", "--node-modules", t.TempDir()}, func(string) string { return "" }, io.Discard, io.Discard)
	if !errors.Is(err, pouchpeer.ErrNotInstalled) || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("bench peer without packages: %v", err)
	}
}
