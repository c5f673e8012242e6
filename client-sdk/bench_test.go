package client_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSyncPush measures pushing 1,000 queued household edits to a
// loopback server (the in-memory fake, so the figure is the client's cost:
// reading the outbox, gzip, HTTP, and recording acks in bbolt), and reports
// the compressed bytes on the wire per op, the figure that matters on 2G.
func BenchmarkSyncPush(b *testing.B) {
	const ops = 1000
	f := newFakeServer(b)
	tb := newTablet(b, f, nil)
	var wirePerOp, rawPerOp float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range ops {
			tb.save(b, "households", fmt.Sprintf("h%d-%d", i, j), map[string]any{
				"head_name": "张桂英", "status": map[string]any{"value": "exited", "year": 2019},
				"phone": "13905510001", "address": "桃园村1组11号", "member_count": 4,
			})
		}
		b.StartTimer()
		rep, err := tb.Sync(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Pushed != ops {
			b.Fatalf("pushed %d", rep.Pushed)
		}
		wirePerOp = rep.WireBytesPerOp()
		rawPerOp = float64(rep.RawOut) / float64(rep.Pushed)
	}
	b.ReportMetric(wirePerOp, "gzip-wire-B/op")
	b.ReportMetric(rawPerOp, "json-B/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*ops), "µs/pushed-op")
}
