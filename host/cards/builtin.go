package cards

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// builtinOptions are the options of every built-in card type (each type's
// schema allows only its own).
type builtinOptions struct {
	SourceID        string `json:"source_id"`
	PipelineID      string `json:"pipeline_id"`
	Limit           int    `json:"limit"`
	Bucket          string `json:"bucket"`
	Top             int    `json:"top"`
	RunsPerPipeline int    `json:"runs_per_pipeline"`
	Severity        string `json:"severity"`
	IncludePending  bool   `json:"include_pending"`
}

// builtinTags says which tags a built-in card reads: the narrowest of
// pipeline, source or every run of the profile its options allow; alerts
// for the firing-alerts card.
func builtinTags(typ string, o builtinOptions) []string {
	switch typ {
	case TypeFiringAlerts:
		return []string{"alerts"}
	case TypeRecentFailures, TypeDurationTrend, TypeSuccessRate:
		if o.PipelineID != "" {
			return []string{"pipeline:" + o.PipelineID}
		}
		fallthrough
	case TypePipelinesOverview, TypeStatusGrid:
		if o.SourceID != "" {
			return []string{"source:" + o.SourceID}
		}
	}
	return []string{"runs"}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// autoBucketLimit is the longest range "auto" draws in hours.
const autoBucketLimit = 48 * time.Hour

// maxBuckets bounds the points per series of a duration trend.
const maxBuckets = 1000

// trendBucket picks the bucket of a duration trend; an explicit bucket
// too fine for the range is an option problem.
func trendBucket(choice string, from, to time.Time) (time.Duration, *optionProblem) {
	span := to.Sub(from)
	var b time.Duration
	switch choice {
	case "", "auto":
		b = time.Hour
		if span > autoBucketLimit {
			b = 24 * time.Hour
		}
	case "hour":
		b = time.Hour
	case "day":
		b = 24 * time.Hour
	}
	if n := span / b; n > maxBuckets {
		return 0, &optionProblem{Field: "/bucket", Message: fmt.Sprintf("%q makes %d points per pipeline over this time range (at most %d): choose a coarser bucket or a shorter range", choice, n, maxBuckets)}
	}
	return b, nil
}

// queryBuiltin answers a built-in card type from the store.
func (s *Service) queryBuiltin(ctx context.Context, typ string, o builtinOptions, from, to time.Time) (*sdk.Frame, error) {
	f := store.CardFilter{From: from, To: to, SourceID: o.SourceID, PipelineID: o.PipelineID}
	cards := s.db.Cards()
	switch typ {
	case TypePipelinesOverview:
		rows, err := cards.PipelinesOverview(ctx, f, orDefault(o.Limit, 50))
		if err != nil {
			return nil, err
		}
		return overviewFrame(rows), nil
	case TypeRecentFailures:
		rows, err := cards.RecentFailures(ctx, f, orDefault(o.Limit, 20))
		if err != nil {
			return nil, err
		}
		return failuresFrame(rows), nil
	case TypeDurationTrend:
		bucket, prob := trendBucket(o.Bucket, from, to)
		if prob != nil {
			return nil, invalidOptions(typ, []optionProblem{*prob})
		}
		pls, pts, err := cards.DurationTrend(ctx, f, bucket, orDefault(o.Top, 5))
		if err != nil {
			return nil, err
		}
		return trendFrame(pls, pts), nil
	case TypeSuccessRate:
		cur, prev, err := cards.SuccessRate(ctx, f)
		if err != nil {
			return nil, err
		}
		return successFrame(cur, prev), nil
	case TypeRunsBySource:
		rows, err := cards.RunsBySource(ctx, f)
		if err != nil {
			return nil, err
		}
		return bySourceFrame(rows), nil
	case TypeStatusGrid:
		rows, err := cards.StatusGrid(ctx, f, orDefault(o.RunsPerPipeline, 10), orDefault(o.Limit, 20))
		if err != nil {
			return nil, err
		}
		return gridFrame(rows), nil
	case TypeFiringAlerts:
		rows, err := cards.FiringAlerts(ctx, store.FiringAlertFilter{Severity: o.Severity, IncludePending: o.IncludePending}, orDefault(o.Limit, 20))
		if err != nil {
			return nil, err
		}
		return firingAlertsFrame(rows), nil
	}
	return nil, fmt.Errorf("built-in card type %q has no query", typ)
}

func durationMS(ms float64) time.Duration {
	return time.Duration(math.Round(ms)) * time.Millisecond
}

// percent is a rate in percent, rounded to two decimals.
func percent(rate float64) float64 { return math.Round(rate*10000) / 100 }

func appendNullable(f *sdk.Field, ok bool, v any) {
	if !ok {
		v = nil
	}
	_ = f.Append(v)
}

// overviewFrame is a table of one row per pipeline, in the columns a
// person reads: names first, then the last state and the counts. The last
// run's id is left out: nothing on a dashboard opens it from here, and an
// id column is noise to read.
func overviewFrame(rows []store.PipelineOverview) *sdk.Frame {
	pipeline := sdk.StringField("pipeline").WithLabel("Pipeline")
	source := sdk.StringField("source").WithLabel("Source")
	state := sdk.StringField("state").WithLabel("Last state")
	last := sdk.TimeField("last_run_at").WithLabel("Last run")
	runs := sdk.IntField("runs").WithLabel("Runs")
	failed := sdk.IntField("failed").WithLabel("Failed")
	rate := sdk.FloatField("success_rate").WithLabel("Success rate").WithUnit("percent")
	avg := sdk.DurationField("avg_duration").WithLabel("Mean duration").WithUnit("ms")
	for _, r := range rows {
		_ = pipeline.Append(r.PipelineName)
		_ = source.Append(r.SourceName)
		_ = state.Append(r.LastState)
		_ = last.Append(r.LastRunAt)
		_ = runs.Append(r.Runs)
		_ = failed.Append(r.Failed)
		sr, ok := r.SuccessRate()
		appendNullable(rate, ok, percent(sr))
		var d time.Duration
		if r.AvgDurationMS != nil {
			d = durationMS(*r.AvgDurationMS)
		}
		appendNullable(avg, r.AvgDurationMS != nil, d)
	}
	return sdk.NewFrame("pipelines_overview", sdk.FrameTable, pipeline, source, state, last, runs, failed, rate, avg)
}

// failuresFrame is a table of failed runs, newest first, in the columns a
// person reads (tables show the columns in frame order): when, which
// pipeline of which source, how it ended and why, how long it ran, the
// link to the run in its own system; the run id comes last, for a click
// to open the run in PUOD.
func failuresFrame(rows []store.FailedRun) *sdk.Frame {
	started := sdk.TimeField("started_at").WithLabel("Started")
	pipeline := sdk.StringField("pipeline").WithLabel("Pipeline")
	source := sdk.StringField("source").WithLabel("Source")
	state := sdk.StringField("state").WithLabel("State")
	msg := sdk.StringField("error").WithLabel("Error")
	dur := sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms")
	url := sdk.StringField("url").WithLabel("Link")
	runID := sdk.StringField("run_id").WithLabel("Run")
	for _, r := range rows {
		_ = started.Append(r.SortAt)
		_ = pipeline.Append(r.PipelineName)
		_ = source.Append(r.SourceName)
		_ = state.Append(r.State)
		_ = msg.Append(r.ErrorMessage)
		var d time.Duration
		if r.DurationMS != nil {
			d = time.Duration(*r.DurationMS) * time.Millisecond
		}
		appendNullable(dur, r.DurationMS != nil, d)
		appendNullable(url, r.URL != "", r.URL)
		_ = runID.Append(r.RunID)
	}
	return sdk.NewFrame("recent_failures", sdk.FrameTable, started, pipeline, source, state, msg, dur, url, runID)
}

// trendFrame is the long timeseries shape: time, pipeline, value, runs.
// The chart keys its series by the pipeline column, so every pipeline
// needs a name of its own: see distinctLabels.
func trendFrame(pls []store.TrendPipeline, pts []store.TrendPoint) *sdk.Frame {
	in := make([]pipelineLabel, len(pls))
	for i, p := range pls {
		in[i] = pipelineLabel{p.Name, p.SourceName}
	}
	labels := distinctLabels(in)
	names := make(map[string]string, len(pls))
	for i, p := range pls {
		names[p.ID] = labels[i]
	}
	tm := sdk.TimeField("time").WithLabel("Time")
	pipeline := sdk.StringField("pipeline").WithLabel("Pipeline")
	avg := sdk.DurationField("avg_duration").WithLabel("Mean duration").WithUnit("ms")
	runs := sdk.IntField("runs").WithLabel("Runs")
	for _, p := range pts {
		_ = tm.Append(p.Bucket)
		_ = pipeline.Append(names[p.PipelineID])
		_ = avg.Append(durationMS(p.AvgDurationMS))
		_ = runs.Append(p.Runs)
	}
	return sdk.NewFrame("duration_trend", sdk.FrameTimeSeries, tm, pipeline, avg, runs)
}

// pipelineLabel is a pipeline as a person names it: its name and its
// source's.
type pipelineLabel struct{ name, source string }

// distinctLabels names each pipeline's series or row as a person reads it:
// its name; when several pipelines share a name, the name and its
// source's ("ETL_Vendas (Databricks (demo))"); when even that is shared
// (two pipelines of one name in one source, or two sources of one name), a
// number in the given order ("etl (airflow) #2"). Never an id. Charts and
// grids key their series and rows by this text, so it must be unique.
func distinctLabels(pls []pipelineLabel) []string {
	count := make(map[string]int, len(pls))
	for _, p := range pls {
		count[p.name]++
	}
	labels := make([]string, len(pls))
	seen := make(map[string]int, len(pls))
	for i, p := range pls {
		labels[i] = p.name
		if count[p.name] > 1 {
			src := p.source
			if src == "" {
				src = "unnamed source"
			}
			labels[i] = p.name + " (" + src + ")"
		}
		seen[labels[i]]++
	}
	taken := make(map[string]bool, len(pls))
	nth := make(map[string]int, len(pls))
	for i, label := range labels {
		if seen[label] > 1 {
			// The first keeps the label; the others are numbered, skipping
			// a number that is another pipeline's own label.
			for {
				nth[label]++
				cand := label
				if nth[label] > 1 {
					cand = fmt.Sprintf("%s #%d", label, nth[label])
				}
				if !taken[cand] && (nth[label] == 1 || seen[cand] == 0) {
					labels[i] = cand
					break
				}
			}
		}
		taken[labels[i]] = true
	}
	return labels
}

func successFrame(cur, prev store.RunCounts) *sdk.Frame {
	rate := sdk.FloatField("success_rate").WithLabel("Success rate").WithUnit("percent")
	r, ok := cur.SuccessRate()
	appendNullable(rate, ok, percent(r))
	fr := sdk.NewFrame("success_rate", sdk.FrameStat, rate,
		sdk.IntField("succeeded", cur.Succeeded).WithLabel("Succeeded"),
		sdk.IntField("failed", cur.Failed).WithLabel("Failed or timed out"),
		sdk.IntField("finished", cur.Finished).WithLabel("Finished runs"))
	fr.Meta = map[string]any{"previous_finished": prev.Finished}
	if pr, pok := prev.SuccessRate(); pok {
		fr.Meta["previous"] = percent(pr)
		if ok {
			delta := math.Round((percent(r)-percent(pr))*100) / 100
			dir := "flat"
			switch {
			case delta > 0:
				dir = "up"
			case delta < 0:
				dir = "down"
			}
			fr.Meta["trend"] = delta
			fr.Meta["trend_unit"] = "percentage points"
			fr.Meta["trend_direction"] = dir
		}
	}
	return fr
}

func bySourceFrame(rows []store.SourceRuns) *sdk.Frame {
	source := sdk.StringField("source").WithLabel("Source")
	runs := sdk.IntField("runs").WithLabel("Runs")
	failed := sdk.IntField("failed").WithLabel("Failed")
	for _, r := range rows {
		_ = source.Append(r.SourceName)
		_ = runs.Append(r.Runs)
		_ = failed.Append(r.Failed)
	}
	return sdk.NewFrame("runs_by_source", sdk.FrameCategories, source, runs, failed)
}

// gridFrame is the status-grid shape: the pipeline names the row (first
// text column), position orders the cells (0 = newest), run_id lets a
// click open the run.
func gridFrame(rows []store.GridPipeline) *sdk.Frame {
	in := make([]pipelineLabel, len(rows))
	for i, p := range rows {
		in[i] = pipelineLabel{p.Name, p.SourceName}
	}
	labels := distinctLabels(in)
	pipeline := sdk.StringField("pipeline").WithLabel("Pipeline")
	position := sdk.IntField("position").WithLabel("Position")
	started := sdk.TimeField("started_at").WithLabel("Started")
	runID := sdk.StringField("run_id").WithLabel("Run")
	state := sdk.StringField("state").WithLabel("State")
	dur := sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms")
	pipelineID := sdk.StringField("pipeline_id").WithLabel("Pipeline id")
	for i, p := range rows {
		label := labels[i]
		for _, r := range p.Runs {
			_ = pipeline.Append(label)
			_ = position.Append(r.Position)
			_ = started.Append(r.SortAt)
			_ = runID.Append(r.RunID)
			_ = state.Append(r.State)
			var d time.Duration
			if r.DurationMS != nil {
				d = time.Duration(*r.DurationMS) * time.Millisecond
			}
			appendNullable(dur, r.DurationMS != nil, d)
			_ = pipelineID.Append(p.ID)
		}
	}
	return sdk.NewFrame("status_grid", sdk.FrameStatusGrid, pipeline, position, started, runID, state, dur, pipelineID)
}

// firingAlertsFrame is a table of alerts, newest first, in the columns a
// person reads: since when, which rule, how severe, which pipeline or
// series, its value, who acknowledged it; the alert id comes last, for a
// click to open the alert.
func firingAlertsFrame(rows []store.FiringAlert) *sdk.Frame {
	since := sdk.TimeField("since").WithLabel("Since")
	rule := sdk.StringField("rule").WithLabel("Rule")
	severity := sdk.StringField("severity").WithLabel("Severity")
	series := sdk.StringField("series").WithLabel("Pipeline / series")
	value := sdk.FloatField("value").WithLabel("Value")
	acked := sdk.StringField("acknowledged_by").WithLabel("Acknowledged by")
	alertID := sdk.StringField("alert_id").WithLabel("Alert")
	for _, r := range rows {
		_ = since.Append(r.Since)
		_ = rule.Append(r.RuleName)
		_ = severity.Append(r.Severity)
		s := r.Labels["pipeline"]
		if s == "" {
			s = r.Labels["series"]
		}
		appendNullable(series, s != "", s)
		var v float64
		if r.Value != nil {
			v = *r.Value
		}
		appendNullable(value, r.Value != nil, v)
		appendNullable(acked, r.AcknowledgedByName != "", r.AcknowledgedByName)
		_ = alertID.Append(r.ID)
	}
	return sdk.NewFrame("firing_alerts", sdk.FrameTable, since, rule, severity, series, value, acked, alertID)
}
