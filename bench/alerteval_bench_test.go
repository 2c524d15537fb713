package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/bus"
)

const evalProfile = "bench-profile"

// BenchmarkAlertEval measures the alert engine alone (host/alert Engine,
// in-memory run reader, an Outbox that only counts) with 10,000 run_failed
// rules, rule i watching the pipelines p<i>-*: evaluation throughput
// (run.changed events per second, one at a time as the alerting runner
// delivers them), the heap the rules take, and the heap and allocations
// per event. The baseline, in the same run, is the same events against one
// rule watching every pipeline (p*): each event still matches exactly one
// rule and changes exactly one series (a failure fires it, the next
// success resolves it), so the ratio is what the other 9,999 rules cost.
func BenchmarkAlertEval(b *testing.B) {
	const rules = 10000
	events := 2 * rules
	if testing.Short() {
		events = rules
	}
	var big, base evalResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base = evalRound(b, 1, rules, events)
		big = evalRound(b, rules, rules, events)
	}
	b.StopTimer()
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(big.rate(), "events/s")
	b.ReportMetric(base.rate(), "baseline-events/s")
	b.ReportMetric(big.rate()/base.rate(), "ratio")
	b.ReportMetric(big.rulesHeap/(1<<20), "rules-heap-MB")
	b.ReportMetric(big.rulesHeap/rules/1024, "heap-KB/rule")
	b.ReportMetric(big.afterHeap/(1<<20), "heap-after-MB")
	b.ReportMetric(big.allocs, "allocs/event")
	b.ReportMetric(big.bytes, "B/event")
	b.ReportMetric(base.allocs, "baseline-allocs/event")
	b.ReportMetric(base.bytes, "baseline-B/event")
}

type evalResult struct {
	events    int
	elapsed   time.Duration
	rulesHeap float64 // heap in use after loading the rules, over the empty engine's
	afterHeap float64 // heap in use after every event, over the empty engine's
	allocs    float64 // per event
	bytes     float64 // per event
}

func (r evalResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// evalRound loads nRules rules (1: the baseline rule p*) and evaluates the
// events of the plan over `pipelineRules` rules: event k is about rule
// k mod pipelineRules and, in round j = k / pipelineRules, fails
// pipeline p<rule>-<j/2> (even j) or lets it succeed (odd j).
func evalRound(b *testing.B, nRules, pipelineRules, nEvents int) evalResult {
	b.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := &memRuns{runs: make(map[string]alert.Run, nEvents)}
	evs := make([]bus.Event, nEvents)
	for k := range evs {
		r, j := k%pipelineRules, k/pipelineRules
		name := fmt.Sprintf("p%05d-%d", r, j/2)
		pl := alert.Pipeline{ID: "pl-" + name, SourceID: "src", ExternalID: name, Name: name, CreatedAt: t0}
		state := "succeeded"
		if j%2 == 0 {
			state = "failed"
		}
		at := t0.Add(time.Duration(k) * time.Millisecond)
		run := alert.Run{ID: fmt.Sprintf("run-%d", k), SourceID: "src", ExternalID: fmt.Sprint(k), State: state, Pipeline: pl,
			StartedAt: at, EndedAt: at.Add(time.Second), Duration: time.Second, SortAt: at}
		runs.runs[run.ID] = run
		ev, err := bus.NewEvent(bus.TopicRunChanged, evalProfile, bus.RunChanged{SourceID: "src", PipelineID: pl.ID, RunID: run.ID, ExternalID: run.ExternalID, State: state})
		if err != nil {
			b.Fatal(err)
		}
		evs[k] = ev
	}
	rs := make([]alert.Rule, nRules)
	for i := range rs {
		glob := fmt.Sprintf("p%05d-*", i)
		if nRules == 1 {
			glob = "p*"
		}
		rs[i] = alert.Rule{ID: fmt.Sprintf("rule-%05d", i), Name: fmt.Sprintf("bench rule %05d", i), Severity: alert.SeverityCritical,
			Selector: alert.Selector{Pipeline: glob}, Condition: alert.Condition{RunFailed: &alert.RunFailed{}},
			Annotations: map[string]string{"summary": "{{.Pipeline.Name}} {{.Status}}"}, Sinks: []string{"sink"}}
	}
	out := &countingOutbox{}
	clock := &benchClock{t: t0}

	var m0, m1, m2, m3 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	eng, err := alert.New(alert.Config{Clock: clock}, hclog.NewNullLogger(), alert.Deps{Runs: runs, Outbox: out})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.SetRules(evalProfile, rs); err != nil {
		b.Fatal(err)
	}
	rs = nil
	runtime.GC()
	runtime.ReadMemStats(&m1)

	start := time.Now()
	for k, ev := range evs {
		clock.set(t0.Add(time.Duration(k)*time.Millisecond + 2*time.Second))
		if err := eng.OnRunChanged(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m2)
	runtime.GC()
	runtime.ReadMemStats(&m3)
	runtime.KeepAlive(eng)

	if got := out.notifications(); got != nEvents {
		b.Fatalf("%d rules: %d notifications for %d events, want one per event", nRules, got, nEvents)
	}
	return evalResult{
		events: nEvents, elapsed: elapsed,
		rulesHeap: float64(m1.HeapInuse) - float64(m0.HeapInuse),
		afterHeap: float64(m3.HeapInuse) - float64(m0.HeapInuse),
		allocs:    float64(m2.Mallocs-m1.Mallocs) / float64(nEvents),
		bytes:     float64(m2.TotalAlloc-m1.TotalAlloc) / float64(nEvents),
	}
}

// memRuns is the engine's RunReader over a map built before measuring.
type memRuns struct {
	runs map[string]alert.Run
}

func (m *memRuns) Run(_ context.Context, _, id string) (alert.Run, error) {
	r, ok := m.runs[id]
	if !ok {
		return alert.Run{}, fmt.Errorf("run %s: %w", id, alert.ErrNotFound)
	}
	return r, nil
}

func (m *memRuns) Pipelines(context.Context, string) ([]alert.Pipeline, error) { return nil, nil }

func (m *memRuns) LastRun(context.Context, string, string, ...string) (alert.Run, bool, error) {
	return alert.Run{}, false, nil
}

// countingOutbox accepts every batch and counts its notifications (keeping
// them would measure the recorder's memory, not the engine's).
type countingOutbox struct {
	mu sync.Mutex
	n  int
}

func (o *countingOutbox) Write(_ context.Context, b alert.Batch) error {
	o.mu.Lock()
	o.n += len(b.Notifications)
	o.mu.Unlock()
	return nil
}

func (o *countingOutbox) notifications() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

type benchClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *benchClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
