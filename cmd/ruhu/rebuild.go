package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// runRebuildSummaries recomputes, on a stopped server's bbolt store, what
// the store keeps beside the records for the compliance report: the
// report projection, the visit indexes and the per-household visit
// summaries, all from the stored records and history. Every write keeps
// them in its own transaction; this is for a file whose summaries are
// suspect (restored from parts, written by a build with a bug) or after a
// change to how they are defined. The rules and their policies are
// applied when a report is read, so a policy change needs no rebuild.
func runRebuildSummaries(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rebuild-summaries", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := filepath.Join(*data, "ruhu.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("rebuild-summaries: no store at %s: %w", path, err)
	}
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		if errors.Is(err, boltstore.ErrLocked) {
			return fmt.Errorf("rebuild-summaries: stop the server first: %w", err)
		}
		return fmt.Errorf("rebuild-summaries: %w", err)
	}
	defer store.Close()
	start := time.Now()
	if err := store.RebuildReportRows(); err != nil {
		return fmt.Errorf("rebuild-summaries: %w", err)
	}
	fmt.Fprintf(stdout, "report rows, visit indexes and visit summaries of %s rebuilt in %.1f s\n", path, time.Since(start).Seconds())
	return nil
}
