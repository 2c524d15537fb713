package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/puod/puod/host/identity"
)

// Normalised run states, as stored (see DESIGN: Data model).
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
	RunSkipped   = "skipped"
	RunTimedOut  = "timed_out"
)

// RunStates lists every normalised state.
var RunStates = []string{RunQueued, RunRunning, RunSucceeded, RunFailed, RunCancelled, RunSkipped, RunTimedOut}

// ValidRunState reports whether s is a normalised state.
func ValidRunState(s string) bool {
	for _, v := range RunStates {
		if v == s {
			return true
		}
	}
	return false
}

// TerminalRunState reports whether a run in state s has finished.
func TerminalRunState(s string) bool {
	switch s {
	case RunSucceeded, RunFailed, RunCancelled, RunSkipped, RunTimedOut:
		return true
	}
	return false
}

// Limits applied on ingest, so one vendor's oversized field cannot bloat
// the database.
const (
	maxErrorMessageBytes = 16 << 10
	// ingestChunk bounds the rows of one multi-row statement: 21 columns ×
	// 500 rows stays far below SQLite's (32766) and PostgreSQL's (65535)
	// parameter limits.
	ingestChunk = 500
)

// Task is one task (activity, task instance) of a run, stored as JSON.
type Task struct {
	ExternalID   string     `json:"external_id"`
	Name         string     `json:"name"`
	State        string     `json:"state"`
	RawState     string     `json:"raw_state,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	Attempt      int        `json:"attempt,omitempty"`
	ErrorMessage string     `json:"error_message,omitempty"`
}

// RunData is what ingest writes about a run: everything but its identity.
type RunData struct {
	// State is a normalised state. On ingest, "" (or any value that is not
	// a normalised state) means unknown: the stored state is kept, and a
	// new run starts as running.
	State    string
	RawState string
	QueuedAt *time.Time
	// StartedAt orders run lists (see Run.SortAt).
	StartedAt *time.Time
	EndedAt   *time.Time
	// DurationMS is computed from StartedAt and EndedAt when the source
	// does not report it.
	DurationMS   *int64
	ErrorMessage string
	// URL links to the run in the vendor's console.
	URL     string
	Attempt int
	// Attributes, Tasks and Metrics are stored as JSON. On ingest with the
	// default merge, nil keeps the stored value (a list call may omit what
	// a detail call or a webhook filled in); an empty non-nil value clears
	// it.
	Attributes map[string]string
	Tasks      []Task
	Metrics    map[string]float64
	// EventAt is when the event that set State happened, for push paths
	// whose events may arrive out of order (OpenLineage). Nil for polls.
	EventAt *time.Time
}

// RunUpsert is one run as a source reports it.
type RunUpsert struct {
	// ExternalID identifies the run in the source; required.
	ExternalID string
	// PipelineExternalID names the run's pipeline in the source; the
	// pipeline is created on first sight. Empty: the run has no pipeline.
	PipelineExternalID string
	// PipelineName renames the pipeline when it differs; empty keeps it.
	PipelineName string
	RunData
}

// Run is a stored run.
type Run struct {
	ID         string
	ProfileID  string
	SourceID   string
	ExternalID string
	// PipelineID is empty for a run without a pipeline.
	PipelineID         string
	PipelineExternalID string
	PipelineName       string
	RunData
	// SortAt orders run lists: StartedAt when known, else QueuedAt, else
	// EndedAt, else when PUOD first saw the run.
	SortAt    time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MergeFunc combines what is stored about a run (nil for a run never seen)
// with what a source now reports, and returns what to store. The store
// then completes the result (unknown state, duration, attempt) and writes
// it only if something differs from the stored row.
type MergeFunc func(stored *RunData, in RunData) RunData

// ReplaceMerge is the default merge, for polls and webhooks: the source's
// report is the truth, except that an unknown state keeps the stored one
// and nil attributes, tasks or metrics keep the stored values.
func ReplaceMerge(stored *RunData, in RunData) RunData {
	out := in
	if stored == nil {
		return out
	}
	if !ValidRunState(out.State) {
		out.State = stored.State
	}
	if out.Attributes == nil {
		out.Attributes = stored.Attributes
	}
	if out.Tasks == nil {
		out.Tasks = stored.Tasks
	}
	if out.Metrics == nil {
		out.Metrics = stored.Metrics
	}
	if out.Attempt <= 0 {
		out.Attempt = stored.Attempt
	}
	if out.EventAt == nil {
		out.EventAt = stored.EventAt
	}
	return out
}

// IngestBatch is one batch of runs of one source, stored in one
// transaction together with the source's new cursor.
type IngestBatch struct {
	SourceID string
	Runs     []RunUpsert
	// Cursor, when not nil, is stored as the source's cursor in the same
	// transaction, so the runs and the position after them are committed
	// together or not at all.
	Cursor *string
	// Merge defaults to ReplaceMerge.
	Merge MergeFunc
}

// RunChange is a run that is new, or whose state, timing or error changed:
// what run.changed events are published for.
type RunChange struct {
	RunID              string
	ExternalID         string
	PipelineID         string
	PipelineExternalID string
	State              string
	// PreviousState is empty for a new run.
	PreviousState string
	New           bool
}

// IngestResult says what an ingest did.
type IngestResult struct {
	// Received counts the runs of the batch; Written the rows inserted or
	// updated (a replay writes none).
	Received, Written int
	// Changed lists the runs that are new or whose state, timing or error
	// changed, in batch order. A replayed batch changes nothing.
	Changed []RunChange
	// Latest is the newest activity time (end, else start, else queue
	// time) among the batch's runs; zero when none has a time.
	Latest time.Time
}

// Runs is the profile-scoped run repository.
type Runs struct{ db *DB }

// Runs returns the profile-scoped run repository.
func (db *DB) Runs() *Runs { return &Runs{db: db} }

// storedRun is a run row as ingest reads it back.
type storedRun struct {
	id, pipelineID                   string
	data                             RunData
	attrsJSON, tasksJSON, metricJSON string
	sortAt, createdAt                time.Time
}

// pendingRun is a run the batch wants to write.
type pendingRun struct {
	externalID  string
	pipelineID  string
	pipelineExt string
	data        RunData
	stored      *storedRun
}

// Ingest upserts a batch of runs of one source of the caller's profile
// (pipelines are created on first sight), stores the cursor, and reports
// which runs changed — all in one transaction. It is idempotent: a
// replayed or overlapping batch writes nothing that is already stored and
// reports no change for it. A source of another profile is ErrNotFound.
//
// Ingests of one source are serialised (the source row is locked on
// PostgreSQL; SQLite has one writer), so the comparison with the stored
// rows cannot race with a concurrent webhook for the same runs.
func (r *Runs) Ingest(ctx context.Context, b IngestBatch) (IngestResult, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest runs: %w", err)
	}
	if b.SourceID == "" {
		return IngestResult{}, fmt.Errorf("ingest runs: %w: source id is empty", ErrInvalid)
	}
	ins, latest, err := normaliseUpserts(b.Runs)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest runs of source %s: %w", b.SourceID, err)
	}
	merge := b.Merge
	if merge == nil {
		merge = ReplaceMerge
	}
	res := IngestResult{Received: len(b.Runs), Latest: latest}
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockSource(ctx, tx, r.db.dialect, p.ProfileID, b.SourceID); err != nil {
			return err
		}
		now := Now()
		pipelines, err := resolvePipelines(ctx, tx, p.ProfileID, b.SourceID, ins, now)
		if err != nil {
			return err
		}
		stored, err := loadRuns(ctx, tx, r.db.dialect, p.ProfileID, b.SourceID, ins)
		if err != nil {
			return err
		}
		// Fold the batch over the stored rows: a run listed twice is merged
		// twice, and compared once with what is stored.
		pending := make(map[string]*pendingRun, len(ins))
		order := make([]*pendingRun, 0, len(ins))
		for _, in := range ins {
			pr := pending[in.ExternalID]
			var prev *RunData
			if pr == nil {
				pr = &pendingRun{stored: stored[in.ExternalID]}
				if pr.stored != nil {
					pr.data, pr.pipelineID = pr.stored.data, pr.stored.pipelineID
					prev = &pr.data
				}
				pending[in.ExternalID] = pr
				order = append(order, pr)
			} else {
				prev = &pr.data
			}
			pr.data = completeRun(merge(prev, in.RunData), prev)
			pr.externalID = in.ExternalID
			if in.PipelineExternalID != "" {
				pr.pipelineID, pr.pipelineExt = pipelines[in.PipelineExternalID], in.PipelineExternalID
			}
		}
		var writes []runRow
		for _, pr := range order {
			row := pr.row(p.ProfileID, b.SourceID, now)
			if pr.stored != nil && !row.differs(pr.stored) {
				continue
			}
			writes = append(writes, row)
			if pr.stored == nil || row.changedFrom(pr.stored) {
				c := RunChange{RunID: row.id, ExternalID: pr.externalID, PipelineID: pr.pipelineID,
					PipelineExternalID: pr.pipelineExt, State: row.data.State, New: pr.stored == nil}
				if pr.stored != nil {
					c.PreviousState = pr.stored.data.State
				}
				res.Changed = append(res.Changed, c)
			}
		}
		for start := 0; start < len(writes); start += ingestChunk {
			if err := upsertRuns(ctx, tx, writes[start:min(start+ingestChunk, len(writes))]); err != nil {
				return err
			}
		}
		res.Written = len(writes)
		if b.Cursor != nil {
			if err := execOne(ctx, tx, `UPDATE sources SET cursor = ? WHERE profile_id = ? AND id = ?`, *b.Cursor, p.ProfileID, b.SourceID); err != nil {
				return fmt.Errorf("store cursor: %w", err)
			}
		}
		return nil
	})
	if b.Cursor != nil {
		// The cursor is a column of sources: caches keyed on the sources
		// generation must see it move (even after a failed attempt).
		r.db.bump(GenSources)
	}
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest runs of source %s: %w", b.SourceID, err)
	}
	return res, nil
}

// normaliseUpserts validates the batch and brings its values to what the
// store keeps (UTC microsecond times, bounded texts, finite metrics).
func normaliseUpserts(in []RunUpsert) ([]RunUpsert, time.Time, error) {
	out := make([]RunUpsert, len(in))
	var latest time.Time
	for i, u := range in {
		u.ExternalID = strings.TrimSpace(u.ExternalID)
		if u.ExternalID == "" {
			return nil, time.Time{}, fmt.Errorf("%w: run %d of the batch has no external id", ErrInvalid, i)
		}
		u.PipelineExternalID = strings.TrimSpace(u.PipelineExternalID)
		if !ValidRunState(u.State) {
			u.State = ""
		}
		u.QueuedAt, u.StartedAt, u.EndedAt, u.EventAt = timePtrZero(u.QueuedAt), timePtrZero(u.StartedAt), timePtrZero(u.EndedAt), timePtrZero(u.EventAt)
		u.ErrorMessage = truncateUTF8(u.ErrorMessage, maxErrorMessageBytes)
		if u.DurationMS != nil && *u.DurationMS < 0 {
			u.DurationMS = nil
		}
		if u.Metrics != nil {
			m := make(map[string]float64, len(u.Metrics))
			for k, v := range u.Metrics {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					m[k] = v
				}
			}
			u.Metrics = m
		}
		if len(u.Tasks) > 0 {
			ts := make([]Task, len(u.Tasks))
			for j, t := range u.Tasks {
				t.StartedAt, t.EndedAt = timePtrZero(t.StartedAt), timePtrZero(t.EndedAt)
				t.ErrorMessage = truncateUTF8(t.ErrorMessage, maxErrorMessageBytes)
				ts[j] = t
			}
			u.Tasks = ts
		}
		for _, t := range []*time.Time{u.EndedAt, u.StartedAt, u.QueuedAt} {
			if t != nil {
				if t.After(latest) {
					latest = *t
				}
				break
			}
		}
		out[i] = u
	}
	return out, latest, nil
}

// timePtrZero normalises an optional time; a zero time counts as absent.
func timePtrZero(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	return timePtr(t)
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// completeRun fills in what a merge left open: an unknown state keeps the
// previous one (running for a new run), a missing duration is computed,
// the attempt is at least 1.
func completeRun(d RunData, prev *RunData) RunData {
	if !ValidRunState(d.State) {
		d.State = RunRunning
		if prev != nil && ValidRunState(prev.State) {
			d.State = prev.State
		}
	}
	if d.DurationMS == nil && d.StartedAt != nil && d.EndedAt != nil && !d.EndedAt.Before(*d.StartedAt) {
		ms := d.EndedAt.Sub(*d.StartedAt).Milliseconds()
		d.DurationMS = &ms
	}
	if d.Attempt <= 0 {
		d.Attempt = 1
	}
	return d
}

// lockSource checks that the source belongs to the profile and, on
// PostgreSQL, locks its row until the transaction ends, serialising ingests
// of one source. SQLite transactions hold the database's write lock from
// BEGIN already (see Open).
func lockSource(ctx context.Context, tx *sqlx.Tx, dialect, profileID, sourceID string) error {
	q := `SELECT id FROM sources WHERE profile_id = ? AND id = ?`
	if dialect == DialectPostgres {
		q += ` FOR UPDATE`
	}
	var id string
	if err := queryRow(ctx, tx, q, profileID, sourceID).Scan(&id); err != nil {
		return fmt.Errorf("source: %w", mapErr(err))
	}
	return nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// resolvePipelines returns the id of every pipeline the batch names,
// creating those seen for the first time and renaming those whose name
// changed.
func resolvePipelines(ctx context.Context, tx *sqlx.Tx, profileID, sourceID string, ins []RunUpsert, now time.Time) (map[string]string, error) {
	names := map[string]string{}
	var order []string
	for _, in := range ins {
		if in.PipelineExternalID == "" {
			continue
		}
		name, seen := names[in.PipelineExternalID]
		if !seen {
			order = append(order, in.PipelineExternalID)
		}
		if n := strings.TrimSpace(in.PipelineName); n != "" {
			name = n
		}
		names[in.PipelineExternalID] = name
	}
	ids := make(map[string]string, len(order))
	if len(order) == 0 {
		return ids, nil
	}
	current := map[string]string{}
	lookup := func(exts []string) error {
		for start := 0; start < len(exts); start += ingestChunk {
			part := exts[start:min(start+ingestChunk, len(exts))]
			args := append([]any{profileID, sourceID}, anys(part)...)
			rows, err := query(ctx, tx, `SELECT id, external_id, name FROM pipelines
				WHERE profile_id = ? AND source_id = ? AND external_id IN (`+placeholders(len(part))+`)`, args...)
			if err != nil {
				return fmt.Errorf("look up pipelines: %w", err)
			}
			for rows.Next() {
				var id, ext, name string
				if err := rows.Scan(&id, &ext, &name); err != nil {
					rows.Close()
					return fmt.Errorf("look up pipelines: %w", mapErr(err))
				}
				ids[ext], current[ext] = id, name
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("look up pipelines: %w", mapErr(err))
			}
		}
		return nil
	}
	if err := lookup(order); err != nil {
		return nil, err
	}
	var missing []string
	for _, ext := range order {
		if _, ok := ids[ext]; !ok {
			missing = append(missing, ext)
		}
	}
	for start := 0; start < len(missing); start += ingestChunk {
		part := missing[start:min(start+ingestChunk, len(missing))]
		args := make([]any, 0, len(part)*7)
		for _, ext := range part {
			name := names[ext]
			if name == "" {
				name = ext
			}
			args = append(args, newID(), profileID, sourceID, ext, name, now, now)
		}
		_, err := exec(ctx, tx, `INSERT INTO pipelines (id, profile_id, source_id, external_id, name, created_at, updated_at)
			VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(part)), ", ")+`
			ON CONFLICT (profile_id, source_id, external_id) DO NOTHING`, args...)
		if err != nil {
			return nil, fmt.Errorf("create pipelines: %w", err)
		}
	}
	if len(missing) > 0 {
		// Read the ids back rather than trusting the generated ones: a
		// pipeline created by Pipelines().Sync meanwhile keeps its id.
		if err := lookup(missing); err != nil {
			return nil, err
		}
	}
	for _, ext := range order {
		if _, ok := ids[ext]; !ok {
			return nil, fmt.Errorf("pipeline %q of source %s was not created", ext, sourceID)
		}
		if n := names[ext]; n != "" && current[ext] != "" && n != current[ext] {
			if _, err := exec(ctx, tx, `UPDATE pipelines SET name = ?, updated_at = ? WHERE profile_id = ? AND id = ?`, n, now, profileID, ids[ext]); err != nil {
				return nil, fmt.Errorf("rename pipeline %s: %w", ids[ext], err)
			}
		}
	}
	return ids, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

