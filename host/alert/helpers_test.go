package alert_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/sdk"
)

const profileID = "p1"

// manualClock is the injected clock: it moves only when a test moves it.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type fakeRuns struct {
	mu    sync.Mutex
	runs  map[string]alert.Run
	pipes []alert.Pipeline
}

func (f *fakeRuns) put(r alert.Run) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs[r.ID] = r
}

func (f *fakeRuns) Run(_ context.Context, profile, id string) (alert.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[id]
	if !ok || profile != profileID {
		return alert.Run{}, fmt.Errorf("run %s: %w", id, alert.ErrNotFound)
	}
	return r, nil
}

func (f *fakeRuns) Pipelines(context.Context, string) ([]alert.Pipeline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pipes), nil
}

func (f *fakeRuns) LastRun(_ context.Context, _, pipelineID string, states ...string) (alert.Run, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var (
		best alert.Run
		ok   bool
	)
	for _, r := range f.runs {
		if r.Pipeline.ID != pipelineID || (len(states) > 0 && !slices.Contains(states, r.State)) {
			continue
		}
		if !ok || r.SortAt.After(best.SortAt) {
			best, ok = r, true
		}
	}
	return best, ok, nil
}

type fakeMetrics struct {
	points map[string][]alert.MetricPoint
}

func (f *fakeMetrics) MetricWindow(_ context.Context, _, series string, from, to time.Time) ([]alert.MetricPoint, error) {
	var out []alert.MetricPoint
	for _, p := range f.points[series] {
		if !p.Time.Before(from) && !p.Time.After(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

// recorder is the Outbox: it keeps accepted batches, and fails while fail
// is set (recording what was attempted).
type recorder struct {
	mu        sync.Mutex
	batches   []alert.Batch
	attempted []alert.Batch
	fail      error
}

func (r *recorder) Write(_ context.Context, b alert.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempted = append(r.attempted, b)
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, b)
	return nil
}

func (r *recorder) notifications() []sdk.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sdk.Notification
	for _, b := range r.batches {
		for _, in := range b.Notifications {
			out = append(out, in.Notification)
		}
	}
	return out
}

func (r *recorder) statuses() []string {
	var out []string
	for _, n := range r.notifications() {
		out = append(out, string(n.Status))
	}
	return out
}

var etlVendas = alert.Pipeline{ID: "pl-1", SourceID: "src-1", ExternalID: "etl_vendas", Name: "ETL_Vendas",
	Tags: []string{"sales"}, URL: "https://adf.example/p/etl_vendas", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

type harness struct {
	t       *testing.T
	eng     *alert.Engine
	clock   *manualClock
	runs    *fakeRuns
	metrics *fakeMetrics
	out     *recorder
	seq     int
}

func newHarness(t *testing.T, start time.Time, cfg alert.Config, rules ...alert.Rule) *harness {
	t.Helper()
	return newMutedHarness(t, start, cfg, nil, rules...)
}

// newMutedHarness is newHarness with a Muter.
func newMutedHarness(t *testing.T, start time.Time, cfg alert.Config, muter alert.Muter, rules ...alert.Rule) *harness {
	t.Helper()
	h := &harness{
		t: t, clock: &manualClock{t: start},
		runs:    &fakeRuns{runs: map[string]alert.Run{}, pipes: []alert.Pipeline{etlVendas}},
		metrics: &fakeMetrics{points: map[string][]alert.MetricPoint{}},
		out:     &recorder{},
	}
	cfg.Clock = h.clock
	eng, err := alert.New(cfg, hclog.NewNullLogger(), alert.Deps{Runs: h.runs, Metrics: h.metrics, Outbox: h.out, Muter: muter})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	if err := eng.SetRules(profileID, rules); err != nil {
		t.Fatal(err)
	}
	return h
}

// finish stores a finished run of ETL_Vendas that started at started and
// took d, moves the clock to its end, and delivers its run.changed event.
func (h *harness) finish(state string, started time.Time, d time.Duration) bus.Event {
	h.t.Helper()
	h.seq++
	r := alert.Run{ID: fmt.Sprintf("run-%d", h.seq), ExternalID: fmt.Sprintf("r-%d", h.seq), SourceID: etlVendas.SourceID,
		State: state, Pipeline: etlVendas, StartedAt: started, EndedAt: started.Add(d), Duration: d, SortAt: started,
		URL: fmt.Sprintf("https://adf.example/r/%d", h.seq)}
	if state == "failed" {
		r.ErrorMessage = "disk full"
	}
	if state == "running" {
		r.EndedAt, r.Duration = time.Time{}, 0
	}
	h.runs.put(r)
	if state != "running" {
		h.clock.Set(r.EndedAt)
	}
	return h.deliver(r)
}

func (h *harness) deliver(r alert.Run) bus.Event {
	h.t.Helper()
	ev, err := bus.NewEvent(bus.TopicRunChanged, profileID, bus.RunChanged{SourceID: r.SourceID, PipelineID: r.Pipeline.ID, RunID: r.ID, ExternalID: r.ExternalID, State: r.State})
	if err != nil {
		h.t.Fatal(err)
	}
	h.send(ev)
	return ev
}

func (h *harness) send(ev bus.Event) {
	h.t.Helper()
	if err := h.eng.OnRunChanged(context.Background(), ev); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) tick(at time.Time) {
	h.t.Helper()
	h.clock.Set(at)
	if err := h.eng.Tick(context.Background(), at); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) state() alert.SeriesState {
	h.t.Helper()
	ss := h.eng.States(profileID)
	if len(ss) != 1 {
		h.t.Fatalf("want 1 series, have %d: %+v", len(ss), ss)
	}
	return ss[0]
}

func baseRule(c alert.Condition) alert.Rule {
	return alert.Rule{ID: "r1", Name: "test rule", Severity: alert.SeverityWarning, Condition: c, Sinks: []string{"slack-1"}}
}

func equal[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
