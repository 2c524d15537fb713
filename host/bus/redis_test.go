package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cache/redistest"
)

// testBus is what the shared contract tests need of a bus.
type testBus interface {
	bus.Bus
	Dropped() int64
	Subscribers() int
}

// contract runs the behaviour every Bus must have on buses built by
// newBus (buffer is the per-subscription buffer). Delivery may be
// asynchronous (Redis), so tests wait for events instead of assuming them.
func contract(t *testing.T, newBus func(t *testing.T, buffer int) testBus) {
	t.Run("DeliversByTopic", func(t *testing.T) {
		t.Parallel()
		b := newBus(t, 16)
		runs, cancelRuns := b.Subscribe(bus.TopicRunChanged)
		defer cancelRuns()
		all, cancelAll := b.Subscribe()
		defer cancelAll()
		metrics, cancelMetrics := b.Subscribe(bus.TopicMetricAppended, bus.TopicAlertChanged)
		defer cancelMetrics()

		publish(t, b, bus.TopicRunChanged, 1)
		publish(t, b, bus.TopicMetricAppended, 2)
		publish(t, b, bus.TopicRunChanged, 3)

		if got := receive(t, all, 3); !equal(got, []int{1, 2, 3}) {
			t.Fatalf("all-topics subscriber got %v, want [1 2 3]", got)
		}
		if got := receive(t, runs, 2); !equal(got, []int{1, 3}) {
			t.Fatalf("run.changed subscriber got %v, want [1 3]", got)
		}
		if got := receive(t, metrics, 1); !equal(got, []int{2}) {
			t.Fatalf("metric/alert subscriber got %v, want [2]", got)
		}
		// Nothing else is pending: a marker published last is the next
		// event of each filtered subscriber.
		publish(t, b, bus.TopicAlertChanged, 4)
		if got := receive(t, metrics, 1); !equal(got, []int{4}) {
			t.Fatalf("metric/alert subscriber got %v, want [4]", got)
		}
		publish(t, b, bus.TopicRunChanged, 5)
		if got := receive(t, runs, 1); !equal(got, []int{5}) {
			t.Fatalf("run.changed subscriber got %v after the marker, want [5]", got)
		}
	})

	t.Run("EventFieldsSurvive", func(t *testing.T) {
		t.Parallel()
		b := newBus(t, 4)
		ch, cancel := b.Subscribe()
		defer cancel()
		ev, err := bus.NewEvent(bus.TopicRunChanged, "prof-1", bus.RunChanged{SourceID: "s", PipelineID: "p", RunID: "r", State: "failed"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		got := next(t, ch)
		var p bus.RunChanged
		if err := got.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if got.ID != ev.ID || got.Topic != ev.Topic || got.ProfileID != "prof-1" || !got.Time.Equal(ev.Time) || p.PipelineID != "p" || p.State != "failed" {
			t.Fatalf("received %+v (payload %+v), published %+v", got, p, ev)
		}
		// ID and Time are filled in when empty.
		if err := b.Publish(t.Context(), bus.Event{Topic: bus.TopicDashboardChanged, ProfileID: "prof-1", Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if got := next(t, ch); got.ID == "" || got.Time.IsZero() {
			t.Fatalf("event without id/time delivered as %+v", got)
		}
	})

	// A subscriber that reads nothing never blocks delivery to the others;
	// it keeps the newest events, and the drops are counted.
	t.Run("SlowSubscriberDropsOldest", func(t *testing.T) {
		t.Parallel()
		b := newBus(t, 4)
		slow, cancelSlow := b.Subscribe(bus.TopicRunChanged)
		defer cancelSlow()
		fast, cancelFast := b.Subscribe(bus.TopicRunChanged)
		defer cancelFast()
		const n = 100
		done := make(chan []int)
		go func() {
			var got []int
			for ev := range fast {
				got = append(got, seqOf(ev))
				if seqOf(ev) == n { // the newest event is never the one dropped
					break
				}
			}
			done <- got
		}()
		for i := 1; i <= n; i++ {
			publish(t, b, bus.TopicRunChanged, i)
		}
		select {
		case got := <-done:
			if !increasing(got) {
				t.Fatalf("reading subscriber got events out of order: %v", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the reading subscriber never got the last event: delivery blocked on the slow one?")
		}
		if kept := receive(t, slow, 4); !equal(kept, []int{97, 98, 99, 100}) {
			t.Fatalf("slow subscriber kept %v, want the newest [97 98 99 100]", kept)
		}
		if b.Dropped() < n-4 {
			t.Fatalf("Dropped() = %d, want at least %d", b.Dropped(), n-4)
		}
	})

	t.Run("RejectsEventWithoutTopic", func(t *testing.T) {
		t.Parallel()
		if err := newBus(t, 1).Publish(t.Context(), bus.Event{}); !errors.Is(err, bus.ErrNoTopic) {
			t.Fatalf("Publish without topic: %v, want ErrNoTopic", err)
		}
	})

	t.Run("CancelClosesChannel", func(t *testing.T) {
		t.Parallel()
		b := newBus(t, 4)
		ch, cancel := b.Subscribe()
		if b.Subscribers() != 1 {
			t.Fatalf("Subscribers() = %d, want 1", b.Subscribers())
		}
		cancel()
		cancel() // idempotent
		for range ch {
		}
		if b.Subscribers() != 0 {
			t.Fatalf("Subscribers() = %d after cancel", b.Subscribers())
		}
		publish(t, b, bus.TopicRunChanged, 1) // no subscriber: fine
	})
}

func TestMemory_contract(t *testing.T) {
	t.Parallel()
	contract(t, func(t *testing.T, buffer int) testBus { return newBus(t, buffer) })
}

func TestRedis_contract(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	contract(t, func(t *testing.T, buffer int) testBus {
		return newRedisBus(t, bus.RedisConfig{URL: url, Stream: redistest.Prefix(t, url) + "events", Buffer: buffer}, nil)
	})
}

// TestRedis_replicas: two buses on one stream are two host replicas: an
// event published on either reaches the subscribers of both, in
// publication order, topic filters included.
func TestRedis_replicas(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	cfg := bus.RedisConfig{URL: url, Stream: redistest.Prefix(t, url) + "events"}
	a := newRedisBus(t, cfg, prometheus.NewRegistry())
	b := newRedisBus(t, cfg, prometheus.NewRegistry())

	allA, cancel := a.Subscribe()
	defer cancel()
	allB, cancel := b.Subscribe()
	defer cancel()
	runsB, cancel := b.Subscribe(bus.TopicRunChanged)
	defer cancel()

	var want, wantRuns []int
	for i := 1; i <= 40; i++ {
		topic, on := bus.TopicRunChanged, a
		if i%3 == 0 {
			topic = bus.TopicMetricAppended
		}
		if i > 30 {
			on = b // the other replica publishes the tail
		}
		publish(t, on, topic, i)
		want = append(want, i)
		if topic == bus.TopicRunChanged {
			wantRuns = append(wantRuns, i)
		}
	}
	if got := receive(t, allA, len(want)); !equal(got, want) {
		t.Fatalf("replica a got %v, want %v", got, want)
	}
	if got := receive(t, allB, len(want)); !equal(got, want) {
		t.Fatalf("replica b got %v, want %v", got, want)
	}
	if got := receive(t, runsB, len(wantRuns)); !equal(got, wantRuns) {
		t.Fatalf("replica b's run.changed subscriber got %v, want %v", got, wantRuns)
	}
}

// TestRedis_startsAtTheEnd: a new replica does not replay what was in the
// stream before it started, but gets everything published after NewRedis
// returned, even before its reader's first XREAD.
func TestRedis_startsAtTheEnd(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	cfg := bus.RedisConfig{URL: url, Stream: redistest.Prefix(t, url) + "events"}
	old := newRedisBus(t, cfg, nil)
	for i := 1; i <= 5; i++ {
		publish(t, old, bus.TopicRunChanged, i)
	}
	late := newRedisBus(t, cfg, nil)
	ch, cancel := late.Subscribe()
	defer cancel()
	publish(t, old, bus.TopicRunChanged, 6)
	if got := receive(t, ch, 1); !equal(got, []int{6}) {
		t.Fatalf("new replica's first event: %v, want [6] (nothing from before it started)", got)
	}
}

// TestRedis_streamFormat: the stream holds one entry per event, field
// "event" = the event's JSON, so other tools can read it; foreign entries
// are skipped, not fatal.
func TestRedis_streamFormat(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	stream := redistest.Prefix(t, url) + "events"
	reg := prometheus.NewRegistry()
	b := newRedisBus(t, bus.RedisConfig{URL: url, Stream: stream}, reg)
	ch, cancel := b.Subscribe()
	defer cancel()

	opt, _ := redis.ParseURL(url)
	raw := redis.NewClient(opt)
	defer raw.Close()
	ctx := t.Context()
	if err := raw.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"something", "else"}}).Err(); err != nil {
		t.Fatal(err)
	}
	publish(t, b, bus.TopicRunChanged, 7)
	if got := receive(t, ch, 1); !equal(got, []int{7}) {
		t.Fatalf("after a foreign entry got %v, want [7]", got)
	}
	entries, err := raw.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("XRANGE = %v, %v; want 2 entries", entries, err)
	}
	var ev bus.Event
	if err := json.Unmarshal([]byte(entries[1].Values["event"].(string)), &ev); err != nil || ev.Topic != bus.TopicRunChanged || ev.ProfileID != "p1" {
		t.Fatalf("stream entry %v: %+v, %v", entries[1].Values, ev, err)
	}
	if n := counterSum(t, reg, "puod_bus_redis_errors_total"); n != 1 {
		t.Fatalf("decode errors = %v, want 1", n)
	}
}

// TestRedis_trimmed: the stream is capped (approximately) at MaxLen.
func TestRedis_trimmed(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	stream := redistest.Prefix(t, url) + "events"
	b := newRedisBus(t, bus.RedisConfig{URL: url, Stream: stream, MaxLen: 100}, nil)
	for i := range 1000 {
		publish(t, b, bus.TopicRunChanged, i)
	}
	opt, _ := redis.ParseURL(url)
	raw := redis.NewClient(opt)
	defer raw.Close()
	// "~" trims whole nodes of the stream: the length stays within a
	// node's size (100 entries by default) of the cap, far below 1000.
	if n, err := raw.XLen(t.Context(), stream).Result(); err != nil || n > 300 {
		t.Fatalf("XLEN = %d, %v; want about 100", n, err)
	}
}

// TestRedis_close: Close stops the reader (it returns, even with an XREAD
// blocked in Redis), is idempotent, and Publish then fails with ErrClosed.
func TestRedis_close(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	b, err := bus.NewRedis(t.Context(), bus.RedisConfig{URL: url, Stream: redistest.Prefix(t, url) + "events"}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := b.Subscribe()
	publish(t, b, bus.TopicRunChanged, 1)
	receive(t, ch, 1) // the reader is running and now blocked in XREAD
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return: the reader did not stop")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ev, _ := bus.NewEvent(bus.TopicRunChanged, "p1", struct{}{})
	if err := b.Publish(t.Context(), ev); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	cancel() // subscriptions can still be cancelled
	for range ch {
	}
}

func TestNewRedis_unreachable(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	url := srv.URL()
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if b, err := bus.NewRedis(ctx, bus.RedisConfig{URL: url}, nil, nil); err == nil {
		_ = b.Close()
		t.Fatal("NewRedis succeeded with Redis down")
	}
	if _, err := bus.NewRedis(ctx, bus.RedisConfig{URL: "http://x"}, nil, nil); err == nil {
		t.Fatal("NewRedis accepted an http URL")
	}
}

// TestRedis_restart: Redis is killed and restarted (empty) on the same
// port. Publishing fails while it is down, the readers reconnect by
// themselves, and events published afterwards reach both replicas.
func TestRedis_restart(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	cfg := bus.RedisConfig{URL: srv.URL(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	a := newRedisBus(t, cfg, nil)
	b := newRedisBus(t, cfg, nil)
	chA, cancel := a.Subscribe()
	defer cancel()
	chB, cancel := b.Subscribe(bus.TopicRunChanged)
	defer cancel()

	publish(t, a, bus.TopicRunChanged, 1)
	if got := receive(t, chB, 1); !equal(got, []int{1}) {
		t.Fatalf("before the outage b got %v", got)
	}
	if got := receive(t, chA, 1); !equal(got, []int{1}) {
		t.Fatalf("before the outage a got %v", got)
	}

	srv.Stop()
	ctx, cancelCtx := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancelCtx()
	ev, _ := bus.NewEvent(bus.TopicRunChanged, "p1", map[string]int{"n": -1})
	if err := a.Publish(ctx, ev); err == nil {
		t.Fatal("Publish succeeded with Redis down")
	}

	srv.Start()
	// Publishing works again once the client reconnects.
	for n := 2; ; {
		ev, _ := bus.NewEvent(bus.TopicRunChanged, "p1", map[string]int{"n": n})
		if err := a.Publish(ctx, ev); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("Publish never succeeded after Redis came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	publish(t, b, bus.TopicRunChanged, 3)
	if got := receive(t, chB, 2); !equal(got, []int{2, 3}) {
		t.Fatalf("after the restart b got %v, want [2 3]", got)
	}
	if got := receive(t, chA, 2); !equal(got, []int{2, 3}) {
		t.Fatalf("after the restart a got %v, want [2 3]", got)
	}
}

func newRedisBus(t *testing.T, cfg bus.RedisConfig, reg prometheus.Registerer) *bus.Redis {
	t.Helper()
	b, err := bus.NewRedis(t.Context(), cfg, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: t.Output(), Level: hclog.Info})
}

// receive reads n events from ch (failing after a generous deadline) and
// returns their sequence numbers.
func receive(t *testing.T, ch <-chan bus.Event, n int) []int {
	t.Helper()
	var got []int
	for range n {
		got = append(got, seqOf(next(t, ch)))
	}
	return got
}

func next(t *testing.T, ch <-chan bus.Event) bus.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return bus.Event{}
}

func increasing(s []int) bool {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return false
		}
	}
	return true
}

func seqOf(ev bus.Event) int {
	var v struct{ N int }
	if err := json.Unmarshal(ev.Payload, &v); err != nil {
		panic(fmt.Sprintf("event %s payload %s: %v", ev.ID, ev.Payload, err))
	}
	return v.N
}
