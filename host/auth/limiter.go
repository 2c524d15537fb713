package auth

import (
	"container/list"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key (a username, a client
// address). Each bucket holds up to burst tokens and refills at a steady
// rate; an attempt takes one token. Memory is bounded: beyond maxKeys the
// least recently used bucket is forgotten — forgetting a bucket only ever
// forgives, so the bound trades a little strictness for a hard memory cap.
// It is safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	maxKeys int
	now     func() time.Time
	keys    map[string]*list.Element
	lru     *list.List // front = most recently used; values are *bucket
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter allowing burst attempts at once per key,
// refilled at perMinute, remembering at most maxKeys keys. now is the clock
// (nil: time.Now), injectable so tests need not sleep.
func NewLimiter(perMinute float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = 1
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{perSec: perMinute / 60, burst: float64(burst), maxKeys: maxKeys, now: now,
		keys: map[string]*list.Element{}, lru: list.New()}
}

// Allow takes a token from key's bucket. When the bucket is empty it takes
// nothing and returns false with the time until a token is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.perSec <= 0 {
		return false, time.Hour
	}
	wait := time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
	return false, wait
}

// Refund returns a token taken by Allow, for attempts that should not count
// (a successful login).
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(key)
	b.tokens = min(l.burst, b.tokens+1)
}

// Len reports how many keys the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// get returns key's bucket refilled to now, creating it (and evicting the
// least recently used one beyond maxKeys) when needed. l.mu must be held.
func (l *Limiter) get(key string) *bucket {
	now := l.now()
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		b := e.Value.(*bucket)
		if elapsed := now.Sub(b.last); elapsed > 0 {
			b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.perSec)
			b.last = now
		}
		return b
	}
	b := &bucket{key: key, tokens: l.burst, last: now}
	l.keys[key] = l.lru.PushFront(b)
	for l.lru.Len() > l.maxKeys {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.keys, oldest.Value.(*bucket).key)
	}
	return b
}
