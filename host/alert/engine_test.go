package alert_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/sdk"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

type runStep struct {
	state string
	dur   time.Duration
}

func TestEngine_runConditions(t *testing.T) {
	failed := alert.Condition{RunFailed: &alert.RunFailed{}}
	slow := alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}}
	tests := []struct {
		name  string
		cond  alert.Condition
		sel   alert.Selector
		steps []runStep
		want  []string
	}{
		{"run_failed fires on a failed run", failed, alert.Selector{}, []runStep{{"failed", time.Minute}}, []string{"firing"}},
		{"run_failed fires on timed_out", failed, alert.Selector{}, []runStep{{"timed_out", time.Minute}}, []string{"firing"}},
		{"run_failed ignores success", failed, alert.Selector{}, []runStep{{"succeeded", time.Minute}}, nil},
		{"run_failed ignores cancelled by default", failed, alert.Selector{}, []runStep{{"cancelled", time.Minute}}, nil},
		{"run_failed with cancelled listed", alert.Condition{RunFailed: &alert.RunFailed{States: []string{"cancelled"}}}, alert.Selector{}, []runStep{{"cancelled", time.Minute}}, []string{"firing"}},
		{"run_failed resolves on a good run", failed, alert.Selector{}, []runStep{{"failed", time.Minute}, {"succeeded", time.Minute}}, []string{"firing", "resolved"}},
		{"run_failed stays firing on a second failure", failed, alert.Selector{}, []runStep{{"failed", time.Minute}, {"failed", time.Minute}}, []string{"firing"}},
		{"run_failed: a running run changes nothing", failed, alert.Selector{}, []runStep{{"failed", time.Minute}, {"running", 0}}, []string{"firing"}},
		{"duration_above fires on a slow run", slow, alert.Selector{}, []runStep{{"succeeded", 7 * time.Minute}}, []string{"firing"}},
		{"duration_above: a failed slow run counts too", slow, alert.Selector{}, []runStep{{"failed", 6 * time.Minute}}, []string{"firing"}},
		{"duration_above: exactly the threshold is fine", slow, alert.Selector{}, []runStep{{"succeeded", 5 * time.Minute}}, nil},
		{"duration_above: a fast run does not fire", slow, alert.Selector{}, []runStep{{"succeeded", time.Minute}}, nil},
		{"duration_above resolves on a fast run", slow, alert.Selector{}, []runStep{{"succeeded", 7 * time.Minute}, {"succeeded", time.Minute}}, []string{"firing", "resolved"}},
		{"selector glob matches", slow, alert.Selector{Pipeline: "ETL_*"}, []runStep{{"succeeded", 7 * time.Minute}}, []string{"firing"}},
		{"selector glob does not match", slow, alert.Selector{Pipeline: "ETL_Compras"}, []runStep{{"succeeded", 7 * time.Minute}}, nil},
		{"selector regex matches", slow, alert.Selector{PipelineRegex: "(?i)^etl_vendas$"}, []runStep{{"succeeded", 7 * time.Minute}}, []string{"firing"}},
		{"selector tags present", slow, alert.Selector{Tags: []string{"sales"}}, []runStep{{"succeeded", 7 * time.Minute}}, []string{"firing"}},
		{"selector tags missing", slow, alert.Selector{Tags: []string{"sales", "finance"}}, []runStep{{"succeeded", 7 * time.Minute}}, nil},
		{"selector other source", slow, alert.Selector{SourceIDs: []string{"src-2"}}, []runStep{{"succeeded", 7 * time.Minute}}, nil},
		{"selector this source", slow, alert.Selector{SourceIDs: []string{"src-2", "src-1"}}, []runStep{{"succeeded", 7 * time.Minute}}, []string{"firing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseRule(tt.cond)
			r.Selector = tt.sel
			h := newHarness(t, t0, alert.Config{}, r)
			start := t0
			for _, s := range tt.steps {
				h.finish(s.state, start, s.dur)
				start = start.Add(time.Hour)
			}
			equal(t, "notifications", h.out.statuses(), tt.want)
		})
	}
}

