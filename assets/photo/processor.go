package photo

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// Processor runs Process with bounded concurrency and de-duplicates
// concurrent work on the same photo: a retried upload, or the same photo
// cited by two records, is decoded once while both callers wait for it.
// The zero value is not usable; call NewProcessor.
type Processor struct {
	opts   Options
	sem    chan struct{}
	budget *Budget

	mu       sync.Mutex
	inflight map[string]*flight
}

// flight is one Process call shared by every caller asking for the same
// sha256 while it runs.
type flight struct {
	done    chan struct{}
	res     *Processed
	err     error
	waiters int
	cancel  context.CancelFunc
}

// NewProcessor returns a Processor applying opts. concurrency bounds how
// many photos decode at once; zero means GOMAXPROCS (decoding is CPU bound).
// Memory is bounded apart from it: every decode first takes what it needs
// from one Budget of opts.MemoryBudget bytes shared by all workers.
func NewProcessor(opts Options, concurrency int) *Processor {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	opts = opts.withDefaults()
	return &Processor{
		opts:     opts,
		sem:      make(chan struct{}, concurrency),
		budget:   NewBudget(opts.MemoryBudget),
		inflight: make(map[string]*flight),
	}
}

// Process processes data, whose sha256 (hex) is sha, as the package-level
// Process does. Callers asking for the same sha while a call runs share its
// result: sha must really be the hash of data (the store verified it), and
// the shared *Processed must not be modified. When ctx ends the caller
// stops waiting; the work itself is abandoned only when no caller is left
// and it has not started decoding.
func (p *Processor) Process(ctx context.Context, sha string, data []byte) (*Processed, error) {
	p.mu.Lock()
	f, ok := p.inflight[sha]
	if !ok {
		workCtx, cancel := context.WithCancel(context.Background())
		f = &flight{done: make(chan struct{}), cancel: cancel}
		p.inflight[sha] = f
		go p.run(workCtx, sha, data, f)
	}
	f.waiters++
	p.mu.Unlock()

	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		p.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if p.inflight[sha] == f {
				delete(p.inflight, sha) // a later caller starts afresh
			}
		}
		p.mu.Unlock()
		return nil, fmt.Errorf("process photo %s: %w", sha, ctx.Err())
	}
}

func (p *Processor) run(ctx context.Context, sha string, data []byte, f *flight) {
	defer func() {
		p.mu.Lock()
		if p.inflight[sha] == f {
			delete(p.inflight, sha)
		}
		p.mu.Unlock()
		f.cancel()
		close(f.done)
	}()
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		f.err = ctx.Err()
		return
	}
	defer func() { <-p.sem }()
	if ctx.Err() != nil {
		f.err = ctx.Err()
		return
	}
	f.res, f.err = p.processWithinBudget(ctx, data)
	if f.err != nil {
		f.err = fmt.Errorf("process photo %s: %w", sha, f.err)
	}
}

// processWithinBudget reads the header, takes the decode's cost from the
// budget (waiting for other decodes to finish when it does not fit now),
// processes, and gives the memory back. Refusals by header (type, pixels,
// corrupt header, over the whole budget) cost no decoding.
func (p *Processor) processWithinBudget(ctx context.Context, data []byte) (*Processed, error) {
	format, cfg, err := Check(data, p.opts)
	if err != nil {
		return nil, err
	}
	cost := DecodeCost(format, cfg, data, p.opts)
	if err := p.budget.Acquire(ctx, cost); err != nil {
		return nil, fmt.Errorf("%dx%d %s: %w", cfg.Width, cfg.Height, format, err)
	}
	defer p.budget.Release(cost)
	return Process(data, p.opts)
}
