package pouchpeer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer/peertest"
)

// TestPushThenPullAgainstThePeer replicates documents into a fresh
// database of the real peer and back out: every document pushed comes
// back once with the same fields, and a second push of the same
// documents is refused by _revs_diff (nothing is missing any more).
func TestPushThenPullAgainstThePeer(t *testing.T) {
	mods := peertest.Modules(t)
	ctx := context.Background()
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) {
			peer, err := pouchpeer.Start(ctx, pouchpeer.Options{Modules: mods, Dir: t.TempDir(), Fsync: fsync})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			hc := &http.Client{}
			db, err := pouchpeer.CreateDB(ctx, hc, peer.URL, "visits", "push-1")
			if err != nil {
				t.Fatal(err)
			}
			const n = 250
			sent := map[string]map[string]any{}
			var docs []pouchpeer.Doc
			for i := 0; i < n; i++ {
				id, hash := fmt.Sprintf("v-%04d", i), fmt.Sprintf("%032x", i+1)
				doc := map[string]any{"_id": id, "_rev": "1-" + hash, "_revisions": map[string]any{"start": 1, "ids": []string{hash}},
					"notes": fmt.Sprintf("第%d次走访；户主在家", i), "gps": map[string]any{"lat": 31.7, "lon": 117.1}, "n": i}
				body, _ := json.Marshal(doc)
				docs = append(docs, pouchpeer.Doc{ID: id, Rev: "1-" + hash, Body: body})
				sent[id] = doc
			}
			batches, err := pouchpeer.PreparePush(docs, 100)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Push(ctx, batches); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			got, err := db.Pull(ctx, 100, func(doc map[string]json.RawMessage) error {
				var id string
				if err := json.Unmarshal(doc["_id"], &id); err != nil {
					return err
				}
				seen[id]++
				want, ok := sent[id]
				if !ok {
					return fmt.Errorf("pulled %s, never pushed", id)
				}
				for _, k := range []string{"_rev", "notes", "gps", "n"} {
					w, _ := json.Marshal(want[k])
					if !bytes.Equal(compact(t, doc[k]), compact(t, w)) {
						return fmt.Errorf("%s.%s: pulled %s, pushed %s", id, k, doc[k], w)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != n || len(seen) != n {
				t.Fatalf("pulled %d documents (%d distinct), pushed %d", got, len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Fatalf("%s pulled %d times", id, c)
				}
			}
			if err := db.Push(ctx, batches[:1]); err == nil {
				t.Fatal("a second push of the same documents passed _revs_diff")
			}
		})
	}
}

// TestStartWithoutPackages: a folder without the packages is reported as
// not installed rather than as a node crash.
func TestStartWithoutPackages(t *testing.T) {
	_, err := pouchpeer.Start(context.Background(), pouchpeer.Options{Modules: t.TempDir(), Dir: t.TempDir()})
	if !errors.Is(err, pouchpeer.ErrNotInstalled) {
		t.Fatalf("Start with empty modules: %v, want ErrNotInstalled", err)
	}
}

func compact(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return buf.Bytes()
}
