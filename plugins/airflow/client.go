package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// API majors.
const (
	apiV1 = "v1" // Airflow 2
	apiV2 = "v2" // Airflow 3
)

// client talks to one Airflow. It finds out which REST API the server
// speaks on first use (unless the configuration pins it), then keeps one
// authenticated httpx client for it.
type client struct {
	cfg   Config
	http  *http.Client
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu      sync.Mutex
	api     string
	version string
	hc      *httpx.Client
}

func newClient(cfg Config, hc *http.Client, now func() time.Time, sleep func(context.Context, time.Duration) error) *client {
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.InsecureSkipVerify {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opted in by the user, for test installations
		}
		hc = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	return &client{cfg: cfg, http: hc, now: now, sleep: sleep}
}

func (c *client) httpx(auth httpx.Authorizer) *httpx.Client {
	return &httpx.Client{
		BaseURL: c.cfg.BaseURL, HTTP: c.http, Auth: auth, Sleep: c.sleep,
		ErrorMessage: errorMessage, UserAgent: "puod-airflow/" + pluginVersion,
	}
}

// host is the server's host name, for messages.
func (c *client) host() string {
	if u, err := url.Parse(c.cfg.BaseURL); err == nil && u.Host != "" {
		return u.Host
	}
	return c.cfg.BaseURL
}

// ready returns the API major and an authenticated client, detecting
// the API on first use.
func (c *client) ready(ctx context.Context) (string, *httpx.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hc != nil {
		return c.api, c.hc, nil
	}
	api, version, err := c.detect(ctx)
	if err != nil {
		return "", nil, err
	}
	if api == apiV1 && version != "" && before26(version) {
		return "", nil, sdk.PermanentError("Airflow %s at %s is too old: its REST API cannot list DAG runs by updated_at (added in Airflow 2.6), which incremental sync needs; upgrade Airflow to 2.6 or later", version, c.host())
	}
	c.api, c.version = api, version
	c.hc = c.httpx(c.authorizer(api))
	return c.api, c.hc, nil
}

// forget drops the detected API, so the next call asks the server again:
// after a 404 on a path that existed, the server may have been upgraded.
func (c *client) forget() {
	if c.cfg.APIVersion != "auto" {
		return
	}
	c.mu.Lock()
	c.hc, c.api, c.version = nil, "", ""
	c.mu.Unlock()
}

func (c *client) info() (api, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api, c.version
}

// detect asks GET /api/v2/version, then GET /api/v1/version. A 401 or
// 403 also proves the API exists (some deployments protect the version
// endpoint).
func (c *client) detect(ctx context.Context) (api, version string, err error) {
	probe := c.httpx(nil)
	try := func(api string) (found bool, version string, err error) {
		var v versionJSON
		err = probe.Get(ctx, "/api/"+api+"/version", nil, &v)
		switch {
		case err == nil:
			if v.Version != nil {
				version = *v.Version
			}
			return true, version, nil
		case errors.Is(err, sdk.ErrAuth):
			return true, "", nil
		case errors.Is(err, sdk.ErrNotFound):
			return false, "", nil
		}
		return false, "", annotate(err, "cannot reach Airflow at %s", c.host())
	}
	candidates := []string{apiV2, apiV1}
	if c.cfg.APIVersion == apiV1 || c.cfg.APIVersion == apiV2 {
		candidates = []string{c.cfg.APIVersion}
	}
	for _, a := range candidates {
		found, version, err := try(a)
		if err != nil {
			return "", "", err
		}
		if found {
			return a, version, nil
		}
	}
	if len(candidates) == 1 {
		other := apiV2
		if candidates[0] == apiV2 {
			other = apiV1
		}
		if found, version, err := try(other); err == nil && found {
			return "", "", sdk.ConfigError("/api_version", "api_version is %s but %s serves REST API %s (Airflow %s): set api_version to auto or %s", candidates[0], c.host(), other, orUnknown(version), other)
		}
		// Pinned, and the version endpoint is hidden: trust the setting.
		return candidates[0], "", nil
	}
	return "", "", sdk.ConfigError("/base_url", "no Airflow REST API at %s: GET /api/v2/version and GET /api/v1/version both answer 404; set base_url to the root of the Airflow webserver or API server, including any path prefix", c.host())
}

