package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"

	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
	"github.com/ruhu-dev/ruhu/server/syncbench"
)

const benchUsage = "usage: ruhu bench sync [--quick] [--store postgres://…] [--instances N] | ruhu bench report | ruhu bench photos [--quick] | ruhu bench day [--speedup N] | ruhu bench app [--households N] | ruhu bench peer [--docs N] [--runs N] [--peer-batch N] [--peer-fsync] [--peer-client go|pouchdb]"

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(benchUsage)
	}
	switch args[0] {
	case "sync":
		fs := flag.NewFlagSet("bench sync", flag.ContinueOnError)
		fs.SetOutput(stderr)
		quick := fs.Bool("quick", false, "small sizes (a smoke run, not the figures)")
		store := fs.String("store", "", "a postgres:// URL: the run makes its own databases (ruhu_bench_…) on that server and drops them; empty for bbolt files")
		instances := fs.Int("instances", 1, "servers sharing the store, each request to the next (more than one needs --store)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "ruhu-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o := syncbench.Options{Dir: dir, Log: stderr}
		if *quick {
			o = syncbench.Options{Dir: dir, Log: stderr, PushOps: 500, Tablets: 5, OpsPerTablet: 100, BigStoreRecords: 5000}
		}
		o.Store, o.Instances = *store, *instances
		res, err := syncbench.Run(ctx, o)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "report":
		// The figures are the process's: run it alone, not beside a server.
		res, err := reportbench.BenchReport(ctx)
		if err != nil {
			return err
		}
		if err := benchConsole(ctx, res); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "photos":
		// Like report, the RSS figure is the process's: run it alone.
		return runBenchPhotos(ctx, args[1:], stdout, stderr)
	case "day":
		return runBenchDay(ctx, args[1:], stdout, stderr)
	case "peer":
		// ruhu and the PouchDB peer alternate on the same 2 cores.
		return runBenchPeer(ctx, args[1:], stdout, stderr)
	case "app":
		// Chromium's CPU is throttled 4×; run it alone for the figures.
		return runBenchApp(ctx, args[1:], stdout, stderr)
	default:
		return errors.New(benchUsage)
	}
}
