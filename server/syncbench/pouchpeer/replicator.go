package pouchpeer

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

//go:embed replicate.js
var replicateScript []byte

// Direction says which way a PouchDB replicator copies.
type Direction string

// The two directions of a sync.
const (
	Push Direction = "push" // from a local PouchDB, holding the documents, to the peer
	Pull Direction = "pull" // from the peer into an empty local PouchDB
)

// ReplicatorOptions say what a PouchDB replicator (replicate.js, PouchDB's
// own replication under node) copies.
type ReplicatorOptions struct {
	Modules   string    // node_modules holding Packages (required)
	Dir       string    // working folder: the script, the documents and the local database (required, fresh)
	Direction Direction // Push or Pull
	RemoteDB  string    // the peer database's URL
	Docs      []Doc     // what the local database holds before a Push
	Batch     int       // batch_size; zero means PouchDB's default, 100
	Log       io.Writer // the replicator's stderr; nil discards it
}

// Replicator is a PouchDB replicator that has done its preparation (a
// push's local database is filled) and waits for Run.
type Replicator struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// StartReplicator prepares a replicator and returns when it is ready to
// run; Run replicates once, and the process ends after it.
func StartReplicator(ctx context.Context, o ReplicatorOptions) (*Replicator, error) {
	if err := Installed(o.Modules); err != nil {
		return nil, err
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	script := filepath.Join(o.Dir, "replicate.js")
	if err := os.WriteFile(script, replicateScript, 0o644); err != nil {
		return nil, fmt.Errorf("pouchpeer: %w", err)
	}
	docs := filepath.Join(o.Dir, "docs.json")
	if err := writeDocs(docs, o.Docs); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", script, string(o.Direction), o.RemoteDB, docs, o.Dir, strconv.Itoa(o.Batch))
	stdin, stdout, err := startNode(cmd, o.Modules, o.Log)
	if err != nil {
		return nil, err
	}
	r := &Replicator{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	var ready struct {
		Ready bool `json:"ready"`
	}
	if err := r.readLine(&ready); err != nil || !ready.Ready {
		stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("pouchpeer: the %s replicator did not get ready: %v", o.Direction, err)
	}
	return r, nil
}

// PID is the replicator process's id, for reading the CPU time it used.
func (r *Replicator) PID() int { return r.cmd.Process.Pid }

// Run replicates once and returns how many documents were written to
// the target; the process has ended when it returns.
func (r *Replicator) Run() (int, error) {
	if _, err := io.WriteString(r.stdin, "go\n"); err != nil {
		return 0, fmt.Errorf("pouchpeer: %w", err)
	}
	var done struct {
		DocsWritten int `json:"docs_written"`
	}
	err := r.readLine(&done)
	r.stdin.Close()
	if werr := r.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return 0, fmt.Errorf("%w: PouchDB replicator: %v", ErrReplication, err)
	}
	return done.DocsWritten, nil
}

// Close ends a replicator that was never run.
func (r *Replicator) Close() {
	r.stdin.Close()
	_ = r.cmd.Wait()
}

func (r *Replicator) readLine(v any) error {
	line, err := r.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

func writeDocs(path string, docs []Doc) error {
	bodies := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		bodies[i] = d.Body
	}
	raw, err := json.Marshal(bodies)
	if err != nil {
		return fmt.Errorf("pouchpeer: documents: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("pouchpeer: %w", err)
	}
	return nil
}
