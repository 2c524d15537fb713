// Package notifytest has what tests of the notification worker share: a
// simulated notify.Clock.
package notifytest

import (
	"sync"
	"time"
)

// Clock is simulated time for a notify.Worker (notify.Clock): it moves only
// when a test calls Advance, which fires the waits (After) that became
// due, so hours of retries take milliseconds.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	gen     int64 // advances so far
	waiters []waiter
}

type waiter struct {
	at  time.Time
	gen int64
	ch  chan time.Time
}

// NewClock returns a clock at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After sends the time once d has been advanced past (at once when d <= 0).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), gen: c.gen, ch: ch})
	return ch
}

// Advance moves time on by d and fires the waits that became due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.gen++
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// Pending counts the waits not yet fired.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Idle reports whether someone started waiting since the last Advance: a
// worker that did what that advance made due and waits again.
func (c *Clock) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.gen == c.gen {
			return true
		}
	}
	return false
}
