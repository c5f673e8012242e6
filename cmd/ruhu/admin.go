package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/server"
)

func runUser(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: ruhu user add --data DIR --username U --password P --role ROLE --scope PREFIX[,PREFIX]")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	var in server.UserInput
	fs.StringVar(&in.Username, "username", "", "login name (a-z, 0-9, _ - .)")
	fs.StringVar(&in.Password, "password", "", "password, at least 8 characters")
	fs.StringVar(&in.Role, "role", "", "officer, team_member, township, county, auditor or admin")
	fs.StringVar(&in.DisplayName, "name", "", "display name")
	scopes := fs.String("scope", "", "comma-separated area-code prefixes")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *scopes != "" {
		in.Scopes = strings.Split(*scopes, ",")
	}
	store, err := openStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := server.AddUser(store, in, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s) created\n", in.Username, in.Role)
	return nil
}

func runDevice(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "revoke" {
		return errors.New("usage: ruhu device revoke --data DIR DEVICE_ID")
	}
	fs := flag.NewFlagSet("device revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: ruhu device revoke --data DIR DEVICE_ID")
	}
	store, err := openStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := server.RevokeDevice(store, fs.Arg(0), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "device %s revoked: its next sync fails and it wipes its local data\n", fs.Arg(0))
	return nil
}

func runBackup(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	out := fs.String("out", "", "path of the backup file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	store, err := openStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Backup(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s\n", *out)
	return nil
}
