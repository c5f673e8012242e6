package core

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestWriteQueueRetryAfter: the wait announced is the time the queued ops
// take at the rate the write path has been finishing ops (measured over
// busy time only), within its bounds.
func TestWriteQueueRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	q := newWriteQueue(1000, func() time.Time { return now })
	if d, busy := q.busy(); busy {
		t.Fatalf("empty queue busy (%v)", d)
	}
	// 2,000 ops finish in one second: 2,000 ops/s.
	for i := 0; i < 4; i++ {
		if err := q.enter(500); err != nil {
			t.Fatal(err)
		}
		now = now.Add(250 * time.Millisecond)
		q.leave(500)
	}
	// An idle hour is not measured.
	now = now.Add(time.Hour)
	for _, n := range []int{600, 400} {
		if err := q.enter(n); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		n    int
		want time.Duration
	}{
		{"one op more", 1, 500 * time.Millisecond}, // 1,000 queued at 2,000/s
		{"a whole batch", 1000, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		err := q.enter(tt.n)
		got, ok := syncengine.RetryAfter(err)
		if syncengine.ErrorCode(err) != syncengine.ETRANSIENT || !ok || got != tt.want {
			t.Errorf("%s: %v (retry after %v, %v), want ETRANSIENT after %v", tt.name, err, got, ok, tt.want)
		}
	}
	if d, busy := q.busy(); !busy || d != 500*time.Millisecond {
		t.Errorf("busy() = %v, %v; want true, 500ms", d, busy)
	}
	q.leave(400)
	if err := q.enter(400); err != nil {
		t.Errorf("room given back is not taken again: %v", err)
	}
	// Bounds: a nearly empty queue still asks for the minimum, a slow
	// write path no more than the maximum.
	q.queued, q.rate = 1, 2000
	if d := q.drainTime(); d != minRetryAfter {
		t.Errorf("drain of one op = %v, want %v", d, minRetryAfter)
	}
	q.queued, q.rate = 1000, 1
	if d := q.drainTime(); d != maxRetryAfter {
		t.Errorf("drain at 1 op/s = %v, want %v", d, maxRetryAfter)
	}
	if err := newWriteQueue(-1, time.Now).enter(1 << 20); err != nil {
		t.Errorf("an unbounded queue refused: %v", err)
	}
}
