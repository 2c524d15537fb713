package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/puod/puod/sdk"
)

// Card types (plugin.json declares them with their options schemas).
const (
	cardRunsTable     = "runs_table"
	cardSuccessRate   = "success_rate"
	cardDurationTrend = "duration_trend"
	cardStatusGrid    = "status_grid"
)

// maxCardRuns bounds what one card query reads from the service; past it
// the frame says truncated in its meta.
const maxCardRuns = 20_000

// cardOptions is the union of the card types' options.
type cardOptions struct {
	Pipeline        string `json:"pipeline"`
	State           string `json:"state"`
	Limit           int    `json:"limit"`
	Bucket          string `json:"bucket"`
	Aggregate       string `json:"aggregate"`
	MaxSeries       int    `json:"max_series"`
	RunsPerPipeline int    `json:"runs_per_pipeline"`
}

func parseCardOptions(raw json.RawMessage) (cardOptions, error) {
	o := cardOptions{Limit: 50, Bucket: "auto", Aggregate: "avg", MaxSeries: 5, RunsPerPipeline: 10}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return o, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return o, sdk.ConfigError("/options", "card options are not a JSON object of the card's options: %v", err)
	}
	switch {
	case o.Limit < 1 || o.Limit > 500:
		return o, sdk.ConfigError("/options/limit", "limit %d is out of range 1..500", o.Limit)
	case o.MaxSeries < 1 || o.MaxSeries > 20:
		return o, sdk.ConfigError("/options/max_series", "max_series %d is out of range 1..20", o.MaxSeries)
	case o.RunsPerPipeline < 1 || o.RunsPerPipeline > 50:
		return o, sdk.ConfigError("/options/runs_per_pipeline", "runs_per_pipeline %d is out of range 1..50", o.RunsPerPipeline)
	case !slices.Contains([]string{"auto", "5m", "15m", "1h", "6h", "1d"}, o.Bucket):
		return o, sdk.ConfigError("/options/bucket", "bucket %q is not one of auto, 5m, 15m, 1h, 6h, 1d", o.Bucket)
	case !slices.Contains([]string{"avg", "max", "p95"}, o.Aggregate):
		return o, sdk.ConfigError("/options/aggregate", "aggregate %q is not one of avg, max, p95", o.Aggregate)
	case o.State != "" && !sdk.RunState(o.State).Valid():
		return o, sdk.ConfigError("/options/state", "state %q is not one of %v", o.State, sdk.RunStates)
	}
	return o, nil
}

// QueryCard answers the card types from the service, over the query's
// time range.
func (c *connector) QueryCard(ctx context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	o, err := parseCardOptions(q.Options)
	if err != nil {
		return nil, err
	}
	from, to := q.TimeRange.From.UTC(), q.TimeRange.To.UTC()
	if to.IsZero() {
		to = c.now()
	}
	if from.IsZero() || !from.Before(to) {
		return nil, sdk.ConfigError("/time_range", "the time range must have from before to")
	}
	c.resolveWorkspace(ctx)
	runs, truncated, err := c.runsStartedIn(ctx, from, to, o.Pipeline)
	if err != nil {
		return nil, withContext(err, "card %s", q.CardType)
	}
	var f *sdk.Frame
	switch q.CardType {
	case cardRunsTable:
		f = c.runsTable(runs, o)
	case cardSuccessRate:
		prev, prevTruncated, err := c.runsStartedIn(ctx, from.Add(-to.Sub(from)), from, o.Pipeline)
		if err != nil {
			return nil, withContext(err, "card %s (previous period)", q.CardType)
		}
		f = successRate(runs, prev)
		truncated = truncated || prevTruncated
	case cardDurationTrend:
		f = durationTrend(runs, o, from, to)
	case cardStatusGrid:
		f = c.statusGrid(runs, o)
	default:
		return nil, sdk.NotFoundError("puod.synapse has no card type %q", q.CardType)
	}
	if f.Meta == nil {
		f.Meta = map[string]any{}
	}
	if truncated {
		f.Meta["truncated"] = true
	}
	return f, nil
}

// cardRun is a run as cards see it.
type cardRun struct {
	v     pipelineRun
	state sdk.RunState
}

