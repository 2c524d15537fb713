package alertapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// history ingests runs into the profile of tok, with times relative to
// the env's clock.
type history struct {
	t      *testing.T
	e      *env
	ctx    context.Context
	source string
	runs   []store.RunUpsert
}

func newHistory(t *testing.T, e *env, tok string) *history {
	ctx := e.ctxOf(tok)
	src, err := e.db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hello", Name: fmt.Sprintf("src-%d", time.Now().UnixNano()), Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return &history{t: t, e: e, ctx: ctx, source: src.ID}
}

// add is a run of pipeline that started at start (relative to now) and
// took d.
func (h *history) add(pipeline, state string, start, d time.Duration) {
	st := h.e.now.Add(start)
	end := st.Add(d)
	h.runs = append(h.runs, store.RunUpsert{ExternalID: fmt.Sprintf("run-%d", len(h.runs)), PipelineExternalID: pipeline,
		PipelineName: pipeline, RunData: store.RunData{State: state, StartedAt: &st, EndedAt: &end}})
}

func (h *history) ingest() {
	h.t.Helper()
	if _, err := h.e.db.Runs().Ingest(h.ctx, store.IngestBatch{SourceID: h.source, Runs: h.runs}); err != nil {
		h.t.Fatal(err)
	}
	h.runs = nil
}

func previewBody(rule map[string]any, days int) map[string]any {
	b := map[string]any{"rule": rule}
	if days != 0 {
		b["days"] = days
	}
	return b
}

func (e *env) preview(tok string, body any) alertapi.Preview {
	e.t.Helper()
	var p alertapi.Preview
	e.must(e.do(tok, "POST", "/api/v1/alert-rules/preview", body), http.StatusOK).decode(e.t, &p)
	return p
}

func TestPreview_durationAboveCountsSlowRuns(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		h := newHistory(t, e, ed)
		// A run every hour over six days: three slower than 5 minutes,
		// each followed by fast ones. Another pipeline is always slow.
		slow := map[int]bool{10: true, 50: true, 51: false, 100: true}
		for i := range 144 {
			d := 2 * time.Minute
			if slow[i] {
				d = 9 * time.Minute
			}
			h.add("ETL_Vendas", store.RunSucceeded, -time.Duration(144-i)*time.Hour, d)
			h.add("ETL_Compras", store.RunSucceeded, -time.Duration(144-i)*time.Hour, time.Hour)
		}
		h.ingest()

		p := e.preview(ed, previewBody(slowRule("preview"), 0))
		if p.Fired != 3 || len(p.Episodes) != 3 || p.Truncated || len(p.Notes) != 0 {
			t.Fatalf("preview = %+v", p)
		}
		if p.RunsEvaluated != 144 {
			t.Errorf("runs evaluated %d, want the 144 of ETL_Vendas", p.RunsEvaluated)
		}
		if !p.Window.To.Equal(e.now) || !p.Window.From.Equal(e.now.Add(-7*24*time.Hour)) || len(p.Daily) != 7 {
			t.Errorf("window %+v, daily %v", p.Window, p.Daily)
		}
		for i, ep := range p.Episodes {
			if ep.Pipeline != "ETL_Vendas" || ep.PipelineID == "" || ep.SourceID != h.source || ep.ResolvedAt == nil || ep.Threshold != "5m0s" {
				t.Errorf("episode %d = %+v", i, ep)
			}
		}
		// `for` longer than the slow runs last keeps the alert from firing
		// (each slow run ends and a fast one follows within the hour).
		r := slowRule("preview")
		r["for"] = "2h"
		if p := e.preview(ed, previewBody(r, 0)); p.Fired != 0 {
			t.Errorf("with for 2h: fired %d", p.Fired)
		}
		// Two days: only the last slow run (44 hours ago).
		if p := e.preview(ed, previewBody(slowRule("preview"), 2)); p.Fired != 1 || len(p.Daily) != 2 || p.Daily[0] != 1 {
			t.Errorf("two days: %+v", p)
		}
		// Nothing was stored: no alert states, no notifications, no rule.
		alerts, err := e.svc.ListAlerts(e.ctxOf(ed), alertapi.AlertFilter{})
		if err != nil || len(alerts) != 0 {
			t.Errorf("alerts after a preview: %v, %v", alerts, err)
		}
		rules, err := e.svc.ListRules(e.ctxOf(ed))
		if err != nil || len(rules) != 0 {
			t.Errorf("rules after a preview: %v, %v", rules, err)
		}
		if ch := e.bus.changes(t); len(ch) != 0 {
			t.Errorf("a preview published %v", ch)
		}
	})
}

