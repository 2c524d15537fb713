package main

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// client calls one workspace's Jobs API through httpx, which retries 429
// and 5xx answers (honouring Retry-After), refreshes the OAuth token once
// on a 401 and returns the SDK's typed errors naming the endpoint.
type client struct {
	http    *httpx.Client
	base    string // scheme://host
	jobsAPI string // /api/2.2/jobs
	limiter *rate.Limiter
	// identity describes the credential for health messages, never its value.
	identity string
}

func newClient(cfg Config, d deps) *client {
	hc := d.http
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := cfg.baseURL()
	c := &client{
		base:    base,
		jobsAPI: "/api/" + cfg.APIVersion + "/jobs",
		limiter: rate.NewLimiter(rate.Limit(cfg.MaxRequestsPerSecond), max(1, int(cfg.MaxRequestsPerSecond))),
	}
	var auth httpx.Authorizer
	if cfg.usesOAuth() {
		cc := httpx.ClientCredentials{
			TokenURL:     base + "/oidc/v1/token",
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Scope:        "all-apis",
			HTTP:         hc,
		}
		// Tokens live an hour; renewing five minutes early keeps a long
		// sync from meeting an expired one.
		auth = &httpx.CachedToken{Fetch: cc.Fetcher(), Skew: 5 * time.Minute, Now: d.now}
		c.identity = "service principal " + cfg.ClientID
	} else {
		auth = httpx.Bearer(cfg.Token)
		c.identity = "personal access token"
	}
	c.http = &httpx.Client{
		BaseURL:      base,
		HTTP:         hc,
		Auth:         auth,
		ErrorMessage: errorMessage,
		UserAgent:    "puod-databricks/" + version,
		Sleep:        d.sleep,
	}
	return c
}

// get calls GET <jobs API><endpoint>, e.g. get(ctx, "/runs/list", q, &out).
func (c *client) get(ctx context.Context, endpoint string, q url.Values, out any) error {
	return c.getPath(ctx, c.jobsAPI+endpoint, q, out)
}

func (c *client) getPath(ctx context.Context, path string, q url.Values, out any) error {
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return sdk.RetryableError(time.Second, "GET %s: the client-side rate limit cannot be met before the deadline", path)
	}
	return c.http.Get(ctx, path, q, out)
}

// --- API shapes (only what PUOD reads; unknown fields are ignored) ---

type apiState struct {
	LifeCycleState          string `json:"life_cycle_state"`
	ResultState             string `json:"result_state"`
	StateMessage            string `json:"state_message"`
	UserCancelledOrTimedout bool   `json:"user_cancelled_or_timedout"`
	QueueReason             string `json:"queue_reason"`
}

