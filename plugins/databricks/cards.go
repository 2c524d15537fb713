package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

// Card types declared in plugin.json.
const (
	cardRunsTable     = "runs_table"
	cardSuccessRate   = "success_rate"
	cardDurationTrend = "duration_trend"
	cardStatusGrid    = "status_grid"
)

// maxCardRuns bounds the runs one card query reads (40 pages of 25).
const maxCardRuns = 1000

// cardOptions are the options of every card type (each uses some).
type cardOptions struct {
	JobID          string         `json:"job_id"`
	States         []sdk.RunState `json:"states"`
	Limit          int            `json:"limit"`
	IncludeSkipped bool           `json:"include_skipped"`
	Interval       string         `json:"interval"`
	RunsPerJob     int            `json:"runs_per_job"`
}

// QueryCard answers a card from the Jobs API over the query's time range.
func (c *connector) QueryCard(ctx context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	var opts cardOptions
	if len(bytes.TrimSpace(q.Options)) > 0 {
		if err := json.Unmarshal(q.Options, &opts); err != nil {
			return nil, sdk.ConfigError("", "options of card %s are invalid: %v", q.CardType, err)
		}
	}
	var jobID int64
	if opts.JobID != "" {
		id, err := strconv.ParseInt(opts.JobID, 10, 64)
		if err != nil || id <= 0 {
			return nil, sdk.ConfigError("/job_id", "must be a Databricks job id (digits only)")
		}
		jobID = id
	}
	tr := q.TimeRange
	if tr.To.IsZero() {
		tr.To = c.now()
	}
	if tr.From.IsZero() {
		tr.From = tr.To.Add(-24 * time.Hour)
	}
	switch q.CardType {
	case cardRunsTable:
		return c.runsTable(ctx, tr, jobID, opts)
	case cardSuccessRate:
		return c.successRate(ctx, tr, jobID, opts)
	case cardDurationTrend:
		return c.durationTrend(ctx, tr, jobID, opts)
	case cardStatusGrid:
		return c.statusGrid(ctx, tr, jobID, opts)
	}
	return nil, sdk.NotFoundError("puod.databricks has no card type %q", q.CardType)
}

// runsIn lists the runs started in [from, to), newest first, at most
// maxCardRuns; truncated says whether more exist.
func (c *connector) runsIn(ctx context.Context, from, to time.Time, jobID int64) (runs []sdk.Run, truncated bool, err error) {
	if !from.Before(to) {
		return nil, false, nil
	}
	q := url.Values{
		"start_time_from": {strconv.FormatInt(from.UnixMilli(), 10)},
		"start_time_to":   {strconv.FormatInt(to.UnixMilli()-1, 10)}, // inclusive bound
		"limit":           {strconv.Itoa(c.cfg.PageSize)},
	}
	if jobID != 0 {
		q.Set("job_id", strconv.FormatInt(jobID, 10))
	}
	seen := map[int64]bool{}
	token := ""
	for {
		page, err := c.api.listRunsPage(ctx, q, token)
		if err != nil {
			return nil, false, err
		}
		for i := range page.Runs {
			r := &page.Runs[i]
			if seen[r.RunID] {
				continue
			}
			seen[r.RunID] = true
			if len(runs) == maxCardRuns {
				return runs, true, nil
			}
			runs = append(runs, c.toRun(r, ""))
		}
		if !page.HasMore || page.NextPageToken == "" || page.NextPageToken == token {
			return runs, false, nil
		}
		token = page.NextPageToken
	}
}

// startOf is when a run started, or was queued if it has not started.
func startOf(r sdk.Run) time.Time {
	if !r.StartedAt.IsZero() {
		return r.StartedAt
	}
	return r.QueuedAt
}

