package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// apiVersion goes on every data-plane call.
const apiVersion = "2020-12-01"

// client speaks the Synapse data plane (shared/apis/synapse.md) through
// httpx, which does the retries, the token refresh and the typed errors.
type client struct {
	http *httpx.Client
	base *url.URL
}

// vtime is a service time: RFC 3339 with up to 7 fractional digits, or
// null. An unparsable value makes the whole page malformed.
type vtime struct{ time.Time }

func (t *vtime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time %s is not a string", b)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q is not RFC 3339", s)
	}
	t.Time = v.UTC()
	return nil
}

// flexString accepts a string, a number or null (error codes have been
// seen as both).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	*f = flexString(strings.Trim(string(b), `"`))
	return nil
}

// pipelineRun is the part of PipelineRun PUOD reads; unknown fields are
// ignored, as the spec allows additional properties.
type pipelineRun struct {
	RunID        string                     `json:"runId"`
	RunGroupID   string                     `json:"runGroupId"`
	PipelineName string                     `json:"pipelineName"`
	Parameters   map[string]json.RawMessage `json:"parameters"`
	InvokedBy    *struct {
		Name          string `json:"name"`
		ID            string `json:"id"`
		InvokedByType string `json:"invokedByType"`
	} `json:"invokedBy"`
	RunStart     vtime             `json:"runStart"`
	RunEnd       vtime             `json:"runEnd"`
	DurationInMs *int64            `json:"durationInMs"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	LastUpdated  vtime             `json:"lastUpdated"`
	Annotations  []json.RawMessage `json:"annotations"`
}

type runsPage struct {
	Value             []pipelineRun `json:"value"`
	ContinuationToken *string       `json:"continuationToken"`
}

type activityRun struct {
	ActivityRunID    string          `json:"activityRunId"`
	ActivityName     string          `json:"activityName"`
	ActivityType     string          `json:"activityType"`
	PipelineRunID    string          `json:"pipelineRunId"`
	Status           string          `json:"status"`
	ActivityRunStart vtime           `json:"activityRunStart"`
	ActivityRunEnd   vtime           `json:"activityRunEnd"`
	DurationInMs     *int64          `json:"durationInMs"`
	RetryAttempt     *int            `json:"retryAttempt"`
	Output           json.RawMessage `json:"output"`
	Error            *struct {
		ErrorCode   flexString `json:"errorCode"`
		Message     string     `json:"message"`
		FailureType string     `json:"failureType"`
		Target      string     `json:"target"`
	} `json:"error"`
}

type activityPage struct {
	Value             []activityRun `json:"value"`
	ContinuationToken *string       `json:"continuationToken"`
}

type pipelineResource struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		Description string            `json:"description"`
		Annotations []json.RawMessage `json:"annotations"`
		Folder      *struct {
			Name string `json:"name"`
		} `json:"folder"`
		Activities []json.RawMessage `json:"activities"`
	} `json:"properties"`
}

type pipelinesPage struct {
	Value    []pipelineResource `json:"value"`
	NextLink string             `json:"nextLink"`
}

// runFilter is RunFilterParameters.
type runFilter struct {
	LastUpdatedAfter  string        `json:"lastUpdatedAfter"`
	LastUpdatedBefore string        `json:"lastUpdatedBefore"`
	ContinuationToken string        `json:"continuationToken,omitempty"`
	Filters           []queryFilter `json:"filters,omitempty"`
	OrderBy           []queryOrder  `json:"orderBy,omitempty"`
}

type queryFilter struct {
	Operand  string   `json:"operand"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

type queryOrder struct {
	OrderBy string `json:"orderBy"`
	Order   string `json:"order"`
}

// timeLayout writes times the way the service does (7 digits, Z).
const timeLayout = "2006-01-02T15:04:05.0000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func newFilter(from, to time.Time, token string, filters []queryFilter) runFilter {
	return runFilter{
		LastUpdatedAfter: formatTime(from), LastUpdatedBefore: formatTime(to), ContinuationToken: token,
		Filters: filters, OrderBy: []queryOrder{{OrderBy: "RunStart", Order: "DESC"}},
	}
}

func query() url.Values { return url.Values{"api-version": {apiVersion}} }

// malformedError reports a 2xx answer PUOD cannot use; it names the
// endpoint, like httpx's JSON errors.
func malformedError(op, format string, args ...any) error {
	return sdk.DownstreamError(nil, "malformed response from %s: %s", op, fmt.Sprintf(format, args...))
}

