package pgstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ruhu-dev/ruhu/server/core"
)

// maxGroup bounds the writes one group commit runs in a transaction.
const maxGroup = 200

// ErrClosed is wrapped by the ETRANSIENT error of Update after Close.
var ErrClosed = errors.New("pgstore: store closed")

// groupCommit runs a server's Update calls in groups, as boltstore does:
// a writer takes every write waiting when its last commit ended and runs
// them in one transaction, so concurrent pushes to one server share the
// sequencer's round trips and one commit (and its WAL flush) instead of
// queueing for the sequencer one by one. A write that finds a writer free
// starts at once. Up to maxWriters writers run at once, so that one write
// slow in its own work (or waiting for a blob's lock) does not hold up
// the others; servers on one database each have their own.
type groupCommit struct {
	s *Store

	mu      sync.Mutex
	queue   []*writeCall
	running int // writers at work
	closed  bool
	writers sync.WaitGroup
}

// maxWriters bounds the group writers of one server.
const maxWriters = 2

type writeCall struct {
	fn  func(core.Tx) error
	err chan error
}

// do runs fn in a group transaction and returns its error, or the
// commit's. fn may run more than once (when a write grouped with it
// fails, the others run again without it; when what the group read
// changed before commit) and must only act through tx.
func (g *groupCommit) do(fn func(core.Tx) error) error {
	c := &writeCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return transientError{ErrClosed} // the server is stopping: the tablet retries, maybe elsewhere
	}
	g.queue = append(g.queue, c)
	if g.running < maxWriters {
		g.running++
		g.writers.Add(1)
		go g.write()
	}
	g.mu.Unlock()
	return <-c.err
}

// close stops taking writes and waits for the queued ones to finish.
func (g *groupCommit) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.writers.Wait()
}

// write commits the queue, maxGroup writes at a time, until it is empty.
func (g *groupCommit) write() {
	defer g.writers.Done()
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := append([]*writeCall(nil), g.queue[:n]...)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()
		g.commit(batch)
	}
}

// failedCall is the error of the write at index i of a group: the group is
// rolled back, that write runs again alone and the others again together.
type failedCall struct {
	i   int
	err error
}

func (f failedCall) Error() string { return f.err.Error() }
func (f failedCall) Unwrap() error { return f.err }

// commit runs batch in one transaction and answers each write.
func (g *groupCommit) commit(batch []*writeCall) {
	for len(batch) > 0 {
		if len(batch) == 1 {
			batch[0].err <- g.s.update(batch[0].fn)
			return
		}
		err := g.s.update(func(tx core.Tx) error {
			for i, c := range batch {
				if err := safely(tx, c.fn); err != nil {
					return failedCall{i, err}
				}
			}
			return nil
		})
		var failed failedCall
		if !errors.As(err, &failed) {
			for _, c := range batch {
				c.err <- err
			}
			return
		}
		c := batch[failed.i]
		c.err <- g.s.update(func(tx core.Tx) error { return safely(tx, c.fn) })
		batch = append(batch[:failed.i:failed.i], batch[failed.i+1:]...)
	}
}

// safely runs one write of a group, turning a panic into its error so
// that one bad write neither stops the writer nor leaves the others
// waiting; a failure kept by a method without an error result
// (Tx.Assigned) is that write's too.
func safely(tx core.Tx, fn func(core.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if t, ok := tx.(*Tx); ok && t.err != nil {
		return t.err
	}
	return nil
}

// update runs fn in one write transaction of its own (see run).
func (s *Store) update(fn func(core.Tx) error) error {
	return s.run(true, false, fn)
}
