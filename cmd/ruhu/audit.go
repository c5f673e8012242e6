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

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/boltstore"
)

const auditUsage = `usage:
  ruhu audit verify [--data DIR] [--anchor SEQ:HASH]   recompute the audit chain; name the first bad entry
  ruhu audit anchor [--data DIR] [--date YYYY-MM-DD]    print the day's head hash, to keep outside the system`

// runAudit checks or anchors the hash-chained audit log of a stopped
// server's data folder. verify fails (non-zero exit) naming the first
// changed, missing or misplaced entry, or when the chain no longer reaches
// an anchor printed before; anchor verifies the chain, then prints the
// head as of the end of a day (local time; default today).
func runAudit(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "anchor") {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	anchorFlag := fs.String("anchor", "", "verify: a head printed by `ruhu audit anchor` (SEQ:HASH) the chain must still reach")
	date := fs.String("date", "", "anchor: the day, YYYY-MM-DD in local time (default today)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New(auditUsage)
	}
	var anchor *audit.Head
	if *anchorFlag != "" {
		h, err := audit.ParseHead(*anchorFlag)
		if err != nil {
			return err
		}
		anchor = &h
	}
	path := filepath.Join(*data, "ruhu.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("audit: no store in %s: %w", *data, err)
	}
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	head, err := store.VerifyAudit(anchor)
	if err != nil {
		return fmt.Errorf("audit verify %s: %w", *data, err)
	}
	if args[0] == "verify" {
		fmt.Fprintf(stdout, "audit chain ok: %d entries, head %s\n", head.Seq, head)
		return nil
	}
	day := time.Now()
	if *date != "" {
		if day, err = time.ParseInLocation(time.DateOnly, *date, time.Local); err != nil {
			return fmt.Errorf("--date %q: want YYYY-MM-DD", *date)
		}
	}
	y, m, d := day.Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, time.Local)
	h, err := store.AuditHeadBefore(end)
	if err != nil {
		return fmt.Errorf("audit anchor: %w", err)
	}
	if h.Seq == 0 {
		return fmt.Errorf("audit anchor: no audit entry before the end of %s", end.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	fmt.Fprintf(stdout, "%s %s %s\n", end.AddDate(0, 0, -1).Format(time.DateOnly), h, h.Time.Format(time.RFC3339))
	return nil
}