// queryPipelineRuns reads one page of runs.
func (c *client) queryPipelineRuns(ctx context.Context, f runFilter) (*runsPage, error) {
	const op = "POST /queryPipelineRuns"
	var page runsPage
	if err := c.http.Do(ctx, httpx.Request{Method: http.MethodPost, Path: "/queryPipelineRuns", Query: query(), Body: f}, &page); err != nil {
		return nil, err
	}
	for i, r := range page.Value {
		switch {
		case r.RunID == "":
			return nil, malformedError(op, "run %d of the page has no runId", i)
		case r.PipelineName == "":
			return nil, malformedError(op, "run %s has no pipelineName", r.RunID)
		case r.LastUpdated.IsZero():
			return nil, malformedError(op, "run %s has no lastUpdated", r.RunID)
		}
	}
	return &page, nil
}

// queryActivityRuns reads every activity run of one pipeline run whose
// lastUpdated falls in [from, to].
func (c *client) queryActivityRuns(ctx context.Context, pipeline, runID string, from, to time.Time) ([]activityRun, error) {
	path := "/pipelines/" + url.PathEscape(pipeline) + "/pipelineruns/" + url.PathEscape(runID) + "/queryActivityruns"
	op := "POST " + path
	f := runFilter{LastUpdatedAfter: formatTime(from), LastUpdatedBefore: formatTime(to)}
	var out []activityRun
	for pages := 0; ; pages++ {
		if pages == 100 {
			return nil, malformedError(op, "more than 100 pages of activity runs: the continuation token does not advance")
		}
		var page activityPage
		if err := c.http.Do(ctx, httpx.Request{Method: http.MethodPost, Path: path, Query: query(), Body: f}, &page); err != nil {
			return nil, err
		}
		for _, a := range page.Value {
			if a.ActivityRunID == "" {
				return nil, malformedError(op, "an activity run has no activityRunId")
			}
		}
		out = append(out, page.Value...)
		if page.ContinuationToken == nil || *page.ContinuationToken == "" || *page.ContinuationToken == f.ContinuationToken {
			return out, nil
		}
		f.ContinuationToken = *page.ContinuationToken
	}
}

// listPipelines reads the pipeline definitions, following nextLink. first
// stops after the first page.
func (c *client) listPipelines(ctx context.Context, first bool) ([]pipelineResource, error) {
	path, q := "/pipelines", query()
	var out []pipelineResource
	for pages := 0; ; pages++ {
		if pages == 1000 {
			return nil, malformedError("GET /pipelines", "more than 1000 pages: nextLink does not advance")
		}
		var page pipelinesPage
		if err := c.http.Get(ctx, path, q, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		if page.NextLink == "" || first {
			return out, nil
		}
		next, err := c.sameHost(page.NextLink)
		if err != nil {
			return nil, err
		}
		path, q = next.Path, next.Query()
		if q.Get("api-version") == "" {
			q.Set("api-version", apiVersion)
		}
	}
}

// sameHost checks that a nextLink stays on the workspace endpoint: the
// bearer token must never be sent elsewhere.
func (c *client) sameHost(link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Host, c.base.Host) || u.Scheme != c.base.Scheme {
		return nil, malformedError("GET /pipelines", "nextLink %q does not point at the workspace endpoint %s", redactQuery(link), c.base.Host)
	}
	return u, nil
}

func redactQuery(link string) string {
	if i := strings.IndexByte(link, '?'); i >= 0 {
		return link[:i] + "?…"
	}
	return link
}

// statusKey carries a *int through the request context so the caller
// learns the HTTP status of the last answer (httpx's errors carry the
// kind, not the status).
type statusKey struct{}

func withStatus(ctx context.Context) (context.Context, *int) {
	st := new(int)
	return context.WithValue(ctx, statusKey{}, st), st
}

// transport logs the service's request ids with every error answer (the
// doc asks for them: support needs them) and records statuses for
// withStatus.
type transport struct {
	base http.RoundTripper
	log  hclog.Logger
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if st, ok := req.Context().Value(statusKey{}).(*int); ok {
		*st = resp.StatusCode
	}
	if resp.StatusCode >= 400 {
		t.log.Warn("Synapse answered an error", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode,
			"x-ms-request-id", resp.Header.Get("x-ms-request-id"), "x-ms-correlation-request-id", resp.Header.Get("x-ms-correlation-request-id"))
	}
	return resp, nil
}

// paramString turns a parameter value (a string on the wire, but be
// lenient) into text.
func paramString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// copyMetrics adds a Copy activity's counters to m.
func copyMetrics(m map[string]float64, output json.RawMessage) {
	var o map[string]json.RawMessage
	if json.Unmarshal(output, &o) != nil {
		return
	}
	for key, metric := range map[string]string{"rowsRead": "rows_read", "rowsCopied": "rows_copied", "dataRead": "data_read_bytes", "dataWritten": "data_written_bytes"} {
		raw, ok := o[key]
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Trim(string(raw), `"`), 64); err == nil {
			m[metric] += v
		}
	}
}
