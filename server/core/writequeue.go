package core

import (
	"sync"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// DefaultMaxQueuedOps is the write queue's bound when Options.MaxQueuedOps
// is zero: about a tenth of a second of the write path's throughput on a
// small server, so an admitted push waits little for the ones before it.
const DefaultMaxQueuedOps = 3000

// Bounds of the wait a refused push is told to take.
const (
	minRetryAfter = 50 * time.Millisecond
	maxRetryAfter = 10 * time.Second
)

// writeQueue bounds the ops that are between admission and the end of
// their write transaction. Writes are serialised by the store, so beyond a
// point more pushes at once only make every push wait longer; past the
// bound a push is refused at once with the time the queue needs to drain,
// and the tablet comes back then.
type writeQueue struct {
	limit int // <= 0: no bound
	now   func() time.Time

	mu     sync.Mutex
	queued int // ops admitted and not yet written (or refused)
	// done counts the ops finished since windowStart; every windowLen
	// they fold into rate, the ops per second the write path finishes.
	done        int
	windowStart time.Time
	rate        float64
}

const windowLen = 250 * time.Millisecond

func newWriteQueue(limit int, now func() time.Time) *writeQueue {
	return &writeQueue{limit: limit, now: now}
}

// busy reports whether the queue is full, and the wait to announce. It
// takes nothing: the push handler asks before it decodes a body, so a
// refused push costs the server almost nothing.
func (q *writeQueue) busy() (time.Duration, bool) {
	if q.limit <= 0 {
		return 0, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued < q.limit {
		return 0, false
	}
	return q.drainTime(), true
}

// enter takes room for n ops, or refuses with an ETRANSIENT
// *syncengine.RetryAfterError when the queue is full. A batch is never
// refused by an empty queue, however large. Each successful enter must be
// followed by one leave(n).
func (q *writeQueue) enter(n int) error {
	if q.limit <= 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued > 0 && q.queued+n > q.limit {
		return busyError(q.drainTime())
	}
	if q.queued == 0 {
		// The write path was idle: the rate is measured over busy time
		// only, so a quiet hour does not read as a slow one.
		q.done, q.windowStart = 0, q.now()
	}
	q.queued += n
	return nil
}

// leave gives back the room of n ops whose push has ended.
func (q *writeQueue) leave(n int) {
	if q.limit <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued -= n
	now := q.now()
	q.done += n
	if d := now.Sub(q.windowStart); d >= windowLen {
		r := float64(q.done) / d.Seconds()
		if q.rate == 0 {
			q.rate = r
		} else {
			q.rate = 0.7*q.rate + 0.3*r
		}
		q.done, q.windowStart = 0, now
	}
}

// drainTime is how long the queued ops take at the measured rate. Called
// with mu held.
func (q *writeQueue) drainTime() time.Duration {
	d := 250 * time.Millisecond // no measure yet
	if q.rate > 0 {
		d = time.Duration(float64(q.queued) / q.rate * float64(time.Second))
	}
	return min(max(d, minRetryAfter), maxRetryAfter)
}

func busyError(after time.Duration) error {
	return &syncengine.RetryAfterError{
		Err:   syncengine.Errorf(syncengine.ETRANSIENT, "服务器繁忙，请稍后重试"),
		After: after,
	}
}

// PushBusy reports whether the write queue is full now, and how long a
// push should wait before it tries again. The push handler asks before it
// reads a body; Push itself refuses a batch that does not fit
// (syncengine.RetryAfterError) whatever was answered here.
func (c *Core) PushBusy() (time.Duration, bool) {
	return c.queue.busy()
}
