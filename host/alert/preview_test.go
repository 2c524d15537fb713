package alert_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
)

// history is an in-memory alert.History.
type history struct {
	pipes  []alert.Pipeline
	runs   []alert.Run
	points map[string][]alert.MetricPoint
	// calls counts the Runs reads, to check what the backtest asks for.
	asked [][]string
}

func (h *history) Pipelines(context.Context) ([]alert.Pipeline, error) {
	return slices.Clone(h.pipes), nil
}

func (h *history) Runs(_ context.Context, ids []string, from, to time.Time, limit int) ([]alert.Run, bool, error) {
	h.asked = append(h.asked, ids)
	var out []alert.Run
	for _, r := range h.runs {
		if r.SortAt.Before(from) || !r.SortAt.Before(to) || (ids != nil && !slices.Contains(ids, r.Pipeline.ID)) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SortAt.After(out[j].SortAt) })
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (h *history) MetricSeries(_ context.Context, from, to time.Time) ([]string, error) {
	var out []string
	for k := range h.points {
		out = append(out, k)
	}
	return out, nil
}

func (h *history) MetricPoints(_ context.Context, series string, from, to time.Time, limit int) ([]alert.MetricPoint, bool, error) {
	var out []alert.MetricPoint
	for _, p := range h.points[series] {
		if !p.Time.Before(from) && p.Time.Before(to) {
			out = append(out, p)
		}
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// t0 is midnight UTC, the window's start in these tests.
var bt0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var (
	etl   = alert.Pipeline{ID: "p-etl", SourceID: "s1", ExternalID: "etl_vendas", Name: "ETL_Vendas", CreatedAt: bt0.Add(-30 * 24 * time.Hour)}
	other = alert.Pipeline{ID: "p-other", SourceID: "s1", ExternalID: "other", Name: "Other", CreatedAt: bt0.Add(-30 * 24 * time.Hour)}
)

// run is a finished run of pl that started at start and took d.
func run(id string, pl alert.Pipeline, state string, start time.Time, d time.Duration) alert.Run {
	return alert.Run{ID: id, SourceID: pl.SourceID, ExternalID: id, State: state, Pipeline: pl,
		StartedAt: start, EndedAt: start.Add(d), SortAt: start}
}

func backtestRule(cond alert.Condition) alert.Rule {
	return alert.Rule{ID: "preview", Name: "r", Severity: alert.SeverityWarning,
		Selector: alert.Selector{Pipeline: "ETL_*"}, Condition: cond, Sinks: []string{"slack"},
		Annotations: map[string]string{"summary": "{{.Pipeline.Name}} took {{.Value}}"}}
}

func btSlowRule() alert.Rule {
	return backtestRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}})
}

func window(days int) alert.BacktestOptions {
	return alert.BacktestOptions{From: bt0, To: bt0.Add(time.Duration(days) * 24 * time.Hour)}
}

