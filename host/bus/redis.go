package bus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of RedisConfig.
const (
	DefaultStream = "puod:events"
	// DefaultMaxLen bounds the stream (approximately: MAXLEN ~). The
	// stream is a transport, not a log: replicas read it as it grows, and
	// one that was away catches up on at most this many events.
	DefaultMaxLen = 10_000
	// defaultBlock is how long one XREAD waits for new entries.
	defaultBlock      = 5 * time.Second
	defaultMinBackoff = 100 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
	defaultTimeout    = time.Second
	// streamField is the stream entry field holding the JSON event.
	streamField = "event"
	readCount   = 256
)

// ErrClosed is returned by Publish on a closed Redis bus.
var ErrClosed = errors.New("bus: closed")

// RedisConfig configures the Redis Streams bus.
type RedisConfig struct {
	// URL is a redis:// or rediss:// URL (PUOD_REDIS_URL).
	URL string
	// Stream is the Redis stream every replica writes and reads (default
	// DefaultStream). Tests use a unique one to share a Redis.
	Stream string
	// MaxLen is the approximate length the stream is trimmed to on every
	// publish (default DefaultMaxLen).
	MaxLen int64
	// Buffer is the per-subscription buffer, as MemoryConfig.Buffer.
	Buffer int
	// MinBackoff and MaxBackoff bound the wait between two attempts of
	// the reader to reach a Redis that failed (defaults 100ms and 5s,
	// doubling in between).
	MinBackoff, MaxBackoff time.Duration
}

// Redis is the Bus shared by several host replicas: Publish appends the
// event to a Redis stream (XADD), and one reader goroutine per process
// follows the stream (XREAD BLOCK) and hands every event to the local
// subscribers, through an in-memory bus, so an event published on any
// replica reaches the subscribers of all of them, in stream order, with
// the same bounded, drop-oldest buffers as Memory.
//
// When Redis goes away, Publish fails (the caller logs; the store already
// holds what the event announces) and the reader retries with back-off;
// once Redis answers again it resumes after the last entry it delivered,
// so it catches up on what other replicas published meanwhile, or reads
// the stream from its start if Redis came back empty.
type Redis struct {
	client *redis.Client
	stream string
	maxLen int64
	local  *Memory
	log    hclog.Logger

	minBackoff, maxBackoff time.Duration

	errors *prometheus.CounterVec

	cancel    context.CancelFunc
	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Bus = (*Redis)(nil)

// NewRedis connects to Redis, notes the end of the stream (events
// published from then on are delivered to subscribers) and starts the
// reader. It fails when Redis cannot be reached. reg (may be nil) receives
// the in-memory bus's metrics (puod_bus_published_events_total counts the
// events this replica read from the stream) and
// puod_bus_redis_errors_total.
func NewRedis(ctx context.Context, cfg RedisConfig, log hclog.Logger, reg prometheus.Registerer) (*Redis, error) {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(defaultMaxBackoff, cfg.MinBackoff)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("bus: parse Redis URL %s: %w", redact(cfg.URL), err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = defaultTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = defaultTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = defaultTimeout
	}
	// Publishing happens on the ingest path: while Redis is down it should
	// fail quickly rather than retry for seconds.
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if opt.DialerRetries <= 0 {
		opt.DialerRetries = 2
	}
	client := redis.NewClient(opt)
	start, err := streamEnd(ctx, client, cfg.Stream)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("bus: connect to Redis at %s: %w (is Redis running and PUOD_REDIS_URL right? Unset PUOD_REDIS_URL to use the in-memory bus)", redact(cfg.URL), err)
	}
	local, err := NewMemory(MemoryConfig{Buffer: cfg.Buffer}, reg)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	r := &Redis{
		client:     client,
		stream:     cfg.Stream,
		maxLen:     cfg.MaxLen,
		local:      local,
		log:        log.Named("bus"),
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_bus_redis_errors_total",
			Help: "Failures of the Redis bus, by operation (publish, read, decode).",
		}, []string{"op"}),
		done: make(chan struct{}),
	}
	if reg != nil {
		if err := reg.Register(r.errors); err != nil {
			_ = client.Close()
			return nil, err
		}
	}
	readCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.read(readCtx, start)
	return r, nil
}