func TestEngine_seedExampleETLVendas(t *testing.T) {
	data, err := os.ReadFile("testdata/etl_vendas_duration.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alert.ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, t0, alert.Config{BaseURL: "https://puod.example/"}, rules...)

	h.finish("succeeded", t0, 7*time.Minute)
	ns := h.out.notifications()
	if len(ns) != 1 {
		t.Fatalf("want exactly one notification, have %d", len(ns))
	}
	n := ns[0]
	if n.Status != sdk.NotificationFiring || n.RuleID != "etl-vendas-slow" || n.Severity != "warning" || n.PipelineName != "ETL_Vendas" || n.RunExternalID != "r-1" {
		t.Fatalf("firing notification: %+v", n)
	}
	if want := "ETL_Vendas took 7m0s (limit 5m0s)"; n.Title != want {
		t.Errorf("title %q, want %q", n.Title, want)
	}
	if want := "Run r-1 succeeded after 7m0s. Team data-sales."; n.Summary != want {
		t.Errorf("summary %q, want %q", n.Summary, want)
	}
	if n.Labels["team"] != "data-sales" || n.Labels[alert.LabelPipeline] != "ETL_Vendas" || n.Labels[alert.LabelAlertName] != "ETL_Vendas slower than 5 minutes" {
		t.Errorf("labels %v", n.Labels)
	}
	if len(n.Links) != 2 || n.Links[0].URL != "https://puod.example/runs/run-1" || n.Links[1].URL != "https://adf.example/r/1" {
		t.Errorf("links %+v", n.Links)
	}
	if !n.StartsAt.Equal(t0.Add(7 * time.Minute)) {
		t.Errorf("starts at %v", n.StartsAt)
	}
	in := h.out.batches[0].Notifications[0]
	equal(t, "sinks", in.Sinks, []string{"slack-data-team"})

	h.finish("succeeded", t0.Add(time.Hour), time.Minute)
	ns = h.out.notifications()
	equal(t, "notifications", h.out.statuses(), []string{"firing", "resolved"})
	res := ns[1]
	if res.ID == n.ID || res.Title != "ETL_Vendas took 1m0s (limit 5m0s)" || !res.EndsAt.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Errorf("resolved notification: %+v", res)
	}
	if st := h.state(); st.State != alert.StateResolved || st.Seq != 1 || len(st.History) != 2 {
		t.Errorf("state %+v", st)
	}
}

func TestEngine_forPendingThenFiring(t *testing.T) {
	r := baseRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	r.For = "10m"

	t.Run("fires once for elapsed", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, r)
		h.finish("failed", t0, time.Minute) // active at t0+1m
		if st := h.state(); st.State != alert.StatePending {
			t.Fatalf("state %s, want pending", st.State)
		}
		h.tick(t0.Add(10*time.Minute + 59*time.Second))
		equal(t, "before for", h.out.statuses(), nil)
		h.tick(t0.Add(11 * time.Minute))
		equal(t, "at for", h.out.statuses(), []string{"firing"})
		h.tick(t0.Add(12 * time.Minute))
		equal(t, "after", h.out.statuses(), []string{"firing"})
		if n := h.out.notifications()[0]; !n.StartsAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("starts at %v, want when the condition became active", n.StartsAt)
		}
	})
	t.Run("recovers while pending: nothing sent", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, r)
		h.finish("failed", t0, time.Minute)
		h.finish("succeeded", t0.Add(3*time.Minute), time.Minute)
		h.tick(t0.Add(time.Hour))
		equal(t, "notifications", h.out.statuses(), nil)
		st := h.state()
		var path []string
		for _, tr := range st.History {
			path = append(path, string(tr.From)+">"+string(tr.To))
		}
		equal(t, "history", path, []string{"normal>pending", "pending>normal"})
	})
}