func mustBacktest(t *testing.T, r alert.Rule, h alert.History, o alert.BacktestOptions) alert.BacktestResult {
	t.Helper()
	res, err := alert.Backtest(context.Background(), r, h, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func firedTimes(res alert.BacktestResult) []time.Time {
	var out []time.Time
	for _, ep := range res.Episodes {
		out = append(out, ep.FiredAt)
	}
	return out
}

func TestBacktest_durationAboveCountsEachSlowEpisode(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl, other}}
	// Every 30 minutes for a day: three slow runs (7m, 6m, 9m), each
	// followed by fast ones, which resolve the alert.
	slow := map[int]time.Duration{4: 7 * time.Minute, 20: 6 * time.Minute, 21: 2 * time.Minute, 40: 9 * time.Minute}
	for i := range 48 {
		d := 2 * time.Minute
		if s, ok := slow[i]; ok {
			d = s
		}
		h.runs = append(h.runs, run(fmt.Sprintf("r%d", i), etl, "succeeded", bt0.Add(time.Duration(i)*30*time.Minute), d))
		// Another pipeline, always slow: not selected.
		h.runs = append(h.runs, run(fmt.Sprintf("o%d", i), other, "succeeded", bt0.Add(time.Duration(i)*30*time.Minute), time.Hour))
	}
	res := mustBacktest(t, btSlowRule(), h, window(1))
	if res.Fired != 3 || len(res.Episodes) != 3 || res.Truncated {
		t.Fatalf("fired %d, episodes %+v, truncated %v", res.Fired, res.Episodes, res.Truncated)
	}
	// A run running past the threshold fires while it runs (at the first
	// tick after 5 minutes), not when it ends.
	for i, at := range []int{4, 20, 40} {
		ep := res.Episodes[i]
		start := bt0.Add(time.Duration(at) * 30 * time.Minute)
		if ep.FiredAt.Before(start.Add(5*time.Minute)) || ep.FiredAt.After(start.Add(6*time.Minute)) {
			t.Errorf("episode %d fired at %s, want within a minute after %s", i, ep.FiredAt, start.Add(5*time.Minute))
		}
		if ep.Pipeline != "ETL_Vendas" || ep.PipelineID != etl.ID || ep.SourceID != etl.SourceID || ep.Fingerprint == "" {
			t.Errorf("episode %d = %+v", i, ep)
		}
		if ep.ResolvedAt.IsZero() || !ep.ResolvedAt.After(ep.FiredAt) {
			t.Errorf("episode %d not resolved by the next fast run: %+v", i, ep)
		}
	}
	if res.RunsEvaluated != 48 {
		t.Errorf("runs evaluated %d, want the 48 of ETL_Vendas", res.RunsEvaluated)
	}
	if !slices.Equal(res.Daily, []int{3}) {
		t.Errorf("daily %v", res.Daily)
	}
	// Only the selected pipeline's runs were asked for.
	if len(h.asked) != 1 || !slices.Equal(h.asked[0], []string{etl.ID}) {
		t.Errorf("runs asked for pipelines %v", h.asked)
	}
}

func TestBacktest_runFailedFiresWhenTheRunEnds(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}}
	states := []string{"succeeded", "failed", "failed", "succeeded", "timed_out", "succeeded", "cancelled", "failed"}
	for i, st := range states {
		h.runs = append(h.runs, run(fmt.Sprintf("r%d", i), etl, st, bt0.Add(time.Duration(i)*time.Hour), 20*time.Minute))
	}
	res := mustBacktest(t, backtestRule(alert.Condition{RunFailed: &alert.RunFailed{}}), h, window(1))
	// failed (r1; r2 keeps it firing), timed_out (r4), failed (r7, open).
	if res.Fired != 3 {
		t.Fatalf("fired %d, want 3: %+v", res.Fired, res.Episodes)
	}
	want := []time.Time{bt0.Add(time.Hour + 20*time.Minute), bt0.Add(4*time.Hour + 20*time.Minute), bt0.Add(7*time.Hour + 20*time.Minute)}
	if got := firedTimes(res); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("fired at %v, want %v (when each run ended: the replay never sees a run's end before it happened)", got, want)
	}
	if !res.Episodes[2].ResolvedAt.IsZero() {
		t.Errorf("the last episode is still open at the window's end: %+v", res.Episodes[2])
	}
	if res.Episodes[0].Value != "failed" || res.Episodes[1].Value != "timed_out" {
		t.Errorf("values %q, %q", res.Episodes[0].Value, res.Episodes[1].Value)
	}
}