const storedRunCols = `id, pipeline_id, external_id, state, raw_state, queued_at, started_at, ended_at, duration_ms,
	error_message, url, attempt, attributes_json, tasks_json, metrics_json, event_at, sort_at, created_at`

// loadRuns reads the stored rows of the batch's runs, by external id.
func loadRuns(ctx context.Context, tx *sqlx.Tx, dialect, profileID, sourceID string, ins []RunUpsert) (map[string]*storedRun, error) {
	seen := make(map[string]bool, len(ins))
	exts := make([]string, 0, len(ins))
	for _, in := range ins {
		if !seen[in.ExternalID] {
			seen[in.ExternalID] = true
			exts = append(exts, in.ExternalID)
		}
	}
	out := make(map[string]*storedRun, len(exts))
	for start := 0; start < len(exts); start += ingestChunk {
		part := exts[start:min(start+ingestChunk, len(exts))]
		var rows *sqlx.Rows
		var err error
		if dialect == DialectPostgres {
			// One unique-key probe per id, planned for each batch. While a
			// first sync fills the table faster than autoanalyze runs, the
			// planner has no statistics: the plain IN form then uses the
			// key's (profile, source) prefix and filters every run of the
			// source, and a cached generic plan made while the table was
			// nearly empty is a sequential scan — either way each batch
			// would read all the runs stored so far. OFFSET 0 keeps the
			// probe from being flattened into such a join; QueryExecModeExec
			// sends the statement unprepared, so it is planned with the
			// table's current size every time.
			rows, err = query(ctx, tx, `SELECT r.* FROM unnest(?::text[]) AS k(ext) CROSS JOIN LATERAL
				(SELECT `+storedRunCols+` FROM runs WHERE profile_id = ? AND source_id = ? AND external_id = k.ext OFFSET 0) r`,
				pgx.QueryExecModeExec, part, profileID, sourceID)
		} else {
			args := append([]any{profileID, sourceID}, anys(part)...)
			rows, err = query(ctx, tx, `SELECT `+storedRunCols+` FROM runs
				WHERE profile_id = ? AND source_id = ? AND external_id IN (`+placeholders(len(part))+`)`, args...)
		}
		if err != nil {
			return nil, fmt.Errorf("read stored runs: %w", err)
		}
		for rows.Next() {
			var (
				s        storedRun
				ext      string
				pipeline sql.NullString
				dur      sql.NullInt64
			)
			err := rows.Scan(&s.id, &pipeline, &ext, &s.data.State, &s.data.RawState,
				nullTimeDest{&s.data.QueuedAt}, nullTimeDest{&s.data.StartedAt}, nullTimeDest{&s.data.EndedAt}, &dur,
				&s.data.ErrorMessage, &s.data.URL, &s.data.Attempt, &s.attrsJSON, &s.tasksJSON, &s.metricJSON,
				nullTimeDest{&s.data.EventAt}, timeDest{&s.sortAt}, timeDest{&s.createdAt})
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read stored runs: %w", mapErr(err))
			}
			s.pipelineID = pipeline.String
			if dur.Valid {
				s.data.DurationMS = &dur.Int64
			}
			if err := decodeRunJSON(&s.data, s.attrsJSON, s.tasksJSON, s.metricJSON); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read stored run %s: %w", s.id, err)
			}
			out[ext] = &s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read stored runs: %w", mapErr(err))
		}
	}
	return out, nil
}