func TestEngine_durationFiresWhileRunning(t *testing.T) {
	h := newHarness(t, t0, alert.Config{}, baseRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}}))
	h.finish("running", t0, 0)
	h.tick(t0.Add(5 * time.Minute))
	equal(t, "at threshold", h.out.statuses(), nil)
	h.tick(t0.Add(5*time.Minute + time.Second))
	equal(t, "past threshold", h.out.statuses(), []string{"firing"})
	h.tick(t0.Add(6 * time.Minute))
	// The same run ends slow: still the same episode, nothing more.
	r, _ := h.runs.Run(context.Background(), profileID, "run-1")
	r.State, r.EndedAt, r.Duration = "succeeded", t0.Add(8*time.Minute), 8*time.Minute
	h.runs.put(r)
	h.clock.Set(r.EndedAt)
	h.deliver(r)
	equal(t, "ended slow", h.out.statuses(), []string{"firing"})
	if n := h.out.notifications()[0]; n.Value != "5m1s (running)" {
		t.Errorf("value %q", n.Value)
	}
}

func TestEngine_deadline(t *testing.T) {
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	// Wednesday 15 July 2026: Lisbon is on summer time (UTC+1), so a
	// deadline computed in UTC would be an hour late.
	day := func(h, m, s int) time.Time { return time.Date(2026, 7, 15, h, m, s, 0, lisbon) }
	data, err := os.ReadFile("testdata/lisbon_deadline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alert.ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	type success struct {
		at      time.Time
		viaBus  bool // else only in the store
		started time.Duration
	}
	tests := []struct {
		name    string
		success *success
		ticks   []time.Time
		want    []string
	}{
		{"no success: fires at 06:00 exactly, not before", nil, []time.Time{day(5, 59, 59), day(6, 0, 0)}, []string{"firing"}},
		{"success at 05:59 announced on the bus", &success{at: day(5, 59, 0), viaBus: true}, []time.Time{day(6, 0, 0), day(7, 0, 0)}, nil},
		{"success at 05:59 known only to the store", &success{at: day(5, 59, 0)}, []time.Time{day(6, 0, 0)}, nil},
		{"yesterday's success does not count", &success{at: day(-18, -30, 0)}, []time.Time{day(6, 0, 0)}, []string{"firing"}},
		{"late tick after a late success: nothing", &success{at: day(6, 30, 0)}, []time.Time{day(7, 0, 0)}, nil},
		{"fires once per occurrence", nil, []time.Time{day(6, 0, 0), day(6, 0, 1), day(9, 0, 0)}, []string{"firing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, day(0, 0, 0).Add(-time.Hour), alert.Config{}, rules...)
			if tt.success != nil {
				r := alert.Run{ID: "ok", ExternalID: "ok", SourceID: etlVendas.SourceID, State: "succeeded", Pipeline: etlVendas,
					StartedAt: tt.success.at.Add(-10 * time.Minute), EndedAt: tt.success.at, SortAt: tt.success.at.Add(-10 * time.Minute)}
				h.runs.put(r)
				if tt.success.viaBus {
					h.clock.Set(tt.success.at)
					h.deliver(r)
				}
			}
			for _, at := range tt.ticks {
				h.tick(at)
			}
			equal(t, "notifications", h.out.statuses(), tt.want)
			if len(tt.want) > 0 {
				n := h.out.notifications()[0]
				if !n.StartsAt.Equal(day(6, 0, 0)) {
					t.Errorf("starts at %v, want 06:00 Lisbon", n.StartsAt)
				}
				if want := "ETL_Vendas has not succeeded by 2026-07-15 06:00 Europe/Lisbon"; n.Title != want {
					t.Errorf("title %q, want %q", n.Title, want)
				}
			}
		})
	}

	t.Run("mon-fri: not at the weekend, again on Monday", func(t *testing.T) {
		fri := time.Date(2026, 7, 17, 7, 0, 0, 0, lisbon) // after Friday's deadline: not this rule's
		h := newHarness(t, fri, alert.Config{}, rules...)
		for d := 1; d <= 2; d++ { // Saturday and Sunday
			h.tick(fri.AddDate(0, 0, d).Add(-time.Hour)) // 06:00
			h.tick(fri.AddDate(0, 0, d).Add(16 * time.Hour))
		}
		equal(t, "weekend", h.out.statuses(), nil)
		h.tick(time.Date(2026, 7, 20, 6, 0, 0, 0, lisbon))
		equal(t, "monday", h.out.statuses(), []string{"firing"})
	})
	t.Run("a deadline missed before the rule existed does not fire", func(t *testing.T) {
		h := newHarness(t, day(10, 0, 0), alert.Config{}, rules...)
		h.tick(day(10, 0, 1))
		h.tick(day(23, 0, 0))
		equal(t, "notifications", h.out.statuses(), nil)
	})
	t.Run("a success after the deadline resolves", func(t *testing.T) {
		h := newHarness(t, day(0, 0, 0), alert.Config{}, rules...)
		h.tick(day(6, 0, 0))
		h.finish("succeeded", day(6, 20, 0), 10*time.Minute)
		h.tick(day(7, 0, 0))
		equal(t, "notifications", h.out.statuses(), []string{"firing", "resolved"})
	})
}

