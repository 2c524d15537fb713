package runs

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// Register mounts the read routes; any member of the profile may read.
func Register(srv *api.Server, db *store.DB) {
	h := handlers{db: db}
	g := srv.API()
	g.GET("/runs", api.Require(identity.RoleViewer), h.listRuns)
	g.GET("/runs/:id", api.Require(identity.RoleViewer), h.getRun)
	g.GET("/pipelines", api.Require(identity.RoleViewer), h.listPipelines)
}

type handlers struct{ db *store.DB }

// Task is a run's task as the API shows it.
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

// Run is a run as the API shows it in lists.
type Run struct {
	ID                 string             `json:"id"`
	SourceID           string             `json:"source_id"`
	PipelineID         string             `json:"pipeline_id,omitempty"`
	PipelineExternalID string             `json:"pipeline_external_id,omitempty"`
	PipelineName       string             `json:"pipeline_name,omitempty"`
	ExternalID         string             `json:"external_id"`
	State              string             `json:"state"`
	RawState           string             `json:"raw_state,omitempty"`
	QueuedAt           *time.Time         `json:"queued_at,omitempty"`
	StartedAt          *time.Time         `json:"started_at,omitempty"`
	EndedAt            *time.Time         `json:"ended_at,omitempty"`
	DurationMS         *int64             `json:"duration_ms,omitempty"`
	ErrorMessage       string             `json:"error_message,omitempty"`
	URL                string             `json:"url,omitempty"`
	Attempt            int                `json:"attempt"`
	Attributes         map[string]string  `json:"attributes"`
	Metrics            map[string]float64 `json:"metrics,omitempty"`
	// SortAt is the time runs are ordered by: the start, else the queue
	// time, else the end, else when PUOD first saw the run.
	SortAt    time.Time `json:"sort_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// View converts a stored run.
func View(r store.Run) Run {
	out := Run{
		ID: r.ID, SourceID: r.SourceID, PipelineID: r.PipelineID, PipelineExternalID: r.PipelineExternalID,
		PipelineName: r.PipelineName, ExternalID: r.ExternalID, State: r.State, RawState: r.RawState,
		QueuedAt: r.QueuedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationMS: r.DurationMS,
		ErrorMessage: r.ErrorMessage, URL: r.URL, Attempt: r.Attempt, Attributes: r.Attributes, Metrics: r.Metrics,
		SortAt: r.SortAt, UpdatedAt: r.UpdatedAt,
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	return out
}

// RunDetail is a run with its tasks (GET /runs/{id}).
type RunDetail struct {
	Run
	Tasks []Task `json:"tasks"`
}

// DetailView converts a stored run read with its tasks.
func DetailView(r store.Run) RunDetail {
	out := RunDetail{Run: View(r), Tasks: make([]Task, 0, len(r.Tasks))}
	for _, t := range r.Tasks {
		out.Tasks = append(out.Tasks, Task(t))
	}
	return out
}

// RunSummary is a pipeline's last run.
type RunSummary struct {
	ID         string     `json:"id"`
	ExternalID string     `json:"external_id"`
	State      string     `json:"state"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
}

// Pipeline is a pipeline as the API shows it, with its recent behaviour.
type Pipeline struct {
	ID         string            `json:"id"`
	SourceID   string            `json:"source_id"`
	ExternalID string            `json:"external_id"`
	Name       string            `json:"name"`
	Tags       []string          `json:"tags"`
	URL        string            `json:"url,omitempty"`
	Attributes map[string]string `json:"attributes"`
	LastRun    *RunSummary       `json:"last_run"`
	// WindowRuns is how many finished runs (of the latest
	// store.StatsWindow) the statistics cover.
	WindowRuns       int      `json:"window_runs"`
	SuccessRate      *float64 `json:"success_rate"`
	MedianDurationMS *int64   `json:"median_duration_ms"`
}

