package main

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// cardOptions are the options of every card type (each type's schema in
// plugin.json lists the ones it reads).
type cardOptions struct {
	DagID      string `json:"dag_id"`
	State      string `json:"state"`
	Limit      int    `json:"limit"`
	Bucket     string `json:"bucket"`
	RunsPerDag int    `json:"runs_per_dag"`
}

// QueryCard answers the card types of plugin.json from the runs started
// in the query's time range (POST …/dags/~/dagRuns/list).
func (c *connector) QueryCard(ctx context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	var o cardOptions
	if len(q.Options) > 0 && string(q.Options) != "null" {
		if err := json.Unmarshal(q.Options, &o); err != nil {
			return nil, sdk.ConfigError("/options", "card options are not a JSON object: %v", err)
		}
	}
	from, to := q.TimeRange.From.UTC(), q.TimeRange.To.UTC()
	if to.IsZero() {
		to = c.now()
	}
	if from.IsZero() || !from.Before(to) {
		from = to.Add(-24 * time.Hour)
	}
	runs, err := c.runsStarted(ctx, o.DagID, from, to)
	if err != nil {
		return nil, annotate(err, "card %s", q.CardType)
	}
	switch q.CardType {
	case "runs_table":
		return runsTable(runs, o), nil
	case "success_rate":
		prev, err := c.runsStarted(ctx, o.DagID, from.Add(-to.Sub(from)), from)
		if err != nil {
			return nil, annotate(err, "card %s (previous period)", q.CardType)
		}
		return successRate(runs, prev, from, to), nil
	case "duration_trend":
		return durationTrend(runs, o), nil
	case "status_grid":
		return statusGrid(runs, o), nil
	}
	return nil, sdk.NotFoundError("no card type %q in puod.airflow", q.CardType)
}

// runsStarted lists the runs started in [from, to), newest first.
func (c *connector) runsStarted(ctx context.Context, dagID string, from, to time.Time) ([]sdk.Run, error) {
	var ids []string
	switch {
	case dagID != "":
		if !c.wantDAG(dagID) {
			return nil, nil
		}
		ids = []string{dagID}
	case len(c.cfg.DagIDs) > 0:
		ids = c.cfg.DagIDs
	}
	api, list, err := c.client.listRunsStarted(ctx, ids, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.Run, 0, len(list))
	for _, r := range list {
		if r.DagID == "" || !c.wantDAG(r.DagID) || r.StartDate.IsZero() || !r.StartDate.Before(to) {
			continue
		}
		out = append(out, c.toRun(api, r))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ExternalID < out[j].ExternalID
	})
	return out, nil
}

func finished(r sdk.Run) bool { return r.State.Terminal() && !r.EndedAt.IsZero() }

func runsTable(runs []sdk.Run, o cardOptions) *sdk.Frame {
	limit := o.Limit
	if limit <= 0 {
		limit = 100
	}
	f := sdk.NewFrame("runs_table", sdk.FrameTable,
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.StringField("dag_id").WithLabel("DAG"),
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Airflow state"),
		sdk.FloatField("duration").WithLabel("Duration").WithUnit("s"),
		sdk.TimeField("ended_at").WithLabel("Ended"),
		sdk.StringField("run_type").WithLabel("Type"),
		sdk.StringField("error").WithLabel("Error"),
		sdk.StringField("url").WithLabel("Link"),
	)
	for _, r := range runs {
		if f.Rows() >= limit {
			break
		}
		if o.State != "" && string(r.State) != o.State {
			continue
		}
		var dur, ended any
		if finished(r) {
			dur, ended = r.Duration.Seconds(), r.EndedAt
		}
		_ = f.AppendRow(r.StartedAt, r.PipelineExternalID, r.Attributes["dag_run_id"], string(r.State), r.RawState, dur, ended,
			r.Attributes["run_type"], r.ErrorMessage, r.URL)
	}
	return f
}

// rate is the share of finished runs that succeeded, in percent (nil
// without finished runs).
func rate(runs []sdk.Run) (pct *float64, done, ok, failed int) {
	for _, r := range runs {
		if !finished(r) {
			continue
		}
		done++
		switch r.State {
		case sdk.StateSucceeded:
			ok++
		case sdk.StateFailed, sdk.StateTimedOut:
			failed++
		}
	}
	if done > 0 {
		v := math.Round(float64(ok)/float64(done)*10000) / 100
		pct = &v
	}
	return pct, done, ok, failed
}

