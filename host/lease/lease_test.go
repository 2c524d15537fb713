package lease

import (
	"context"
	"testing"
	"time"

	"github.com/puod/puod/host/cache/redistest"
)

func TestRedis_oneOwnerAtATime(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a, err := NewRedis(url, "replica-a", prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewRedis(url, "replica-b", prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	step := func(name string, l *Redis, ttl time.Duration, want bool) {
		t.Helper()
		got, err := l.Acquire(ctx, "source:s1", ttl)
		if err != nil || got != want {
			t.Fatalf("%s: Acquire = %v, %v; want %v", name, got, err, want)
		}
	}
	step("a takes the free lease", a, time.Minute, true)
	step("b is refused while a holds it", b, time.Minute, false)
	step("a extends its own lease", a, time.Minute, true)
	if ok, _ := b.Acquire(ctx, "source:s2", time.Minute); !ok {
		t.Fatal("another key is independent")
	}
	// b's Release of a's lease must not free it.
	if err := b.Release(ctx, "source:s1"); err != nil {
		t.Fatal(err)
	}
	step("a still holds it after b's release", b, time.Minute, false)
	if err := a.Release(ctx, "source:s1"); err != nil {
		t.Fatal(err)
	}
	step("b takes it once a released it", b, 50*time.Millisecond, true)
	// b stops renewing (a dead replica): the lease expires and a takes
	// over.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := a.Acquire(ctx, "source:s1", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never took over the expired lease of b")
		}
		time.Sleep(20 * time.Millisecond)
	}
	step("b is refused after a took over", b, time.Minute, false)
}

func TestRedis_badInput(t *testing.T) {
	if _, err := NewRedis("http://not-redis", "x", ""); err == nil {
		t.Fatal("a non-redis URL is accepted")
	}
	l, err := NewRedis("redis://127.0.0.1:1/0", "x", "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Acquire(context.Background(), "k", 0); err == nil {
		t.Fatal("a zero ttl is accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, err := l.Acquire(ctx, "k", time.Second); err == nil || ok {
		t.Fatalf("an unreachable Redis grants the lease: %v %v", ok, err)
	}
}
