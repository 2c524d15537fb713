package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/puod/puod/host/identity"
)

// StatsWindow is how many of a pipeline's latest runs its statistics
// (success rate, median duration) are computed over: recent behaviour, at
// a bounded cost whatever the pipeline's history.
const StatsWindow = 100

// Pipeline is a job, pipeline or DAG of a source.
type Pipeline struct {
	ID         string
	ProfileID  string
	SourceID   string
	ExternalID string
	Name       string
	Tags       []string
	URL        string
	Attributes map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// RunSummary is the short form of a run in a pipeline summary.
type RunSummary struct {
	ID         string
	ExternalID string
	State      string
	StartedAt  *time.Time
	EndedAt    *time.Time
	DurationMS *int64
	SortAt     time.Time
}

// PipelineSummary is a pipeline with its recent behaviour, computed over
// its latest StatsWindow runs.
type PipelineSummary struct {
	Pipeline
	// LastRun is the newest run; nil when the pipeline has none.
	LastRun *RunSummary
	// WindowRuns is how many finished runs (skipped ones aside) the
	// statistics cover.
	WindowRuns int
	// SuccessRate is succeeded / WindowRuns, nil when WindowRuns is 0.
	SuccessRate *float64
	// MedianDurationMS is the median duration of the finished runs with a
	// known duration, nil when there is none.
	MedianDurationMS *int64
}

// PipelineFilter narrows Pipelines().List. Zero fields do not filter.
type PipelineFilter struct {
	SourceID string
	// Text matches, case-insensitively and literally, a part of the name or
	// external id.
	Text string
}

// PipelineInput is a pipeline as a connector lists it.
type PipelineInput struct {
	ExternalID string
	Name       string
	Tags       []string
	URL        string
	Attributes map[string]string
}

// Pipelines is the profile-scoped pipeline repository.
type Pipelines struct{ db *DB }

// Pipelines returns the profile-scoped pipeline repository.
func (db *DB) Pipelines() *Pipelines { return &Pipelines{db: db} }

const pipelineCols = `id, profile_id, source_id, external_id, name, tags_json, url, attributes_json, created_at, updated_at`

func scanPipeline(r rowScanner) (Pipeline, error) {
	var (
		p           Pipeline
		tags, attrs string
	)
	err := r.Scan(&p.ID, &p.ProfileID, &p.SourceID, &p.ExternalID, &p.Name, &tags, &p.URL, &attrs,
		timeDest{&p.CreatedAt}, timeDest{&p.UpdatedAt})
	if err != nil {
		return Pipeline{}, mapErr(err)
	}
	if err := json.Unmarshal([]byte(tags), &p.Tags); err != nil {
		return Pipeline{}, fmt.Errorf("pipeline %s tags: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(attrs), &p.Attributes); err != nil {
		return Pipeline{}, fmt.Errorf("pipeline %s attributes: %w", p.ID, err)
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	return p, nil
}

// List returns a page of the caller's pipelines ordered by name (then id),
// each with its last run and statistics.
func (r *Pipelines) List(ctx context.Context, f PipelineFilter, page Page) ([]PipelineSummary, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines: %w", err)
	}
	var afterName, afterID string
	more, err := page.decode(&afterName, &afterID)
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines: %w", err)
	}
	where := []string{`profile_id = ?`}
	args := []any{p.ProfileID}
	if f.SourceID != "" {
		where, args = append(where, `source_id = ?`), append(args, f.SourceID)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		pat := likePattern(t)
		where, args = append(where, `(LOWER(name) LIKE ? ESCAPE '\' OR LOWER(external_id) LIKE ? ESCAPE '\')`), append(args, pat, pat)
	}
	if more {
		where, args = append(where, `(name > ? OR (name = ? AND id > ?))`), append(args, afterName, afterName, afterID)
	}
	limit := page.limit()
	rows, err := query(ctx, r.db.x, `SELECT `+pipelineCols+` FROM pipelines WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY name, id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines: %w", err)
	}
	ps, err := collect(rows, scanPipeline)
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines: %w", err)
	}
	ps, next := trimPage(ps, limit, func(p Pipeline) []any { return []any{p.Name, p.ID} })
	out, err := r.summarise(ctx, p.ProfileID, ps)
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines: %w", err)
	}
	return out, next, nil
}

// Get returns one pipeline of the caller's profile with its statistics.
func (r *Pipelines) Get(ctx context.Context, id string) (PipelineSummary, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return PipelineSummary{}, fmt.Errorf("get pipeline: %w", err)
	}
	pl, err := scanPipeline(queryRow(ctx, r.db.x, `SELECT `+pipelineCols+` FROM pipelines WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
	if err != nil {
		return PipelineSummary{}, fmt.Errorf("get pipeline %s: %w", id, err)
	}
	out, err := r.summarise(ctx, p.ProfileID, []Pipeline{pl})
	if err != nil {
		return PipelineSummary{}, fmt.Errorf("get pipeline %s: %w", id, err)
	}
	return out[0], nil
}

// statsUnion bounds the parts of one UNION ALL (SQLite allows 500).
const statsUnion = 100

// summarise adds the last run and statistics to pipelines. Each pipeline's
// latest StatsWindow runs are read through the (profile, pipeline, sort_at)
// index — one UNION ALL of per-pipeline LIMIT queries, so the cost is
// bounded by the window, not by the pipelines' history — and the median is
// computed here, since SQLite has no percentile function.
func (r *Pipelines) summarise(ctx context.Context, profileID string, ps []Pipeline) ([]PipelineSummary, error) {
	out := make([]PipelineSummary, len(ps))
	byID := make(map[string]*PipelineSummary, len(ps))
	for i := range ps {
		out[i].Pipeline = ps[i]
		byID[ps[i].ID] = &out[i]
	}
	window := map[string][]RunSummary{}
	for start := 0; start < len(ps); start += statsUnion {
		part := ps[start:min(start+statsUnion, len(ps))]
		var (
			parts []string
			args  []any
		)
		for i, pl := range part {
			parts = append(parts, fmt.Sprintf(`SELECT * FROM (SELECT pipeline_id, id, external_id, state, started_at, ended_at, duration_ms, sort_at
				FROM runs WHERE profile_id = ? AND pipeline_id = ? ORDER BY sort_at DESC, id DESC LIMIT %d) w%d`, StatsWindow, i))
			args = append(args, profileID, pl.ID)
		}
		rows, err := query(ctx, r.db.x, strings.Join(parts, ` UNION ALL `), args...)
		if err != nil {
			return nil, fmt.Errorf("pipeline statistics: %w", err)
		}
		for rows.Next() {
			var (
				pid string
				rs  RunSummary
				dur sql.NullInt64
			)
			if err := rows.Scan(&pid, &rs.ID, &rs.ExternalID, &rs.State, nullTimeDest{&rs.StartedAt}, nullTimeDest{&rs.EndedAt},
				&dur, timeDest{&rs.SortAt}); err != nil {
				rows.Close()
				return nil, fmt.Errorf("pipeline statistics: %w", mapErr(err))
			}
			if dur.Valid {
				rs.DurationMS = &dur.Int64
			}
			window[pid] = append(window[pid], rs)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("pipeline statistics: %w", mapErr(err))
		}
	}
	for pid, runs := range window {
		s := byID[pid]
		if s == nil {
			continue
		}
		// UNION ALL keeps no order across parts; within one pipeline, sort.
		sort.SliceStable(runs, func(i, j int) bool {
			if !runs[i].SortAt.Equal(runs[j].SortAt) {
				return runs[i].SortAt.After(runs[j].SortAt)
			}
			return runs[i].ID > runs[j].ID
		})
		last := runs[0]
		s.LastRun = &last
		var (
			ok    int
			durs  []int64
			total int
		)
		for _, rs := range runs {
			if !TerminalRunState(rs.State) || rs.State == RunSkipped {
				continue
			}
			total++
			if rs.State == RunSucceeded {
				ok++
			}
			if rs.DurationMS != nil {
				durs = append(durs, *rs.DurationMS)
			}
		}
		s.WindowRuns = total
		if total > 0 {
			rate := float64(ok) / float64(total)
			s.SuccessRate = &rate
		}
		if m, found := median(durs); found {
			s.MedianDurationMS = &m
		}
	}
	return out, nil
}

// median returns the median of vs (the mean of the two middle values for
// an even count, rounded down).
func median(vs []int64) (int64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// Sync stores the pipelines a connector lists for one of the caller's
// sources: new ones are created, changed ones updated, the others left
// alone (a pipeline the connector no longer lists keeps its runs).
func (r *Pipelines) Sync(ctx context.Context, sourceID string, in []PipelineInput) (int, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return 0, fmt.Errorf("sync pipelines: %w", err)
	}
	// One row per external id (the last one wins): a multi-row upsert may
	// not touch a row twice.
	byExt := map[string]PipelineInput{}
	var order []string
	for i, pl := range in {
		pl.ExternalID = strings.TrimSpace(pl.ExternalID)
		if pl.ExternalID == "" {
			return 0, fmt.Errorf("sync pipelines of source %s: %w: pipeline %d has no external id", sourceID, ErrInvalid, i)
		}
		if strings.TrimSpace(pl.Name) == "" {
			pl.Name = pl.ExternalID
		}
		if _, seen := byExt[pl.ExternalID]; !seen {
			order = append(order, pl.ExternalID)
		}
		byExt[pl.ExternalID] = pl
	}
	written := 0
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockSource(ctx, tx, r.db.dialect, p.ProfileID, sourceID); err != nil {
			return err
		}
		now := Now()
		for start := 0; start < len(order); start += ingestChunk {
			part := order[start:min(start+ingestChunk, len(order))]
			args := make([]any, 0, len(part)*10)
			for _, ext := range part {
				pl := byExt[ext]
				tags := pl.Tags
				if tags == nil {
					tags = []string{}
				}
				args = append(args, newID(), p.ProfileID, sourceID, ext, strings.TrimSpace(pl.Name), mustJSONAny(tags),
					pl.URL, mustJSON(pl.Attributes, "{}"), now, now)
			}
			res, err := exec(ctx, tx, `INSERT INTO pipelines (`+pipelineCols+`) VALUES `+
				strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, len(part)), ", ")+`
				ON CONFLICT (profile_id, source_id, external_id) DO UPDATE SET name = excluded.name,
					tags_json = excluded.tags_json, url = excluded.url, attributes_json = excluded.attributes_json,
					updated_at = excluded.updated_at
				WHERE pipelines.name <> excluded.name OR pipelines.tags_json <> excluded.tags_json
					OR pipelines.url <> excluded.url OR pipelines.attributes_json <> excluded.attributes_json`, args...)
			if err != nil {
				return fmt.Errorf("upsert pipelines: %w", err)
			}
			n, _ := res.RowsAffected()
			written += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sync pipelines of source %s: %w", sourceID, err)
	}
	return written, nil
}

func mustJSONAny(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode pipeline field: %v", err))
	}
	return string(raw)
}