// Publish appends ev to the stream. Local subscribers receive it from the
// reader, like those of every other replica.
func (r *Redis) Publish(ctx context.Context, ev Event) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if ev.Topic == "" {
		return ErrNoTopic
	}
	if ev.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("bus: event id: %w", err)
		}
		ev.ID = id.String()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("bus: encode %s event: %w", ev.Topic, err)
	}
	err = r.client.XAdd(ctx, &redis.XAddArgs{
		Stream: r.stream,
		MaxLen: r.maxLen,
		Approx: true,
		Values: []any{streamField, raw},
	}).Err()
	if err != nil {
		r.errors.WithLabelValues("publish").Inc()
		if r.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("bus: publish %s event to Redis stream %s: %w", ev.Topic, r.stream, err)
	}
	return nil
}

// Subscribe returns the events of topics (every topic when none is given)
// read from the stream from now on.
func (r *Redis) Subscribe(topics ...string) (<-chan Event, func()) {
	return r.local.Subscribe(topics...)
}

// Dropped is how many events were dropped for slow local subscribers.
func (r *Redis) Dropped() int64 { return r.local.Dropped() }

// Subscribers is the number of open local subscriptions.
func (r *Redis) Subscribers() int { return r.local.Subscribers() }

// Close stops the reader and closes the connections to Redis. Open
// subscriptions receive nothing more; their cancel functions still work.
// Close is idempotent.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.cancel()
		// Closing the client also ends an XREAD blocked in Redis.
		err = r.client.Close()
		<-r.done
	})
	return err
}

// read follows the stream from the entry after lastID until ctx ends.
func (r *Redis) read(ctx context.Context, lastID string) {
	defer close(r.done)
	var (
		backoff = r.minBackoff
		failing bool
		resync  bool
	)
	fail := func(op string, err error) {
		r.errors.WithLabelValues(op).Inc()
		if !failing {
			r.log.Warn("Redis stream unreachable; events from other replicas are delayed until it answers", "stream", r.stream, "error", err)
		}
		failing, resync = true, true
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.maxBackoff)
	}
	for ctx.Err() == nil {
		if resync {
			id, err := r.resume(ctx, lastID)
			if err != nil {
				if ctx.Err() == nil {
					fail("read", err)
				}
				continue
			}
			lastID, resync = id, false
		}
		streams, err := r.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{r.stream, lastID},
			Count:   readCount,
			Block:   defaultBlock,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() == nil && !r.closed.Load() {
				fail("read", err)
			}
			continue
		}
		if failing {
			r.log.Info("Redis stream reachable again", "stream", r.stream, "resumed_after", lastID)
			failing, backoff = false, r.minBackoff
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				lastID = m.ID
				r.deliver(m)
			}
		}
	}
}

// deliver decodes one stream entry and hands it to the local subscribers.
// An entry that is not an event (written by something else) is skipped.
func (r *Redis) deliver(m redis.XMessage) {
	raw, _ := m.Values[streamField].(string)
	var ev Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil || ev.Topic == "" {
		r.errors.WithLabelValues("decode").Inc()
		r.log.Warn("skipping a stream entry that is not an event", "stream", r.stream, "entry", m.ID, "error", err)
		return
	}
	_ = r.local.Publish(context.Background(), ev)
}

// resume picks where to read from after an outage: after lastID when the
// stream still reaches it (catching up on what was published meanwhile),
// or from the start when the stream is gone or was recreated with older ids
// (Redis restarted empty): every entry in it then came after the outage.
func (r *Redis) resume(ctx context.Context, lastID string) (string, error) {
	end, err := streamEnd(ctx, r.client, r.stream)
	if err != nil {
		return "", err
	}
	if compareIDs(end, lastID) < 0 {
		return "0-0", nil
	}
	return lastID, nil
}

// streamEnd is the id of the stream's last entry, "0-0" when it has none.
func streamEnd(ctx context.Context, c *redis.Client, stream string) (string, error) {
	last, err := c.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(last) == 0 {
		return "0-0", nil
	}
	return last[0].ID, nil
}

// compareIDs orders two stream ids "<ms>-<seq>" numerically.
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if c := cmp.Compare(am, bm); c != 0 {
		return c
	}
	return cmp.Compare(as, bs)
}

func splitID(id string) (ms, seq uint64) {
	msPart, seqPart, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(msPart, 10, 64)
	seq, _ = strconv.ParseUint(seqPart, 10, 64)
	return ms, seq
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