// runsStartedIn reads the runs that started in [from, to): by lastUpdated
// windows from `from` to a day past `to` (a run's record changes last when
// it ends), capped at now.
func (c *connector) runsStartedIn(ctx context.Context, from, to time.Time, pipeline string) ([]cardRun, bool, error) {
	now := c.now()
	end := to.Add(maxWindow)
	if end.After(now) {
		end = now
	}
	readFrom := from
	if oldest := now.Add(-retention); readFrom.Before(oldest) {
		readFrom = oldest // the service has nothing older
	}
	filters := c.filters()
	if pipeline != "" {
		if len(c.cfg.Pipelines) > 0 && !slices.Contains(c.cfg.Pipelines, pipeline) {
			return nil, false, nil
		}
		filters = []queryFilter{{Operand: "PipelineName", Operator: "Equals", Values: []string{pipeline}}}
	}
	latest := map[string]pipelineRun{}
	truncated := false
	for wFrom := readFrom; wFrom.Before(end) && !truncated; {
		wTo := wFrom.Add(maxWindow)
		if wTo.After(end) {
			wTo = end
		}
		token := ""
		for pages := 0; ; pages++ {
			if pages == maxPages {
				return nil, false, sdk.DownstreamError(nil, "POST /queryPipelineRuns: the continuation token does not advance")
			}
			page, err := c.api.queryPipelineRuns(ctx, newFilter(wFrom, wTo, token, filters))
			if err != nil {
				return nil, false, err
			}
			for _, v := range page.Value {
				if old, ok := latest[v.RunID]; !ok || v.LastUpdated.After(old.LastUpdated.Time) {
					latest[v.RunID] = v
				}
			}
			if len(latest) >= maxCardRuns {
				truncated = true
				break
			}
			if page.ContinuationToken == nil || *page.ContinuationToken == "" || *page.ContinuationToken == token {
				break
			}
			token = *page.ContinuationToken
		}
		wFrom = wTo
	}
	out := make([]cardRun, 0, len(latest))
	for _, v := range latest {
		if v.RunStart.Before(from) || !v.RunStart.Before(to) {
			continue
		}
		mapped, known := pipelineRunState(v.Status)
		if !known {
			mapped = sdk.StateRunning
		}
		out = append(out, cardRun{v: v, state: mapped})
	}
	// Newest first; ties by id so answers are stable.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].v.RunStart.Equal(out[j].v.RunStart.Time) {
			return out[i].v.RunStart.After(out[j].v.RunStart.Time)
		}
		return out[i].v.RunID < out[j].v.RunID
	})
	return out, truncated, nil
}

func runDuration(v pipelineRun) (time.Duration, bool) {
	switch {
	case v.DurationInMs != nil && *v.DurationInMs >= 0:
		return time.Duration(*v.DurationInMs) * time.Millisecond, true
	case !v.RunEnd.IsZero() && !v.RunStart.IsZero():
		return v.RunEnd.Sub(v.RunStart.Time), true
	}
	return 0, false
}

