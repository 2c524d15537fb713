package bus_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/bus"
)

func newBus(t *testing.T, buffer int) *bus.Memory {
	t.Helper()
	b, err := bus.NewMemory(bus.MemoryConfig{Buffer: buffer}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publish(t *testing.T, b bus.Bus, topic string, n int) {
	t.Helper()
	ev, err := bus.NewEvent(topic, "p1", bus.RunChanged{RunID: "r", State: "running"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Payload = json.RawMessage(`{"n":` + itoa(n) + `}`)
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func seq(t *testing.T, ev bus.Event) int {
	t.Helper()
	var v struct{ N int }
	if err := ev.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.N
}

func TestMemory_deliversByTopic(t *testing.T) {
	t.Parallel()
	b := newBus(t, 16)
	runs, cancelRuns := b.Subscribe(bus.TopicRunChanged)
	defer cancelRuns()
	all, cancelAll := b.Subscribe()
	defer cancelAll()

	publish(t, b, bus.TopicRunChanged, 1)
	publish(t, b, bus.TopicMetricAppended, 2)

	if ev := <-runs; ev.Topic != bus.TopicRunChanged || seq(t, ev) != 1 || ev.ProfileID != "p1" || ev.ID == "" || ev.Time.IsZero() {
		t.Fatalf("runs subscriber got %+v", ev)
	}
	select {
	case ev := <-runs:
		t.Fatalf("runs subscriber got an event of another topic: %+v", ev)
	case <-time.After(20 * time.Millisecond):
	}
	if a, c := seq(t, <-all), seq(t, <-all); a != 1 || c != 2 {
		t.Fatalf("all-topics subscriber got %d, %d; want 1, 2", a, c)
	}
}

// TestMemory_slowSubscriberDropsOldest: a subscriber that reads nothing
// never blocks the publisher; it keeps the newest events, and the drops are
// counted.
func TestMemory_slowSubscriberDropsOldest(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b, err := bus.NewMemory(bus.MemoryConfig{Buffer: 4}, reg)
	if err != nil {
		t.Fatal(err)
	}
	slow, cancel := b.Subscribe(bus.TopicRunChanged)
	defer cancel()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 1000; i++ {
			publish(t, b, bus.TopicRunChanged, i)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked on a subscriber that does not read")
	}
	var got []int
	for range 4 {
		got = append(got, seq(t, <-slow))
	}
	if want := []int{997, 998, 999, 1000}; !equal(got, want) {
		t.Fatalf("slow subscriber kept %v, want the newest %v", got, want)
	}
	if b.Dropped() != 996 {
		t.Fatalf("Dropped() = %d, want 996", b.Dropped())
	}
	if n := counterSum(t, reg, "puod_bus_dropped_events_total"); n != 996 {
		t.Fatalf("dropped metric = %v, want 996", n)
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
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
	t.Fatalf("metric %s not registered", name)
	return 0
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMemory_cancelWhilePublishing: cancelling concurrently with publishers
// neither panics (send on a closed channel) nor deadlocks, and the channel
// is closed afterwards.
func TestMemory_cancelWhilePublishing(t *testing.T) {
	t.Parallel()
	b := newBus(t, 2)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				publish(t, b, bus.TopicRunChanged, i)
			}
		}()
	}
	for range 200 {
		ch, cancel := b.Subscribe(bus.TopicRunChanged)
		<-ch
		cancel()
		cancel() // idempotent
		for range ch {
		}
	}
	close(stop)
	wg.Wait()
	if b.Subscribers() != 0 {
		t.Fatalf("%d subscriptions left", b.Subscribers())
	}
}

func TestMemory_rejectsEventWithoutTopic(t *testing.T) {
	t.Parallel()
	if err := newBus(t, 1).Publish(context.Background(), bus.Event{}); err != bus.ErrNoTopic {
		t.Fatalf("Publish without topic: %v, want ErrNoTopic", err)
	}
}

func TestEvent_jsonRoundTrip(t *testing.T) {
	t.Parallel()
	ev, err := bus.NewEvent(bus.TopicRunChanged, "prof", bus.RunChanged{SourceID: "s", RunID: "r", ExternalID: "e", State: "failed", PreviousState: "running"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back bus.Event
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	var p bus.RunChanged
	if err := back.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || back.ProfileID != "prof" || !back.Time.Equal(ev.Time) || p.State != "failed" || p.PreviousState != "running" {
		t.Fatalf("round trip: %+v %+v", back, p)
	}
}
