package alertapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/store"
)

// Preview limits. A preview runs while someone types in the rule editor:
// it must answer within seconds whatever the profile's history, and a few
// editors at once must not starve the host.
const (
	// DefaultPreviewDays is the window of a preview without days.
	DefaultPreviewDays = 7
	// MaxPreviewDays bounds the window.
	MaxPreviewDays = 30
	// previewTimeout bounds one preview, reads and replay together.
	previewTimeout = 10 * time.Second
	// previewSlots is how many previews run at once; more wait for a slot
	// within their timeout.
	previewSlots = 2
	// previewPerPipeline: a selector matching at most this many pipelines
	// reads their runs pipeline by pipeline (through the pipeline index);
	// a wider one reads every run of the window once.
	previewPerPipeline = 20
)

// CodePreviewUnsupported: the rule is valid but cannot be previewed.
const CodePreviewUnsupported = "preview_unsupported"

var (
	// ErrPreviewTimeout: the preview did not finish in time.
	ErrPreviewTimeout = errors.New("the preview needs more than 10 s for this rule over this window: preview fewer days, or narrow the pipeline selector")
	// ErrPreviewUnsupported: a valid rule the preview cannot replay.
	ErrPreviewUnsupported = errors.New("this rule cannot be previewed")
)

// Preview is what a rule would have done over the last days: the answer of
// POST /api/v1/alert-rules/preview.
type Preview struct {
	// Fired counts the episodes that reached firing in the window.
	Fired int `json:"fired"`
	// Episodes are the newest of them (at most 50), oldest first.
	Episodes []PreviewEpisode `json:"episodes"`
	// Daily counts the firings per 24 hours from Window.From.
	Daily []int `json:"daily"`
	// RunsEvaluated and PointsEvaluated count what was replayed in the
	// window.
	RunsEvaluated   int `json:"runs_evaluated"`
	PointsEvaluated int `json:"points_evaluated"`
	Window          struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
	} `json:"window"`
	// Truncated is true when a bound was reached: runs or points left out
	// (Notes say which) or episodes not all listed (Fired is larger).
	Truncated bool     `json:"truncated"`
	Notes     []string `json:"notes"`
}

// PreviewEpisode is one firing of one series.
type PreviewEpisode struct {
	Fingerprint string    `json:"fingerprint"`
	SourceID    string    `json:"source_id,omitempty"`
	PipelineID  string    `json:"pipeline_id,omitempty"`
	Pipeline    string    `json:"pipeline,omitempty"`
	Series      string    `json:"series,omitempty"`
	FiredAt     time.Time `json:"fired_at"`
	// ResolvedAt is null while the episode is still open.
	ResolvedAt *time.Time `json:"resolved_at"`
	Value      string     `json:"value,omitempty"`
	Threshold  string     `json:"threshold,omitempty"`
}

