package cache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of RedisConfig.
const (
	DefaultRedisPrefix = "puod:"
	DefaultBackoff     = 2 * time.Second
	// defaultRedisTimeout bounds a single Redis round trip unless the URL
	// says otherwise (dial_timeout, read_timeout, write_timeout): a card
	// query that waits longer than this for its cache would be better off
	// without it.
	defaultRedisTimeout = time.Second
)

// RedisConfig configures the Redis cache.
type RedisConfig struct {
	// URL is a redis:// or rediss:// URL (PUOD_REDIS_URL). Query
	// parameters of go-redis (dial_timeout, pool_size, …) are honoured.
	URL string
	// Prefix starts every key this cache writes (default "puod:"): values
	// live under Prefix+"cache:"+key and tag versions under
	// Prefix+"tag:"+tag. Tests use a unique prefix to share one Redis.
	Prefix string
	// Backoff is how long the cache stops calling Redis after a failed
	// call (default DefaultBackoff). Meanwhile every call fails at once
	// with ErrUnavailable, so a Redis that is down costs queries nothing;
	// the first call after the window probes Redis again.
	Backoff time.Duration
}

// Redis is the shared Cache: values are Redis strings with an expiry (SET …
// PX/EX), tag versions are counters (INCR, MGET). Several replicas pointed
// at the same Redis share results and invalidations. Safe for concurrent
// use.
type Redis struct {
	client    *redis.Client
	valuePfx  string
	tagPfx    string
	log       hclog.Logger
	m         *metrics
	breaker   breaker
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Cache = (*Redis)(nil)

// NewRedis connects to the Redis at url with the default prefix and
// back-off. It fails when Redis cannot be reached (checked with PING under
// ctx). reg (may be nil) receives the puod_cache_* counters with
// backend="redis".
func NewRedis(ctx context.Context, url string, log hclog.Logger, reg prometheus.Registerer) (*Redis, error) {
	return NewRedisWithConfig(ctx, RedisConfig{URL: url}, log, reg)
}

// NewRedisWithConfig is NewRedis with every setting explicit.
func NewRedisWithConfig(ctx context.Context, cfg RedisConfig, log hclog.Logger, reg prometheus.Registerer) (*Redis, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	opt, err := ParseRedisURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	// A cache call must fail fast rather than retry: the caller has a
	// database to fall back on, and the breaker spaces out the probes.
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	if opt.DialerRetries <= 0 {
		opt.DialerRetries = 1
	}
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("cache: connect to Redis at %s: %w (is Redis running and PUOD_REDIS_URL right? Unset PUOD_REDIS_URL to use the in-memory cache)", RedactURL(cfg.URL), err)
	}
	log = log.Named("cache")
	return &Redis{
		client:   client,
		valuePfx: cfg.Prefix + "cache:",
		tagPfx:   cfg.Prefix + "tag:",
		log:      log,
		m:        newMetrics("redis", reg),
		breaker:  breaker{backoff: cfg.Backoff, now: time.Now, log: log},
	}, nil
}

// ParseRedisURL parses a redis:// URL into go-redis options, with short
// dial, read and write timeouts unless the URL sets them. The bus uses it
// too, so both read PUOD_REDIS_URL the same way.
func ParseRedisURL(raw string) (*redis.Options, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("parse Redis URL %s: %w", RedactURL(raw), err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = defaultRedisTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = defaultRedisTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = defaultRedisTimeout
	}
	return opt, nil
}

// RedactURL hides the password of a Redis URL for messages and logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Get returns the value under key, or false when there is none.
func (c *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := c.begin(opGet); err != nil {
		return nil, false, err
	}
	v, err := c.client.Get(ctx, c.valuePfx+key).Bytes()
	if errors.Is(err, redis.Nil) {
		c.breaker.succeeded()
		c.m.misses.Inc()
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.failed(ctx, opGet, err)
	}
	c.breaker.succeeded()
	c.m.hits.Inc()
	return v, true, nil
}