func orUnknown(v string) string {
	if v == "" {
		return "version unknown"
	}
	return v
}

func before26(version string) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimLeft(parts[1], "v"))
	return err1 == nil && err2 == nil && major == 2 && minor < 6
}

func (c *client) authorizer(api string) httpx.Authorizer {
	switch {
	case api == apiV1:
		return httpx.Basic{User: c.cfg.Username, Password: c.cfg.Password}
	case c.cfg.Token != "":
		return httpx.Bearer(c.cfg.Token)
	}
	return &httpx.CachedToken{Fetch: c.fetchToken, Now: c.now}
}

// fetchToken exchanges the username and password for a JWT at POST
// /auth/token (Airflow 3). The answer has no expires_in: the lifetime
// comes from the token's exp claim.
func (c *client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var vendorMsg string
	hc := c.httpx(nil)
	hc.ErrorMessage = func(status int, body []byte) string {
		vendorMsg = errorMessage(status, body)
		return vendorMsg
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := hc.Post(ctx, "/auth/token", map[string]string{"username": c.cfg.Username, "password": c.cfg.Password}, &out)
	switch {
	case err == nil && out.AccessToken == "":
		return "", 0, sdk.DownstreamError(nil, "POST /auth/token answered no access_token")
	case err == nil:
	case errors.Is(err, sdk.ErrNotFound):
		return "", 0, &tokenError{sdk.ConfigError("/base_url", "POST /auth/token does not exist at %s: set base_url to the Airflow 3 API server root, or use a pre-issued token", c.host())}
	case errors.Is(err, sdk.ErrAuth) || (errors.Is(err, sdk.ErrDownstream) && vendorMsg != ""):
		return "", 0, &tokenError{sdk.AuthError("Airflow at %s refused to issue a token for user %q (POST /auth/token: %s): check the username and password; the auth manager must know the user (FAB: a database or LDAP user)", c.host(), c.cfg.Username, vendorMsg)}
	default:
		return "", 0, err
	}
	exp := jwtExpiry(out.AccessToken)
	ttl := 10 * time.Minute // no exp claim: refresh often, and on 401
	if !exp.IsZero() {
		ttl = exp.Sub(c.now())
	}
	return out.AccessToken, ttl, nil
}

// tokenError marks an error of the token endpoint, so call does not
// describe it as a refused API call.
type tokenError struct{ err *sdk.Error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// jwtClaims reads a JWT's payload without verifying it (the server does).
func jwtClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var c map[string]any
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	return c
}

func jwtExpiry(tok string) time.Time {
	if exp, ok := jwtClaims(tok)["exp"].(float64); ok && exp > 0 {
		return time.Unix(int64(exp), 0).UTC()
	}
	return time.Time{}
}

// call runs one API request and adds Airflow-specific remedies to errors.
func (c *client) call(ctx context.Context, r httpx.Request, out any) error {
	api, hc, err := c.ready(ctx)
	if err != nil {
		return err
	}
	err = hc.Do(ctx, r, out)
	var te *tokenError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return te.err // already says what POST /auth/token answered
	case !errors.Is(err, sdk.ErrAuth):
		return err
	}
	op, msg := r.Method+" "+r.Path, sdkMessage(err)
	vendor := vendorPart(msg)
	switch {
	case strings.Contains(msg, "(403)"):
		return sdk.AuthError("%s: user %q may not read this (403 %s): give its role read access to DAGs, DAG runs and task instances", op, c.cfg.Username, vendor)
	case api == apiV1:
		return sdk.AuthError("%s: Airflow refused user %q (401 %s): check the username and password, and that [api] auth_backends lists airflow.api.auth.backend.basic_auth", op, c.cfg.Username, vendor)
	case c.cfg.Token != "":
		return sdk.AuthError("%s: Airflow refused the configured token (401 %s): it may have expired; issue a new one", op, vendor)
	default:
		return sdk.AuthError("%s: Airflow refused a freshly issued token for user %q (401 %s)", op, c.cfg.Username, vendor)
	}
}