func TestPreview_runFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	h := newHistory(t, e, ed)
	states := []string{"succeeded", "failed", "failed", "succeeded", "timed_out", "succeeded", "cancelled", "succeeded", "failed"}
	for i, st := range states {
		h.add("ETL_Vendas", st, -time.Duration(len(states)-i)*6*time.Hour, 10*time.Minute)
	}
	h.ingest()
	r := slowRule("failures")
	r["condition"] = map[string]any{"run_failed": map[string]any{}}
	p := e.preview(ed, previewBody(r, 0))
	// failed (twice in a row: one episode), timed_out, failed (still open).
	if p.Fired != 3 || p.Episodes[0].Value != "failed" || p.Episodes[1].Value != "timed_out" || p.Episodes[2].ResolvedAt != nil {
		t.Fatalf("preview = %+v", p)
	}
	r["condition"] = map[string]any{"run_failed": map[string]any{"states": []any{"failed", "timed_out", "cancelled"}}}
	if p := e.preview(ed, previewBody(r, 0)); p.Fired != 4 {
		t.Fatalf("with cancelled: fired %d", p.Fired)
	}
}

func TestPreview_deadlineMissedOnTwoDays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	h := newHistory(t, e, ed)
	from := e.now.Add(-7 * 24 * time.Hour)
	// The 06:00 UTC deadlines in the window, oldest first.
	var deadlines []time.Time
	day := time.Date(e.now.Year(), e.now.Month(), e.now.Day(), 6, 0, 0, 0, time.UTC)
	for d := -9; d <= 0; d++ {
		if at := day.AddDate(0, 0, d); !at.Before(from) && at.Before(e.now) {
			deadlines = append(deadlines, at)
		}
	}
	if len(deadlines) != 7 {
		t.Fatalf("%d deadlines in the window", len(deadlines))
	}
	missed := []time.Time{deadlines[1], deadlines[4]}
	// A success at 05:00 every day (from before the window), except on
	// the two days, where the run at 05:00 fails and a rerun succeeds at
	// 08:00.
	for d := -10; d <= 0; d++ {
		at := day.AddDate(0, 0, d).Add(-time.Hour)
		if at.After(e.now.Add(-time.Hour)) {
			continue
		}
		state := store.RunSucceeded
		if slices.ContainsFunc(missed, func(m time.Time) bool { return m.Equal(at.Add(time.Hour)) }) {
			state = store.RunFailed
			h.add("ETL_Vendas", store.RunSucceeded, at.Add(3*time.Hour).Sub(e.now), 5*time.Minute)
		}
		h.add("ETL_Vendas", state, at.Sub(e.now), 10*time.Minute)
	}
	h.ingest()
	r := slowRule("deadline")
	r["condition"] = map[string]any{"deadline": map[string]any{"time": "06:00", "time_zone": "UTC"}}
	delete(r, "for")
	p := e.preview(ed, previewBody(r, 7))
	if p.Fired != 2 {
		t.Fatalf("fired %d, want 2: %+v", p.Fired, p.Episodes)
	}
	for i, ep := range p.Episodes {
		if !ep.FiredAt.Equal(missed[i]) || ep.ResolvedAt == nil || !ep.ResolvedAt.Equal(missed[i].Add(2*time.Hour+5*time.Minute)) {
			t.Errorf("episode %d = %+v, want fired at %s and resolved by the rerun", i, ep, missed[i])
		}
	}
}

