package alerting_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
)

// t0 is the tests' evaluation time (the injected clocks start here).
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// manualClock moves only when a test moves it.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// tenant creates a profile and returns a context acting in it and its id.
func tenant(t *testing.T, db *store.DB) (context.Context, string) {
	t.Helper()
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	p, err := identity.Require(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, p.ProfileID
}

// metricRule fires while max(series over 1h) > 10.
func metricRule(id, series string) alert.Rule {
	return alert.Rule{
		ID: id, Name: "rule " + id, Severity: alert.SeverityWarning,
		Labels: map[string]string{"team": "data-sales"},
		Condition: alert.Condition{MetricThreshold: &alert.MetricThreshold{
			Series: series, Window: "1h", Agg: alert.AggMax, Op: ">", Value: 10}},
		Sinks: []string{"sink-a"},
	}
}

// storeRule stores r (as the alert API would) under r.ID.
func storeRule(t *testing.T, ctx context.Context, db *store.DB, r alert.Rule, enabled bool) {
	t.Helper()
	spec, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	storeRawRule(t, ctx, db, r.ID, alert.KindMetricThreshold, spec, enabled)
}

func storeRawRule(t *testing.T, ctx context.Context, db *store.DB, id, kind string, spec json.RawMessage, enabled bool) {
	t.Helper()
	if _, err := db.AlertRules().Create(ctx, store.AlertRuleInput{ID: id, Name: "rule " + id, Kind: kind,
		Spec: spec, Enabled: enabled}); err != nil {
		t.Fatalf("store rule %s: %v", id, err)
	}
}

// appendMetric stores one point and announces it on the bus, as the
// metrics ingestion does.
func appendMetric(t *testing.T, ctx context.Context, db *store.DB, b bus.Bus, profileID, series string, at time.Time, v float64) {
	t.Helper()
	if _, err := db.Metrics().Append(ctx, []store.MetricPoint{{Series: series, Time: at, Value: v}}); err != nil {
		t.Fatal(err)
	}
	publish(t, b, bus.TopicMetricAppended, profileID,
		bus.MetricAppended{Series: []string{series}, Points: 1, From: at, To: at})
}

func publish(t *testing.T, b bus.Bus, topic, profileID string, payload any) {
	t.Helper()
	ev, err := bus.NewEvent(topic, profileID, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func newBus(t *testing.T) *bus.Memory {
	t.Helper()
	b, err := bus.NewMemory(bus.MemoryConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls ok until it holds or 30 s pass.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startRunner runs r until the test ends (or stop is called) and waits for
// Run to return.
func startRunner(t *testing.T, r *alerting.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("runner did not stop within 20s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// recordingSender records what it was asked to deliver and delivers it.
type recordingSender struct {
	mu   sync.Mutex
	sent []sent
}

type sent struct {
	sink string
	n    sdk.Notification
}

func (s *recordingSender) Notify(_ context.Context, sink string, n sdk.Notification) (sdk.NotifyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sent{sink, n})
	return sdk.NotifyResult{Outcome: sdk.Delivered}, nil
}

func (s *recordingSender) all() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sent(nil), s.sent...)
}

// outboxRows lists the profile's notification rows.
func outboxRows(t *testing.T, ctx context.Context, db *store.DB) []store.Notification {
	t.Helper()
	rows, _, err := db.Notifications().List(ctx, store.NotificationFilter{}, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func alertStates(t *testing.T, ctx context.Context, db *store.DB) []store.AlertState {
	t.Helper()
	sts, err := db.AlertStates().List(ctx, store.AlertStateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// stateOf returns the stored state of a rule's series ("" when none).
func stateOf(t *testing.T, ctx context.Context, db *store.DB, ruleID string) string {
	t.Helper()
	sts, err := db.AlertStates().List(ctx, store.AlertStateFilter{RuleID: ruleID})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) == 0 {
		return ""
	}
	return sts[0].State
}
