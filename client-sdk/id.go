package client

import (
	"crypto/rand"
	"time"
)

// crockford is the ULID alphabet: sortable, no I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newULID returns a 26-character ULID: 48 bits of milliseconds then 80
// random bits, so ids made later sort later and two tablets never collide.
func newULID(t time.Time) string {
	var b [16]byte
	ms := uint64(max(t.UnixMilli(), 0))
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	var out [26]byte
	// 128 bits → 26 base32 digits (the first digit holds 3 bits).
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// NewID returns a new record or op id: a ULID stamped with the tablet's
// best estimate of server time, so ids sort by creation time even on a
// tablet whose clock is wrong once it has synced.
func (c *Client) NewID() string { return newULID(c.physicalNow()) }

// Now is the tablet's best estimate of server time: the device clock
// corrected by the offset measured at the last sync (the device clock alone
// before the first one). Use it for times officers record, like visited_at.
func (c *Client) Now() time.Time { return c.physicalNow() }