func nullable(v any, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

// runsTable: the most recent runs, newest first.
func (c *connector) runsTable(runs []cardRun, o cardOptions) *sdk.Frame {
	f := sdk.NewFrame("synapse_runs", sdk.FrameTable,
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.StringField("pipeline").WithLabel("Pipeline"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Synapse status"),
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.TimeField("ended_at").WithLabel("Ended"),
		sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms"),
		sdk.IntField("attempt").WithLabel("Attempt"),
		sdk.StringField("error_message").WithLabel("Error"),
		sdk.StringField("url").WithLabel("Link"),
	)
	n := 0
	for _, r := range runs {
		if o.State != "" && string(r.state) != o.State {
			continue
		}
		if n == o.Limit {
			break
		}
		n++
		d, hasD := runDuration(r.v)
		attempt := int64(1)
		if r.v.RunGroupID != "" && r.v.RunGroupID != r.v.RunID {
			// The exact number needs a query per run; the table shows
			// that this is a re-run.
			attempt = 2
			c.mu.Lock()
			if a, ok := c.attempts[r.v.RunID]; ok {
				attempt = int64(a)
			}
			c.mu.Unlock()
		}
		_ = f.AppendRow(r.v.RunID, r.v.PipelineName, string(r.state), r.v.Status, r.v.RunStart.Time,
			nullable(r.v.RunEnd.Time, !r.v.RunEnd.IsZero()), nullable(d, hasD), attempt, r.v.Message, c.runURL(r.v.RunID))
	}
	return f
}

// rateCounts counts finished runs for the success rate: succeeded over
// succeeded + failed + timed out. Cancelled runs are someone's decision,
// not a failure: counted apart, outside the rate.
type rateCounts struct{ succeeded, failed, cancelled int64 }

func countRates(runs []cardRun) rateCounts {
	var rc rateCounts
	for _, r := range runs {
		switch r.state {
		case sdk.StateSucceeded:
			rc.succeeded++
		case sdk.StateFailed, sdk.StateTimedOut:
			rc.failed++
		case sdk.StateCancelled:
			rc.cancelled++
		}
	}
	return rc
}

func (rc rateCounts) rate() (float64, bool) {
	n := rc.succeeded + rc.failed
	if n == 0 {
		return 0, false
	}
	return math.Round(1000*float64(rc.succeeded)/float64(n)) / 10, true
}

// successRate: one row, with the trend against the previous period of the
// same length in meta (percentage points).
func successRate(runs, prev []cardRun) *sdk.Frame {
	cur, before := countRates(runs), countRates(prev)
	rate, ok := cur.rate()
	f := sdk.NewFrame("synapse_success_rate", sdk.FrameStat,
		sdk.FloatField("success_rate").WithLabel("Success rate").WithUnit("percent"),
		sdk.IntField("finished").WithLabel("Finished runs"),
		sdk.IntField("succeeded").WithLabel("Succeeded"),
		sdk.IntField("failed").WithLabel("Failed"),
		sdk.IntField("cancelled").WithLabel("Cancelled"),
	)
	_ = f.AppendRow(nullable(rate, ok), cur.succeeded+cur.failed, cur.succeeded, cur.failed, cur.cancelled)
	f.Meta = map[string]any{"trend_unit": "percentage_points"}
	if prevRate, prevOK := before.rate(); prevOK {
		f.Meta["previous"] = prevRate
		if ok {
			f.Meta["trend"] = math.Round(10*(rate-prevRate)) / 10
		}
	}
	return f
}

var buckets = []struct {
	name string
	d    time.Duration
}{{"5m", 5 * time.Minute}, {"15m", 15 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}}

// bucketFor picks the bucket: the option's, or (auto) the smallest giving
// at most 120 points.
func bucketFor(name string, span time.Duration) (string, time.Duration) {
	for _, b := range buckets {
		if b.name == name {
			return b.name, b.d
		}
	}
	for _, b := range buckets {
		if span/b.d <= 120 {
			return b.name, b.d
		}
	}
	last := buckets[len(buckets)-1]
	return last.name, last.d
}

// durationTrend: one duration column per pipeline (the busiest
// max_series), one row per bucket of run start time; finished runs only.
func durationTrend(runs []cardRun, o cardOptions, from, to time.Time) *sdk.Frame {
	bucketName, bucket := bucketFor(o.Bucket, to.Sub(from))
	perPipeline := map[string]map[int][]time.Duration{}
	counts := map[string]int{}
	for _, r := range runs {
		if !r.state.Terminal() {
			continue
		}
		d, ok := runDuration(r.v)
		if !ok {
			continue
		}
		idx := int(r.v.RunStart.Sub(from) / bucket)
		p := r.v.PipelineName
		if perPipeline[p] == nil {
			perPipeline[p] = map[int][]time.Duration{}
		}
		perPipeline[p][idx] = append(perPipeline[p][idx], d)
		counts[p]++
	}
	names := make([]string, 0, len(counts))
	for p := range counts {
		names = append(names, p)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > o.MaxSeries {
		names = names[:o.MaxSeries]
	}
	sort.Strings(names)
	fields := []*sdk.Field{sdk.TimeField("time").WithLabel("Time")}
	used := map[string]bool{"time": true}
	for _, p := range names {
		name := p
		for used[name] {
			name += "_"
		}
		used[name] = true
		fields = append(fields, sdk.DurationField(name).WithLabel(p).WithUnit("ms"))
	}
	f := sdk.NewFrame("synapse_duration_trend", sdk.FrameTimeSeries, fields...)
	for i := 0; ; i++ {
		t := from.Add(time.Duration(i) * bucket)
		if !t.Before(to) {
			break
		}
		row := []any{t}
		for _, p := range names {
			row = append(row, aggregate(perPipeline[p][i], o.Aggregate))
		}
		_ = f.AppendRow(row...)
	}
	f.Meta = map[string]any{"bucket": bucketName, "aggregate": o.Aggregate}
	return f
}

// aggregate returns the bucket's value, or nil (null) when it is empty.
func aggregate(ds []time.Duration, how string) any {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	switch how {
	case "max":
		return s[len(s)-1]
	case "p95":
		return s[int(math.Ceil(0.95*float64(len(s))))-1]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return (sum / time.Duration(len(s))).Round(time.Millisecond)
}

// statusGrid: the last runs_per_pipeline runs of each pipeline, position
// 0 the most recent.
func (c *connector) statusGrid(runs []cardRun, o cardOptions) *sdk.Frame {
	f := sdk.NewFrame("synapse_status_grid", sdk.FrameStatusGrid,
		sdk.StringField("pipeline").WithLabel("Pipeline"),
		sdk.IntField("position").WithLabel("Position"),
		sdk.StringField("run_id").WithLabel("Run"),
		sdk.StringField("state").WithLabel("State"),
		sdk.StringField("raw_state").WithLabel("Synapse status"),
		sdk.TimeField("started_at").WithLabel("Started"),
		sdk.DurationField("duration").WithLabel("Duration").WithUnit("ms"),
		sdk.StringField("url").WithLabel("Link"),
	)
	byPipeline := map[string][]cardRun{}
	for _, r := range runs { // newest first already
		if len(byPipeline[r.v.PipelineName]) < o.RunsPerPipeline {
			byPipeline[r.v.PipelineName] = append(byPipeline[r.v.PipelineName], r)
		}
	}
	names := make([]string, 0, len(byPipeline))
	for p := range byPipeline {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		for i, r := range byPipeline[p] {
			d, ok := runDuration(r.v)
			_ = f.AppendRow(p, int64(i), r.v.RunID, string(r.state), r.v.Status, r.v.RunStart.Time, nullable(d, ok), c.runURL(r.v.RunID))
		}
	}
	f.Meta = map[string]any{"runs_per_pipeline": o.RunsPerPipeline}
	return f
}