func TestPreview_metricSeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	var pts []store.MetricPoint
	for i := range 600 {
		v := 10.0
		if i >= 300 && i < 306 {
			v = 1000
		}
		pts = append(pts, store.MetricPoint{Series: "sales.orders", Time: e.now.Add(-time.Duration(600-i) * 10 * time.Minute), Value: v})
	}
	if _, err := e.db.Metrics().Append(e.ctxOf(ed), pts); err != nil {
		t.Fatal(err)
	}
	r := map[string]any{"name": "orders spike", "severity": "info", "sinks": []any{},
		"condition": map[string]any{"metric_threshold": map[string]any{"series": "sales.orders", "window": "30m", "agg": "max", "op": ">", "value": 100}}}
	p := e.preview(ed, previewBody(r, 0))
	if p.Fired != 1 || p.Episodes[0].Series != "sales.orders" || p.Episodes[0].Value != "1000" || p.PointsEvaluated != 600 {
		t.Fatalf("preview = %+v", p)
	}
	// A glob cannot be previewed yet: 422 saying what to do.
	r["condition"].(map[string]any)["metric_threshold"].(map[string]any)["series"] = "sales.*"
	res := e.do(ed, "POST", "/api/v1/alert-rules/preview", previewBody(r, 0))
	if eb := res.err(t); res.status != http.StatusUnprocessableEntity || eb.Error.Code != alertapi.CodePreviewUnsupported {
		t.Fatalf("glob: %s", res)
	}
}

func TestPreview_invalidRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	bad := slowRule("x")
	bad["condition"] = map[string]any{"duration_above": map[string]any{"threshold": "five minutes"}}
	bad["severity"] = "loud"
	cases := []struct {
		name   string
		body   any
		fields []string
	}{
		// The problems create reports, pointing into the body's rule.
		{"invalid rule", previewBody(bad, 0), []string{"/rule/condition/duration_above/threshold", "/rule/severity"}},
		{"no rule", map[string]any{"days": 7}, []string{"/rule"}},
		{"rule not an object", map[string]any{"rule": "x"}, []string{"/rule"}},
		{"days out of range", previewBody(slowRule("x"), 31), []string{"/days"}},
		{"days negative", previewBody(slowRule("x"), -1), []string{"/days"}},
		{"days not a number", map[string]any{"rule": slowRule("x"), "days": "7"}, []string{"/days"}},
		{"label not a string", previewBody(func() map[string]any { r := slowRule("x"); r["labels"] = map[string]any{"team": 5}; return r }(), 0), []string{"/rule/labels/team"}},
		{"unknown field", map[string]any{"rule": slowRule("x"), "dayz": 3}, []string{"/dayz"}},
		{"bad template", previewBody(func() map[string]any {
			r := slowRule("x")
			r["annotations"] = map[string]any{"summary": "{{.Pipeline.Nme}}"}
			return r
		}(), 0), []string{"/rule/annotations/summary"}},
	}
	for _, c := range cases {
		res := e.do(ed, "POST", "/api/v1/alert-rules/preview", c.body)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", c.name, res)
			continue
		}
		eb := res.err(t)
		got := fieldsOf(eb)
		slices.Sort(got)
		want := slices.Clone(c.fields)
		slices.Sort(want)
		if eb.Error.Code != "invalid_request" || !slices.Equal(got, want) {
			t.Errorf("%s: fields %v, want %v (%s)", c.name, got, want, res)
		}
	}
}

func TestPreview_otherProfilesRunsAreInvisible(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		edA := e.member("acme", identity.RoleEditor)
		edB := e.member("globex", identity.RoleEditor)
		hb := newHistory(t, e, edB)
		for i := range 10 {
			hb.add("ETL_Vendas", store.RunFailed, -time.Duration(i+1)*time.Hour, 20*time.Minute)
		}
		hb.ingest()
		// A's own pipeline of the same name, always fine.
		ha := newHistory(t, e, edA)
		ha.add("ETL_Vendas", store.RunSucceeded, -3*time.Hour, time.Minute)
		ha.ingest()
		for _, r := range []map[string]any{slowRule("x"), func() map[string]any {
			r := slowRule("x")
			r["condition"] = map[string]any{"run_failed": map[string]any{}}
			r["selector"] = map[string]any{}
			return r
		}()} {
			p := e.preview(edA, previewBody(r, 0))
			if p.Fired != 0 || p.RunsEvaluated != 1 || len(p.Episodes) != 0 {
				t.Errorf("A sees B's runs: %+v", p)
			}
		}
		// B sees its own.
		r := slowRule("x")
		r["condition"] = map[string]any{"run_failed": map[string]any{}}
		if p := e.preview(edB, previewBody(r, 0)); p.Fired != 1 || p.RunsEvaluated != 10 {
			t.Errorf("B's preview: %+v", p)
		}
	})
}

