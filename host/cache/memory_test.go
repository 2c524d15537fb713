package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cache/cachetest"
)

func TestMemory_contract(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		c := cache.NewMemory(cache.MemoryConfig{}, prometheus.NewRegistry())
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}

// fakeClock is a settable clock for exact TTL boundaries.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestMemory_ttlBoundary: an entry is live strictly before now+ttl and gone
// from then on, measured with the injected clock.
func TestMemory_ttlBoundary(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := cache.NewMemory(cache.MemoryConfig{Now: clock.Now}, nil)
	ctx := context.Background()
	if err := c.Set(ctx, "k", []byte("v"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		live    bool
	}{
		{0, true},
		{30*time.Second - time.Nanosecond, true},
		{time.Nanosecond, false},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if _, ok, err := c.Get(ctx, "k"); err != nil || ok != s.live {
			t.Fatalf("at +%v: live=%v err=%v; want live=%v", clock.Now().Sub(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), ok, err, s.live)
		}
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("expired entry still held: Len=%d Bytes=%d", c.Len(), c.Bytes())
	}
	// Setting again revives the key with a fresh TTL.
	if err := c.Set(ctx, "k", []byte("v2"), time.Second); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get(ctx, "k"); !ok || string(v) != "v2" {
		t.Fatalf("re-set entry: %q %v", v, ok)
	}
}

// TestMemory_bounds: the cache never holds more than MaxEntries entries or
// MaxBytes bytes; it evicts the least recently used (a Get counts as a
// use), counts the evictions, and does not count dropping an expired entry
// as one.
func TestMemory_bounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	val := func(n int) []byte { return make([]byte, n) }

	t.Run("entries", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		c := cache.NewMemory(cache.MemoryConfig{MaxEntries: 3}, reg)
		for _, k := range []string{"a", "b", "c"} {
			mustSet(t, c, k, val(1))
		}
		if _, ok, _ := c.Get(ctx, "a"); !ok { // a is now the most recent
			t.Fatal("a missing")
		}
		mustSet(t, c, "d", val(1)) // evicts b, the least recently used
		assertKeys(t, c, "a", true, "b", false, "c", true, "d", true)
		if c.Len() != 3 {
			t.Fatalf("Len = %d, want 3", c.Len())
		}
		if n := counter(t, reg, "puod_cache_evictions_total"); n != 1 {
			t.Fatalf("evictions = %v, want 1", n)
		}
	})

	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		// Room for three entries of a one-letter key and a 10000-byte
		// value but not four, whatever the per-entry overhead (< 2000).
		const maxBytes = 35_000
		c := cache.NewMemory(cache.MemoryConfig{MaxBytes: maxBytes}, reg)
		for _, k := range []string{"a", "b", "c"} {
			mustSet(t, c, k, val(10_000))
		}
		assertKeys(t, c, "a", true, "b", true, "c", true) // in LRU order: a stays the oldest
		mustSet(t, c, "d", val(20_000))                   // needs the room of a and b
		assertKeys(t, c, "a", false, "b", false, "c", true, "d", true)
		if c.Bytes() > maxBytes {
			t.Fatalf("Bytes = %d, over the bound %d", c.Bytes(), maxBytes)
		}
		if n := counter(t, reg, "puod_cache_evictions_total"); n != 2 {
			t.Fatalf("evictions = %v, want 2", n)
		}
		// A value larger than the whole cache is not stored and evicts
		// nothing.
		mustSet(t, c, "huge", val(100_000))
		assertKeys(t, c, "huge", false, "c", true, "d", true)
	})

	t.Run("expired entries are not evictions", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		clock := &fakeClock{now: time.Unix(0, 0)}
		c := cache.NewMemory(cache.MemoryConfig{MaxEntries: 2, Now: clock.Now}, reg)
		if err := c.Set(ctx, "old", val(1), time.Second); err != nil {
			t.Fatal(err)
		}
		mustSet(t, c, "b", val(1))
		clock.Advance(2 * time.Second)
		mustSet(t, c, "c", val(1)) // drops "old", which had expired
		assertKeys(t, c, "b", true, "c", true)
		if n := counter(t, reg, "puod_cache_evictions_total"); n != 0 {
			t.Fatalf("evictions = %v, want 0", n)
		}
	})

	t.Run("overwrite does not double count", func(t *testing.T) {
		t.Parallel()
		c := cache.NewMemory(cache.MemoryConfig{}, nil)
		mustSet(t, c, "k", val(100))
		before := c.Bytes()
		for range 10 {
			mustSet(t, c, "k", val(100))
		}
		if c.Len() != 1 || c.Bytes() != before {
			t.Fatalf("after overwrites Len=%d Bytes=%d, want 1 and %d", c.Len(), c.Bytes(), before)
		}
	})
}

// TestMemory_metrics: hits and misses are counted, and two caches may share
// a registry (a rebuilt cache reuses the registered counters).
func TestMemory_metrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := cache.NewMemory(cache.MemoryConfig{}, reg)
	ctx := context.Background()
	mustSet(t, c, "k", []byte("v"))
	for range 3 {
		_, _, _ = c.Get(ctx, "k")
	}
	_, _, _ = c.Get(ctx, "absent")
	c2 := cache.NewMemory(cache.MemoryConfig{}, reg) // must not panic
	_, _, _ = c2.Get(ctx, "absent")
	_ = c.Close()
	_, _, _ = c.Get(ctx, "k")
	for name, want := range map[string]float64{
		"puod_cache_hits_total":   3,
		"puod_cache_misses_total": 2,
		"puod_cache_errors_total": 1,
	} {
		if got := counter(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestMemory_concurrent exercises the locks under the race detector.
func TestMemory_concurrent(t *testing.T) {
	t.Parallel()
	c := cache.NewMemory(cache.MemoryConfig{MaxEntries: 50}, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*7+i)%120)
				_ = c.Set(ctx, k, []byte(k), time.Minute)
				if v, ok, err := c.Get(ctx, k); err != nil || (ok && string(v) != k) {
					t.Errorf("Get(%s) = %q, %v", k, v, err)
					return
				}
				_ = c.Bump(ctx, "t")
				_, _ = c.TagVersions(ctx, []string{"t"})
			}
		}()
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("Len = %d over MaxEntries", c.Len())
	}
	if v, _ := c.TagVersions(ctx, []string{"t"}); v[0] != 8*500 {
		t.Fatalf("tag version = %d, want %d (lost bumps)", v[0], 8*500)
	}
}

func mustSet(t *testing.T, c cache.Cache, key string, v []byte) {
	t.Helper()
	if err := c.Set(context.Background(), key, v, time.Hour); err != nil {
		t.Fatalf("Set(%s): %v", key, err)
	}
}

// assertKeys checks, in order, pairs of key and whether it must be present
// (each Get counts as a use of the key).
func assertKeys(t *testing.T, c cache.Cache, pairs ...any) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		k, live := pairs[i].(string), pairs[i+1].(bool)
		if _, ok, err := c.Get(context.Background(), k); err != nil || ok != live {
			t.Fatalf("key %s: present=%v err=%v; want present=%v", k, ok, err, live)
		}
	}
}

// counter sums the samples of a counter metric.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}
