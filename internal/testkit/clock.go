package testkit

import (
	"sync"
	"time"
)

// Epoch is the instant a Clock starts at unless told otherwise.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a clock tests move by hand; its Now is what a Config's Now
// takes. A fixed clock (NewClock) stands still between moves; a wall
// clock (NewWallClock) runs with the real time, shifted by what the test
// moved it. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	t    time.Time     // a fixed clock's time
	wall bool          // runs with time.Now
	off  time.Duration // a wall clock's shift
}

// NewWallClock returns a clock at the real time, for servers that real
// clients call: their SDKs sign with the machine's clock, so the server's
// may only be shifted from it (to mint a token in the past, to step past
// a rate limit).
func NewWallClock() *Clock { return &Clock{wall: true} }

// SetOffset shifts a wall clock to d from the real time; it panics on a
// fixed clock (use Set).
func (c *Clock) SetOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.wall {
		panic("testkit: SetOffset on a fixed clock")
	}
	c.off = d
}

// NewClock returns a clock standing at t (Epoch when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = Epoch
	}
	return &Clock{t: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().Add(c.off)
	}
	return c.t
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.off += d
	c.mu.Unlock()
}

// Set puts a fixed clock at t; it panics on a wall clock (use SetOffset).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		panic("testkit: Set on a wall clock")
	}
	c.t = t
}
