package cache

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cache stores card results. Keys and tags are opaque strings; callers
// prefix them by profile. Safe for concurrent use.
type Cache interface {
	// Get returns a copy of the value stored under key, and whether there
	// was one (a missing or expired entry is not an error).
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores a copy of value under key for ttl (which must be
	// positive).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// TagVersions returns the current version of each tag (0 for a tag
	// never bumped), in order.
	TagVersions(ctx context.Context, tags []string) ([]uint64, error)
	// Bump increments the version of each tag: O(1) invalidation of every
	// entry whose key embedded the old version.
	Bump(ctx context.Context, tags ...string) error
	// Close releases the cache; later calls fail with ErrClosed. Close is
	// idempotent.
	Close() error
}

var (
	// ErrUnavailable is returned (possibly wrapped) when the cache's
	// backend cannot be reached. Callers answer without the cache.
	ErrUnavailable = errors.New("cache: unavailable")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("cache: closed")
	// ErrInvalidTTL is returned by Set for a ttl that is not positive: an
	// entry that never expires is not a cache entry.
	ErrInvalidTTL = errors.New("cache: ttl must be positive")
)

// metrics are the counters every implementation maintains, labelled by
// backend so the memory and Redis caches can share a registry.
type metrics struct {
	hits      prometheus.Counter
	misses    prometheus.Counter
	evictions prometheus.Counter
	errors    *prometheus.CounterVec
}

// newMetrics builds the counters of backend ("memory" or "redis") and
// registers them with reg (may be nil). A counter already registered by an
// earlier cache of the same backend is reused, so re-creating a cache (a
// config reload, a test) does not fail.
func newMetrics(backend string, reg prometheus.Registerer) *metrics {
	labels := prometheus.Labels{"backend": backend}
	m := &metrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_cache_hits_total", ConstLabels: labels,
			Help: "Cache lookups that found a live entry.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_cache_misses_total", ConstLabels: labels,
			Help: "Cache lookups that found no live entry.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_cache_evictions_total", ConstLabels: labels,
			Help: "Live entries removed to stay within the in-memory cache's entry or byte bound.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_cache_errors_total", ConstLabels: labels,
			Help: "Cache calls that failed, by operation (including calls refused at once while the backend is marked unavailable).",
		}, []string{"op"}),
	}
	if reg == nil {
		return m
	}
	m.hits = register(reg, m.hits)
	m.misses = register(reg, m.misses)
	if backend == "memory" { // Redis evicts on its own, unseen by us
		m.evictions = register(reg, m.evictions)
	}
	m.errors = register(reg, m.errors)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A different collector under our name is a programming error
		// that would otherwise silently hide these metrics.
		panic("cache: register metrics: " + err.Error())
	}
	return c
}

// Operation names of puod_cache_errors_total.
const (
	opGet         = "get"
	opSet         = "set"
	opTagVersions = "tag_versions"
	opBump        = "bump"
)
