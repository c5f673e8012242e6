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

// targetWait is how long an admitted push should wait for the ops queued
// before it: the queue's bound shrinks to what the write path finishes in
// that time when it is slower than the bound assumes (a loaded machine), so
// admitted pushes keep answering quickly and the rest come back later.
const targetWait = 200 * time.Millisecond

// minBound is the least the bound shrinks to: a full push of ops.
const minBound = syncengine.MaxPushOps

// appointmentGrace is how long past its appointment a refused device is
// still admitted first; later it queues like anyone.
const appointmentGrace = 30 * time.Second

// writeQueue bounds the ops that are between admission and the end of
// their write transaction. Writes are serialised by the store, so beyond a
// point more pushes at once only make every push wait longer; past the
// bound a push is refused at once with a retry-after, and the tablet comes
// back then.
//
// The retry-after is an appointment: refused pushes are given times in
// turn, each after the queue has drained by the ops of those before it, at
// the rate the write path has been finishing ops, and a device that comes
// back at its time is admitted even when the queue is full. Without it the
// tablets that were never refused, sending their next batch the moment
// the last is acked, would keep the queue full and a refused tablet could
// be refused again and again.
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
	avgBatch    float64 // ops per push, moving average
	// lastSlot is when the last appointment given ends: the next one
	// starts there (or later).
	lastSlot     time.Time
	appointments map[string]time.Time // device -> when it may come back
}

const windowLen = 250 * time.Millisecond

func newWriteQueue(limit int, now func() time.Time) *writeQueue {
	return &writeQueue{limit: limit, now: now, appointments: map[string]time.Time{}}
}

// busy reports whether a push from device would be refused now, and with
// what wait; a refusal books the device's appointment. The push handler
// asks before it decodes a body, so a refused push costs the server almost
// nothing; the size of its batch is taken as the recent average.
func (q *writeQueue) busy(device string) (time.Duration, bool) {
	if q.limit <= 0 {
		return 0, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	n := max(int(q.avgBatch), 1)
	if q.admits(device, n, now) {
		return 0, false
	}
	return q.appoint(device, n, now), true
}

// enter takes room for n ops from device, or refuses with an ETRANSIENT
// *syncengine.RetryAfterError when the queue is full. A batch is never
// refused by an empty queue, however large, nor when its device comes
// back at its appointment. Each successful enter must be followed by one
// leave(n).
func (q *writeQueue) enter(device string, n int) error {
	if q.limit <= 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if !q.admits(device, n, now) {
		return busyError(q.appoint(device, n, now))
	}
	delete(q.appointments, device)
	if q.queued == 0 {
		// The write path was idle: the rate is measured over busy time
		// only, so a quiet hour does not read as a slow one.
		q.done, q.windowStart = 0, now
	}
	q.queued += n
	if q.avgBatch == 0 {
		q.avgBatch = float64(n)
	} else {
		q.avgBatch = 0.9*q.avgBatch + 0.1*float64(n)
	}
	return nil
}

// bound is the most ops the queue holds now: limit, or fewer when the
// write path is slow (see targetWait). Called with mu held.
func (q *writeQueue) bound() int {
	if q.rate <= 0 {
		return q.limit
	}
	return min(q.limit, max(int(q.rate*targetWait.Seconds()), minBound))
}

// admits reports whether n ops from device may enter now: when they fit,
// or when the device comes back at its appointment and the queue holds
// less than twice its bound (the write path may have been slower than
// measured; then the device gets a later time). Called with mu held.
func (q *writeQueue) admits(device string, n int, now time.Time) bool {
	bound := q.bound()
	if q.queued == 0 || q.queued+n <= bound {
		return true
	}
	at, ok := q.appointments[device]
	return ok && !now.Before(at) && now.Sub(at) < appointmentGrace && q.queued+n <= 2*bound
}

// appoint books device's return after the appointments already given and
// after the queue has made room for its n ops, and returns the wait.
// Called with mu held.
func (q *writeQueue) appoint(device string, n int, now time.Time) time.Duration {
	if at, ok := q.appointments[device]; ok && at.After(now) {
		return max(at.Sub(now), minRetryAfter) // asked again early: the same time
	}
	rate := q.rate
	if rate <= 0 {
		rate = float64(q.limit) / targetWait.Seconds() // no measure yet
	}
	ops := func(k int) time.Duration { return time.Duration(float64(k) / rate * float64(time.Second)) }
	at := now.Add(ops(q.queued + n - q.bound()))
	if q.lastSlot.After(at) {
		at = q.lastSlot
	}
	at = minTime(maxTime(at, now.Add(minRetryAfter)), now.Add(maxRetryAfter))
	q.lastSlot = at.Add(ops(n))
	if len(q.appointments) >= 100000 {
		for d, t := range q.appointments {
			if now.Sub(t) >= appointmentGrace {
				delete(q.appointments, d)
			}
		}
	}
	if device != "" {
		q.appointments[device] = at
	}
	return at.Sub(now)
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

func busyError(after time.Duration) error {
	return &syncengine.RetryAfterError{
		Err:   syncengine.Errorf(syncengine.ETRANSIENT, "服务器繁忙，请稍后重试"),
		After: after,
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// PushBusy reports whether a push from caller's device would be refused
// now because the write queue is full, and how long the device should wait
// before it comes back (it is admitted first then). The push handler asks
// before it reads a body; Push itself refuses a batch that does not fit
// (syncengine.RetryAfterError) whatever was answered here.
func (c *Core) PushBusy(caller Caller) (time.Duration, bool) {
	return c.queue.busy(deviceKey(caller))
}

// deviceKey names the pusher for the write queue's appointments.
func deviceKey(caller Caller) string {
	if caller.Device != "" {
		return caller.Device
	}
	return "user:" + caller.User
}
