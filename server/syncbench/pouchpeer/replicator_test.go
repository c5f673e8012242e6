package pouchpeer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer/peertest"
)

// TestPouchDBReplicatorBothWays: PouchDB's own replicator pushes a local
// database's documents to the peer (the Go client then finds every one
// there) and pulls them all into an empty local database.
func TestPouchDBReplicatorBothWays(t *testing.T) {
	mods := peertest.Modules(t)
	ctx := context.Background()
	peer, err := pouchpeer.Start(ctx, pouchpeer.Options{Modules: mods, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	db, err := pouchpeer.CreateDB(ctx, &http.Client{}, peer.URL, "visits", "check")
	if err != nil {
		t.Fatal(err)
	}
	const n = 230
	var docs []pouchpeer.Doc
	for i := 0; i < n; i++ {
		id, hash := fmt.Sprintf("v-%04d", i), fmt.Sprintf("%032x", i+1)
		body, _ := json.Marshal(map[string]any{"_id": id, "_rev": "1-" + hash, "_revisions": map[string]any{"start": 1, "ids": []string{hash}}, "notes": "户主在家", "n": i})
		docs = append(docs, pouchpeer.Doc{ID: id, Rev: "1-" + hash, Body: body})
	}
	run := func(dir pouchpeer.Direction, docs []pouchpeer.Doc) int {
		t.Helper()
		work := filepath.Join(t.TempDir(), string(dir))
		if err := os.MkdirAll(work, 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := pouchpeer.StartReplicator(ctx, pouchpeer.ReplicatorOptions{Modules: mods, Dir: work, Direction: dir, RemoteDB: db.DB, Docs: docs, Batch: 50, Log: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		written, err := r.Run()
		if err != nil {
			t.Fatal(err)
		}
		return written
	}
	if got := run(pouchpeer.Push, docs); got != n {
		t.Fatalf("push wrote %d documents, want %d", got, n)
	}
	seen := map[string]bool{}
	if got, err := db.Pull(ctx, 100, func(doc map[string]json.RawMessage) error {
		var id string
		err := json.Unmarshal(doc["_id"], &id)
		seen[id] = true
		return err
	}); err != nil || got != n || len(seen) != n {
		t.Fatalf("the peer holds %d documents (%d distinct, err %v), want %d", got, len(seen), err, n)
	}
	if got := run(pouchpeer.Pull, nil); got != n {
		t.Fatalf("pull wrote %d documents, want %d", got, n)
	}
}