func pipelineView(p store.PipelineSummary) Pipeline {
	out := Pipeline{ID: p.ID, SourceID: p.SourceID, ExternalID: p.ExternalID, Name: p.Name, Tags: p.Tags, URL: p.URL,
		Attributes: p.Attributes, WindowRuns: p.WindowRuns, SuccessRate: p.SuccessRate, MedianDurationMS: p.MedianDurationMS}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	if lr := p.LastRun; lr != nil {
		out.LastRun = &RunSummary{ID: lr.ID, ExternalID: lr.ExternalID, State: lr.State, StartedAt: lr.StartedAt, EndedAt: lr.EndedAt, DurationMS: lr.DurationMS}
	}
	return out
}

// page reads ?limit and ?cursor.
func page(c *gin.Context, probs *[]api.FieldProblem) store.Page {
	var p store.Page
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			*probs = append(*probs, api.FieldProblem{Field: "limit", Message: "must be an integer between 1 and " + strconv.Itoa(store.MaxPageLimit)})
		}
		p.Limit = n
	}
	p.Cursor = textQuery(c, "cursor", probs)
	return p
}

func queryTime(c *gin.Context, name string, probs *[]api.FieldProblem) time.Time {
	v := c.Query(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		*probs = append(*probs, api.FieldProblem{Field: name, Message: "must be an RFC 3339 date-time, e.g. 2026-11-17T00:00:00Z"})
	}
	return t
}

// storableText reports whether s can be compared with a text column on
// both databases: PostgreSQL refuses NUL characters and invalid UTF-8 (the
// query fails, which would answer 500).
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// textQuery reads a query parameter compared with text columns.
func textQuery(c *gin.Context, name string, probs *[]api.FieldProblem) string {
	v := c.Query(name)
	if !storableText(v) {
		*probs = append(*probs, api.FieldProblem{Field: name, Message: "must be UTF-8 text without NUL characters"})
	}
	return v
}

func invalid(probs []api.FieldProblem) error {
	e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "invalid query parameter %s: %s", probs[0].Field, probs[0].Message)
	e.Fields = probs
	return e
}

func (h handlers) listRuns(c *gin.Context) {
	var probs []api.FieldProblem
	f := store.RunFilter{
		SourceID:   textQuery(c, "source", &probs),
		PipelineID: textQuery(c, "pipeline", &probs),
		State:      c.Query("state"),
		From:       queryTime(c, "from", &probs),
		To:         queryTime(c, "to", &probs),
		Text:       textQuery(c, "q", &probs),
	}
	if f.State != "" && !store.ValidRunState(f.State) {
		probs = append(probs, api.FieldProblem{Field: "state", Message: "must be one of " + strings.Join(store.RunStates, ", ")})
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		probs = append(probs, api.FieldProblem{Field: "to", Message: "must be after from"})
	}
	p := page(c, &probs)
	if len(probs) > 0 {
		api.Fail(c, invalid(probs))
		return
	}
	list, next, err := h.db.Runs().List(c.Request.Context(), f, p)
	if err != nil {
		api.Fail(c, err)
		return
	}
	out := make([]Run, len(list))
	for i, r := range list {
		out[i] = View(r)
	}
	c.JSON(http.StatusOK, gin.H{"runs": out, "next_cursor": next})
}

func (h handlers) getRun(c *gin.Context) {
	id := c.Param("id")
	if !storableText(id) {
		// No run has such an id.
		api.Fail(c, fmt.Errorf("run: %w", store.ErrNotFound))
		return
	}
	r, err := h.db.Runs().Get(c.Request.Context(), id)
	if err != nil {
		api.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DetailView(r))
}

func (h handlers) listPipelines(c *gin.Context) {
	var probs []api.FieldProblem
	f := store.PipelineFilter{SourceID: textQuery(c, "source", &probs), Text: textQuery(c, "q", &probs)}
	p := page(c, &probs)
	if len(probs) > 0 {
		api.Fail(c, invalid(probs))
		return
	}
	list, next, err := h.db.Pipelines().List(c.Request.Context(), f, p)
	if err != nil {
		api.Fail(c, err)
		return
	}
	out := make([]Pipeline, len(list))
	for i, pl := range list {
		out[i] = pipelineView(pl)
	}
	c.JSON(http.StatusOK, gin.H{"pipelines": out, "next_cursor": next})
}