func TestEngine_absence(t *testing.T) {
	r := baseRule(alert.Condition{Absence: &alert.Absence{Interval: "2h"}})
	t.Run("after the last run", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, r)
		h.finish("succeeded", t0, time.Minute) // SortAt t0
		h.tick(t0.Add(2*time.Hour - time.Second))
		equal(t, "before", h.out.statuses(), nil)
		h.tick(t0.Add(2 * time.Hour))
		equal(t, "at interval", h.out.statuses(), []string{"firing"})
		h.tick(t0.Add(3 * time.Hour))
		h.finish("running", t0.Add(3*time.Hour+time.Minute), 0)
		equal(t, "a run arrived", h.out.statuses(), []string{"firing", "resolved"})
		if v := h.out.notifications()[0].Value; v != "2h0m0s" {
			t.Errorf("value %q", v)
		}
	})
	t.Run("last run seeded from the store", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, r)
		h.runs.put(alert.Run{ID: "old", State: "succeeded", Pipeline: etlVendas, SortAt: t0.Add(-time.Hour)})
		h.tick(t0.Add(59 * time.Minute))
		equal(t, "before", h.out.statuses(), nil)
		h.tick(t0.Add(time.Hour))
		equal(t, "at interval", h.out.statuses(), []string{"firing"})
	})
	t.Run("a pipeline that never ran counts from when the rule was loaded", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, r)
		h.tick(t0.Add(time.Hour))
		equal(t, "before", h.out.statuses(), nil)
		h.tick(t0.Add(2 * time.Hour))
		equal(t, "at interval", h.out.statuses(), []string{"firing"})
	})
}

func TestEngine_metricThreshold(t *testing.T) {
	now := t0
	points := []alert.MetricPoint{
		{Time: now.Add(-2 * time.Hour), Value: 1000}, // outside the window
		{Time: now.Add(-50 * time.Minute), Value: 10},
		{Time: now.Add(-20 * time.Minute), Value: 20},
		{Time: now, Value: 30},
	}
	tests := []struct {
		agg, op string
		value   float64
		series  string
		fires   bool
	}{
		{"avg", ">", 19, "sales.volume", true},
		{"avg", ">", 20, "sales.volume", false},
		{"max", ">=", 30, "sales.volume", true},
		{"max", ">", 30, "sales.volume", false},
		{"min", "<", 11, "sales.volume", true},
		{"min", "<", 10, "sales.volume", false},
		{"min", "<=", 10, "sales.volume", true},
		{"sum", ">", 59, "sales.volume", true},
		{"sum", ">", 60, "sales.volume", false},
		{"count", ">=", 3, "sales.volume", true},
		{"count", ">", 3, "sales.volume", false},
		{"count", "<", 1, "sales.empty", true}, // no point in the window: count 0
		{"avg", ">", -1, "sales.empty", false}, // no point: no average, inactive
		{"sum", ">", 59, "sales.*", true},      // glob
	}
	for _, tt := range tests {
		t.Run(tt.agg+tt.op+formatF(tt.value)+" "+tt.series, func(t *testing.T) {
			r := baseRule(alert.Condition{MetricThreshold: &alert.MetricThreshold{Series: tt.series, Window: "1h", Agg: tt.agg, Op: tt.op, Value: tt.value}})
			h := newHarness(t, now, alert.Config{}, r)
			h.metrics.points["sales.volume"] = points
			h.metrics.points["sales.empty"] = points[:1]
			sendMetric(t, h, "sales.empty", "sales.volume")
			var want []string
			if tt.fires {
				want = []string{"firing"}
			}
			equal(t, "notifications", h.out.statuses(), want)
		})
	}

	t.Run("the window slides on ticks", func(t *testing.T) {
		r := baseRule(alert.Condition{MetricThreshold: &alert.MetricThreshold{Series: "sales.volume", Window: "1h", Agg: "sum", Op: ">", Value: 59}})
		r.Annotations = map[string]string{"summary": "{{.Series}} sum {{.Value}} > {{.Threshold}}"}
		h := newHarness(t, now, alert.Config{}, r)
		h.metrics.points["sales.volume"] = points
		sendMetric(t, h, "sales.volume")
		h.tick(now.Add(11 * time.Minute)) // 10 fell out: sum 50
		equal(t, "notifications", h.out.statuses(), []string{"firing", "resolved"})
		ns := h.out.notifications()
		if ns[0].Title != "sales.volume sum 60 > 59" || ns[1].Title != "sales.volume sum 50 > 59" {
			t.Errorf("titles %q, %q", ns[0].Title, ns[1].Title)
		}
	})
}

