package core

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestWriteQueueAppointments: with the queue full, refused devices are
// given return times in turn — each after the queue has made room for its
// ops and after the appointments before it, at the rate the write path has
// been finishing ops (measured over busy time only) — and a device that
// comes back at its time is admitted although the queue is still full,
// while a newcomer is refused.
func TestWriteQueueAppointments(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	q := newWriteQueue(1000, func() time.Time { return now })
	if d, busy := q.busy("a"); busy {
		t.Fatalf("empty queue busy (%v)", d)
	}
	// 2,000 ops finish in one second: 2,000 ops/s.
	for i := 0; i < 4; i++ {
		if err := q.enter("a", 500); err != nil {
			t.Fatal(err)
		}
		now = now.Add(250 * time.Millisecond)
		q.leave(500)
	}
	now = now.Add(time.Hour) // an idle hour is not measured
	start := now
	for dev, n := range map[string]int{"a": 600, "b": 400} {
		if err := q.enter(dev, n); err != nil {
			t.Fatal(err)
		}
	}
	refuse := func(dev string, n int, want time.Duration) {
		t.Helper()
		err := q.enter(dev, n)
		got, ok := syncengine.RetryAfter(err)
		if syncengine.ErrorCode(err) != syncengine.ETRANSIENT || !ok || got != want {
			t.Fatalf("%s at +%v: %v (retry after %v, %v), want ETRANSIENT after %v", dev, now.Sub(start), err, got, ok, want)
		}
	}
	admit := func(dev string, n int) {
		t.Helper()
		if err := q.enter(dev, n); err != nil {
			t.Fatalf("%s at +%v: %v, want admitted", dev, now.Sub(start), err)
		}
	}
	refuse("c", 100, 50*time.Millisecond)  // room for 100 ops at 2,000/s
	refuse("d", 100, 100*time.Millisecond) // after c's turn
	if d, busy := q.busy("c"); !busy || d != 50*time.Millisecond {
		t.Fatalf("c asking again early: %v, %v; want its appointment, 50ms", d, busy)
	}
	now = now.Add(50 * time.Millisecond)
	admit("c", 100)                        // at its time, the queue full
	refuse("e", 100, 100*time.Millisecond) // a newcomer waits behind d
	now = now.Add(50 * time.Millisecond)
	admit("d", 100)
	q.leave(600)
	admit("f", 100) // room again
	// Bounds: a slow write path asks for no more than the maximum.
	q.rate = 1
	refuse("g", 1000, maxRetryAfter)
	if err := newWriteQueue(-1, time.Now).enter("a", 1<<20); err != nil {
		t.Errorf("an unbounded queue refused: %v", err)
	}
}

// TestWriteQueueBound: the bound shrinks to what the write path finishes in
// targetWait when it is slow, never below one full push, never above the
// configured limit.
func TestWriteQueueBound(t *testing.T) {
	tests := []struct {
		limit int
		rate  float64
		want  int
	}{
		{3000, 0, 3000},       // no measure yet
		{3000, 50000, 3000},   // fast: the limit
		{3000, 10000, 2000},   // 200 ms of 10,000 ops/s
		{3000, 100, minBound}, // slow: one full push
	}
	for _, tt := range tests {
		q := newWriteQueue(tt.limit, time.Now)
		q.rate = tt.rate
		if got := q.bound(); got != tt.want {
			t.Errorf("limit %d at %v ops/s: bound %d, want %d", tt.limit, tt.rate, got, tt.want)
		}
	}
}
