// Command ruhu is the one binary of ruhu: the server, the tablet CLI, the
// demo, imports, reports and benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	applyGCPolicy(os.Args[1:], os.Getenv)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "ruhu:", err)
		if code := syncengine.ErrorCode(err); code != "" && code != syncengine.EINTERNAL {
			fmt.Fprintln(os.Stderr, "code:", code)
		}
		os.Exit(1)
	}
}

const usage = `usage: ruhu <command> [flags]

commands:
  serve            run the server (bbolt file + local blob folder by default)
  demo             run the server seeded with a demo county and two tablets syncing to it
  tablet           the tablet CLI (login, enroll, households, visit add, household set, photo attach,
                   signature capture, uploads, sync, status, rejected)
  user add         create a user (on a stopped server's data dir)
  user set         change a user's role, scopes or name, or disable / enable it (audited)
  device revoke    revoke a lost tablet (on a stopped server's data dir; while it runs use the admin API)
  backup           write a consistent copy of the store that tablets will fully resync against
  report           compliance roll-up of an area for a period (on a stopped server's data dir)
  import households  import a household register XLSX (on a stopped server's data dir)
  audit verify     recompute the hash-chained audit log and name the first bad entry (stopped server)
  audit anchor     print the day's audit head hash, for the county to keep outside the system
  rebuild-summaries  recompute the report projection, visit indexes and visit summaries from the records (stopped server)
  migrate bbolt-to-postgres  move a stopped server's bbolt store (--data) into an empty PostgreSQL database (--store), counts and contents checked
  bench sync       run the sync benchmark and print JSON figures
  bench report     run the report benchmark (a county: 100,000 households) and print JSON figures
  bench photos     run the photo processing and 2G upload benchmark and print JSON figures
`

// run is main without the process: tests call it with their own args,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr, nil)
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "tablet":
		return runTablet(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], getenv, stdout, stderr)
	case "device":
		return runDevice(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout, stderr)
	case "report":
		return runReport(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "rebuild-summaries":
		return runRebuildSummaries(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