func decodeRunJSON(d *RunData, attrs, tasks, metrics string) error {
	if attrs != "" && attrs != "{}" {
		if err := json.Unmarshal([]byte(attrs), &d.Attributes); err != nil {
			return fmt.Errorf("attributes: %w", err)
		}
	}
	if tasks != "" && tasks != "[]" {
		if err := json.Unmarshal([]byte(tasks), &d.Tasks); err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
	}
	if metrics != "" && metrics != "{}" {
		if err := json.Unmarshal([]byte(metrics), &d.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// runRow is a run as it is written.
type runRow struct {
	id, profileID, sourceID, pipelineID, externalID string
	data                                            RunData
	attrsJSON, tasksJSON, metricsJSON               string
	sortAt, createdAt, updatedAt                    time.Time
}

func (pr *pendingRun) row(profileID, sourceID string, now time.Time) runRow {
	row := runRow{profileID: profileID, sourceID: sourceID, pipelineID: pr.pipelineID, externalID: pr.externalID,
		data: pr.data, updatedAt: now, createdAt: now}
	row.attrsJSON = mustJSON(pr.data.Attributes, "{}")
	row.tasksJSON = mustJSON(pr.data.Tasks, "[]")
	row.metricsJSON = mustJSON(pr.data.Metrics, "{}")
	var fallback time.Time
	if pr.stored != nil {
		row.id, row.createdAt, fallback = pr.stored.id, pr.stored.createdAt, pr.stored.sortAt
	} else {
		row.id, fallback = newID(), now
	}
	row.sortAt = fallback
	for _, t := range []*time.Time{pr.data.StartedAt, pr.data.QueuedAt, pr.data.EndedAt} {
		if t != nil {
			row.sortAt = *t
			break
		}
	}
	return row
}

// mustJSON encodes maps and slices of plain values (which cannot fail);
// empty values become empty.
func mustJSON(v any, empty string) string {
	switch x := v.(type) {
	case map[string]string:
		if len(x) == 0 {
			return empty
		}
	case map[string]float64:
		if len(x) == 0 {
			return empty
		}
	case []Task:
		if len(x) == 0 {
			return empty
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode run field: %v", err))
	}
	return string(raw)
}

// differs reports whether writing r would change the stored row.
func (r runRow) differs(s *storedRun) bool {
	return r.changedFrom(s) || r.pipelineID != s.pipelineID || r.data.RawState != s.data.RawState ||
		r.data.URL != s.data.URL || r.data.Attempt != s.data.Attempt || r.attrsJSON != s.attrsJSON ||
		r.tasksJSON != s.tasksJSON || r.metricsJSON != s.metricJSON || !timesEqual(r.data.EventAt, s.data.EventAt) ||
		!r.sortAt.Equal(s.sortAt)
}

// changedFrom reports a change worth an event: state, timing or error.
func (r runRow) changedFrom(s *storedRun) bool {
	return r.data.State != s.data.State || !timesEqual(r.data.QueuedAt, s.data.QueuedAt) ||
		!timesEqual(r.data.StartedAt, s.data.StartedAt) || !timesEqual(r.data.EndedAt, s.data.EndedAt) ||
		!int64sEqual(r.data.DurationMS, s.data.DurationMS) || r.data.ErrorMessage != s.data.ErrorMessage
}

func timesEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func int64sEqual(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

const runWriteCols = `id, profile_id, source_id, pipeline_id, external_id, state, raw_state, queued_at, started_at, ended_at,
	duration_ms, error_message, url, attempt, attributes_json, tasks_json, metrics_json, event_at, sort_at, created_at, updated_at`

const runWriteMarks = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// upsertRuns writes rows with one multi-row upsert. The conflict target is
// the (profile, source, external id) key, so a row written meanwhile by
// another path is updated, never duplicated.
func upsertRuns(ctx context.Context, tx *sqlx.Tx, rows []runRow) error {
	args := make([]any, 0, len(rows)*21)
	for _, r := range rows {
		var pipeline any
		if r.pipelineID != "" {
			pipeline = r.pipelineID
		}
		var dur any
		if r.data.DurationMS != nil {
			dur = *r.data.DurationMS
		}
		args = append(args, r.id, r.profileID, r.sourceID, pipeline, r.externalID, r.data.State, r.data.RawState,
			r.data.QueuedAt, r.data.StartedAt, r.data.EndedAt, dur, r.data.ErrorMessage, r.data.URL, r.data.Attempt,
			r.attrsJSON, r.tasksJSON, r.metricsJSON, r.data.EventAt, r.sortAt, r.createdAt, r.updatedAt)
	}
	q := `INSERT INTO runs (` + runWriteCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(runWriteMarks+`, `, len(rows)), ", ") + `
		ON CONFLICT (profile_id, source_id, external_id) DO UPDATE SET
			pipeline_id = excluded.pipeline_id, state = excluded.state, raw_state = excluded.raw_state,
			queued_at = excluded.queued_at, started_at = excluded.started_at, ended_at = excluded.ended_at,
			duration_ms = excluded.duration_ms, error_message = excluded.error_message, url = excluded.url,
			attempt = excluded.attempt, attributes_json = excluded.attributes_json, tasks_json = excluded.tasks_json,
			metrics_json = excluded.metrics_json, event_at = excluded.event_at, sort_at = excluded.sort_at,
			updated_at = excluded.updated_at`
	if _, err := exec(ctx, tx, q, args...); err != nil {
		return fmt.Errorf("upsert runs: %w", err)
	}
	return nil
}

// RunFilter narrows Runs().List. Zero fields do not filter.
type RunFilter struct {
	SourceID   string
	PipelineID string
	// State is one normalised state.
	State string
	// From (inclusive) and To (exclusive) bound Run.SortAt (the start
	// time, when known).
	From, To time.Time
	// Text matches, case-insensitively and literally (no wildcards), a part
	// of the run's external id, error message or pipeline name.
	Text string
}

const runReadCols = `r.id, r.profile_id, r.source_id, r.external_id, COALESCE(r.pipeline_id, ''), COALESCE(p.external_id, ''),
	COALESCE(p.name, ''), r.state, r.raw_state, r.queued_at, r.started_at, r.ended_at, r.duration_ms, r.error_message,
	r.url, r.attempt, r.attributes_json, r.metrics_json, r.event_at, r.sort_at, r.created_at, r.updated_at`

const runFrom = ` FROM runs r LEFT JOIN pipelines p ON p.profile_id = r.profile_id AND p.id = r.pipeline_id`

func scanRun(rs rowScanner, withTasks bool) (Run, error) {
	var (
		run                  Run
		dur                  sql.NullInt64
		attrs, metrics, task string
	)
	dest := []any{&run.ID, &run.ProfileID, &run.SourceID, &run.ExternalID, &run.PipelineID, &run.PipelineExternalID,
		&run.PipelineName, &run.State, &run.RawState, nullTimeDest{&run.QueuedAt}, nullTimeDest{&run.StartedAt},
		nullTimeDest{&run.EndedAt}, &dur, &run.ErrorMessage, &run.URL, &run.Attempt, &attrs, &metrics,
		nullTimeDest{&run.EventAt}, timeDest{&run.SortAt}, timeDest{&run.CreatedAt}, timeDest{&run.UpdatedAt}}
	if withTasks {
		dest = append(dest, &task)
	}
	if err := rs.Scan(dest...); err != nil {
		return Run{}, mapErr(err)
	}
	if dur.Valid {
		run.DurationMS = &dur.Int64
	}
	if err := decodeRunJSON(&run.RunData, attrs, task, metrics); err != nil {
		return Run{}, fmt.Errorf("run %s: %w", run.ID, err)
	}
	return run, nil
}

// likePattern turns text into a LIKE pattern matching it literally
// anywhere (with ESCAPE '\'), lower-cased.
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}

// List returns a page of the caller's runs, newest first (by SortAt, then
// id). Tasks are not loaded; Get has them.
func (r *Runs) List(ctx context.Context, f RunFilter, page Page) ([]Run, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	var (
		afterMicro int64
		afterID    string
	)
	more, err := page.decode(&afterMicro, &afterID)
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	if f.State != "" && !ValidRunState(f.State) {
		return nil, "", fmt.Errorf("list runs: %w: unknown state %q: use one of %s", ErrInvalid, f.State, strings.Join(RunStates, ", "))
	}
	where := []string{`r.profile_id = ?`}
	args := []any{p.ProfileID}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.SourceID != "" {
		add(`r.source_id = ?`, f.SourceID)
	}
	if f.PipelineID != "" {
		add(`r.pipeline_id = ?`, f.PipelineID)
	}
	if f.State != "" {
		add(`r.state = ?`, f.State)
	}
	if !f.From.IsZero() {
		add(`r.sort_at >= ?`, f.From)
	}
	if !f.To.IsZero() {
		add(`r.sort_at < ?`, f.To)
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		pat := likePattern(t)
		add(`(LOWER(r.external_id) LIKE ? ESCAPE '\' OR LOWER(r.error_message) LIKE ? ESCAPE '\' OR LOWER(COALESCE(p.name, '')) LIKE ? ESCAPE '\')`, pat, pat, pat)
	}
	if more {
		after := time.UnixMicro(afterMicro).UTC()
		add(`(r.sort_at < ? OR (r.sort_at = ? AND r.id < ?))`, after, after, afterID)
	}
	limit := page.limit()
	rows, err := query(ctx, r.db.x, `SELECT `+runReadCols+runFrom+` WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY r.sort_at DESC, r.id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	runs, err := collect(rows, func(rs rowScanner) (Run, error) { return scanRun(rs, false) })
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	runs, next := trimPage(runs, limit, func(r Run) []any { return []any{r.SortAt.UnixMicro(), r.ID} })
	return runs, next, nil
}

// Get returns one run of the caller's profile with its tasks.
func (r *Runs) Get(ctx context.Context, id string) (Run, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	run, err := scanRun(queryRow(ctx, r.db.x, `SELECT `+runReadCols+`, r.tasks_json`+runFrom+` WHERE r.profile_id = ? AND r.id = ?`, p.ProfileID, id), true)
	if err != nil {
		return Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return run, nil
}

// GetByExternalID returns the run a source knows as externalID.
func (r *Runs) GetByExternalID(ctx context.Context, sourceID, externalID string) (Run, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	run, err := scanRun(queryRow(ctx, r.db.x, `SELECT `+runReadCols+`, r.tasks_json`+runFrom+
		` WHERE r.profile_id = ? AND r.source_id = ? AND r.external_id = ?`, p.ProfileID, sourceID, externalID), true)
	if err != nil {
		return Run{}, fmt.Errorf("get run %q of source %s: %w", externalID, sourceID, err)
	}
	return run, nil
}

// Newest returns the largest SortAt among a source's runs (ok false when it
// has none), from the index: the collector's starting point for a source's
// lag.
func (r *Runs) Newest(ctx context.Context, sourceID string) (t time.Time, ok bool, err error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("newest run: %w", err)
	}
	err = queryRow(ctx, r.db.x, `SELECT sort_at FROM runs WHERE profile_id = ? AND source_id = ? ORDER BY sort_at DESC LIMIT 1`,
		p.ProfileID, sourceID).Scan(timeDest{&t})
	if errors.Is(mapErr(err), ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("newest run of source %s: %w", sourceID, mapErr(err))
	}
	return t, true, nil
}

// Count returns how many runs a source has (0 for an unknown source).
func (r *Runs) Count(ctx context.Context, sourceID string) (int, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	var n int
	if err := queryRow(ctx, r.db.x, `SELECT COUNT(*) FROM runs WHERE profile_id = ? AND source_id = ?`, p.ProfileID, sourceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count runs of source %s: %w", sourceID, mapErr(err))
	}
	return n, nil
}