func formatF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func sendMetric(t *testing.T, h *harness, series ...string) {
	t.Helper()
	ev, err := bus.NewEvent(bus.TopicMetricAppended, profileID, bus.MetricAppended{Series: series, Points: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.eng.OnMetricAppended(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func TestEngine_flappingDamped(t *testing.T) {
	flap := alert.FlapPolicy{Resolves: 2, Window: time.Hour, Stable: 10 * time.Minute}
	h := newHarness(t, t0, alert.Config{Flap: flap}, baseRule(alert.Condition{RunFailed: &alert.RunFailed{}}))
	at := t0
	step := func(state string) {
		h.finish(state, at, time.Minute)
		at = at.Add(2 * time.Minute)
	}
	step("failed")
	step("succeeded")
	step("failed")
	step("succeeded") // second resolve in the hour: flapping from now on
	step("failed")
	equal(t, "before damping", h.out.statuses(), []string{"firing", "resolved", "firing", "resolved", "firing"})

	step("succeeded") // held: no resolved
	step("failed")    // active again while held: no firing
	step("succeeded") // held again; the stable period restarts
	equal(t, "while flapping", h.out.statuses(), []string{"firing", "resolved", "firing", "resolved", "firing"})
	if st := h.state(); st.State != alert.StateFiring || !st.Held {
		t.Fatalf("state %s held %v, want firing held", st.State, st.Held)
	}
	lastOK := h.clock.Now()
	h.tick(lastOK.Add(9 * time.Minute))
	equal(t, "not yet stable", h.out.statuses(), []string{"firing", "resolved", "firing", "resolved", "firing"})
	h.tick(lastOK.Add(10 * time.Minute))
	equal(t, "stable", h.out.statuses(), []string{"firing", "resolved", "firing", "resolved", "firing", "resolved"})
	var reasons int
	for _, tr := range h.state().History {
		if strings.HasPrefix(tr.Reason, "flapping") {
			reasons++
		}
	}
	if reasons != 4 { // held, active again, held, stable
		t.Errorf("%d flapping transitions in history, want 4", reasons)
	}
}

func TestEngine_oneNotificationPerTransition(t *testing.T) {
	rule := baseRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}})

	t.Run("same event twice", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, rule)
		ev := h.finish("succeeded", t0, 7*time.Minute)
		h.send(ev)
		equal(t, "notifications", h.out.statuses(), []string{"firing"})
	})
	t.Run("same run state under a new event id", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, rule)
		h.finish("succeeded", t0, 7*time.Minute)
		r, _ := h.runs.Run(context.Background(), profileID, "run-1")
		h.deliver(r)
		h.finish("succeeded", t0.Add(time.Hour), time.Minute)
		h.deliver(r) // the old slow run again, after a newer fast one
		equal(t, "notifications", h.out.statuses(), []string{"firing", "resolved"})
	})
	t.Run("outbox failure: nothing moves, the retry sends the same ids once", func(t *testing.T) {
		h := newHarness(t, t0, alert.Config{}, rule)
		h.out.fail = errors.New("database is locked")
		h.seq++
		r := alert.Run{ID: "run-1", ExternalID: "r-1", State: "succeeded", Pipeline: etlVendas, StartedAt: t0, EndedAt: t0.Add(7 * time.Minute), Duration: 7 * time.Minute, SortAt: t0}
		h.runs.put(r)
		ev, _ := bus.NewEvent(bus.TopicRunChanged, profileID, bus.RunChanged{RunID: r.ID, State: r.State})
		if err := h.eng.OnRunChanged(context.Background(), ev); err == nil {
			t.Fatal("want the outbox error")
		}
		if ss := h.eng.States(profileID); len(ss) != 0 {
			t.Fatalf("state moved although the outbox failed: %+v", ss)
		}
		h.out.fail = nil
		h.send(ev)
		h.send(ev)
		ns := h.out.notifications()
		if len(ns) != 1 || ns[0].ID != h.out.attempted[0].Notifications[0].Notification.ID {
			t.Fatalf("after retry: %+v", ns)
		}
	})
	t.Run("ids are the same on another replica", func(t *testing.T) {
		ids := func() []string {
			h := newHarness(t, t0, alert.Config{}, rule)
			h.finish("succeeded", t0, 7*time.Minute)
			h.finish("succeeded", t0.Add(time.Hour), time.Minute)
			var out []string
			for _, n := range h.out.notifications() {
				out = append(out, n.ID)
			}
			return out
		}
		a, b := ids(), ids()
		equal(t, "ids", a, b)
		if len(a) != 2 || a[0] == a[1] {
			t.Fatalf("ids %v", a)
		}
	})
}

