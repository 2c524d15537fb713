package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBuffer is the per-subscription buffer of the in-memory bus.
const DefaultBuffer = 1024

// MemoryConfig configures the in-memory bus.
type MemoryConfig struct {
	// Buffer is how many events a subscription holds for a subscriber
	// that has not read them yet (default DefaultBuffer). When it is full
	// the oldest event is dropped: a lagging consumer sees the newest
	// state, and re-reads the store for what it missed.
	Buffer int
}

// Memory is the single-process Bus: subscribers are channels in this
// process. Safe for concurrent use.
type Memory struct {
	buffer int

	mu   sync.RWMutex
	subs map[*subscription]struct{}

	dropped      atomic.Int64
	droppedByTop *prometheus.CounterVec
	published    *prometheus.CounterVec
}

var _ Bus = (*Memory)(nil)

type subscription struct {
	ch chan Event
	// topics is nil for a subscription to every topic.
	topics map[string]bool
}

// NewMemory returns an in-memory bus. reg (may be nil) receives
// puod_bus_published_events_total and puod_bus_dropped_events_total.
func NewMemory(cfg MemoryConfig, reg prometheus.Registerer) (*Memory, error) {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	m := &Memory{
		buffer: cfg.Buffer,
		subs:   map[*subscription]struct{}{},
		droppedByTop: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_bus_dropped_events_total",
			Help: "Events dropped because a subscriber's buffer was full (oldest first), by topic.",
		}, []string{"topic"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_bus_published_events_total",
			Help: "Events published on the bus, by topic.",
		}, []string{"topic"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.droppedByTop, m.published} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Publish delivers ev to every matching subscription without blocking:
// a full buffer loses its oldest event.
func (m *Memory) Publish(_ context.Context, ev Event) error {
	if ev.Topic == "" {
		return ErrNoTopic
	}
	if ev.ID == "" {
		if id, err := uuid.NewV7(); err == nil {
			ev.ID = id.String()
		}
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	m.published.WithLabelValues(ev.Topic).Inc()
	// The read lock keeps cancel from closing a channel while it is being
	// sent to; every send below is non-blocking, so holding it is cheap.
	m.mu.RLock()
	defer m.mu.RUnlock()
	for s := range m.subs {
		if s.topics != nil && !s.topics[ev.Topic] {
			continue
		}
		m.deliver(s, ev)
	}
	return nil
}

// deliver puts ev in s's buffer, dropping the oldest buffered events while
// it is full. Another publisher may refill the slot we freed, so it tries a
// few times and then drops ev itself rather than spin.
func (m *Memory) deliver(s *subscription, ev Event) {
	for range 4 {
		select {
		case s.ch <- ev:
			return
		default:
		}
		select {
		case old := <-s.ch:
			m.drop(old.Topic)
		default:
		}
	}
	m.drop(ev.Topic)
}

func (m *Memory) drop(topic string) {
	m.dropped.Add(1)
	m.droppedByTop.WithLabelValues(topic).Inc()
}

// Subscribe returns the events of topics (every topic when none is given).
func (m *Memory) Subscribe(topics ...string) (<-chan Event, func()) {
	s := &subscription{ch: make(chan Event, m.buffer)}
	if len(topics) > 0 {
		s.topics = make(map[string]bool, len(topics))
		for _, t := range topics {
			s.topics[t] = true
		}
	}
	m.mu.Lock()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, s)
			m.mu.Unlock()
			close(s.ch)
		})
	}
}

// Dropped is how many events were dropped for slow subscribers so far.
func (m *Memory) Dropped() int64 { return m.dropped.Load() }

// Subscribers is the number of open subscriptions.
func (m *Memory) Subscribers() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.subs)
}
