package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
)

const importUsage = "usage: ruhu import households --data DIR [--as USER] FILE.xlsx"

// cliImporter is the author of imports run from the command line without
// --as: whoever holds the data folder holds every area.
const cliImporter = "import-cli"

// runImport imports a household register into the store of a stopped
// server, as the HTTP endpoint does, and prints what happened row by row.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "households" {
		return errors.New(importUsage)
	}
	fs := flag.NewFlagSet("import households", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	as := fs.String("as", "", "import as this township, county or admin user (their scope bounds the villages); default: every area, authored "+cliImporter)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(importUsage)
	}
	file, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open register: %w", err)
	}
	defer file.Close()
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	store, err := openExistingStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	who := core.Caller{User: cliImporter, Role: auth.RoleAdmin, Scopes: []string{""}}
	if *as != "" {
		if who, err = importerOf(store, *as); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	res, err := core.New(log, store.Core(), reg, core.Options{}).ImportHouseholds(ctx, who, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "导入完成：新增或更新 %d 户，未变化 %d 户，有问题 %d 处\n", res.Imported, res.Unchanged, len(res.Problems))
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "  第%d行 %s：%s（%s）\n", p.Row, p.Column, p.Reason, p.Code)
	}
	return nil
}

// importerOf returns the import identity of a stored, active user (the
// core refuses roles that may not import).
func importerOf(store *boltstore.Store, username string) (core.Caller, error) {
	var u *boltstore.User
	if err := store.View(func(tx *boltstore.Tx) (err error) { u, err = tx.User(username); return err }); err != nil {
		return core.Caller{}, err
	}
	if u == nil || u.Disabled {
		return core.Caller{}, fmt.Errorf("--as: no active user %q", username)
	}
	return core.Caller{User: u.Username, Role: u.Role, Scopes: u.Scopes}, nil
}