func TestBacktest_deadlineFiresOnTheDaysWithoutSuccess(t *testing.T) {
	t.Parallel()
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	h := &history{pipes: []alert.Pipeline{etl}}
	missing := map[int]bool{2: true, 5: true}
	// Eight days (the warm-up day before the window included): a success
	// at 05:10 local time, except on days 2 and 5, where the run fails and
	// a late rerun succeeds at 09:00.
	for d := -1; d < 7; d++ {
		day := time.Date(bt0.Year(), bt0.Month(), bt0.Day()+d, 5, 0, 0, 0, lisbon)
		if missing[d] {
			h.runs = append(h.runs, run(fmt.Sprintf("f%d", d), etl, "failed", day, 10*time.Minute))
			h.runs = append(h.runs, run(fmt.Sprintf("l%d", d), etl, "succeeded", day.Add(4*time.Hour), 10*time.Minute))
			continue
		}
		h.runs = append(h.runs, run(fmt.Sprintf("s%d", d), etl, "succeeded", day, 10*time.Minute))
	}
	r := backtestRule(alert.Condition{Deadline: &alert.Deadline{Time: "06:00", TimeZone: "Europe/Lisbon"}})
	res := mustBacktest(t, r, h, window(7))
	if res.Fired != 2 {
		t.Fatalf("fired %d, want 2: %+v", res.Fired, res.Episodes)
	}
	for i, d := range []int{2, 5} {
		want := time.Date(bt0.Year(), bt0.Month(), bt0.Day()+d, 6, 0, 0, 0, lisbon)
		ep := res.Episodes[i]
		if !ep.FiredAt.Equal(want) {
			t.Errorf("episode %d fired at %s, want at the deadline %s", i, ep.FiredAt, want)
		}
		if resolved := want.Add(3*time.Hour + 10*time.Minute); !ep.ResolvedAt.Equal(resolved) {
			t.Errorf("episode %d resolved at %s, want when the late run succeeded (%s)", i, ep.ResolvedAt, resolved)
		}
	}
	if !slices.Equal(res.Daily, []int{0, 0, 1, 0, 0, 1, 0}) {
		t.Errorf("daily %v", res.Daily)
	}
}

func TestBacktest_deadlineIgnoresDaysBeforeThePipelineExisted(t *testing.T) {
	t.Parallel()
	// PUOD saw the pipeline on day 3 at noon (no earlier run): days 0–2
	// cannot miss a deadline. As live, the engine finds that day's 06:00
	// deadline missed when the pipeline appears; the later ones keep the
	// episode open.
	young := etl
	young.CreatedAt = bt0.Add(3*24*time.Hour + 12*time.Hour)
	h := &history{pipes: []alert.Pipeline{young}}
	res := mustBacktest(t, backtestRule(alert.Condition{Deadline: &alert.Deadline{Time: "06:00"}}), h, window(7))
	if res.Fired != 1 || !res.Episodes[0].FiredAt.Equal(young.CreatedAt) || !res.Episodes[0].ResolvedAt.IsZero() {
		t.Fatalf("fired %d: %+v", res.Fired, res.Episodes)
	}
}

func TestBacktest_absence(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}}
	// Hourly runs, with a gap from 10:00 to 15:00.
	for i := -30; i < 24; i++ {
		if i > 10 && i < 15 {
			continue
		}
		h.runs = append(h.runs, run(fmt.Sprintf("r%d", i), etl, "succeeded", bt0.Add(time.Duration(i)*time.Hour), time.Minute))
	}
	res := mustBacktest(t, backtestRule(alert.Condition{Absence: &alert.Absence{Interval: "2h"}}), h, window(1))
	if res.Fired != 1 {
		t.Fatalf("fired %d: %+v", res.Fired, res.Episodes)
	}
	ep := res.Episodes[0]
	if !ep.FiredAt.Equal(bt0.Add(12*time.Hour)) || !ep.ResolvedAt.Equal(bt0.Add(15*time.Hour)) {
		t.Errorf("episode %+v, want fired at 12:00 and resolved at 15:00", ep)
	}
}

func TestBacktest_forHoldsBackShortEpisodes(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}}
	// Two failures in a row for 50 minutes, then a failure fixed within
	// 10 minutes.
	add := func(id, st string, at time.Duration) {
		h.runs = append(h.runs, run(id, etl, st, bt0.Add(at), time.Minute))
	}
	add("a", "failed", time.Hour)
	add("b", "failed", time.Hour+30*time.Minute)
	add("c", "succeeded", 2*time.Hour)
	add("d", "failed", 5*time.Hour)
	add("e", "succeeded", 5*time.Hour+10*time.Minute)
	r := backtestRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	r.For = "30m"
	res := mustBacktest(t, r, h, window(1))
	if res.Fired != 1 || !res.Episodes[0].FiredAt.Equal(bt0.Add(time.Hour+31*time.Minute)) {
		t.Fatalf("fired %d: %+v; want one, 30m after the first failure ended", res.Fired, res.Episodes)
	}
}

