package auth

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewLimiter(6, 3, 100, clk.Now) // one token per 10 s, burst 3

	for i := range 3 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("k")
	if ok || wait <= 9*time.Second || wait > 10*time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused with ~10s", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("keys share a bucket")
	}
	clk.Advance(5 * time.Second)
	if ok, wait := l.Allow("k"); ok || wait > 5*time.Second+time.Millisecond {
		t.Fatalf("after 5 s: ok=%v wait=%v, want refused with ~5s", ok, wait)
	}
	clk.Advance(5 * time.Second)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("no token after 10 s")
	}
	l.Refund("k")
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("refunded token not usable")
	}
	// Refunds never exceed the burst.
	for range 10 {
		l.Refund("full")
	}
	for i := range 4 {
		ok, _ := l.Allow("full")
		if want := i < 3; ok != want {
			t.Fatalf("attempt %d on a refunded bucket: ok=%v", i+1, ok)
		}
	}
}

func TestLimiter_boundedMemory(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewLimiter(1, 1, 50, clk.Now)
	l.Allow("victim")
	for i := range 49 {
		l.Allow("k" + strconv.Itoa(i))
	}
	l.Allow("victim") // recently used: survives
	for i := range 1000 {
		l.Allow("spray" + strconv.Itoa(i))
		if l.Len() > 50 {
			t.Fatalf("limiter holds %d keys, bound is 50", l.Len())
		}
	}
}