func (c *connector) runsTable(ctx context.Context, tr sdk.TimeRange, jobID int64, opts cardOptions) (*sdk.Frame, error) {
	runs, truncated, err := c.runsIn(ctx, tr.From, tr.To, jobID)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 50
	}
	f := sdk.NewFrame("runs", sdk.FrameTable,
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.StringField("job").WithLabel("Job"),
		sdk.StringField("job_id").WithLabel("Job id"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Databricks state"),
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.TimeField("ended_at").WithLabel("Ended"),
		sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms"),
		sdk.IntField("attempt").WithLabel("Attempt"),
		sdk.StringField("error").WithLabel("Error"),
		sdk.StringField("url").WithLabel("Link"),
	)
	rows := 0
	for _, r := range runs {
		if len(opts.States) > 0 && !slices.Contains(opts.States, r.State) {
			continue
		}
		if rows == limit {
			truncated = true
			break
		}
		rows++
		if err := f.AppendRow(r.ExternalID, r.PipelineName, r.PipelineExternalID, string(r.State), r.RawState,
			nullTime(startOf(r)), nullTime(r.EndedAt), r.Duration, int64(r.Attempt), r.ErrorMessage, r.URL); err != nil {
			return nil, sdk.DownstreamError(err, "build the runs table")
		}
	}
	f.Meta = map[string]any{"truncated": truncated}
	return f, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// tally counts the finished runs of a period.
type tally struct {
	succeeded, failed, cancelled, skipped int64
}

func (r tally) total(withSkipped bool) int64 {
	n := r.succeeded + r.failed + r.cancelled
	if withSkipped {
		n += r.skipped
	}
	return n
}

func (r tally) percent(withSkipped bool) (float64, bool) {
	n := r.total(withSkipped)
	if n == 0 {
		return 0, false
	}
	return math.Round(float64(r.succeeded)*10000/float64(n)) / 100, true
}

func (c *connector) successRate(ctx context.Context, tr sdk.TimeRange, jobID int64, opts cardOptions) (*sdk.Frame, error) {
	// One listing covers the range and the one before it, for the trend.
	span := tr.To.Sub(tr.From)
	prevFrom := tr.From.Add(-span)
	runs, truncated, err := c.runsIn(ctx, prevFrom, tr.To, jobID)
	if err != nil {
		return nil, err
	}
	var cur, prev tally
	for _, r := range runs {
		p := &cur
		if startOf(r).Before(tr.From) {
			p = &prev
		}
		switch r.State {
		case sdk.StateSucceeded:
			p.succeeded++
		case sdk.StateFailed, sdk.StateTimedOut:
			p.failed++
		case sdk.StateCancelled:
			p.cancelled++
		case sdk.StateSkipped:
			p.skipped++
		}
	}
	f := sdk.NewFrame("success_rate", sdk.FrameStat,
		sdk.FloatField("success_rate").WithLabel("Success rate").WithUnit("percent"),
		sdk.IntField("succeeded").WithLabel("Succeeded"),
		sdk.IntField("failed").WithLabel("Failed or timed out"),
		sdk.IntField("finished").WithLabel("Finished runs"),
	)
	pct, ok := cur.percent(opts.IncludeSkipped)
	var value any
	if ok {
		value = pct
	}
	if err := f.AppendRow(value, cur.succeeded, cur.failed, cur.total(opts.IncludeSkipped)); err != nil {
		return nil, sdk.DownstreamError(err, "build the success rate")
	}
	meta := map[string]any{
		"previous_from": prevFrom.UTC().Format(time.RFC3339),
		"previous_to":   tr.From.UTC().Format(time.RFC3339),
		"trend_unit":    "percentage points",
		"truncated":     truncated,
	}
	if prevPct, prevOK := prev.percent(opts.IncludeSkipped); prevOK {
		meta["previous"] = prevPct
		if ok {
			trend := math.Round((pct-prevPct)*100) / 100
			meta["trend"] = trend
			switch {
			case trend > 0:
				meta["trend_direction"] = "up"
			case trend < 0:
				meta["trend_direction"] = "down"
			default:
				meta["trend_direction"] = "flat"
			}
		}
	}
	f.Meta = meta
	return f, nil
}

func (c *connector) durationTrend(ctx context.Context, tr sdk.TimeRange, jobID int64, opts cardOptions) (*sdk.Frame, error) {
	runs, truncated, err := c.runsIn(ctx, tr.From, tr.To, jobID)
	if err != nil {
		return nil, err
	}
	interval := opts.Interval
	if interval == "" || interval == "auto" {
		interval = "hour"
		if tr.To.Sub(tr.From) > 48*time.Hour {
			interval = "day"
		}
	}
	type key struct {
		at  time.Time
		job string
	}
	type agg struct {
		sum, max time.Duration
		n        int64
	}
	buckets := map[key]*agg{}
	for _, r := range runs {
		if !r.State.Terminal() || r.State == sdk.StateSkipped || r.Duration <= 0 {
			continue
		}
		at := startOf(r).UTC()
		switch interval {
		case "hour":
			at = at.Truncate(time.Hour)
		case "day":
			at = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		}
		k := key{at, r.PipelineName}
		a := buckets[k]
		if a == nil {
			a = &agg{}
			buckets[k] = a
		}
		a.sum += r.Duration
		a.max = max(a.max, r.Duration)
		a.n++
	}
	keys := make([]key, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.job, b.job)
	})
	f := sdk.NewFrame("duration_trend", sdk.FrameTimeSeries,
		sdk.TimeField("time").WithLabel("Time"),
		sdk.StringField("job").WithLabel("Job"),
		sdk.DurationField("avg_duration").WithLabel("Average duration").WithUnit("ms"),
		sdk.DurationField("max_duration").WithLabel("Longest run").WithUnit("ms"),
		sdk.IntField("runs").WithLabel("Runs"),
	)
	for _, k := range keys {
		a := buckets[k]
		avg := (a.sum / time.Duration(a.n)).Round(time.Millisecond)
		if err := f.AppendRow(k.at, k.job, avg, a.max, a.n); err != nil {
			return nil, sdk.DownstreamError(err, "build the duration trend")
		}
	}
	f.Meta = map[string]any{"interval": interval, "truncated": truncated}
	return f, nil
}

