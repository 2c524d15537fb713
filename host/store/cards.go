package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/puod/puod/host/identity"
)

// Cards is the profile-scoped repository of the aggregate queries behind
// the built-in dashboard cards. Every query is bounded by a time range on
// runs.sort_at (the start time, when known) and by a row limit, and
// aggregates in SQL, so its cost follows the runs in the range, never the
// whole history.
type Cards struct{ db *DB }

// Cards returns the profile-scoped card query repository.
func (db *DB) Cards() *Cards { return &Cards{db: db} }

// CardFilter narrows a card query. From (inclusive) and To (exclusive)
// bound Run.SortAt and are required; empty ids do not filter.
type CardFilter struct {
	From, To   time.Time
	SourceID   string
	PipelineID string
}

// MaxErrorExcerpt bounds the error message a card shows per run, in
// characters; the run's page has the whole message.
const MaxErrorExcerpt = 500

// finishedStates are the states a success rate counts: terminal, skipped
// aside (as in PipelineSummary).
const finishedStates = `('succeeded', 'failed', 'timed_out', 'cancelled')`

// failedStates are the states counted as failures.
const failedStates = `('failed', 'timed_out')`

func (f CardFilter) validate() error {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return fmt.Errorf("%w: a card query needs a time range with from before to", ErrInvalid)
	}
	return nil
}

// where returns the run conditions of f (columns prefixed with alias,
// which may be "") and their arguments, starting with the profile.
func (f CardFilter) where(alias, profileID string) (string, []any) {
	a := alias
	if a != "" {
		a += "."
	}
	conds := []string{a + `profile_id = ?`, a + `sort_at >= ?`, a + `sort_at < ?`}
	args := []any{profileID, f.From, f.To}
	if f.SourceID != "" {
		conds, args = append(conds, a+`source_id = ?`), append(args, f.SourceID)
	}
	if f.PipelineID != "" {
		conds, args = append(conds, a+`pipeline_id = ?`), append(args, f.PipelineID)
	}
	return strings.Join(conds, ` AND `), args
}

func (r *Cards) principal(ctx context.Context, op string, f CardFilter) (identity.Principal, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return p, fmt.Errorf("%s: %w", op, err)
	}
	if err := f.validate(); err != nil {
		return p, fmt.Errorf("%s: %w", op, err)
	}
	return p, nil
}

// RunCounts counts runs by outcome.
type RunCounts struct {
	// Runs counts every run; Finished those in a terminal state other
	// than skipped; Failed those failed or timed out.
	Runs, Succeeded, Failed, Finished int64
}

// SuccessRate is Succeeded / Finished, and false when nothing finished.
func (c RunCounts) SuccessRate() (float64, bool) {
	if c.Finished == 0 {
		return 0, false
	}
	return float64(c.Succeeded) / float64(c.Finished), true
}

// PipelineOverview is one pipeline's activity in a time range.
type PipelineOverview struct {
	PipelineID, PipelineName string
	SourceID, SourceName     string
	RunCounts
	// AvgDurationMS is the mean duration of the runs with a known
	// duration; nil when none has one.
	AvgDurationMS *float64
	// LastRunID, LastState and LastRunAt describe the pipeline's newest
	// run in the range.
	LastRunID, LastState string
	LastRunAt            time.Time
}