func TestBacktest_metricThreshold(t *testing.T) {
	t.Parallel()
	h := &history{points: map[string][]alert.MetricPoint{}}
	// A point every 10 minutes over two days; values above 100 from 06:00
	// to 07:00 on the window's day.
	for i := -144; i < 144; i++ {
		at := bt0.Add(time.Duration(i) * 10 * time.Minute)
		v := 10.0
		if at.After(bt0.Add(6*time.Hour-time.Minute)) && at.Before(bt0.Add(7*time.Hour)) {
			v = 500
		}
		h.points["sales.orders"] = append(h.points["sales.orders"], alert.MetricPoint{Time: at, Value: v})
		h.points["sales.refunds"] = append(h.points["sales.refunds"], alert.MetricPoint{Time: at, Value: 1})
	}
	r := alert.Rule{ID: "preview", Name: "orders spike", Severity: alert.SeverityInfo,
		Condition: alert.Condition{MetricThreshold: &alert.MetricThreshold{Series: "sales.*", Window: "30m", Agg: alert.AggMax, Op: ">", Value: 100}}}
	res := mustBacktest(t, r, h, window(1))
	if res.Fired != 1 || res.Episodes[0].Series != "sales.orders" || res.Episodes[0].Value != "500" {
		t.Fatalf("fired %d: %+v", res.Fired, res.Episodes)
	}
	ep := res.Episodes[0]
	// The last spike (06:50) leaves the 30m window after 07:20: the
	// next tick resolves.
	if !ep.FiredAt.Equal(bt0.Add(6*time.Hour)) || !ep.ResolvedAt.Equal(bt0.Add(7*time.Hour+20*time.Minute+time.Second)) {
		t.Errorf("episode %+v: want fired at 06:00 and resolved a second after 07:20, as the live engine ticking every second", ep)
	}
	if res.PointsEvaluated != 2*144 || res.RunsEvaluated != 0 {
		t.Errorf("points %d, runs %d", res.PointsEvaluated, res.RunsEvaluated)
	}
}

func TestBacktest_disabledRuleIsEvaluated(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}, runs: []alert.Run{run("r1", etl, "failed", bt0.Add(time.Hour), time.Minute)}}
	r := backtestRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	r.Disabled = true
	if res := mustBacktest(t, r, h, window(1)); res.Fired != 1 {
		t.Fatalf("fired %d, want 1", res.Fired)
	}
}

func TestBacktest_invalidRuleListsItsProblems(t *testing.T) {
	t.Parallel()
	r := backtestRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "five minutes"}})
	_, err := alert.Backtest(context.Background(), r, &history{}, window(1))
	var ps alert.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Field != "/condition/duration_above/threshold" {
		t.Fatalf("err = %v", err)
	}
}

func TestBacktest_bounds(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}}
	// A failure then a success every hour for two days: 48 episodes.
	for i := range 96 {
		st := "failed"
		if i%2 == 1 {
			st = "succeeded"
		}
		h.runs = append(h.runs, run(fmt.Sprintf("r%03d", i), etl, st, bt0.Add(time.Duration(i)*30*time.Minute), time.Minute))
	}
	r := backtestRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	// No flap damping, to count every flip.
	o := window(2)
	o.Flap = alert.FlapPolicy{Resolves: 0, Window: time.Hour, Stable: time.Minute}
	o.MaxEpisodes = 5
	res := mustBacktest(t, r, h, o)
	if res.Fired != 48 || len(res.Episodes) != 5 || !res.Truncated || len(res.Notes) != 0 {
		t.Fatalf("fired %d, %d listed, truncated %v, notes %q", res.Fired, len(res.Episodes), res.Truncated, res.Notes)
	}
	if last := res.Episodes[4]; !last.FiredAt.Equal(bt0.Add(47*time.Hour + time.Minute)) {
		t.Errorf("the newest episodes are listed, oldest first: last fired at %s", last.FiredAt)
	}
	if !slices.Equal(res.Daily, []int{24, 24}) {
		t.Errorf("daily %v", res.Daily)
	}

	// Only the newest 20 runs: the window starts at the oldest of them.
	o.MaxRuns = 20
	res = mustBacktest(t, r, h, o)
	if !res.Truncated || !res.From.Equal(bt0.Add(38*time.Hour)) || res.RunsEvaluated != 20 || res.Fired != 10 || len(res.Notes) != 1 {
		t.Fatalf("from %s, runs %d, fired %d, notes %q", res.From, res.RunsEvaluated, res.Fired, res.Notes)
	}
}