// vendorPart extracts the server's own message from an httpx auth error
// ("GET /x: the server refused the credentials (401): <vendor>; check ...").
func vendorPart(msg string) string {
	if i := strings.Index(msg, "): "); i >= 0 {
		msg = msg[i+3:]
	}
	if i := strings.LastIndex(msg, "; "); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func sdkMessage(err error) string {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// annotate puts context in front of an error's message, keeping its kind.
func annotate(err error, format string, args ...any) error {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	out := *e
	out.Message = fmt.Sprintf(format, args...) + ": " + e.Message
	return &out
}

// errorMessage reads Airflow's error bodies: Airflow 2's RFC 7807 problem
// ({"title", "detail"}, detail possibly null) and Airflow 3's FastAPI
// {"detail": "..."} or 422 {"detail": [{"loc", "msg"}]}.
func errorMessage(status int, body []byte) string {
	var v struct {
		Title  string          `json:"title"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Detail, &s) == nil && s != "" {
		if v.Title != "" && v.Title != s {
			return v.Title + ": " + s
		}
		return s
	}
	var list []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(v.Detail, &list) == nil && len(list) > 0 {
		parts := make([]string, len(list))
		for i, e := range list {
			loc := make([]string, len(e.Loc))
			for j, l := range e.Loc {
				loc[j] = fmt.Sprint(l)
			}
			parts[i] = strings.Join(loc, ".") + ": " + e.Msg
		}
		return strings.Join(parts, "; ")
	}
	if v.Title != "" {
		return v.Title
	}
	if len(v.Detail) > 0 && string(v.Detail) != "null" {
		return string(v.Detail)
	}
	return ""
}

// escapeSegment percent-encodes a path segment, everything but RFC 3986
// unreserved characters: run ids hold ":" and "+", and a raw "+" can be
// read as a space.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// apiTimeParam formats a query or body date-time: UTC, microseconds, "Z"
// (no "+" to encode).
func apiTimeParam(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (c *client) path(api string, segs ...string) string {
	var b strings.Builder
	b.WriteString("/api/")
	b.WriteString(api)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	return b.String()
}

// listRunsUpdated reads one page of DAG runs of every DAG updated in
// [from, to], ordered by id (GET …/dags/~/dagRuns: the batch POST has no
// updated_at filter).
func (c *client) listRunsUpdated(ctx context.Context, from, to time.Time, offset, limit int) (string, []dagRunJSON, int, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return "", nil, 0, err
	}
	q := url.Values{
		"updated_at_gte": {apiTimeParam(from)}, "updated_at_lte": {apiTimeParam(to)},
		"order_by": {"id"}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)},
	}
	path := c.path(api, "dags", "~", "dagRuns")
	var out dagRunList
	if err := c.call(ctx, httpx.Request{Method: http.MethodGet, Path: path, Query: q}, &out); err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			c.forget() // the list always exists: the server changed
		}
		return api, nil, 0, err
	}
	if out.DagRuns == nil || out.TotalEntries == nil {
		return api, nil, 0, sdk.DownstreamError(nil, "malformed response from GET %s: no dag_runs or total_entries", path)
	}
	return api, *out.DagRuns, *out.TotalEntries, nil
}

// batchBody is the body of POST …/dags/~/dagRuns/list. Its keys exist in
// both APIs (Airflow 3 refuses unknown ones with 422).
type batchBody struct {
	DagIDs       []string `json:"dag_ids,omitempty"`
	OrderBy      string   `json:"order_by"`
	PageOffset   int      `json:"page_offset"`
	PageLimit    int      `json:"page_limit"`
	StartDateGTE string   `json:"start_date_gte,omitempty"`
	StartDateLTE string   `json:"start_date_lte,omitempty"`
}

// maxCardRuns bounds the runs a card reads.
const maxCardRuns = 20000

// listRunsStarted reads every DAG run (of dagIDs, or all) started in
// [from, to] with the batch endpoint.
func (c *client) listRunsStarted(ctx context.Context, dagIDs []string, from, to time.Time) (string, []dagRunJSON, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return "", nil, err
	}
	path := c.path(api, "dags", "~", "dagRuns", "list")
	var all []dagRunJSON
	for offset := 0; offset < maxCardRuns; {
		body := batchBody{DagIDs: dagIDs, OrderBy: "id", PageOffset: offset, PageLimit: c.cfg.PageSize,
			StartDateGTE: apiTimeParam(from), StartDateLTE: apiTimeParam(to)}
		var out dagRunList
		if err := c.call(ctx, httpx.Request{Method: http.MethodPost, Path: path, Body: body}, &out); err != nil {
			return api, nil, err
		}
		if out.DagRuns == nil || out.TotalEntries == nil {
			return api, nil, sdk.DownstreamError(nil, "malformed response from POST %s: no dag_runs or total_entries", path)
		}
		all = append(all, *out.DagRuns...)
		offset += len(*out.DagRuns)
		if len(*out.DagRuns) == 0 || offset >= *out.TotalEntries {
			break
		}
	}
	return api, all, nil
}

// getRun reads one DAG run.
func (c *client) getRun(ctx context.Context, dagID, runID string) (string, dagRunJSON, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return "", dagRunJSON{}, err
	}
	var out dagRunJSON
	path := c.path(api, "dags", escapeSegment(dagID), "dagRuns", escapeSegment(runID))
	err = c.call(ctx, httpx.Request{Method: http.MethodGet, Path: path}, &out)
	if err == nil && (out.DagID == "" || out.DagRunID == "") {
		err = sdk.DownstreamError(nil, "malformed response from GET %s: no dag_id or dag_run_id", path)
	}
	return api, out, err
}

// taskInstances reads every task instance of one run.
func (c *client) taskInstances(ctx context.Context, dagID, runID string) ([]taskJSON, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return nil, err
	}
	path := c.path(api, "dags", escapeSegment(dagID), "dagRuns", escapeSegment(runID), "taskInstances")
	var all []taskJSON
	for offset := 0; ; {
		q := url.Values{"limit": {"100"}, "offset": {strconv.Itoa(offset)}}
		var out taskList
		if err := c.call(ctx, httpx.Request{Method: http.MethodGet, Path: path, Query: q}, &out); err != nil {
			return nil, err
		}
		if out.TaskInstances == nil || out.TotalEntries == nil {
			return nil, sdk.DownstreamError(nil, "malformed response from GET %s: no task_instances or total_entries", path)
		}
		all = append(all, *out.TaskInstances...)
		offset += len(*out.TaskInstances)
		if len(*out.TaskInstances) == 0 || offset >= *out.TotalEntries {
			return all, nil
		}
	}
}

// dags reads every DAG.
func (c *client) dags(ctx context.Context, limit int) (string, []dagJSON, int, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return "", nil, 0, err
	}
	path := c.path(api, "dags")
	var all []dagJSON
	total := 0
	for offset := 0; ; {
		q := url.Values{"limit": {strconv.Itoa(min(limit, c.cfg.PageSize))}, "offset": {strconv.Itoa(offset)}}
		var out dagList
		if err := c.call(ctx, httpx.Request{Method: http.MethodGet, Path: path, Query: q}, &out); err != nil {
			if errors.Is(err, sdk.ErrNotFound) {
				c.forget()
			}
			return api, nil, 0, err
		}
		if out.Dags == nil || out.TotalEntries == nil {
			return api, nil, 0, sdk.DownstreamError(nil, "malformed response from GET %s: no dags or total_entries", path)
		}
		all = append(all, *out.Dags...)
		total = *out.TotalEntries
		offset += len(*out.Dags)
		if len(*out.Dags) == 0 || offset >= total || len(all) >= limit {
			return api, all, total, nil
		}
	}
}

// health reads the unauthenticated health endpoint (scheduler heartbeat).
func (c *client) health(ctx context.Context) (*healthJSON, error) {
	api, _, err := c.ready(ctx)
	if err != nil {
		return nil, err
	}
	path := "/api/v1/health"
	if api == apiV2 {
		path = "/api/v2/monitor/health"
	}
	var out healthJSON
	hc := c.httpx(nil)
	hc.MaxRetries = 1
	if err := hc.Get(ctx, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