func TestPreview_viewersAreForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	viewer := e.member("acme", identity.RoleViewer)
	res := e.do(viewer, "POST", "/api/v1/alert-rules/preview", previewBody(slowRule("x"), 0))
	if res.status != http.StatusForbidden || res.err(t).Error.Code != "forbidden" {
		t.Fatalf("viewer: %s", res)
	}
}

func TestPreview_stopsAtItsDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	h := newHistory(t, e, ed)
	h.add("ETL_Vendas", store.RunSucceeded, -time.Hour, time.Minute)
	h.ingest()
	ctx, cancel := context.WithDeadline(e.ctxOf(ed), time.Now().Add(-time.Second))
	defer cancel()
	var r alert.Rule
	r.Name, r.Severity, r.Condition.DurationAbove = "x", "warning", &alert.DurationAbove{Threshold: "5m"}
	_, err := e.svc.PreviewRule(ctx, r, 7)
	if !errors.Is(err, alertapi.ErrPreviewTimeout) {
		t.Fatalf("err = %v, want ErrPreviewTimeout", err)
	}
	status, code := alertapi.PreviewErrorStatus(err)
	if status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("answered %d %s, want 503 unavailable", status, code)
	}
}

// BenchmarkPreviewRule measures a preview end to end on SQLite, reads
// included: a busy week of 20,000 runs of 50 pipelines, with a rule
// selecting every pipeline (one pass over the window's runs) and one
// selecting a single pipeline (read through the pipeline index).
func BenchmarkPreviewRule(b *testing.B) {
	db := storetest.OpenSQLite(b)
	now := time.Now().UTC().Truncate(time.Second)
	svc, err := alertapi.New(nil, db, nil, alertapi.WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	ctx := storetest.Tenant(b, db, "acme", identity.RoleEditor)
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hello", Name: "busy", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	const runs, pipelines = 20_000, 50
	every := 7 * 24 * time.Hour / (runs / pipelines)
	var batch []store.RunUpsert
	for i := range runs {
		p := i % pipelines
		st := now.Add(-7*24*time.Hour + time.Duration(i/pipelines)*every + time.Duration(p)*time.Second)
		d := 2 * time.Minute
		if (i/pipelines)%20 == 7 {
			d = 8 * time.Minute
		}
		end := st.Add(d)
		batch = append(batch, store.RunUpsert{ExternalID: fmt.Sprintf("r%d", i), PipelineExternalID: fmt.Sprintf("ETL_%02d", p),
			PipelineName: fmt.Sprintf("ETL_%02d", p), RunData: store.RunData{State: store.RunSucceeded, StartedAt: &st, EndedAt: &end}})
		if len(batch) == 2000 {
			if _, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Runs: batch}); err != nil {
				b.Fatal(err)
			}
			batch = nil
		}
	}
	for _, c := range []struct{ name, glob string }{{"all-pipelines", "ETL_*"}, {"one-pipeline", "ETL_07"}} {
		b.Run(c.name, func(b *testing.B) {
			r := alert.Rule{Name: "slow", Severity: "warning", Selector: alert.Selector{Pipeline: c.glob},
				Condition: alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}}}
			var p alertapi.Preview
			for b.Loop() {
				if p, err = svc.PreviewRule(ctx, r, 7); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(p.RunsEvaluated)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			if p.Fired == 0 {
				b.Fatal("nothing fired")
			}
		})
	}
}
