package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cache/cachetest"
	"github.com/puod/puod/host/cache/redistest"
)

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: t.Output(), Level: hclog.Info})
}

// newRedis opens a Redis cache on url under prefix, closed at the end of
// the test.
func newRedis(t *testing.T, cfg cache.RedisConfig, reg prometheus.Registerer) *cache.Redis {
	t.Helper()
	c, err := cache.NewRedisWithConfig(t.Context(), cfg, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedis_contract(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		return newRedis(t, cache.RedisConfig{URL: url, Prefix: redistest.Prefix(t, url)}, prometheus.NewRegistry())
	})
}

// TestRedis_keyLayout: values live under <prefix>cache:, with the TTL as a
// Redis expiry, and tag versions are plain counters under <prefix>tag:, so
// they can be inspected (and bumped) with redis-cli.
func TestRedis_keyLayout(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	c := newRedis(t, cache.RedisConfig{URL: url, Prefix: prefix}, nil)
	raw := rawClient(t, url)
	ctx := t.Context()

	if err := c.Set(ctx, "p1:card", []byte("frame"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, prefix+"cache:p1:card").Result(); err != nil || v != "frame" {
		t.Fatalf("raw GET %scache:p1:card = %q, %v", prefix, v, err)
	}
	if ttl, err := raw.PTTL(ctx, prefix+"cache:p1:card").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL = %v, %v; want an expiry of at most 1m", ttl, err)
	}
	if err := c.Bump(ctx, "p1:runs", "p1:runs"); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, prefix+"tag:p1:runs").Result(); err != nil || v != "2" {
		t.Fatalf("raw GET %stag:p1:runs = %q, %v; want 2", prefix, v, err)
	}
	if ttl, err := raw.TTL(ctx, prefix+"tag:p1:runs").Result(); err != nil || ttl != -1 {
		t.Fatalf("tag TTL = %v, %v; tag versions must not expire", ttl, err)
	}
	// Another writer (a replica, redis-cli) bumping the counter is seen.
	if err := raw.Incr(ctx, prefix+"tag:p1:runs").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.TagVersions(ctx, []string{"p1:runs"}); err != nil || v[0] != 3 {
		t.Fatalf("TagVersions = %v, %v; want [3]", v, err)
	}
}

// TestRedis_replicasShare: two caches on the same Redis (two host
// replicas) see each other's entries and bumps.
func TestRedis_replicasShare(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a := newRedis(t, cache.RedisConfig{URL: url, Prefix: prefix}, nil)
	b := newRedis(t, cache.RedisConfig{URL: url, Prefix: prefix}, nil)
	ctx := t.Context()
	if err := a.Set(ctx, "k", []byte("from a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || string(v) != "from a" {
		t.Fatalf("replica b Get = %q, %v, %v", v, ok, err)
	}
	if err := b.Bump(ctx, "p1:source:s"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.TagVersions(ctx, []string{"p1:source:s"}); err != nil || v[0] != 1 {
		t.Fatalf("replica a sees version %v, %v; want [1]", v, err)
	}
}

// TestRedis_replyErrorKeepsRedisInUse: an error reply (Redis answered) is
// returned as is; it is not ErrUnavailable and does not stop the cache
// from using Redis.
func TestRedis_replyErrorKeepsRedisInUse(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	c := newRedis(t, cache.RedisConfig{URL: url, Prefix: prefix, Backoff: time.Hour}, nil)
	raw := rawClient(t, url)
	ctx := t.Context()
	if err := raw.SAdd(ctx, prefix+"tag:weird", "x").Err(); err != nil {
		t.Fatal(err)
	}
	err := c.Bump(ctx, "weird") // INCR on a set: WRONGTYPE
	if err == nil || errors.Is(err, cache.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Bump of a non-counter key: %v; want the WRONGTYPE reply, not ErrUnavailable", err)
	}
	if err := raw.Set(ctx, prefix+"tag:text", "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagVersions(ctx, []string{"text"}); err == nil || errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("TagVersions of a non-counter: %v; want a descriptive error", err)
	}
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set after reply errors: %v; Redis must still be in use", err)
	}
}

func TestNewRedis_errors(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	down := srv.URL()
	srv.Stop() // nothing listens on its port now
	cases := []struct {
		name, url, want string
	}{
		{"unreachable", down, "PUOD_REDIS_URL"},
		{"not a redis URL", "http://127.0.0.1:6379", "parse Redis URL"},
		{"password redacted", "redis://:s3cret@127.0.0.1:" + strings.Split(srv.Addr(), ":")[1] + "/0", "xxxxx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, err := cache.NewRedis(ctx, tc.url, nil, nil)
			if err == nil {
				_ = c.Close()
				t.Fatal("NewRedis succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q: want it to contain %q and no password", err, tc.want)
			}
		})
	}
}

