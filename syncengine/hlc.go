package syncengine

import (
	"fmt"
	"sync"
	"time"
)

// HLC is a hybrid logical clock timestamp: milliseconds since the Unix epoch
// in the high 48 bits and a logical counter in the low 16. Ordering HLCs as
// integers orders them by (wall time, counter).
type HLC uint64

const logicalBits = 16

// MaxHLC is the greatest stamp an op may carry: the last millisecond of
// year 9999 UTC, with the counter full. Later wall times cannot be written
// as RFC 3339 (encoding/json refuses to marshal such a time), and a stamp
// near 2^64 would wrap the clock when a replica borrows the next
// millisecond after it. Op.Validate refuses anything greater.
const MaxHLC = HLC(253402300799999<<logicalBits | (1<<logicalBits - 1))

// MakeHLC packs a wall time in milliseconds and a logical counter.
func MakeHLC(wallMs int64, logical uint16) HLC {
	if wallMs < 0 {
		wallMs = 0
	}
	return HLC(uint64(wallMs)<<logicalBits | uint64(logical))
}

// WallMs returns the physical part in milliseconds since the Unix epoch.
func (h HLC) WallMs() int64 { return int64(h >> logicalBits) }

// Logical returns the logical counter.
func (h HLC) Logical() uint16 { return uint16(h & (1<<logicalBits - 1)) }

// Time returns the physical part as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.WallMs()).UTC() }

// String formats h as "RFC3339.ms+counter" for logs and the API.
func (h HLC) String() string {
	return fmt.Sprintf("%s+%d", h.Time().Format("2006-01-02T15:04:05.000Z"), h.Logical())
}

// Clock is a hybrid logical clock. Its physical source is injected so tests
// run on fixed time and tablets can use their server-corrected time. It is
// safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  func() time.Time
	last HLC
}

// NewClock returns a clock reading physical time from now.
func NewClock(now func() time.Time) *Clock { return &Clock{now: now} }

// Now returns a timestamp greater than every one this clock has returned or
// observed.
func (c *Clock) Now() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.next(c.last)
	return c.last
}

func (c *Clock) next(after HLC) HLC {
	wall := c.now().UnixMilli()
	if wall > after.WallMs() {
		return MakeHLC(wall, 0)
	}
	if after.Logical() == 1<<logicalBits-1 {
		// Counter exhausted within one millisecond: borrow the next one.
		return MakeHLC(after.WallMs()+1, 0)
	}
	return after + 1
}

// Observe merges a timestamp received from another replica, so later local
// timestamps order after it. It returns the clock's new last value.
func (c *Clock) Observe(remote HLC) HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.last {
		c.last = remote
	}
	return c.last
}

// Last returns the greatest timestamp issued or observed so far.
func (c *Clock) Last() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Reset sets the clock's memory to h even if that moves it backwards. A
// tablet does this after the server told it that its own clock ran far ahead:
// the server restamped those operations, so there is nothing to stay above.
func (c *Clock) Reset(h HLC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = h
}

// Admit decides the timestamp an incoming operation keeps on the server. An
// operation stamped more than maxAhead past the server's physical time would
// otherwise win every merge until real time caught up, so it is restamped
// with the server's clock and reported as restamped. Otherwise the clock
// observes the stamp and the operation keeps it.
func (c *Clock) Admit(stamp HLC, maxAhead time.Duration) (HLC, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.now().Add(maxAhead).UnixMilli()
	if stamp.WallMs() > limit {
		c.last = c.next(c.last)
		return c.last, true
	}
	if stamp > c.last {
		c.last = stamp
	}
	return stamp, false
}
