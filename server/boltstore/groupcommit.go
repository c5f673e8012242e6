package boltstore

import (
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// maxGroup bounds the writes one group commit runs in a transaction.
const maxGroup = 1000

// groupCommit runs the store's batched writes (Store.Update) on one
// goroutine: it takes every write waiting when the last commit ended and
// runs them in one transaction, so concurrent pushes share a commit and
// its fsync, and a write that finds the store idle starts at once. (bbolt's
// own Batch waits a fixed delay for company, which costs a lone tablet that
// delay on every batch, and under load commits whatever came within it.)
type groupCommit struct {
	db *bolt.DB

	mu     sync.Mutex
	queue  []*writeCall
	closed bool
	wake   chan struct{} // a token when the queue got work; closed by close
	done   chan struct{} // closed when the writer has stopped
}

type writeCall struct {
	fn  func(*Tx) error
	err chan error
}

func newGroupCommit(db *bolt.DB) *groupCommit {
	g := &groupCommit{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go g.run()
	return g
}

// do runs fn in a group transaction and returns its error, or the
// commit's. fn may run more than once (when a write grouped with it
// fails, the others run again without it) and must only act through tx.
func (g *groupCommit) do(fn func(*Tx) error) error {
	c := &writeCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return bolterrors.ErrDatabaseNotOpen
	}
	g.queue = append(g.queue, c)
	select {
	case g.wake <- struct{}{}:
	default: // a token is already waiting
	}
	g.mu.Unlock()
	return <-c.err
}

// close stops taking writes, waits for the queued ones to finish and for
// the writer to stop.
func (g *groupCommit) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.wake)
	}
	g.mu.Unlock()
	<-g.done
}

func (g *groupCommit) run() {
	defer close(g.done)
	for range g.wake {
		g.drain()
	}
	g.drain()
}

// drain commits the queue, maxGroup writes at a time, until it is empty.
func (g *groupCommit) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		batch := append([]*writeCall(nil), g.queue[:n]...)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()
		if n == 0 {
			return
		}
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

// commit runs batch in one transaction and answers each write.
func (g *groupCommit) commit(batch []*writeCall) {
	for len(batch) > 0 {
		err := g.db.Update(func(btx *bolt.Tx) error {
			for i, c := range batch {
				if err := safely(btx, c.fn); err != nil {
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
		if len(batch) == 1 {
			c.err <- failed.err
			return
		}
		c.err <- g.db.Update(func(btx *bolt.Tx) error { return safely(btx, c.fn) })
		batch = append(batch[:failed.i:failed.i], batch[failed.i+1:]...)
	}
}

// safely runs one write, turning a panic into its error so that one bad
// write neither stops the writer nor leaves the others waiting.
func safely(btx *bolt.Tx, fn func(*Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return runWrite(btx, fn)
}
