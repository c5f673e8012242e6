package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ruhu-dev/ruhu/server/syncbench"
	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
)

// runBenchPeer is `ruhu bench peer`: push and pull the same visits to ruhu
// and to the PouchDB/express-pouchdb peer, alternating, and print the
// figures and ratios as JSON.
func runBenchPeer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	docs := fs.Int("docs", 10000, "visits pushed and pulled in each run")
	runs := fs.Int("runs", 3, "runs of each side, alternating")
	batch := fs.Int("peer-batch", 0, "documents per _bulk_docs and _changes page (0: ruhu's own sizes; 100 is PouchDB's default)")
	fsync := fs.Bool("peer-fsync", false, "the peer syncs every LevelDB write to disk, as ruhu's store does each commit (PouchDB's default does not)")
	client := fs.String("peer-client", syncbench.PeerClientGo, "who replicates with the peer: go (a CouchDB replication client in this process) or pouchdb (PouchDB 9's own replicator under node, from and into a local PouchDB)")
	modules := fs.String("node-modules", "", "node_modules holding the peer's pinned packages (default: the tools cache `make tools` fills)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modules == "" {
		dir, err := pouchpeer.ModulesDir()
		if err != nil {
			return err
		}
		*modules = dir
	}
	if err := pouchpeer.Installed(*modules); err != nil {
		if errors.Is(err, pouchpeer.ErrNotInstalled) {
			return fmt.Errorf("%w\ninstall it with `make tools` (node and npm from Debian, then %v into %s)", err, pouchpeer.Packages, *modules)
		}
		return err
	}
	dir, err := os.MkdirTemp("", "ruhu-bench-peer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := syncbench.RunPeer(ctx, syncbench.PeerOptions{Dir: dir, Modules: *modules, Docs: *docs, Runs: *runs, PeerBatch: *batch, PeerFsync: *fsync, PeerClient: *client, Log: stderr})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
