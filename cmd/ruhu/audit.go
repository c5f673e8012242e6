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
	"github.com/ruhu-dev/ruhu/server/core"
)

const auditUsage = `usage:
  ruhu audit verify [--data DIR | --store postgres://…] [--anchor SEQ:HASH]   recompute the audit chain; name the first bad entry
  ruhu audit anchor [--data DIR | --store postgres://…] [--date YYYY-MM-DD]    print the day's head hash, to keep outside the system`

// runAudit checks or anchors the hash-chained audit log of a stopped
// server's data folder, or of a PostgreSQL store (--store; its servers
// may keep running: the check reads one snapshot). verify fails (non-zero exit) naming the first
// changed, missing or misplaced entry, or when the chain no longer reaches
// an anchor printed before; anchor verifies the chain, then prints the
// head as of the end of a day (local time; default today).
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "anchor") {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	storeURL := fs.String("store", getenv("RUHU_STORE"), "postgres:// URL of the servers' database; empty for the bbolt file in --data (env RUHU_STORE)")
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
	where := *data
	if *storeURL == "" {
		if _, err := os.Stat(filepath.Join(*data, "ruhu.db")); err != nil {
			return fmt.Errorf("audit: no store in %s: %w", *data, err)
		}
	} else {
		where = "the PostgreSQL store"
	}
	store, closeStore, err := openServeStore(ctx, *storeURL, *data)
	if err != nil {
		return err
	}
	defer closeStore()
	head, err := verifyAudit(store, anchor)
	if err != nil {
		return fmt.Errorf("audit verify %s: %w", where, err)
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
	h, err := auditHeadBefore(store, end)
	if err != nil {
		return fmt.Errorf("audit anchor: %w", err)
	}
	if h.Seq == 0 {
		return fmt.Errorf("audit anchor: no audit entry before the end of %s", end.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	fmt.Fprintf(stdout, "%s %s %s\n", end.AddDate(0, 0, -1).Format(time.DateOnly), h, h.Time.Format(time.RFC3339))
	return nil
}

// verifyAudit re-checks a store's whole audit chain in one read
// transaction (core.AuditTx.VerifyAudit) and returns its head.
func verifyAudit(store core.Store, anchor *audit.Head) (audit.Head, error) {
	var head audit.Head
	err := store.View(func(tx core.Tx) error {
		at, ok := tx.(core.AuditTx)
		if !ok {
			return errors.New("the store keeps no audit log")
		}
		var err error
		head, err = at.VerifyAudit(anchor)
		return err
	})
	return head, err
}

// auditHeadBefore returns the last audit entry stamped before t, as an
// anchor (zero Head when there is none).
func auditHeadBefore(store core.Store, t time.Time) (audit.Head, error) {
	var head audit.Head
	err := store.View(func(tx core.Tx) error {
		at, ok := tx.(core.AuditTx)
		if !ok {
			return errors.New("the store keeps no audit log")
		}
		return at.AuditEntries(0, func(e *audit.Entry) bool {
			if e.Time.Before(t) {
				head = audit.Head{Seq: e.Seq, Hash: e.Hash, Time: e.Time}
				return false
			}
			return true
		})
	})
	return head, err
}