// PreviewRule replays the caller's runs (or metric points) of the last
// days through a fresh alert engine with r, and tells how many times r
// would have fired (alert.Backtest). Nothing is stored or sent. r is
// validated as CreateRule does (its id is ignored); days is 1 to
// MaxPreviewDays, 0 for DefaultPreviewDays. The work stops when ctx ends,
// with ErrPreviewTimeout if its deadline passed.
func (s *Service) PreviewRule(ctx context.Context, r alert.Rule, days int) (Preview, error) {
	switch {
	case days == 0:
		days = DefaultPreviewDays
	case days < 1 || days > MaxPreviewDays:
		return Preview{}, invalid("preview", "/days", fmt.Sprintf("must be 1 to %d", MaxPreviewDays))
	}
	r.ID = placeholderID
	if _, err := s.compile(r); err != nil {
		return Preview{}, err
	}
	to := s.now().UTC().Truncate(time.Second)
	res, err := alert.Backtest(ctx, r, storeHistory{db: s.db}, alert.BacktestOptions{
		From: to.Add(-time.Duration(days) * 24 * time.Hour), To: to, Compile: s.opts,
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Preview{}, fmt.Errorf("%w (%v)", ErrPreviewTimeout, err)
	case err != nil:
		return Preview{}, fmt.Errorf("preview alert rule: %w", err)
	}
	out := Preview{Fired: res.Fired, Episodes: make([]PreviewEpisode, len(res.Episodes)), Daily: res.Daily,
		RunsEvaluated: res.RunsEvaluated, PointsEvaluated: res.PointsEvaluated, Truncated: res.Truncated, Notes: res.Notes}
	out.Window.From, out.Window.To = res.From, res.To
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for i, ep := range res.Episodes {
		v := PreviewEpisode{Fingerprint: ep.Fingerprint, SourceID: ep.SourceID, PipelineID: ep.PipelineID, Pipeline: ep.Pipeline, Series: ep.Series,
			FiredAt: ep.FiredAt, Value: ep.Value, Threshold: ep.Threshold}
		if !ep.ResolvedAt.IsZero() {
			t := ep.ResolvedAt
			v.ResolvedAt = &t
		}
		out.Episodes[i] = v
	}
	return out, nil
}

// storeHistory reads the caller's history (the store scopes every read to
// the profile of the context's principal).
type storeHistory struct{ db *store.DB }

var _ alert.History = storeHistory{}

func (h storeHistory) Pipelines(ctx context.Context) ([]alert.Pipeline, error) {
	var out []alert.Pipeline
	for page := (store.Page{Limit: store.MaxPageLimit}); ; {
		ps, next, err := h.db.Pipelines().List(ctx, store.PipelineFilter{}, page)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out = append(out, alert.Pipeline{ID: p.ID, SourceID: p.SourceID, ExternalID: p.ExternalID, Name: p.Name,
				URL: p.URL, Tags: p.Tags, CreatedAt: p.CreatedAt})
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

func (h storeHistory) Runs(ctx context.Context, ids []string, from, to time.Time, limit int) ([]alert.Run, bool, error) {
	if ids != nil && len(ids) <= previewPerPipeline {
		var (
			all  []alert.Run
			more bool
		)
		for _, id := range ids {
			rs, m, err := h.list(ctx, store.RunFilter{PipelineID: id, From: from, To: to}, nil, limit)
			if err != nil {
				return nil, false, err
			}
			all, more = append(all, rs...), more || m
		}
		if len(all) > limit {
			slices.SortFunc(all, func(a, b alert.Run) int { return b.SortAt.Compare(a.SortAt) })
			all, more = all[:limit], true
		}
		return all, more, nil
	}
	var keep func(store.Run) bool
	if ids != nil {
		set := make(map[string]bool, len(ids))
		for _, id := range ids {
			set[id] = true
		}
		keep = func(r store.Run) bool { return set[r.PipelineID] }
	}
	return h.list(ctx, store.RunFilter{From: from, To: to}, keep, limit)
}

// list pages through runs newest first, keeping at most limit.
func (h storeHistory) list(ctx context.Context, f store.RunFilter, keep func(store.Run) bool, limit int) ([]alert.Run, bool, error) {
	var out []alert.Run
	for page := (store.Page{Limit: store.MaxPageLimit}); ; {
		rs, next, err := h.db.Runs().List(ctx, f, page)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rs {
			if keep != nil && !keep(r) {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, convertRun(r))
		}
		if next == "" {
			return out, false, nil
		}
		page.Cursor = next
	}
}

func convertRun(sr store.Run) alert.Run {
	deref := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	r := alert.Run{ID: sr.ID, SourceID: sr.SourceID, ExternalID: sr.ExternalID, State: sr.State, ErrorMessage: sr.ErrorMessage,
		URL: sr.URL, QueuedAt: deref(sr.QueuedAt), StartedAt: deref(sr.StartedAt), EndedAt: deref(sr.EndedAt), SortAt: sr.SortAt,
		Pipeline: alert.Pipeline{ID: sr.PipelineID, SourceID: sr.SourceID, ExternalID: sr.PipelineExternalID, Name: sr.PipelineName}}
	if sr.DurationMS != nil {
		r.Duration = time.Duration(*sr.DurationMS) * time.Millisecond
	}
	return r
}

// MetricSeries cannot be answered: the store does not list series keys
// yet.
func (h storeHistory) MetricSeries(context.Context, time.Time, time.Time) ([]string, error) {
	return nil, fmt.Errorf("%w: a metric series glob is not previewed yet; name one series (e.g. sales.orders) to preview it. "+
		"The rule itself is valid and can be saved", ErrPreviewUnsupported)
}

func (h storeHistory) MetricPoints(ctx context.Context, series string, from, to time.Time, limit int) ([]alert.MetricPoint, bool, error) {
	var out []alert.MetricPoint
	for {
		ps, err := h.db.Metrics().Range(ctx, series, from, to, store.MaxPageLimit)
		if err != nil {
			return nil, false, err
		}
		for _, p := range ps {
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, alert.MetricPoint{Time: p.Time, Value: p.Value})
		}
		if len(ps) < store.MaxPageLimit {
			return out, false, nil
		}
		// Times are stored to the microsecond, one point per time.
		from = ps[len(ps)-1].Time.Add(time.Microsecond)
	}
}

// --- HTTP ----------------------------------------------------------------

// previewer serves POST /api/v1/alert-rules/preview, a few at a time.
type previewer struct {
	svc     *Service
	slots   chan struct{}
	timeout time.Duration
}

func newPreviewer(svc *Service) *previewer {
	return &previewer{svc: svc, slots: make(chan struct{}, previewSlots), timeout: previewTimeout}
}

// previewBody is the request: a rule as for create, and the window.
type previewBody struct {
	Rule *alert.Rule `json:"rule"`
	Days *int        `json:"days"`
}

func (p *previewer) preview(c *gin.Context) {
	in, err := decodePreview(c)
	if err != nil {
		api.Fail(c, err)
		return
	}
	days := DefaultPreviewDays
	if in.Days != nil {
		days = *in.Days
		if days < 1 || days > MaxPreviewDays {
			api.Fail(c, fieldError("days", fmt.Sprintf("an integer from 1 to %d", MaxPreviewDays)))
			return
		}
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.timeout)
	defer cancel()
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		api.Fail(c, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable,
			"too many rule previews are running on this server; try again in a few seconds"))
		return
	}
	res, err := p.svc.PreviewRule(ctx, *in.Rule, days)
	if err != nil {
		api.Fail(c, previewError(err))
		return
	}
	c.JSON(http.StatusOK, res)
}