// PipelinesOverview returns the pipelines with runs in the range, those
// with the most failures first (then by name), at most limit.
func (r *Cards) PipelinesOverview(ctx context.Context, f CardFilter, limit int) ([]PipelineOverview, error) {
	const op = "pipelines overview"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return nil, err
	}
	where, args := f.where("", p.ProfileID)
	q := `SELECT a.pipeline_id, pl.name, pl.source_id, COALESCE(s.name, ''), a.runs, a.succeeded, a.failed, a.finished, a.avg_ms, a.last_at
		FROM (SELECT pipeline_id, COUNT(*) AS runs,
				SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
				SUM(CASE WHEN state IN ` + failedStates + ` THEN 1 ELSE 0 END) AS failed,
				SUM(CASE WHEN state IN ` + finishedStates + ` THEN 1 ELSE 0 END) AS finished,
				CAST(AVG(duration_ms) AS DOUBLE PRECISION) AS avg_ms, MAX(sort_at) AS last_at
			FROM runs WHERE ` + where + ` AND pipeline_id IS NOT NULL GROUP BY pipeline_id) a
		JOIN pipelines pl ON pl.profile_id = ? AND pl.id = a.pipeline_id
		LEFT JOIN sources s ON s.profile_id = pl.profile_id AND s.id = pl.source_id
		ORDER BY a.failed DESC, pl.name, a.pipeline_id LIMIT ?`
	rows, err := query(ctx, r.db.x, q, append(args, p.ProfileID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := collect(rows, func(rs rowScanner) (PipelineOverview, error) {
		var (
			o   PipelineOverview
			avg sql.NullFloat64
		)
		if err := rs.Scan(&o.PipelineID, &o.PipelineName, &o.SourceID, &o.SourceName, &o.Runs, &o.Succeeded, &o.Failed,
			&o.Finished, &avg, timeDest{&o.LastRunAt}); err != nil {
			return o, mapErr(err)
		}
		if avg.Valid {
			v := avg.Float64
			o.AvgDurationMS = &v
		}
		return o, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.PipelineID
	}
	latest, err := r.latestRuns(ctx, p.ProfileID, f, ids, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for i := range out {
		if runs := latest[out[i].PipelineID]; len(runs) > 0 {
			out[i].LastRunID, out[i].LastState = runs[0].RunID, runs[0].State
		}
	}
	return out, nil
}

// GridRun is one run of a pipeline's recent runs.
type GridRun struct {
	PipelineID string
	RunID      string
	ExternalID string
	State      string
	SortAt     time.Time
	StartedAt  *time.Time
	DurationMS *int64
	// Position is 0 for the pipeline's newest run in the range, 1 for the
	// one before, and so on.
	Position int
}

// latestRuns reads, per pipeline, its newest n runs within the range
// (newest first), through the (profile, pipeline, sort_at) index: one
// UNION ALL of per-pipeline LIMIT queries, so the cost is bounded by n.
func (r *Cards) latestRuns(ctx context.Context, profileID string, f CardFilter, pipelineIDs []string, n int) (map[string][]GridRun, error) {
	out := make(map[string][]GridRun, len(pipelineIDs))
	for start := 0; start < len(pipelineIDs); start += statsUnion {
		part := pipelineIDs[start:min(start+statsUnion, len(pipelineIDs))]
		parts := make([]string, 0, len(part))
		args := make([]any, 0, len(part)*4)
		for i, id := range part {
			parts = append(parts, fmt.Sprintf(`SELECT * FROM (SELECT pipeline_id, id, external_id, state, sort_at, started_at, duration_ms
				FROM runs WHERE profile_id = ? AND pipeline_id = ? AND sort_at >= ? AND sort_at < ?
				ORDER BY sort_at DESC, id DESC LIMIT %d) w%d`, n, i))
			args = append(args, profileID, id, f.From, f.To)
		}
		rows, err := query(ctx, r.db.x, strings.Join(parts, ` UNION ALL `), args...)
		if err != nil {
			return nil, fmt.Errorf("latest runs: %w", err)
		}
		runs, err := collect(rows, func(rs rowScanner) (GridRun, error) {
			var (
				g   GridRun
				dur sql.NullInt64
			)
			if err := rs.Scan(&g.PipelineID, &g.RunID, &g.ExternalID, &g.State, timeDest{&g.SortAt}, nullTimeDest{&g.StartedAt}, &dur); err != nil {
				return g, mapErr(err)
			}
			if dur.Valid {
				g.DurationMS = &dur.Int64
			}
			return g, nil
		})
		if err != nil {
			return nil, fmt.Errorf("latest runs: %w", err)
		}
		for _, g := range runs {
			out[g.PipelineID] = append(out[g.PipelineID], g)
		}
	}
	for id, runs := range out {
		// UNION ALL keeps no order across its parts.
		sort.SliceStable(runs, func(i, j int) bool {
			if !runs[i].SortAt.Equal(runs[j].SortAt) {
				return runs[i].SortAt.After(runs[j].SortAt)
			}
			return runs[i].RunID > runs[j].RunID
		})
		for i := range runs {
			runs[i].Position = i
		}
		out[id] = runs
	}
	return out, nil
}

// FailedRun is a failed or timed-out run.
type FailedRun struct {
	RunID, ExternalID        string
	SourceID, SourceName     string
	PipelineID, PipelineName string
	State                    string
	SortAt                   time.Time
	StartedAt                *time.Time
	DurationMS               *int64
	// ErrorMessage is cut to MaxErrorExcerpt characters.
	ErrorMessage string
	URL          string
}

// RecentFailures returns the newest failed or timed-out runs in the range,
// newest first, at most limit.
func (r *Cards) RecentFailures(ctx context.Context, f CardFilter, limit int) ([]FailedRun, error) {
	const op = "recent failures"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return nil, err
	}
	where, args := f.where("r", p.ProfileID)
	q := fmt.Sprintf(`SELECT r.id, r.external_id, r.source_id, COALESCE(s.name, ''), COALESCE(r.pipeline_id, ''), COALESCE(pl.name, ''),
			r.state, r.sort_at, r.started_at, r.duration_ms, SUBSTR(r.error_message, 1, %d), r.url
		FROM runs r
		LEFT JOIN pipelines pl ON pl.profile_id = r.profile_id AND pl.id = r.pipeline_id
		LEFT JOIN sources s ON s.profile_id = r.profile_id AND s.id = r.source_id
		WHERE %s AND r.state IN %s
		ORDER BY r.sort_at DESC, r.id DESC LIMIT ?`, MaxErrorExcerpt, where, failedStates)
	rows, err := query(ctx, r.db.x, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := collect(rows, func(rs rowScanner) (FailedRun, error) {
		var (
			fr  FailedRun
			dur sql.NullInt64
		)
		if err := rs.Scan(&fr.RunID, &fr.ExternalID, &fr.SourceID, &fr.SourceName, &fr.PipelineID, &fr.PipelineName, &fr.State,
			timeDest{&fr.SortAt}, nullTimeDest{&fr.StartedAt}, &dur, &fr.ErrorMessage, &fr.URL); err != nil {
			return fr, mapErr(err)
		}
		if dur.Valid {
			fr.DurationMS = &dur.Int64
		}
		return fr, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// TrendPoint is the mean duration of one pipeline's runs started in one
// bucket.
type TrendPoint struct {
	PipelineID    string
	Bucket        time.Time
	AvgDurationMS float64
	Runs          int64
}

// TrendPipeline is a pipeline of a duration trend.
type TrendPipeline struct {
	ID, Name, SourceID, SourceName string
	// TotalDurationMS is the run time of its runs in the range.
	TotalDurationMS int64
}

// DurationTrend returns the top pipelines by run time in the range (the
// sum of their runs' durations; at most top) and, for each, the mean
// duration of its runs per bucket (bucket start: sort_at truncated to a
// multiple of bucket since the Unix epoch, so day buckets start at UTC
// midnight). Only runs with a known duration count. Points are ordered by
// bucket, then pipeline.
func (r *Cards) DurationTrend(ctx context.Context, f CardFilter, bucket time.Duration, top int) ([]TrendPipeline, []TrendPoint, error) {
	const op = "duration trend"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return nil, nil, err
	}
	if bucket < time.Second || bucket%time.Second != 0 {
		return nil, nil, fmt.Errorf("%s: %w: bucket %s must be a whole number of seconds", op, ErrInvalid, bucket)
	}
	where, args := f.where("", p.ProfileID)
	rows, err := query(ctx, r.db.x, `SELECT a.pipeline_id, pl.name, pl.source_id, COALESCE(s.name, ''), a.total
		FROM (SELECT pipeline_id, SUM(duration_ms) AS total FROM runs
			WHERE `+where+` AND pipeline_id IS NOT NULL AND duration_ms IS NOT NULL GROUP BY pipeline_id) a
		JOIN pipelines pl ON pl.profile_id = ? AND pl.id = a.pipeline_id
		LEFT JOIN sources s ON s.profile_id = pl.profile_id AND s.id = pl.source_id
		ORDER BY a.total DESC, a.pipeline_id LIMIT ?`, append(args, p.ProfileID, top)...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	pls, err := collect(rows, func(rs rowScanner) (TrendPipeline, error) {
		var tp TrendPipeline
		return tp, mapErr(rs.Scan(&tp.ID, &tp.Name, &tp.SourceID, &tp.SourceName, &tp.TotalDurationMS))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(pls) == 0 {
		return nil, nil, nil
	}
	var bucketExpr string
	var bucketArgs []any
	if r.db.dialect == DialectPostgres {
		bucketExpr = `date_bin(CAST(? AS interval), sort_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')`
		bucketArgs = []any{fmt.Sprintf("%d seconds", int64(bucket/time.Second))}
	} else {
		micros := bucket.Microseconds()
		bucketExpr = `(sort_at / ?) * ?`
		bucketArgs = []any{micros, micros}
	}
	ids := make([]any, len(pls))
	for i, pl := range pls {
		ids[i] = pl.ID
	}
	f.PipelineID = "" // the top list already honours it
	where, args = f.where("", p.ProfileID)
	q := `SELECT pipeline_id, ` + bucketExpr + ` AS bucket, CAST(AVG(duration_ms) AS DOUBLE PRECISION), COUNT(*)
		FROM runs WHERE ` + where + ` AND duration_ms IS NOT NULL AND pipeline_id IN (` + placeholders(len(ids)) + `)
		GROUP BY pipeline_id, bucket ORDER BY bucket, pipeline_id`
	rows, err = query(ctx, r.db.x, q, append(append(bucketArgs, args...), ids...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	pts, err := collect(rows, func(rs rowScanner) (TrendPoint, error) {
		var tp TrendPoint
		return tp, mapErr(rs.Scan(&tp.PipelineID, timeDest{&tp.Bucket}, &tp.AvgDurationMS, &tp.Runs))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return pls, pts, nil
}

// SuccessRate counts the runs of the range and of the period of the same
// length just before it (previous), in one pass.
func (r *Cards) SuccessRate(ctx context.Context, f CardFilter) (current, previous RunCounts, err error) {
	const op = "success rate"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return current, previous, err
	}
	split := f.From
	f.From = f.From.Add(-f.To.Sub(f.From))
	where, args := f.where("", p.ProfileID)
	counts := func(cmp string) string {
		return `COUNT(CASE WHEN sort_at ` + cmp + ` ? THEN 1 END),
			COUNT(CASE WHEN sort_at ` + cmp + ` ? AND state = 'succeeded' THEN 1 END),
			COUNT(CASE WHEN sort_at ` + cmp + ` ? AND state IN ` + failedStates + ` THEN 1 END),
			COUNT(CASE WHEN sort_at ` + cmp + ` ? AND state IN ` + finishedStates + ` THEN 1 END)`
	}
	q := `SELECT ` + counts(">=") + `, ` + counts("<") + ` FROM runs WHERE ` + where
	all := []any{split, split, split, split, split, split, split, split}
	err = queryRow(ctx, r.db.x, q, append(all, args...)...).Scan(
		&current.Runs, &current.Succeeded, &current.Failed, &current.Finished,
		&previous.Runs, &previous.Succeeded, &previous.Failed, &previous.Finished)
	if err != nil {
		return RunCounts{}, RunCounts{}, fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return current, previous, nil
}

// SourceRuns is one source's runs in a time range.
type SourceRuns struct {
	SourceID, SourceName, PluginID string
	RunCounts
}

// RunsBySource returns every source of the profile with its runs in the
// range (zero counts included), most runs first, then by name.
func (r *Cards) RunsBySource(ctx context.Context, f CardFilter) ([]SourceRuns, error) {
	const op = "runs by source"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return nil, err
	}
	srcs, err := r.Sources(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	where, args := f.where("", p.ProfileID)
	rows, err := query(ctx, r.db.x, `SELECT source_id, COUNT(*),
			COUNT(CASE WHEN state = 'succeeded' THEN 1 END),
			COUNT(CASE WHEN state IN `+failedStates+` THEN 1 END),
			COUNT(CASE WHEN state IN `+finishedStates+` THEN 1 END)
		FROM runs WHERE `+where+` GROUP BY source_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	type counted struct {
		id string
		c  RunCounts
	}
	cs, err := collect(rows, func(rs rowScanner) (counted, error) {
		var c counted
		return c, mapErr(rs.Scan(&c.id, &c.c.Runs, &c.c.Succeeded, &c.c.Failed, &c.c.Finished))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	byID := make(map[string]RunCounts, len(cs))
	for _, c := range cs {
		byID[c.id] = c.c
	}
	out := make([]SourceRuns, 0, len(srcs))
	for _, s := range srcs {
		if f.SourceID != "" && s.ID != f.SourceID {
			continue
		}
		out = append(out, SourceRuns{SourceID: s.ID, SourceName: s.Name, PluginID: s.PluginID, RunCounts: byID[s.ID]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Runs > out[j].Runs })
	return out, nil
}

// GridPipeline is a row of a status grid: a pipeline and its newest runs
// in the range (newest first).
type GridPipeline struct {
	ID, Name, SourceID, SourceName string
	Runs                           []GridRun
}

// StatusGrid picks the limit pipelines with the most recent runs in the
// range and returns them by name, each with its newest perPipeline runs in
// the range.
func (r *Cards) StatusGrid(ctx context.Context, f CardFilter, perPipeline, limit int) ([]GridPipeline, error) {
	const op = "status grid"
	p, err := r.principal(ctx, op, f)
	if err != nil {
		return nil, err
	}
	where, args := f.where("", p.ProfileID)
	rows, err := query(ctx, r.db.x, `SELECT a.pipeline_id, pl.name, pl.source_id, COALESCE(s.name, '')
		FROM (SELECT pipeline_id, MAX(sort_at) AS last_at FROM runs
			WHERE `+where+` AND pipeline_id IS NOT NULL GROUP BY pipeline_id) a
		JOIN pipelines pl ON pl.profile_id = ? AND pl.id = a.pipeline_id
		LEFT JOIN sources s ON s.profile_id = pl.profile_id AND s.id = pl.source_id
		ORDER BY a.last_at DESC, a.pipeline_id LIMIT ?`, append(args, p.ProfileID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := collect(rows, func(rs rowScanner) (GridPipeline, error) {
		var g GridPipeline
		return g, mapErr(rs.Scan(&g.ID, &g.Name, &g.SourceID, &g.SourceName))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ids := make([]string, len(out))
	for i, g := range out {
		ids[i] = g.ID
	}
	latest, err := r.latestRuns(ctx, p.ProfileID, f, ids, perPipeline)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for i := range out {
		out[i].Runs = latest[out[i].ID]
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// SourceRef names a source.
type SourceRef struct {
	ID, Name, PluginID string
}

// Sources lists the caller's sources (id, name, plugin), by name: what
// card catalogs and source pickers need, without configurations.
func (r *Cards) Sources(ctx context.Context) ([]SourceRef, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source names: %w", err)
	}
	rows, err := query(ctx, r.db.x, `SELECT id, name, plugin_id FROM sources WHERE profile_id = ? ORDER BY name, id`, p.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("list source names: %w", err)
	}
	out, err := collect(rows, func(rs rowScanner) (SourceRef, error) {
		var s SourceRef
		return s, mapErr(rs.Scan(&s.ID, &s.Name, &s.PluginID))
	})
	if err != nil {
		return nil, fmt.Errorf("list source names: %w", err)
	}
	return out, nil
}

// Alert states a firing-alerts card shows.
const (
	alertStatePending = "pending"
	alertStateFiring  = "firing"
)

// FiringAlertFilter narrows FiringAlerts. Empty Severity selects every
// severity.
type FiringAlertFilter struct {
	// Severity is a rule severity (info, warning, critical).
	Severity string
	// IncludePending adds the pending alerts to the firing ones.
	IncludePending bool
}

// FiringAlert is one alert (a series of a rule) that is firing or pending.
type FiringAlert struct {
	// ID is "<rule id>:<fingerprint>", the alert's id in the alerts API.
	ID          string
	RuleID      string
	RuleName    string
	Fingerprint string
	// Severity is the rule's (its label when the rule does not say).
	Severity string
	State    string
	Labels   map[string]string
	// Value is the series' last value, when it is a number.
	Value *float64
	Since time.Time
	// AcknowledgedBy is the user id of who acknowledged the episode, and
	// AcknowledgedByName their username (the id when the user is gone);
	// both empty when nobody did.
	AcknowledgedBy, AcknowledgedByName string
}

// FiringAlerts returns the caller's alerts that are firing (and pending
// when f asks), the latest to enter its state first, at most limit. Only
// current states are read, so no time range applies; their count follows
// the series of the profile's rules, which the engine bounds.
func (r *Cards) FiringAlerts(ctx context.Context, f FiringAlertFilter, limit int) ([]FiringAlert, error) {
	const op = "firing alerts"
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%s: %w: limit must be positive", op, ErrInvalid)
	}
	states := `(?)`
	args := []any{p.ProfileID, alertStateFiring}
	if f.IncludePending {
		states = `(?, ?)`
		args = append(args, alertStatePending)
	}
	q := `SELECT st.rule_id, st.fingerprint, st.state, st.labels_json, st.value, st.since, st.acknowledged_by,
			COALESCE(u.username, ''), r.name, r.spec_json
		FROM alert_states st
		JOIN alert_rules r ON r.profile_id = st.profile_id AND r.id = st.rule_id
		LEFT JOIN users u ON u.id = st.acknowledged_by
		WHERE st.profile_id = ? AND st.state IN ` + states + `
		ORDER BY st.since DESC, r.name, st.rule_id, st.fingerprint`
	if f.Severity == "" {
		// The severity is inside the rule's JSON, filtered below; without
		// it the database can stop at limit.
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := query(ctx, r.db.x, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []FiringAlert
	for len(out) < limit && rows.Next() {
		var (
			a            FiringAlert
			labels, spec string
			value        sql.NullFloat64
		)
		if err := rows.Scan(&a.RuleID, &a.Fingerprint, &a.State, &labels, &value, timeDest{&a.Since}, &a.AcknowledgedBy,
			&a.AcknowledgedByName, &a.RuleName, &spec); err != nil {
			return nil, fmt.Errorf("%s: %w", op, mapErr(err))
		}
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("%s: alert %s:%s: labels: %w", op, a.RuleID, a.Fingerprint, err)
		}
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		var rule struct {
			Severity string `json:"severity"`
		}
		if json.Unmarshal([]byte(spec), &rule) == nil {
			a.Severity = rule.Severity
		}
		if a.Severity == "" {
			a.Severity = a.Labels["severity"]
		}
		if f.Severity != "" && a.Severity != f.Severity {
			continue
		}
		if value.Valid {
			v := value.Float64
			a.Value = &v
		}
		if a.AcknowledgedBy != "" && a.AcknowledgedByName == "" {
			a.AcknowledgedByName = a.AcknowledgedBy
		}
		a.ID = a.RuleID + ":" + a.Fingerprint
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return out, nil
}