func TestBacktest_flapDamping(t *testing.T) {
	t.Parallel()
	h := &history{pipes: []alert.Pipeline{etl}}
	for i := range 20 {
		st := "failed"
		if i%2 == 1 {
			st = "succeeded"
		}
		h.runs = append(h.runs, run(fmt.Sprintf("r%03d", i), etl, st, bt0.Add(time.Duration(i)*5*time.Minute), time.Minute))
	}
	// A failure every 10 minutes, fixed 5 minutes later: without damping,
	// 10 episodes.
	r := backtestRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	o := window(1)
	o.Flap = alert.FlapPolicy{Resolves: 0, Window: time.Hour, Stable: time.Minute}
	if res := mustBacktest(t, r, h, o); res.Fired != 10 {
		t.Fatalf("fired %d without damping, want 10", res.Fired)
	}
	// The live engine's damping (3 resolves within 1h, then held until
	// stable for 15m): the fourth episode is held from 00:36 until the
	// first resolve leaves the hour (01:06); three more follow, the last
	// held until 15 minutes after the last success.
	res := mustBacktest(t, r, h, window(1))
	if res.Fired != 7 || !res.Episodes[3].ResolvedAt.Equal(bt0.Add(66*time.Minute)) || !res.Episodes[6].ResolvedAt.Equal(bt0.Add(111*time.Minute)) {
		t.Fatalf("fired %d with damping, want 7: %+v", res.Fired, res.Episodes)
	}
}

func TestBacktest_stopsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := alert.Backtest(ctx, btSlowRule(), &history{pipes: []alert.Pipeline{etl}}, window(7))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// busyHistory is a busy profile: pipelines runs over days, every
// 20th run of a pipeline slow, every 15th failed.
func busyHistory(runs, pipelines, days int) *history {
	h := &history{}
	for p := range pipelines {
		h.pipes = append(h.pipes, alert.Pipeline{ID: fmt.Sprintf("p%03d", p), SourceID: "s1", Name: fmt.Sprintf("ETL_%03d", p), CreatedAt: bt0.Add(-30 * 24 * time.Hour)})
	}
	span := time.Duration(days) * 24 * time.Hour
	perPipe := runs / pipelines
	every := span / time.Duration(perPipe)
	for p, pl := range h.pipes {
		for i := range perPipe {
			d, st := 2*time.Minute, "succeeded"
			if i%20 == 7 {
				d = 8 * time.Minute
			}
			if i%15 == 3 {
				st = "failed"
			}
			start := bt0.Add(time.Duration(i)*every + time.Duration(p)*time.Second)
			h.runs = append(h.runs, run(fmt.Sprintf("r%03d-%05d", p, i), pl, st, start, d))
		}
	}
	return h
}

// BenchmarkBacktest replays a busy profile's week: 20,000 runs of 50
// pipelines, every one selected, with a 5-minute duration rule.
func BenchmarkBacktest(b *testing.B) {
	const runs, days = 20_000, 7
	h := busyHistory(runs, 50, days)
	r := btSlowRule()
	o := window(days)
	var res alert.BacktestResult
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		res, err = alert.Backtest(context.Background(), r, h, o)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if res.RunsEvaluated != runs || res.Fired == 0 {
		b.Fatalf("runs %d, fired %d", res.RunsEvaluated, res.Fired)
	}
	b.ReportMetric(float64(runs)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}
