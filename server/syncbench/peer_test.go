package syncbench_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench"
	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer/peertest"
)

// TestPeerComparisonSmall runs the comparison with the real PouchDB peer
// at a small size: both sides must move every document in every run (the
// figures are not judged here), with the Go client at ruhu's batch sizes
// and PouchDB's, and with PouchDB's own replicator.
func TestPeerComparisonSmall(t *testing.T) {
	mods := peertest.Modules(t)
	for _, c := range []struct {
		client string
		batch  int
	}{{syncbench.PeerClientGo, 0}, {syncbench.PeerClientGo, 100}, {syncbench.PeerClientPouchDB, 0}} {
		res, err := syncbench.RunPeer(context.Background(), syncbench.PeerOptions{Dir: t.TempDir(), Modules: mods, Docs: 250, Runs: 2, PeerBatch: c.batch, PeerClient: c.client})
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]syncbench.Spread{"peer push": res.PeerPush, "peer pull": res.PeerPull, "ruhu push": res.RuhuPush, "ruhu pull": res.RuhuPull} {
			if len(s.Runs) != 2 || s.Min <= 0 || s.Median < s.Min {
				t.Fatalf("%s: %+v, want 2 runs", name, s)
			}
		}
		if res.PushRatio.Median <= 0 || res.PullRatio.Median <= 0 {
			t.Fatalf("ratios %+v %+v", res.PushRatio, res.PullRatio)
		}
		if runtime.GOOS == "linux" && (res.PeerPushCPU == nil || res.RuhuPullCPU == nil || res.PushCPURatio == nil || len(res.PeerPullCPU.Runs) != 2) {
			t.Fatalf("no CPU figures on Linux: %+v", res)
		}
		raw, _ := json.Marshal(res)
		if res.PeerClient != c.client {
			t.Fatalf("peer_client %q, want %q", res.PeerClient, c.client)
		}
		t.Logf("%s, batch %d: %s", c.client, c.batch, raw)
	}
}