// TestRedis_outage: when Redis dies, the failing call reports
// ErrUnavailable and the following ones fail at once with ErrUnavailable
// without calling Redis (a cache whose back-off window is an hour keeps
// refusing even after Redis is back, which proves it does not call it);
// a cache with a short window uses Redis again once it is back. Real
// redis-server, killed and restarted on the same port; no timing
// assertions, only a generous deadline proving that calls return.
func TestRedis_outage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	reg := prometheus.NewRegistry()
	long := newRedis(t, cache.RedisConfig{URL: srv.URL(), Backoff: time.Hour}, reg)
	short := newRedis(t, cache.RedisConfig{URL: srv.URL(), Backoff: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	for _, c := range []*cache.Redis{long, short} {
		if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()

	// Every kind of call fails with ErrUnavailable: the first by trying,
	// the rest without trying.
	calls := []struct {
		name string
		call func(c cache.Cache) error
	}{
		{"Get", func(c cache.Cache) error { _, _, err := c.Get(ctx, "k"); return err }},
		{"Set", func(c cache.Cache) error { return c.Set(ctx, "k", []byte("v"), time.Hour) }},
		{"TagVersions", func(c cache.Cache) error { _, err := c.TagVersions(ctx, []string{"t"}); return err }},
		{"Bump", func(c cache.Cache) error { return c.Bump(ctx, "t") }},
	}
	for round := range 3 {
		for _, call := range calls {
			if err := call.call(long); !errors.Is(err, cache.ErrUnavailable) {
				t.Fatalf("round %d: %s with Redis down: %v, want ErrUnavailable", round, call.name, err)
			}
		}
	}
	// All but the first call were refused without a round trip: they
	// return the bare sentinel, the first one wraps the network error.
	if err := calls[0].call(long); err != cache.ErrUnavailable {
		t.Fatalf("call inside the back-off window returned %v, want the bare ErrUnavailable (no Redis call)", err)
	}
	if n := counter(t, reg, "puod_cache_errors_total"); n != 13 {
		t.Fatalf("errors counted = %v, want 13", n)
	}

	srv.Start() // same port, empty (no persistence)

	// The hour-long window still refuses: proof it is not calling Redis.
	if _, _, err := long.Get(ctx, "k"); err != cache.ErrUnavailable {
		t.Fatalf("long back-off cache after Redis came back: %v, want ErrUnavailable (still in its window)", err)
	}
	// The short one recovers by itself.
	for {
		err := short.Set(ctx, "k2", []byte("back"), time.Hour)
		if err == nil {
			break
		}
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("Set while recovering: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal("the cache never used Redis again after it came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok, err := short.Get(ctx, "k2"); err != nil || !ok || string(v) != "back" {
		t.Fatalf("Get after recovery = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := short.Get(ctx, "k"); err != nil || ok {
		t.Fatalf("entry from before the crash: ok=%v err=%v; the restarted Redis is empty", ok, err)
	}
}

// TestRedis_hung: a Redis that accepts connections but never answers
// (SIGSTOP) costs one read timeout, then calls fail at once.
func TestRedis_hung(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	c := newRedis(t, cache.RedisConfig{URL: srv.URL() + "?read_timeout=200ms&write_timeout=200ms", Backoff: time.Hour}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	_, _, err := c.Get(ctx, "k")
	if !errors.Is(err, cache.ErrUnavailable) || err == cache.ErrUnavailable {
		t.Fatalf("Get on a hung Redis: %v, want a timeout wrapped in ErrUnavailable", err)
	}
	for range 10 {
		if _, _, err := c.Get(ctx, "k"); err != cache.ErrUnavailable {
			t.Fatalf("Get inside the back-off window: %v, want the bare ErrUnavailable", err)
		}
	}
}

// TestRedis_callerCancelDoesNotTrip: a caller giving up is not a Redis
// failure.
func TestRedis_callerCancelDoesNotTrip(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	c := newRedis(t, cache.RedisConfig{URL: url, Prefix: redistest.Prefix(t, url), Backoff: time.Hour}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get with a cancelled context: %v; want the context error, not ErrUnavailable", err)
	}
	if _, _, err := c.Get(t.Context(), "k"); err != nil {
		t.Fatalf("Get after a cancelled call: %v; Redis must still be in use", err)
	}
}
