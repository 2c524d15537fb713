package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/bus"
)

// TopicReset is the topic of the event telling a browser that it missed
// events and must reload everything it shows.
const TopicReset = "reset"

// Reasons of a reset, in its payload.
const (
	// ResetUnknownID: the Last-Event-ID is not in the ring (too old, from
	// before a restart, or from another replica that saw events this one
	// did not).
	ResetUnknownID = "unknown_last_event_id"
	// ResetLagged: the browser read more slowly than events came, and its
	// buffer overflowed.
	ResetLagged = "lagged"
)

// Defaults of Config.
const (
	DefaultRing              = 2048
	DefaultClientBuffer      = 256
	DefaultPing              = 15 * time.Second
	DefaultMaxStreamsPerUser = 8
	DefaultWriteTimeout      = 30 * time.Second
)

// Config tunes the hub. Zero values take the defaults.
type Config struct {
	// Ring is how many recent events (of every profile together) are kept
	// for replay. It bounds how long a browser may be away (a laptop lid
	// closed, a network change) and still catch up without reloading
	// everything; a reset is always correct, just more work for the page.
	Ring int
	// ClientBuffer is how many events wait for one stream's writer. A
	// browser that falls further behind gets a reset instead: the hub
	// never blocks the bus for a slow tab.
	ClientBuffer int
	// Ping is the interval of the ": ping" comments that keep proxies and
	// load balancers from closing a quiet stream as idle.
	Ping time.Duration
	// MaxStreamsPerUser bounds the streams one user holds open; each costs
	// a goroutine and a buffer. Beyond it the stream is refused with 429.
	MaxStreamsPerUser int
	// WriteTimeout ends a stream whose client stopped reading (the socket
	// is full), so a dead peer cannot pin a handler until TCP gives up.
	WriteTimeout time.Duration
	// BeforeDeliver, when set, sees every event before any browser does,
	// on the hub's single reader: the app invalidates this process's near
	// card cache there, so a page refreshing a card on the event never
	// reads what the event made stale.
	BeforeDeliver func(bus.Event)
}

func (c Config) withDefaults() Config {
	if c.Ring <= 0 {
		c.Ring = DefaultRing
	}
	if c.ClientBuffer <= 0 {
		c.ClientBuffer = DefaultClientBuffer
	}
	if c.Ping <= 0 {
		c.Ping = DefaultPing
	}
	if c.MaxStreamsPerUser <= 0 {
		c.MaxStreamsPerUser = DefaultMaxStreamsPerUser
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}

// Subscriber is the part of bus.Bus the hub needs.
type Subscriber interface {
	Subscribe(topics ...string) (<-chan bus.Event, func())
}

// Hub fans the bus out to the event streams of this process.
type Hub struct {
	cfg Config
	log hclog.Logger
	// instance tells this hub's cursors from those of another process (or
	// of this one before a restart): a cursor is a position in one ring.
	instance string

	mu sync.Mutex
	// ring holds the last cfg.Ring entries; ring[(start+i)%len] is the
	// entry of sequence number first+i. seq is the newest sequence number.
	ring   []entry
	start  int
	n      int
	seq    uint64
	index  map[string]uint64 // event id → sequence number
	subs   map[*stream]struct{}
	byUser map[string]int
	closed bool

	done      chan struct{}
	fed       chan struct{}
	closeOnce sync.Once
	cancelBus func()

	streams prometheus.Gauge
	resets  *prometheus.CounterVec
	sent    prometheus.Counter
}

// entry is one event as every stream writes it.
type entry struct {
	seq     uint64
	id      string
	profile string
	frame   []byte
}

// stream is one open GET /api/v1/events.
type stream struct {
	profile string
	user    string
	ch      chan entry
	// lagged is set (under Hub.mu) when ch overflowed; wake tells the
	// stream's writer at once.
	lagged bool
	wake   chan struct{}
}

// New subscribes to every topic of b and starts filling the ring. reg (may
// be nil) receives puod_events_streams, puod_events_sent_total and
// puod_events_resets_total. Close ends it.
func New(cfg Config, log hclog.Logger, b Subscriber, reg prometheus.Registerer) (*Hub, error) {
	cfg = cfg.withDefaults()
	var inst [6]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return nil, fmt.Errorf("events: instance id: %w", err)
	}
	h := &Hub{
		cfg:      cfg,
		log:      log.Named("events"),
		instance: hex.EncodeToString(inst[:]),
		ring:     make([]entry, cfg.Ring),
		index:    make(map[string]uint64, cfg.Ring),
		subs:     map[*stream]struct{}{},
		byUser:   map[string]int{},
		done:     make(chan struct{}),
		fed:      make(chan struct{}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "puod_events_streams", Help: "Open Server-Sent Events streams.",
		}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_events_resets_total", Help: "Reset events sent to browsers, by reason (unknown_last_event_id, lagged).",
		}, []string{"reason"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_events_sent_total", Help: "Events written to Server-Sent Events streams (replays included).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.streams, h.resets, h.sent} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("events: register metrics: %w", err)
			}
		}
	}
	ch, cancel := b.Subscribe()
	h.cancelBus = cancel
	go h.feed(ch)
	return h, nil
}

