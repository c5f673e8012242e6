// Package pouchpeer runs the CouchDB-protocol peer that `ruhu bench peer`
// compares ruhu's sync with — PouchDB on LevelDB served by express-pouchdb
// under node, as an offline-first team would deploy it — and replicates
// with it two ways: Client, in Go, sends what a CouchDB replicator sends
// (revs_diff, bulk_docs with new_edits=false and checkpoints to push;
// changes, bulk_get and checkpoints to pull), so the peer's server cost is
// measured alone; Replicator runs PouchDB's own replicator under node from
// and into a local PouchDB, the whole client side included.
//
// The node packages are not in the repository: `make tools` installs them,
// pinned, into a cache folder (ModulesDir).
package pouchpeer

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The versions the peer pins; the Makefile's POUCHDB_VERSION,
// EXPRESS_POUCHDB_VERSION and EXPRESS_VERSION must say the same.
const (
	PouchDBVersion        = "9.0.0"
	ExpressPouchDBVersion = "4.2.0"
	ExpressVersion        = "4.22.3"
)

// Packages are the npm package specs the peer needs, exact versions.
var Packages = []string{"pouchdb@" + PouchDBVersion, "express-pouchdb@" + ExpressPouchDBVersion, "express@" + ExpressVersion}

// ErrNotInstalled is returned by Start when node or the peer's node
// packages are missing.
var ErrNotInstalled = errors.New("the PouchDB peer is not installed")

//go:embed peer.js
var script []byte

// ModulesDir is where `make tools` installs the peer's node packages:
// ruhu-tools/pouchpeer-<pouchdb>-<express-pouchdb>/node_modules in the
// user's cache folder (TOOLS_DIR of the Makefile).
func ModulesDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("pouchpeer: %w", err)
	}
	return filepath.Join(cache, "ruhu-tools", "pouchpeer-"+PouchDBVersion+"-"+ExpressPouchDBVersion, "node_modules"), nil
}

// Installed reports why the peer cannot run (wrapping ErrNotInstalled),
// or nil when node is on the PATH and modules holds the pinned packages.
func Installed(modules string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node is not on the PATH", ErrNotInstalled)
	}
	for _, pkg := range []struct{ name, version string }{{"pouchdb", PouchDBVersion}, {"express-pouchdb", ExpressPouchDBVersion}, {"express", ExpressVersion}} {
		raw, err := os.ReadFile(filepath.Join(modules, pkg.name, "package.json"))
		if err != nil {
			return fmt.Errorf("%w: no %s in %s", ErrNotInstalled, pkg.name, modules)
		}
		var meta struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil || meta.Version != pkg.version {
			return fmt.Errorf("%w: %s in %s is %q, want %s", ErrNotInstalled, pkg.name, modules, meta.Version, pkg.version)
		}
	}
	return nil
}

// Install runs npm to put the pinned packages into modules (a folder
// named node_modules). It wraps ErrNotInstalled when npm is missing.
func Install(ctx context.Context, modules string) error {
	if filepath.Base(modules) != "node_modules" {
		return fmt.Errorf("pouchpeer: install into %s: want a folder named node_modules", modules)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("%w: npm is not on the PATH", ErrNotInstalled)
	}
	args := append([]string{"install", "--no-save", "--no-audit", "--no-fund", "--prefix", filepath.Dir(modules)}, Packages...)
	if out, err := exec.CommandContext(ctx, "npm", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("npm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return Installed(modules)
}

// Options say where the peer's packages are and where it keeps its data.
type Options struct {
	Modules string // node_modules holding Packages (required)
	Dir     string // working folder: the script and the LevelDB files (required)
	// Fsync makes every LevelDB write sync to disk. Zero is PouchDB's own
	// default: writes reach the OS cache, not the disk.
	Fsync bool
	Log   io.Writer // the peer's stderr; nil discards it
}

// Peer is a running peer process.
type Peer struct {
	// URL is the peer's base URL on loopback, without a trailing slash.
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// Start runs the peer and waits until it listens. Close stops it.
func Start(ctx context.Context, o Options) (*Peer, error) {
	if err := Installed(o.Modules); err != nil {
		return nil, err
	}
	path := filepath.Join(o.Dir, "peer.js")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		return nil, fmt.Errorf("pouchpeer: %w", err)
	}
	data := filepath.Join(o.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("pouchpeer: %w", err)
	}
	args := []string{path, data}
	if o.Fsync {
		args = append(args, "--fsync")
	}
	cmd := exec.Command("node", args...)
	stdin, stdout, err := startNode(cmd, o.Modules, o.Log)
	if err != nil {
		return nil, err
	}
	p := &Peer{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		var hello struct {
			URL string `json:"url"`
		}
		if err == nil {
			err = json.Unmarshal(line, &hello)
		}
		p.URL = hello.URL
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil || p.URL == "" {
			p.Close()
			return nil, fmt.Errorf("pouchpeer: the peer did not say where it listens: %v", err)
		}
		return p, nil
	case <-timer.C:
		p.Close()
		return nil, errors.New("pouchpeer: the peer did not listen within 30 s")
	case <-ctx.Done():
		p.Close()
		return nil, ctx.Err()
	}
}

// PID is the peer process's id, for reading the CPU time it used.
func (p *Peer) PID() int { return p.cmd.Process.Pid }

// Close stops the peer: closing its stdin ends it; it is killed if it
// has not ended a few seconds later.
func (p *Peer) Close() {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startNode starts cmd (a node script) with the peer's packages on
// NODE_PATH, its stderr to log, and pipes to talk to it.
func startNode(cmd *exec.Cmd, modules string, log io.Writer) (io.WriteCloser, io.ReadCloser, error) {
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stderr = log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pouchpeer: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pouchpeer: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("pouchpeer: start node: %w", err)
	}
	return stdin, stdout, nil
}
