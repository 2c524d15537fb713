package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of MemoryConfig.
const (
	DefaultMaxEntries = 10_000
	DefaultMaxBytes   = 64 << 20
)

// entryOverhead approximates the bookkeeping bytes of one entry (list
// element, map slot, slice headers), so that many tiny entries still count
// against MaxBytes.
const entryOverhead = 96

// MemoryConfig bounds the in-memory cache.
type MemoryConfig struct {
	// MaxEntries is the most entries kept (default DefaultMaxEntries).
	MaxEntries int
	// MaxBytes bounds the keys and values kept, plus a small per-entry
	// overhead (default DefaultMaxBytes). A value larger than the bound on
	// its own is not stored.
	MaxBytes int64
	// Now is the clock TTLs are measured with (default time.Now); tests
	// inject a fake one to expire entries without sleeping.
	Now func() time.Time
}

// Memory is the single-process Cache: an LRU map bounded by entries and
// bytes, with a TTL per entry and tag versions in a map. Safe for
// concurrent use.
//
// Tag versions are never evicted: there are a handful per profile, source
// and pipeline, and forgetting one would reset it to 0 and could revive an
// entry stored under an older version.
type Memory struct {
	maxEntries int
	maxBytes   int64
	now        func() time.Time
	m          *metrics

	mu     sync.Mutex
	closed bool
	lru    *list.List // of *memEntry, most recently used first
	byKey  map[string]*list.Element
	bytes  int64
	tags   map[string]uint64
}

type memEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func (e *memEntry) size() int64 { return int64(len(e.key)+len(e.value)) + entryOverhead }

var _ Cache = (*Memory)(nil)

// NewMemory returns an empty in-memory cache. reg (may be nil) receives the
// puod_cache_* counters with backend="memory".
func NewMemory(cfg MemoryConfig, reg prometheus.Registerer) *Memory {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memory{
		maxEntries: cfg.MaxEntries,
		maxBytes:   cfg.MaxBytes,
		now:        cfg.Now,
		m:          newMetrics("memory", reg),
		lru:        list.New(),
		byKey:      map[string]*list.Element{},
		tags:       map[string]uint64{},
	}
}

// Get returns a copy of the live value under key.
func (c *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.m.errors.WithLabelValues(opGet).Inc()
		return nil, false, ErrClosed
	}
	el, ok := c.byKey[key]
	if !ok {
		c.m.misses.Inc()
		return nil, false, nil
	}
	e := el.Value.(*memEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		c.m.misses.Inc()
		return nil, false, nil
	}
	c.lru.MoveToFront(el)
	c.m.hits.Inc()
	return clone(e.value), true, nil
}

// Set stores a copy of value under key for ttl, evicting the least
// recently used entries while the cache is over its bounds.
func (c *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		c.m.errors.WithLabelValues(opSet).Inc()
		return ErrInvalidTTL
	}
	e := &memEntry{key: key, value: clone(value), expires: c.now().Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.m.errors.WithLabelValues(opSet).Inc()
		return ErrClosed
	}
	if old, ok := c.byKey[key]; ok {
		c.remove(old)
	}
	if e.size() > c.maxBytes {
		// Storing it would evict everything else and then itself.
		return nil
	}
	c.byKey[key] = c.lru.PushFront(e)
	c.bytes += e.size()
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		oldest := c.lru.Back()
		if !c.now().Before(oldest.Value.(*memEntry).expires) {
			c.remove(oldest) // expired anyway: not an eviction
			continue
		}
		c.remove(oldest)
		c.m.evictions.Inc()
	}
	return nil
}

func (c *Memory) remove(el *list.Element) {
	e := c.lru.Remove(el).(*memEntry)
	delete(c.byKey, e.key)
	c.bytes -= e.size()
}

// TagVersions returns the version of each tag, 0 for one never bumped.
func (c *Memory) TagVersions(_ context.Context, tags []string) ([]uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.m.errors.WithLabelValues(opTagVersions).Inc()
		return nil, ErrClosed
	}
	out := make([]uint64, len(tags))
	for i, t := range tags {
		out[i] = c.tags[t]
	}
	return out, nil
}

// Bump increments the version of each tag.
func (c *Memory) Bump(_ context.Context, tags ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.m.errors.WithLabelValues(opBump).Inc()
		return ErrClosed
	}
	for _, t := range tags {
		c.tags[t]++
	}
	return nil
}

// Close drops every entry; later calls fail with ErrClosed.
func (c *Memory) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.lru.Init()
	c.byKey = map[string]*list.Element{}
	c.bytes = 0
	c.tags = map[string]uint64{}
	return nil
}

// Len is the number of entries held (live or not yet noticed expired).
func (c *Memory) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the accounted size of the entries held, overhead included.
func (c *Memory) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}
