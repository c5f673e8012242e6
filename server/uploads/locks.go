package uploads

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// uploadLocks serialises requests per upload id, as tus requires. A new
// request for an upload interrupts the one holding it: after a dropped
// connection the server may still be waiting for the rest of a PATCH body
// that will never come, and the client's HEAD must not wait for a read
// timeout to learn the offset.
type uploadLocks struct {
	mu   sync.Mutex
	held map[string]*lockHolder
}

type lockHolder struct {
	done      chan struct{}
	interrupt func() // stops the holder's body read; nil when it reads none
}

// acquire takes the lock of upload id, interrupting its holder and waiting
// up to wait for it. interrupt is how a later request stops this one (nil
// when this request reads no body). It answers 423 Locked (ECONFLICT)
// when the holder does not let go in time.
func (l *uploadLocks) acquire(ctx context.Context, id string, wait time.Duration, interrupt func()) (release func(), err error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]*lockHolder{}
		}
		h := l.held[id]
		if h == nil {
			mine := &lockHolder{done: make(chan struct{}), interrupt: interrupt}
			l.held[id] = mine
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, id)
				l.mu.Unlock()
				close(mine.done)
			}, nil
		}
		stop := h.interrupt
		h.interrupt = nil // interrupt once
		l.mu.Unlock()
		if stop != nil {
			stop()
		}
		select {
		case <-h.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fail(fiber.StatusLocked, syncengine.ECONFLICT, "upload %s is busy with another request; retry", id)
		}
	}
}

// tryAcquire takes the lock only if nobody holds it.
func (l *uploadLocks) tryAcquire(id string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]*lockHolder{}
	}
	if l.held[id] != nil {
		return nil, false
	}
	mine := &lockHolder{done: make(chan struct{})}
	l.held[id] = mine
	return func() {
		l.mu.Lock()
		delete(l.held, id)
		l.mu.Unlock()
		close(mine.done)
	}, true
}