// Close ends every stream (their handlers return, so http.Server.Shutdown
// can complete) and the bus subscription. Idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		close(h.done)
		h.cancelBus()
		<-h.fed
	})
}

// Streams is the number of open streams.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) feed(ch <-chan bus.Event) {
	defer close(h.fed)
	for ev := range ch {
		if h.cfg.BeforeDeliver != nil {
			h.cfg.BeforeDeliver(ev)
		}
		frame, err := render(ev)
		if err != nil {
			h.log.Warn("event not sent to browsers", "topic", ev.Topic, "id", ev.ID, "error", err)
			continue
		}
		h.add(ev, frame)
	}
}

// add appends an event to the ring and hands it to the streams of its
// profile, without ever waiting for one.
func (h *Hub) add(ev bus.Event, frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := entry{seq: h.seq, id: ev.ID, profile: ev.ProfileID, frame: frame}
	if h.n == len(h.ring) {
		// Full: the newest takes the oldest's slot.
		old := h.ring[h.start]
		if h.index[old.id] == old.seq {
			delete(h.index, old.id)
		}
		h.ring[h.start] = e
		h.start = (h.start + 1) % len(h.ring)
	} else {
		h.ring[(h.start+h.n)%len(h.ring)] = e
		h.n++
	}
	h.index[e.id] = e.seq
	for s := range h.subs {
		if s.profile != e.profile {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.lagged = true
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

// first is the sequence number of the oldest entry in the ring (seq+1
// when it is empty). Call with mu held.
func (h *Hub) first() uint64 { return h.seq - uint64(h.n) + 1 }

// at returns the entry of sequence number s, which must be in the ring.
// Call with mu held.
func (h *Hub) at(s uint64) entry {
	return h.ring[(h.start+int(s-h.first()))%len(h.ring)]
}

// after resolves a Last-Event-ID of profile to the sequence number after
// which the profile's events must be replayed. ok is false when that is
// not possible: the id is unknown, of another profile, or a cursor whose
// events have left the ring. Call with mu held.
func (h *Hub) after(lastID, profile string) (uint64, bool) {
	if s, ok := h.index[lastID]; ok {
		return s, h.at(s).profile == profile
	}
	inst, num, ok := strings.Cut(lastID, ".")
	if !ok || inst != h.instance {
		return 0, false
	}
	s, err := strconv.ParseUint(num, 10, 64)
	if err != nil || s > h.seq || s+1 < h.first() {
		return 0, false
	}
	return s, true
}

// position is the id a stream of profile is caught up to now: the newest
// event of the profile in the ring, which replays across replicas and
// restarts of the stream; else a cursor into this ring (which never shows
// another profile's event id). Call with mu held.
func (h *Hub) position(profile string) string {
	for s := h.seq; s >= h.first() && s > 0; s-- {
		if e := h.at(s); e.profile == profile {
			return e.id
		}
	}
	return h.instance + "." + strconv.FormatUint(h.seq, 10)
}

// open registers a stream of the user in profile and returns what to
// write first: the missed events of the profile after lastID, or a reset
// when they cannot be known, or (without lastID) the stream's position.
func (h *Hub) open(user, profile, lastID string) (*stream, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errClosed
	}
	if h.byUser[user] >= h.cfg.MaxStreamsPerUser {
		return nil, nil, errTooMany
	}
	s := &stream{profile: profile, user: user, ch: make(chan entry, h.cfg.ClientBuffer), wake: make(chan struct{}, 1)}
	h.subs[s] = struct{}{}
	h.byUser[user]++
	h.streams.Inc()

	var out []byte
	switch from, ok := h.after(lastID, profile); {
	case lastID == "":
		// No event to dispatch: the id alone sets the browser's last
		// event id, so its first reconnect replays what it missed.
		out = fmt.Appendf(out, "id: %s\n\n", h.position(profile))
	case !ok:
		out = h.reset(out, profile, ResetUnknownID)
	default:
		for q := from + 1; q <= h.seq; q++ {
			if e := h.at(q); e.profile == profile {
				out = append(out, e.frame...)
				h.sent.Inc()
			}
		}
	}
	return s, out, nil
}

// close unregisters s.
func (h *Hub) close(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.byUser[s.user]--; h.byUser[s.user] <= 0 {
		delete(h.byUser, s.user)
	}
	h.streams.Dec()
}

// catchUp handles an overflow of s: what is buffered is dropped, and a
// reset (with the position after it) is returned; nil when s did not lag.
func (h *Hub) catchUp(s *stream) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.lagged {
		return nil
	}
	s.lagged = false
	// Every event up to h.seq is in ch or was dropped (add sends under
	// mu), so after draining, the reset's position is exact.
	for len(s.ch) > 0 {
		<-s.ch
	}
	return h.reset(nil, s.profile, ResetLagged)
}

// reset appends a reset event to out. Call with mu held.
func (h *Hub) reset(out []byte, profile, reason string) []byte {
	h.resets.WithLabelValues(reason).Inc()
	id := h.position(profile)
	data, _ := json.Marshal(wireEvent{ID: id, Topic: TopicReset, Time: time.Now().UTC(), Tags: []string{},
		Payload: json.RawMessage(`{"reason":"` + reason + `"}`)})
	return fmt.Appendf(out, "id: %s\nevent: %s\ndata: %s\n\n", id, TopicReset, data)
}

// wireEvent is the data of an event as the browser reads it.
type wireEvent struct {
	ID      string          `json:"id"`
	Topic   string          `json:"topic"`
	Time    time.Time       `json:"time"`
	Tags    []string        `json:"tags"`
	Payload json.RawMessage `json:"payload"`
}

// render formats ev as one SSE event.
func render(ev bus.Event) ([]byte, error) {
	if ev.ID == "" || strings.ContainsAny(ev.ID+ev.Topic, "\r\n") || ev.Topic == "" {
		return nil, fmt.Errorf("event id %q or topic %q cannot be sent as SSE", ev.ID, ev.Topic)
	}
	payload := ev.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	// Marshal compacts the payload, so data stays on one line.
	data, err := json.Marshal(wireEvent{ID: ev.ID, Topic: ev.Topic, Time: ev.Time, Tags: Tags(ev), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Topic, data), nil
}

// Tags are the cache tags an event invalidates (profile-scoped: the
// browser only sees its own profile's events): run.changed → runs,
// source:<id>, pipeline:<id>; dashboard.changed → dashboard:<id>;
// metric.appended → metrics; alert.changed → alerts (and its name, as
// before); any other topic → its name.
func Tags(ev bus.Event) []string {
	switch ev.Topic {
	case bus.TopicRunChanged:
		tags := []string{"runs"}
		var p bus.RunChanged
		if ev.Decode(&p) == nil {
			if p.SourceID != "" {
				tags = append(tags, "source:"+p.SourceID)
			}
			if p.PipelineID != "" {
				tags = append(tags, "pipeline:"+p.PipelineID)
			}
		}
		return tags
	case bus.TopicDashboardChanged:
		var p struct {
			DashboardID string `json:"dashboard_id"`
		}
		if ev.Decode(&p) == nil && p.DashboardID != "" {
			return []string{"dashboard:" + p.DashboardID}
		}
		return []string{bus.TopicDashboardChanged}
	case bus.TopicMetricAppended:
		return []string{"metrics"}
	case bus.TopicAlertChanged:
		return []string{"alerts", bus.TopicAlertChanged}
	}
	return []string{ev.Topic}
}