func TestEngine_templateRendering(t *testing.T) {
	r := baseRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	r.Labels = map[string]string{"team": "sales"}
	r.Annotations = map[string]string{
		"summary":     "[{{upper .Rule.Severity}}] {{.Pipeline.Name}} {{.Status}}",
		"description": "{{with .Run}}Run {{.ExternalID}} {{.State}}: {{.ErrorMessage}} after {{.Duration}}{{end}} for {{.Labels.team}}; tags {{join .Pipeline.Tags \",\"}}{{range .Links}} <{{.Title}}|{{.URL}}>{{end}}",
		"runbook":     "https://wiki.example/{{.Pipeline.ExternalID}}",
	}
	h := newHarness(t, t0, alert.Config{BaseURL: "https://puod.example"}, r)
	h.finish("failed", t0, 90*time.Second)
	n := h.out.notifications()[0]
	if want := "[WARNING] ETL_Vendas firing"; n.Title != want {
		t.Errorf("title %q, want %q", n.Title, want)
	}
	if want := "Run r-1 failed: disk full after 1m30s for sales; tags sales <Run in PUOD|https://puod.example/runs/run-1> <Run in vendor console|https://adf.example/r/1>"; n.Summary != want {
		t.Errorf("summary\n got %q\nwant %q", n.Summary, want)
	}
	if n.Annotations["runbook"] != "https://wiki.example/etl_vendas" {
		t.Errorf("annotations %v", n.Annotations)
	}
}

// fakeDetector calls everything slower than 3m anomalous.
type fakeDetector struct{}

func (fakeDetector) Validate(a alert.Anomaly) []alert.Problem {
	if a.Sensitivity < 0 {
		return []alert.Problem{{Field: "/sensitivity", Message: "must not be negative"}}
	}
	return nil
}

func (fakeDetector) Evaluate(_ context.Context, in alert.AnomalyInput) (alert.Verdict, error) {
	return alert.Verdict{Anomalous: in.Run.Duration > 3*time.Minute, Value: in.Run.Duration.String(), Expected: "< 3m"}, nil
}

