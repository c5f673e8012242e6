// Package faultproxy is a TCP proxy on loopback that makes a link as bad
// as a village's 2G: it limits bandwidth and cuts connections at random
// byte offsets. Upload tests and the upload benchmark put it between a
// client and the server.
package faultproxy

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options shape the link. The zero value forwards faithfully.
type Options struct {
	// Target is host:port of the server.
	Target string
	// BytesPerSecond limits each direction, shared by all connections.
	// Zero means unlimited.
	BytesPerSecond int
	// CutMin and CutMax: each connection is cut after a random number of
	// client-to-server bytes in [CutMin, CutMax]: exactly that many are
	// forwarded, then both sides are closed. CutMax zero never cuts.
	CutMin, CutMax int64
	// Seed makes the cut points reproducible.
	Seed uint64
}

// Proxy is a running proxy.
type Proxy struct {
	opts     Options
	ln       net.Listener
	up, down *limiter

	mu      sync.Mutex
	rng     *rand.Rand
	conns   map[net.Conn]struct{}
	cutting bool

	cuts     atomic.Int64
	upstream atomic.Int64
	wg       sync.WaitGroup
}

// Start listens on a free loopback port and forwards to opts.Target.
func Start(opts Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{opts: opts, ln: ln, up: newLimiter(opts.BytesPerSecond), down: newLimiter(opts.BytesPerSecond),
		rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), conns: map[net.Conn]struct{}{}, cutting: opts.CutMax > 0}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is http:// + Addr.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Cuts is how many connections were cut so far.
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

// Upstream is how many client-to-server bytes reached the server.
func (p *Proxy) Upstream() int64 { return p.upstream.Load() }

// SetCutting turns cutting on or off for connections opened from now on.
func (p *Proxy) SetCutting(on bool) {
	p.mu.Lock()
	p.cutting = on && p.opts.CutMax > 0
	p.mu.Unlock()
}

// SetTarget sends connections opened from now on to another server (one
// restarted on a new port).
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.opts.Target = target
	p.mu.Unlock()
}

// Close stops listening, closes every connection and waits.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.opts.Target
		budget := int64(-1)
		if p.cutting {
			budget = p.opts.CutMin + p.rng.Int64N(p.opts.CutMax-p.opts.CutMin+1)
		}
		p.mu.Unlock()
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, server)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(client, server, budget)
		}()
	}
}

func (p *Proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
	p.mu.Unlock()
}

// pipe copies both ways until either side ends or the budget of upstream
// bytes runs out; then both connections close.
func (p *Proxy) pipe(client, server net.Conn, budget int64) {
	defer p.untrack(client, server)
	done := make(chan struct{}, 2)
	go func() {
		cut := p.copy(server, client, p.up, budget, &p.upstream)
		if cut {
			p.cuts.Add(1)
		}
		done <- struct{}{}
	}()
	go func() {
		p.copy(client, server, p.down, -1, nil)
		done <- struct{}{}
	}()
	<-done
	client.Close()
	server.Close()
	<-done
}

// copy forwards src to dst under the limiter; with budget >= 0 it forwards
// exactly budget bytes and reports a cut.
func (p *Proxy) copy(dst, src net.Conn, lim *limiter, budget int64, count *atomic.Int64) (cut bool) {
	buf := make([]byte, lim.piece())
	for {
		want := len(buf)
		if budget >= 0 && int64(want) > budget {
			want = int(budget)
		}
		if want == 0 {
			return true
		}
		n, err := src.Read(buf[:want])
		if n > 0 {
			lim.wait(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
			if count != nil {
				count.Add(int64(n))
			}
			if budget >= 0 {
				budget -= int64(n)
			}
		}
		if err != nil {
			return false // EOF, a closed side, or a reset: the pipe ends
		}
	}
}

// limiter paces bytes to a rate, shared by the connections of one
// direction.
type limiter struct {
	rate float64 // bytes per second; 0 unlimited
	mu   sync.Mutex
	next time.Time
}

func newLimiter(bps int) *limiter { return &limiter{rate: float64(bps)} }

// piece is the read size: small enough that pacing is smooth.
func (l *limiter) piece() int {
	if l.rate == 0 {
		return 32 << 10
	}
	return max(64, min(int(l.rate/20), 32<<10))
}

func (l *limiter) wait(n int) {
	if l.rate == 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	until := l.next
	l.mu.Unlock()
	time.Sleep(time.Until(until))
}