type apiStatus struct {
	State              string `json:"state"`
	TerminationDetails *struct {
		Code    string `json:"code"`
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"termination_details"`
	QueueDetails *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"queue_details"`
}

type apiTask struct {
	TaskKey           string     `json:"task_key"`
	RunID             int64      `json:"run_id"`
	State             *apiState  `json:"state"`
	Status            *apiStatus `json:"status"`
	StartTime         int64      `json:"start_time"`
	EndTime           int64      `json:"end_time"`
	SetupDuration     int64      `json:"setup_duration"`
	ExecutionDuration int64      `json:"execution_duration"`
	CleanupDuration   int64      `json:"cleanup_duration"`
	RunDuration       int64      `json:"run_duration"`
	AttemptNumber     int        `json:"attempt_number"`
	RunPageURL        string     `json:"run_page_url"`
}

type apiRun struct {
	JobID                int64      `json:"job_id"`
	RunID                int64      `json:"run_id"`
	CreatorUserName      string     `json:"creator_user_name"`
	OriginalAttemptRunID int64      `json:"original_attempt_run_id"`
	AttemptNumber        int        `json:"attempt_number"`
	RunName              string     `json:"run_name"`
	RunType              string     `json:"run_type"`
	Trigger              string     `json:"trigger"`
	RunPageURL           string     `json:"run_page_url"`
	State                *apiState  `json:"state"`
	Status               *apiStatus `json:"status"`
	Schedule             *struct {
		QuartzCronExpression string `json:"quartz_cron_expression"`
		TimezoneID           string `json:"timezone_id"`
	} `json:"schedule"`
	StartTime         int64     `json:"start_time"`
	EndTime           int64     `json:"end_time"`
	SetupDuration     int64     `json:"setup_duration"`
	ExecutionDuration int64     `json:"execution_duration"`
	CleanupDuration   int64     `json:"cleanup_duration"`
	RunDuration       int64     `json:"run_duration"`
	QueueDuration     int64     `json:"queue_duration"`
	Tasks             []apiTask `json:"tasks"`
	// HasMore (2.2, runs/list with expand_tasks): this item's arrays were
	// cut at 100 entries; runs/get has them all.
	HasMore bool `json:"has_more"`
	// NextPageToken (2.2, runs/get): more array entries on the next page.
	NextPageToken string `json:"next_page_token"`
}

type runsPage struct {
	Runs          []apiRun `json:"runs"`
	HasMore       bool     `json:"has_more"`
	NextPageToken string   `json:"next_page_token"`
}

type apiJob struct {
	JobID           int64  `json:"job_id"`
	CreatorUserName string `json:"creator_user_name"`
	RunAsUserName   string `json:"run_as_user_name"`
	Settings        struct {
		Name     string            `json:"name"`
		Tags     map[string]string `json:"tags"`
		Format   string            `json:"format"`
		Schedule *struct {
			QuartzCronExpression string `json:"quartz_cron_expression"`
			TimezoneID           string `json:"timezone_id"`
			PauseStatus          string `json:"pause_status"`
		} `json:"schedule"`
	} `json:"settings"`
}

type jobsPage struct {
	Jobs          []apiJob `json:"jobs"`
	HasMore       bool     `json:"has_more"`
	NextPageToken string   `json:"next_page_token"`
}

// listRunsPage fetches one runs/list page. q must not change between the
// pages of one listing; token is the previous page's next_page_token.
func (c *client) listRunsPage(ctx context.Context, q url.Values, token string) (*runsPage, error) {
	qq := url.Values{}
	for k, v := range q {
		qq[k] = v
	}
	if token != "" {
		qq.Set("page_token", token)
	}
	var p runsPage
	if err := c.get(ctx, "/runs/list", qq, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// getRun fetches one run with all its tasks (2.2 pages arrays of more than
// 100 entries: the pages are merged). A run that does not exist answers 400
// INVALID_PARAMETER_VALUE "Run … does not exist.": that is returned as an
// sdk.NotFoundError.
func (c *client) getRun(ctx context.Context, runID int64) (*apiRun, error) {
	q := url.Values{"run_id": {strconv.FormatInt(runID, 10)}}
	var run apiRun
	if err := c.get(ctx, "/runs/get", q, &run); err != nil {
		if runMissing(err) {
			return nil, sdk.NotFoundError("run %d does not exist in the workspace (deleted, or older than the run retention)", runID)
		}
		return nil, err
	}
	seen := map[int64]bool{}
	for _, t := range run.Tasks {
		seen[t.RunID] = true
	}
	for pages := 0; run.NextPageToken != "" && pages < 50; pages++ {
		q.Set("page_token", run.NextPageToken)
		var more apiRun
		if err := c.get(ctx, "/runs/get", q, &more); err != nil {
			return nil, err
		}
		for _, t := range more.Tasks {
			if !seen[t.RunID] {
				seen[t.RunID] = true
				run.Tasks = append(run.Tasks, t)
			}
		}
		run.NextPageToken = more.NextPageToken
	}
	run.NextPageToken = ""
	return &run, nil
}

// runMissing recognises runs/get's answer for an unknown run: the vendor
// says 400 INVALID_PARAMETER_VALUE "Run <id> does not exist.", not 404.
func runMissing(err error) bool {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Kind == sdk.KindNotFound {
		return true
	}
	return e.Kind == sdk.KindDownstream && strings.Contains(e.Message, "400 Bad Request") && strings.Contains(e.Message, "does not exist")
}

var preRE = regexp.MustCompile(`(?is)<pre[^>]*>(.*?)</pre>`)

// errorMessage reads Databricks error bodies: {"error_code","message"}, the
// legacy {"error": "…"}, an HTML page with the message in <pre>, or plain
// text; "" lets httpx fall back to its default.
func errorMessage(_ int, body []byte) string {
	var v struct {
		ErrorCode string          `json:"error_code"`
		Message   string          `json:"message"`
		Error     json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		switch {
		case v.ErrorCode != "" && v.Message != "":
			return v.ErrorCode + ": " + v.Message
		case v.Message != "":
			return v.Message
		case v.ErrorCode != "":
			return v.ErrorCode
		}
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return s
		}
		return ""
	}
	if m := preRE.FindSubmatch(body); m != nil {
		msg := strings.TrimSpace(html.UnescapeString(string(m[1])))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return msg
	}
	return ""
}
