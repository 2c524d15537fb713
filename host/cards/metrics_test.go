package cards_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/store/storetest"
)

func TestMetrics_cardQueries(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := cache.NewMemory(cache.MemoryConfig{}, nil)
	t.Cleanup(func() { _ = c.Close() })
	fp := runningHello()
	e := newEnv(t, storetest.OpenSQLite(t), c, fp, func(d *cards.Deps) { d.Metrics = reg })

	plugin := card("acme.hello/greeting_runs", map[string]any{"source_id": e.source, "limit": 2})
	steps := []struct {
		body   map[string]any
		status int
		cached bool
	}{
		{card(cards.TypeSuccessRate, nil), 200, false},
		{card(cards.TypeSuccessRate, nil), 200, true},
		{card(cards.TypeRecentFailures, map[string]any{"limit": 0}), 400, false},
		{card("puod.nope", nil), 404, false},
		{plugin, 200, false},
		{plugin, 200, true},
		{plugin, 200, true},
		{card("acme.hello/greeting_runs", nil), 400, false}, // no source_id
	}
	for i, s := range steps {
		a := e.query("a", s.body)
		if a.status != s.status || a.Cached != s.cached {
			t.Fatalf("step %d: %d cached=%v %s, want %d cached=%v", i, a.status, a.Cached, a.raw, s.status, s.cached)
		}
	}
	if fp.calls != 1 {
		t.Errorf("plugin called %d times, want 1", fp.calls)
	}

	wantQueries := map[string]float64{
		"cached=false,outcome=error,type_kind=builtin": 2,
		"cached=false,outcome=error,type_kind=plugin":  1,
		"cached=false,outcome=ok,type_kind=builtin":    1,
		"cached=false,outcome=ok,type_kind=plugin":     1,
		"cached=true,outcome=ok,type_kind=builtin":     1,
		"cached=true,outcome=ok,type_kind=plugin":      2,
	}
	if got := series(t, reg, "puod_card_queries_total"); !equalCounts(got, wantQueries) {
		t.Errorf("puod_card_queries_total = %v, want %v", got, wantQueries)
	}
	// Every query is timed, by kind and cache; no label names a card type
	// (plugins choose theirs freely).
	for _, l := range labelValues(t, reg) {
		if strings.Contains(l, "greeting_runs") || strings.Contains(l, "success_rate") {
			t.Errorf("a label names a card type: %q", l)
		}
	}
	wantCounts := map[string]float64{"cached=false,type_kind=builtin": 3, "cached=true,type_kind=builtin": 1,
		"cached=false,type_kind=plugin": 2, "cached=true,type_kind=plugin": 2}
	if got := series(t, reg, "puod_card_query_seconds"); !equalCounts(got, wantCounts) {
		t.Errorf("puod_card_query_seconds sample counts = %v, want %v", got, wantCounts)
	}

	// A second service on the same registry (the app built again in one
	// process) shares the collectors instead of failing.
	e2 := newEnv(t, storetest.OpenSQLite(t), nil, nil, func(d *cards.Deps) { d.Metrics = reg })
	if a := e2.query("a", card(cards.TypeSuccessRate, nil)); a.status != 200 {
		t.Fatalf("second service: %d %s", a.status, a.raw)
	}
	if got := series(t, reg, "puod_card_queries_total")["cached=false,outcome=ok,type_kind=builtin"]; got != 2 {
		t.Errorf("after a query of the second service, builtin ok uncached = %v, want 2", got)
	}
}

// series reads a counter's values or a histogram's sample counts, keyed
// by "label=value,…" (labels sorted by name).
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var key []string
			for _, l := range m.GetLabel() {
				key = append(key, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out[strings.Join(key, ",")] = v
		}
	}
	return out
}

// labelValues lists every label value of the card query metrics.
func labelValues(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "puod_card_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