// Set stores value under key for ttl.
func (c *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		c.m.errors.WithLabelValues(opSet).Inc()
		return ErrInvalidTTL
	}
	if err := c.begin(opSet); err != nil {
		return err
	}
	if err := c.client.Set(ctx, c.valuePfx+key, value, ttl).Err(); err != nil {
		return c.failed(ctx, opSet, err)
	}
	c.breaker.succeeded()
	return nil
}

// TagVersions reads the versions of tags in one MGET.
func (c *Redis) TagVersions(ctx context.Context, tags []string) ([]uint64, error) {
	if err := c.begin(opTagVersions); err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return []uint64{}, nil
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = c.tagPfx + t
	}
	vals, err := c.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, c.failed(ctx, opTagVersions, err)
	}
	c.breaker.succeeded()
	out := make([]uint64, len(tags))
	for i, v := range vals {
		if v == nil {
			continue // never bumped
		}
		s, _ := v.(string)
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			c.m.errors.WithLabelValues(opTagVersions).Inc()
			return nil, fmt.Errorf("cache: tag %q has version %q in Redis key %s, not a counter (was the key written by something else?)", tags[i], s, keys[i])
		}
		out[i] = n
	}
	return out, nil
}

// Bump increments the tags' counters in one pipelined round trip.
func (c *Redis) Bump(ctx context.Context, tags ...string) error {
	if err := c.begin(opBump); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range tags {
			p.Incr(ctx, c.tagPfx+t)
		}
		return nil
	})
	if err != nil {
		return c.failed(ctx, opBump, err)
	}
	c.breaker.succeeded()
	return nil
}

// Close closes the connections to Redis.
func (c *Redis) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		err = c.client.Close()
	})
	return err
}

// begin refuses a call on a closed cache, or while Redis is marked
// unavailable.
func (c *Redis) begin(op string) error {
	if c.closed.Load() {
		c.m.errors.WithLabelValues(op).Inc()
		return ErrClosed
	}
	if !c.breaker.allow() {
		c.m.errors.WithLabelValues(op).Inc()
		return ErrUnavailable
	}
	return nil
}

// failed counts and wraps err. An error that says Redis is unreachable or
// too slow (including a caller's deadline passing while waiting for it)
// opens the breaker and wraps ErrUnavailable; an error reply from Redis (it
// answered) or a caller that cancelled does not.
func (c *Redis) failed(ctx context.Context, op string, err error) error {
	c.m.errors.WithLabelValues(op).Inc()
	if c.closed.Load() {
		return ErrClosed
	}
	var reply redis.Error
	switch {
	case errors.As(err, &reply):
		c.breaker.succeeded()
		return fmt.Errorf("cache: redis %s: %w", op, err)
	case errors.Is(ctx.Err(), context.Canceled):
		c.breaker.abandoned()
		return fmt.Errorf("cache: redis %s: %w", op, err)
	}
	c.breaker.failed(err)
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// breaker stops calls to Redis for a back-off window after a failure. After
// the window one call (the probe) goes through while the others keep
// failing fast; its outcome closes the breaker or starts a new window.
type breaker struct {
	backoff time.Duration
	now     func() time.Time
	log     hclog.Logger

	mu        sync.Mutex
	down      bool
	openUntil time.Time
	probing   bool
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) succeeded() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		b.log.Info("Redis is reachable again; cache back in use")
	}
	b.down, b.probing = false, false
}

func (b *breaker) failed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down {
		b.log.Warn("Redis unreachable; card queries run uncached until it answers again", "retry_every", b.backoff, "error", err)
	}
	b.down, b.probing = true, false
	b.openUntil = b.now().Add(b.backoff)
}

// abandoned ends a probe whose caller gave up before Redis answered: the
// next call probes again.
func (b *breaker) abandoned() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}
