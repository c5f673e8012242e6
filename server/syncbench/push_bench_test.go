package syncbench

import (
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// BenchmarkPushBatch1000 pushes batches of 1,000 visit ops from one tablet
// over loopback HTTP with fsync on; ns/op is per batch.
func BenchmarkPushBatch1000(b *testing.B) {
	e, err := start(filepath.Join(b.TempDir(), "b.db"), []string{"solo"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	var seq atomic.Int64
	bodies, err := encodeBatches(visitOps("solo", e.device["solo"], b.N*syncengine.MaxPushOps, &seq), syncengine.MaxPushOps)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.push("solo", bodies[i], syncengine.MaxPushOps, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPull2000 pulls pages of 2,000 visit records.
func BenchmarkPull2000(b *testing.B) {
	e, err := start(filepath.Join(b.TempDir(), "b.db"), []string{"solo"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	var seq atomic.Int64
	bodies, _ := encodeBatches(visitOps("solo", e.device["solo"], 10000, &seq), syncengine.MaxPushOps)
	for _, body := range bodies {
		if err := e.push("solo", body, syncengine.MaxPushOps, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var pr syncengine.PullResponse
		if err := e.call("GET", "/v1/sync/pull?limit=2000", e.tokens["solo"], nil, &pr); err != nil || len(pr.Records) != 2000 {
			b.Fatal(err, len(pr.Records))
		}
	}
}