func (c *connector) statusGrid(ctx context.Context, tr sdk.TimeRange, jobID int64, opts cardOptions) (*sdk.Frame, error) {
	runs, truncated, err := c.runsIn(ctx, tr.From, tr.To, jobID)
	if err != nil {
		return nil, err
	}
	per := opts.RunsPerJob
	if per <= 0 {
		per = 10
	}
	// runs are newest first: keep each job's first `per`.
	byJob := map[string][]sdk.Run{}
	var jobs []string
	for _, r := range runs {
		k := r.PipelineExternalID
		if _, ok := byJob[k]; !ok {
			jobs = append(jobs, k)
		}
		if len(byJob[k]) < per {
			byJob[k] = append(byJob[k], r)
		}
	}
	slices.SortFunc(jobs, func(a, b string) int {
		return cmp.Or(cmp.Compare(byJob[a][0].PipelineName, byJob[b][0].PipelineName), cmp.Compare(a, b))
	})
	f := sdk.NewFrame("status_grid", sdk.FrameStatusGrid,
		sdk.StringField("job").WithLabel("Job"),
		sdk.StringField("job_id").WithLabel("Job id"),
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Databricks state"),
		sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms"),
		sdk.StringField("url").WithLabel("Link"),
	)
	for _, j := range jobs {
		rs := byJob[j]
		// Oldest to newest, left to right.
		for i := len(rs) - 1; i >= 0; i-- {
			r := rs[i]
			if err := f.AppendRow(r.PipelineName, r.PipelineExternalID, r.ExternalID, nullTime(startOf(r)), string(r.State), r.RawState, r.Duration, r.URL); err != nil {
				return nil, sdk.DownstreamError(err, "build the status grid")
			}
		}
	}
	f.Meta = map[string]any{"runs_per_job": per, "truncated": truncated}
	return f, nil
}
