package syncengine_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// fakeTime is an injected physical clock that moves only when told to.
type fakeTime struct{ t time.Time }

func (f *fakeTime) now() time.Time            { return f.t }
func (f *fakeTime) add(d time.Duration)       { f.t = f.t.Add(d) }
func (f *fakeTime) set(t time.Time)           { f.t = t }
func newFakeTime(ms int64) *fakeTime          { return &fakeTime{t: time.UnixMilli(ms)} }
func hlcAt(ms int64, n uint16) syncengine.HLC { return syncengine.MakeHLC(ms, n) }

const t0 = int64(1_717_200_000_000) // 2024-06-01T00:00:00Z

func TestHLCPacking(t *testing.T) {
	h := syncengine.MakeHLC(t0, 7)
	if h.WallMs() != t0 || h.Logical() != 7 {
		t.Errorf("MakeHLC(%d, 7) unpacks to %d, %d", t0, h.WallMs(), h.Logical())
	}
	if got, want := h.String(), "2024-06-01T00:00:00.000Z+7"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !h.Time().Equal(time.UnixMilli(t0)) {
		t.Errorf("Time() = %v", h.Time())
	}
	if syncengine.MakeHLC(t0, 0xFFFF) >= syncengine.MakeHLC(t0+1, 0) {
		t.Error("a full counter orders after the next millisecond")
	}
	if got := syncengine.MakeHLC(-5, 3); got.WallMs() != 0 || got.Logical() != 3 {
		t.Errorf("MakeHLC(-5, 3) = %d/%d, want wall clamped to 0", got.WallMs(), got.Logical())
	}
}

func TestClockMonotonicWhenTimeGoesBack(t *testing.T) {
	ft := newFakeTime(t0)
	c := syncengine.NewClock(ft.now)
	steps := []time.Duration{0, time.Millisecond, -time.Hour, 0, 10 * time.Millisecond, -time.Millisecond, 2 * time.Hour, -2 * time.Hour}
	var last syncengine.HLC
	for i, d := range steps {
		ft.add(d)
		h := c.Now()
		if h <= last {
			t.Fatalf("step %d (%v): Now() = %v, not after %v", i, d, h, last)
		}
		last = h
	}
	if c.Last() != last {
		t.Errorf("Last() = %v, want %v", c.Last(), last)
	}
	// Time stood still or went back: the physical part stays and the counter runs.
	ft.set(time.UnixMilli(t0))
	a, b := c.Now(), c.Now()
	if b != a+1 || a.WallMs() != last.WallMs() {
		t.Errorf("after time went back: %v then %v, want the counter to advance from %v", a, b, last)
	}
	// Time moves forward again: the physical part takes over.
	ft.set(time.UnixMilli(last.WallMs() + 5))
	if h := c.Now(); h != hlcAt(last.WallMs()+5, 0) {
		t.Errorf("after time passed: %v, want %v", h, hlcAt(last.WallMs()+5, 0))
	}
}

func TestClockCounterOverflow(t *testing.T) {
	ft := newFakeTime(t0)
	c := syncengine.NewClock(ft.now)
	c.Observe(hlcAt(t0, 0xFFFE))
	if h := c.Now(); h != hlcAt(t0, 0xFFFF) {
		t.Fatalf("Now() = %v, want %v", h, hlcAt(t0, 0xFFFF))
	}
	if h := c.Now(); h != hlcAt(t0+1, 0) {
		t.Errorf("Now() after a full counter = %v, want the next millisecond %v", h, hlcAt(t0+1, 0))
	}
	// The whole counter range in one frozen millisecond stays strictly increasing.
	c2 := syncengine.NewClock(ft.now)
	prev := c2.Now()
	for i := 0; i < 1<<16+10; i++ {
		h := c2.Now()
		if h <= prev {
			t.Fatalf("call %d: %v not after %v", i, h, prev)
		}
		prev = h
	}
	if prev.WallMs() != t0+1 {
		t.Errorf("after 65546 calls in one millisecond the wall part is %d, want %d", prev.WallMs(), t0+1)
	}
}

func TestClockObserve(t *testing.T) {
	ft := newFakeTime(t0)
	c := syncengine.NewClock(ft.now)
	local := c.Now()
	remote := hlcAt(t0+60_000, 3) // a replica whose clock runs a minute ahead
	if got := c.Observe(remote); got != remote {
		t.Errorf("Observe(ahead) = %v, want %v", got, remote)
	}
	if h := c.Now(); h <= remote {
		t.Errorf("Now() after Observe = %v, want after %v", h, remote)
	}
	last := c.Last()
	if got := c.Observe(local); got != last {
		t.Errorf("Observe(behind) = %v, want unchanged %v", got, last)
	}
}

func TestClockAdmit(t *testing.T) {
	const maxAhead = 5 * time.Minute
	limitMs := t0 + maxAhead.Milliseconds()

	ft := newFakeTime(t0)
	c := syncengine.NewClock(ft.now)
	within := hlcAt(limitMs, 9)
	got, restamped := c.Admit(within, maxAhead)
	if restamped || got != within {
		t.Errorf("Admit(at the bound) = %v, %v; want %v kept", got, restamped, within)
	}
	if c.Last() != within {
		t.Errorf("Last() = %v, want the admitted stamp observed", c.Last())
	}

	c = syncengine.NewClock(ft.now)
	ahead := hlcAt(limitMs+1, 0)
	got, restamped = c.Admit(ahead, maxAhead)
	if !restamped {
		t.Fatalf("Admit(%v) kept a stamp past now+%v", ahead, maxAhead)
	}
	if got != hlcAt(t0, 0) {
		t.Errorf("restamped to %v, want the server's own time %v", got, hlcAt(t0, 0))
	}
	if c.Last() >= ahead {
		t.Errorf("the clock observed the refused stamp: Last() = %v", c.Last())
	}
	// A second far-ahead stamp in the same millisecond gets a later stamp.
	got2, _ := c.Admit(ahead+1, maxAhead)
	if got2 <= got {
		t.Errorf("second restamp %v not after %v", got2, got)
	}
	// A stamp from the past is kept as it is.
	old := hlcAt(t0-86_400_000, 0)
	if got, restamped := c.Admit(old, maxAhead); restamped || got != old {
		t.Errorf("Admit(old) = %v, %v; want %v kept", got, restamped, old)
	}
}

func TestClockReset(t *testing.T) {
	ft := newFakeTime(t0)
	c := syncengine.NewClock(ft.now)
	c.Observe(hlcAt(t0+3_600_000, 0)) // learned a stamp an hour ahead
	c.Reset(hlcAt(t0-10, 0))
	if c.Last() != hlcAt(t0-10, 0) {
		t.Errorf("Last() after Reset = %v", c.Last())
	}
	if h := c.Now(); h != hlcAt(t0, 0) {
		t.Errorf("Now() after Reset = %v, want physical time %v", h, hlcAt(t0, 0))
	}
}

func TestClockConcurrentUse(t *testing.T) {
	ft := newFakeTime(t0) // frozen: every stamp comes from the counter
	c := syncengine.NewClock(ft.now)
	const workers, each = 4, 500
	stamps := make(chan syncengine.HLC, workers*each)
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < each; j++ {
				if j%50 == 0 {
					c.Observe(hlcAt(t0, 3))
				}
				stamps <- c.Now()
			}
		}()
	}
	for i := 0; i < workers; i++ {
		<-done
	}
	close(stamps)
	seen := map[syncengine.HLC]bool{}
	for h := range stamps {
		if seen[h] {
			t.Fatalf("stamp %v issued twice", h)
		}
		seen[h] = true
	}
}