func TestEngine_anomalySlot(t *testing.T) {
	r := baseRule(alert.Condition{Anomaly: &alert.Anomaly{Series: "duration"}})
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "not available yet") {
		t.Fatalf("without a detector: %v", err)
	}
	h := newHarness(t, t0, alert.Config{Detector: fakeDetector{}}, r)
	h.finish("succeeded", t0, 2*time.Minute)
	h.finish("succeeded", t0.Add(time.Hour), 4*time.Minute)
	equal(t, "notifications", h.out.statuses(), []string{"firing"})
}

func TestEngine_restore(t *testing.T) {
	rule := baseRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	a := newHarness(t, t0, alert.Config{}, rule)
	a.finish("failed", t0, time.Minute)
	firing := a.out.notifications()[0]

	b := newHarness(t, t0.Add(time.Hour), alert.Config{}, rule)
	b.eng.Restore(profileID, a.eng.States(profileID))
	b.finish("succeeded", t0.Add(time.Hour), time.Minute)
	b.finish("failed", t0.Add(2*time.Hour), time.Minute)
	ns := b.out.notifications()
	equal(t, "after restore", b.out.statuses(), []string{"resolved", "firing"})
	if ns[0].ID == firing.ID || b.out.batches[0].Notifications[0].Seq != 1 || b.out.batches[1].Notifications[0].Seq != 2 {
		t.Fatalf("episode numbering did not continue: %+v", b.out.batches)
	}
}

func TestEngine_setRulesBuildsThenSwaps(t *testing.T) {
	good := baseRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	h := newHarness(t, t0, alert.Config{}, good)
	bad := baseRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "fast"}})
	bad.ID = "r2"
	if err := h.eng.SetRules(profileID, []alert.Rule{good, bad}); !errors.Is(err, alert.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	h.finish("failed", t0, time.Minute)
	equal(t, "old rules still active", h.out.statuses(), []string{"firing"})
	if err := h.eng.SetRules(profileID, []alert.Rule{good, good}); err == nil {
		t.Fatal("duplicate ids accepted")
	}
}

// TestEngine_ruleIndex: with rules looked up by their glob's literal
// prefix (and the others scanned), a run reaches exactly the rules that
// select its pipeline, however their selectors are written.
func TestEngine_ruleIndex(t *testing.T) {
	failed := alert.Condition{RunFailed: &alert.RunFailed{}}
	sels := map[string]alert.Selector{
		"a-etl-star":    {Pipeline: "ETL_*"},
		"b-etl-v-star":  {Pipeline: "ETL_V*"},
		"c-e-star":      {Pipeline: "E*"},
		"d-star":        {Pipeline: "*"},
		"e-exact":       {Pipeline: "ETL_Vendas"},
		"f-other":       {Pipeline: "ETL_Compras"},
		"g-regex":       {PipelineRegex: "(?i)vendas"},
		"h-regex-miss":  {PipelineRegex: "^Vendas"},
		"i-question":    {Pipeline: "ETL_?endas"},
		"j-longer":      {Pipeline: "ETL_Vendas_2*"},
		"k-tags":        {Tags: []string{"sales"}},
		"l-tags-miss":   {Tags: []string{"finance"}},
		"m-everything":  {},
		"n-source-miss": {SourceIDs: []string{"src-2"}},
	}
	want := []string{"a-etl-star", "b-etl-v-star", "c-e-star", "d-star", "e-exact", "g-regex", "i-question", "k-tags", "m-everything"}
	var rules []alert.Rule
	for id, sel := range sels {
		r := baseRule(failed)
		r.ID, r.Name, r.Selector = id, "rule "+id, sel
		rules = append(rules, r)
	}
	h := newHarness(t, t0, alert.Config{}, rules...)
	h.finish("failed", t0, time.Minute)
	var got []string
	for _, n := range h.out.notifications() {
		got = append(got, n.RuleID)
	}
	slices.Sort(got)
	equal(t, "rules that fired", got, want)
}