// decodePreview reads the body strictly; the free-form maps of the rule
// are checked first so a wrong value names its key ("rule.labels.team").
func decodePreview(c *gin.Context) (previewBody, error) {
	var raw map[string]json.RawMessage
	if err := api.DecodeJSON(c, &raw); err != nil {
		return previewBody{}, err
	}
	rule, ok := raw["rule"]
	if !ok || string(rule) == "null" {
		return previewBody{}, fieldError("rule", "the alert rule to preview, as the body of POST /api/v1/alert-rules")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rule, &fields); err != nil {
		return previewBody{}, fieldError("rule", "an object (the alert rule, as for create)")
	}
	for _, key := range []string{"labels", "annotations"} {
		v, ok := fields[key]
		if !ok || string(v) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return previewBody{}, fieldError("rule."+key, "an object of strings")
		}
		for k, mv := range m {
			var str string
			if err := json.Unmarshal(mv, &str); err != nil {
				return previewBody{}, fieldError("rule."+key+"."+k, "a string")
			}
		}
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(mustMarshal(raw)))
	var in previewBody
	if err := api.DecodeJSON(c, &in); err != nil {
		return previewBody{}, err
	}
	return in, nil
}

func mustMarshal(v map[string]json.RawMessage) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Raw messages that were just decoded re-encode.
		panic(fmt.Sprintf("re-encode the preview body: %v", err))
	}
	return b
}

// previewError maps PreviewRule's errors: the rule's problems point into
// the body's rule (/rule/condition/...), as a 400 like create's.
func previewError(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		ve = prefixProblems(ve)
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%s", ve.Error())
		for _, p := range ve.Problems {
			e.Fields = append(e.Fields, api.FieldProblem{Field: p.Field, Message: p.Message})
		}
		return e
	case errors.Is(err, ErrPreviewTimeout):
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "%v", ErrPreviewTimeout)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this.
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the preview was cancelled")
	case errors.Is(err, ErrPreviewUnsupported):
		msg := err.Error()
		if i := strings.Index(msg, ErrPreviewUnsupported.Error()+": "); i >= 0 {
			msg = msg[i+len(ErrPreviewUnsupported.Error())+2:]
		}
		return api.Errorf(http.StatusUnprocessableEntity, CodePreviewUnsupported, "%s", msg)
	}
	return apiError(err)
}

// prefixProblems points a rule's problems into the preview body.
func prefixProblems(ve *ValidationError) *ValidationError {
	if ve.What != "alert rule" {
		return ve
	}
	out := &ValidationError{What: ve.What}
	for _, p := range ve.Problems {
		out.Problems = append(out.Problems, Problem{Field: "/rule" + p.Field, Message: p.Message})
	}
	return out
}