func successRate(runs, prev []sdk.Run, from, to time.Time) *sdk.Frame {
	pct, done, ok, failed := rate(runs)
	prevPct, prevDone, _, _ := rate(prev)
	f := sdk.NewFrame("success_rate", sdk.FrameStat,
		sdk.FloatField("success_rate").WithLabel("Success rate").WithUnit("percent"),
		sdk.IntField("finished").WithLabel("Finished runs").WithUnit("runs"),
		sdk.IntField("succeeded").WithLabel("Succeeded").WithUnit("runs"),
		sdk.IntField("failed").WithLabel("Failed").WithUnit("runs"),
	)
	var v any
	if pct != nil {
		v = *pct
	}
	_ = f.AppendRow(v, int64(done), int64(ok), int64(failed))
	trend := map[string]any{
		"previous_from": from.Add(-to.Sub(from)).Format(time.RFC3339), "previous_to": from.Format(time.RFC3339),
		"previous_finished": prevDone, "previous_success_rate": nil, "delta": nil, "direction": "unknown", "unit": "percent",
	}
	if prevPct != nil {
		trend["previous_success_rate"] = *prevPct
	}
	if pct != nil && prevPct != nil {
		d := math.Round((*pct-*prevPct)*100) / 100
		trend["delta"] = d
		switch {
		case d > 0:
			trend["direction"] = "up"
		case d < 0:
			trend["direction"] = "down"
		default:
			trend["direction"] = "flat"
		}
	}
	f.Meta = map[string]any{"trend": trend}
	return f
}

func durationTrend(runs []sdk.Run, o cardOptions) *sdk.Frame {
	f := sdk.NewFrame("duration_trend", sdk.FrameTimeSeries,
		sdk.TimeField("time").WithLabel("Time"),
		sdk.StringField("dag_id").WithLabel("DAG"),
		sdk.FloatField("duration").WithLabel("Average duration").WithUnit("s"),
		sdk.FloatField("max_duration").WithLabel("Longest run").WithUnit("s"),
		sdk.IntField("runs").WithLabel("Runs").WithUnit("runs"),
	)
	step := time.Hour
	switch o.Bucket {
	case "run":
		step = 0
	case "day":
		step = 24 * time.Hour
	}
	type key struct {
		t   time.Time
		dag string
	}
	type agg struct {
		sum, max float64
		n        int
	}
	buckets := map[key]*agg{}
	for _, r := range runs {
		if !finished(r) {
			continue
		}
		t := r.StartedAt
		if step > 0 {
			t = t.Truncate(step)
		}
		k := key{t, r.PipelineExternalID}
		if step == 0 {
			k.dag += "\x00" + r.ExternalID
		}
		a := buckets[k]
		if a == nil {
			a = &agg{}
			buckets[k] = a
		}
		s := r.Duration.Seconds()
		a.sum += s
		a.max = math.Max(a.max, s)
		a.n++
	}
	keys := make([]key, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].t.Equal(keys[j].t) {
			return keys[i].t.Before(keys[j].t)
		}
		return keys[i].dag < keys[j].dag
	})
	for _, k := range keys {
		a := buckets[k]
		dag := k.dag
		if i := strings.IndexByte(dag, 0); i >= 0 {
			dag = dag[:i]
		}
		_ = f.AppendRow(k.t, dag, math.Round(a.sum/float64(a.n)*1000)/1000, math.Round(a.max*1000)/1000, int64(a.n))
	}
	return f
}

func statusGrid(runs []sdk.Run, o cardOptions) *sdk.Frame {
	per := o.RunsPerDag
	if per <= 0 {
		per = 10
	}
	f := sdk.NewFrame("status_grid", sdk.FrameStatusGrid,
		sdk.StringField("dag_id").WithLabel("DAG"),
		sdk.IntField("position").WithLabel("Recency (0 = latest)"),
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Airflow state"),
		sdk.FloatField("duration").WithLabel("Duration").WithUnit("s"),
		sdk.StringField("url").WithLabel("Link"),
	)
	byDag := map[string][]sdk.Run{}
	var dags []string
	for _, r := range runs { // newest first
		if len(byDag[r.PipelineExternalID]) == 0 {
			dags = append(dags, r.PipelineExternalID)
		}
		if len(byDag[r.PipelineExternalID]) < per {
			byDag[r.PipelineExternalID] = append(byDag[r.PipelineExternalID], r)
		}
	}
	sort.Strings(dags)
	for _, d := range dags {
		for i, r := range byDag[d] {
			var dur any
			if finished(r) {
				dur = r.Duration.Seconds()
			}
			_ = f.AppendRow(d, int64(i), r.StartedAt, r.Attributes["dag_run_id"], string(r.State), r.RawState, dur, r.URL)
		}
	}
	return f
}
