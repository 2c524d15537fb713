package airflowsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API selects which Airflow major the simulator is.
type API string

const (
	// V1 is Airflow 2: /api/v1, HTTP Basic auth, RFC 7807 problem errors.
	V1 API = "v1"
	// V2 is Airflow 3: /api/v2, JWTs from POST /auth/token, FastAPI errors.
	V2 API = "v2"
)

// Options configure a simulator.
type Options struct {
	// API is V1 (Airflow 2) or V2 (Airflow 3, the default).
	API API
	// Version is what the version endpoint reports (default 2.10.3 for V1,
	// 3.1.3 for V2). A V1 version below 2.6 has no updated_at filters on
	// the DAG run list: strict validation refuses them with 400, as those
	// Airflows do.
	Version string
	// Username and Password are the only credentials accepted (default
	// admin / admin): Basic auth for V1, the POST /auth/token body for V2.
	Username, Password string
	// BasicAuthDisabled simulates an Airflow 2 whose [api] auth_backends
	// lacks basic_auth: every /api/v1 call answers 401.
	BasicAuthDisabled bool
	// Clock drives the world (default: the wall clock; in fixture mode a
	// ManualClock at the fixtures' "now", 2026-11-17T07:10:00Z).
	Clock Clock
	// MaxPageLimit is [api] maximum_page_limit (default 100): larger
	// page requests are silently capped.
	MaxPageLimit int
	// TokenTTL is the lifetime of V2 access tokens (default 24h).
	TokenTTL time.Duration
	// Seed makes the scenario generator reproducible.
	Seed uint64
	// Fixtures loads the shared scenario of the API reference's fixtures
	// (3 DAGs, 4 runs, the failed run's task instances) into the world.
	Fixtures bool
}

// Request is one request the simulator answered, for tests to inspect.
type Request struct {
	Method string
	// Path is the path as sent (still percent-encoded).
	Path string
	// Query is the raw query string.
	Query  string
	Body   []byte
	Status int
	// Auth is "basic", "bearer" or "".
	Auth string
}

// Server is the simulated Airflow. It is an http.Handler; serve it with
// httptest.NewServer or http.Server.
type Server struct {
	opts  Options
	clock Clock
	key   []byte

	mu      sync.Mutex
	dags    []*dag
	runs    []*dagRun
	nextID  int64
	tokens  int
	minJTI  int
	healthy bool
	faults  faults
	reqs    []Request
	hooks   []hook
}

type faults struct {
	fail           int
	failStatus     int
	failRetryAfter time.Duration
	malformed      int
	overlap        int
}

type hook struct {
	after int
	fn    func()
}

// New returns a simulator. It holds no DAGs until AddDAG, StartScenario
// or Options.Fixtures adds some.
func New(opts Options) *Server {
	if opts.API == "" {
		opts.API = V2
	}
	if opts.Version == "" {
		opts.Version = "3.1.3"
		if opts.API == V1 {
			opts.Version = "2.10.3"
		}
	}
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = "admin", "admin"
	}
	if opts.MaxPageLimit <= 0 {
		opts.MaxPageLimit = 100
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
		if opts.Fixtures {
			opts.Clock = NewManualClock(FixtureNow)
		}
	}
	s := &Server{opts: opts, clock: opts.Clock, key: []byte("airflowsim-jwt-secret-" + string(opts.API)), healthy: true}
	if opts.Fixtures {
		s.loadFixtures()
	}
	return s
}

// API reports which Airflow major the simulator is.
func (s *Server) API() API { return s.opts.API }

// Clock is the simulator's clock.
func (s *Server) Clock() Clock { return s.clock }

// ConnectorConfig returns a puod.airflow source configuration (and its
// secrets) pointing at the simulator served at baseURL. The connector
// detects the API (v1 or v2) from the version endpoint.
func (s *Server) ConnectorConfig(baseURL string) (json.RawMessage, map[string]string) {
	cfg, _ := json.Marshal(map[string]any{"base_url": baseURL, "api_version": "auto", "username": s.opts.Username})
	return cfg, map[string]string{"password": s.opts.Password}
}

// FailNext makes the next n requests answer status (429 or 503, say) with
// a Retry-After of retryAfter (rounded up to seconds; 0 sends none).
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.fail, s.faults.failStatus, s.faults.failRetryAfter = n, status, retryAfter
}

// ExpireTokens revokes every access token issued so far (V2): their next
// use answers 401 and the client must fetch a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minJTI = s.tokens + 1
}

// TokensIssued counts the access tokens POST /auth/token issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// MalformNext makes the next n list answers (DAGs, DAG runs, task
// instances) truncated JSON, with status 200.
func (s *Server) MalformNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.malformed = n
}

// OverlapPages makes every list page asked at an offset above 0 start k
// items earlier, as when rows were inserted before the offset between two
// page requests: consecutive pages overlap by k items, and nothing is
// skipped. k = 0 stops it.
func (s *Server) OverlapPages(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.overlap = k
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faults{}
	s.hooks = nil
}

// AfterRequests calls fn once the next n requests have been handled, just
// before the n-th answer is written, so the change is in place for the
// request after it (e.g. finish a run between two page requests).
func (s *Server) AfterRequests(n int, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, hook{after: n, fn: fn})
}

// SetHealthy sets the scheduler's health reported by the health endpoint.
func (s *Server) SetHealthy(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healthy = ok
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// response is an answer computed under the lock and written after it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, v any) response {
	b, _ := json.Marshal(v)
	return response{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}

// ServeHTTP answers one request of the Airflow REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body, Auth: authScheme(r)}

	resp, due := s.answer(r, body, rec)
	for _, fn := range due {
		fn()
	}
	for k, vs := range resp.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// answer computes the response under the lock and returns the hooks due.
func (s *Server) answer(r *http.Request, body []byte, rec Request) (response, []func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := s.handle(r, body)
	rec.Status = resp.status
	s.reqs = append(s.reqs, rec)
	var due []func()
	kept := s.hooks[:0]
	for _, h := range s.hooks {
		h.after--
		if h.after <= 0 {
			due = append(due, h.fn)
		} else {
			kept = append(kept, h)
		}
	}
	s.hooks = kept
	return resp, due
}

func authScheme(r *http.Request) string {
	a := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(a, "Basic "):
		return "basic"
	case strings.HasPrefix(a, "Bearer "):
		return "bearer"
	}
	return ""
}

func (s *Server) handle(r *http.Request, body []byte) response {
	if s.faults.fail > 0 {
		s.faults.fail--
		return s.faultResponse()
	}
	now := s.clock.Now()
	s.advanceLocked(now)
	segs, ok := pathSegments(r.URL.EscapedPath())
	if !ok {
		return s.notFoundRoute()
	}
	if len(segs) == 2 && segs[0] == "auth" && segs[1] == "token" && s.opts.API == V2 {
		return s.issueToken(r, body, now)
	}
	if len(segs) < 2 || segs[0] != "api" || segs[1] != string(s.opts.API) {
		return s.notFoundRoute()
	}
	route := segs[2:]
	// Unauthenticated endpoints.
	switch {
	case len(route) == 1 && route[0] == "version" && r.Method == http.MethodGet:
		return jsonResponse(http.StatusOK, map[string]any{"version": s.opts.Version, "git_version": gitVersion(s.opts.Version)})
	case s.opts.API == V1 && len(route) == 1 && route[0] == "health" && r.Method == http.MethodGet,
		s.opts.API == V2 && len(route) == 2 && route[0] == "monitor" && route[1] == "health" && r.Method == http.MethodGet:
		return jsonResponse(http.StatusOK, s.health(now))
	}
	if resp, ok := s.authenticate(r, now); !ok {
		return resp
	}
	resp := s.route(r.Method, route, r.URL.RawQuery, body, now)
	if resp.status == http.StatusOK && s.faults.malformed > 0 && isList(route) {
		s.faults.malformed--
		resp.body = resp.body[:len(resp.body)/2]
	}
	return resp
}

func isList(route []string) bool {
	last := route[len(route)-1]
	return last == "dags" || last == "dagRuns" || last == "taskInstances" || last == "list"
}

func gitVersion(v string) string {
	digits := strings.ReplaceAll(v, ".", "")
	if digits == "" {
		digits = "0"
	}
	return ".release:" + strings.Repeat(digits, 40)[:40]
}

// pathSegments splits an escaped path and decodes each segment. A raw "+"
// reads as a space, as some servers and proxies decode it: clients must
// send %2B.
func pathSegments(escaped string) ([]string, bool) {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	for i, p := range parts {
		v, err := url.PathUnescape(strings.ReplaceAll(p, "+", " "))
		if err != nil {
			return nil, false
		}
		parts[i] = v
	}
	return parts, true
}

func (s *Server) faultResponse() response {
	status := s.faults.failStatus
	text := http.StatusText(status)
	var resp response
	if s.opts.API == V1 {
		resp = s.problem(status, text, text, "Unknown")
	} else {
		resp = jsonResponse(status, map[string]any{"detail": text})
	}
	if s.faults.failRetryAfter > 0 {
		secs := int((s.faults.failRetryAfter + time.Second - 1) / time.Second)
		resp.header.Set("Retry-After", strconv.Itoa(secs))
	}
	return resp
}

func (s *Server) notFoundRoute() response {
	if s.opts.API == V1 {
		// Airflow 2's Flask app answers an HTML page outside /api/v1.
		return response{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
			body: []byte("<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n")}
	}
	return jsonResponse(http.StatusNotFound, map[string]any{"detail": "Not Found"})
}

func (s *Server) health(now time.Time) map[string]any {
	status, beat := "healthy", now.Add(-2*time.Second)
	if !s.healthy {
		status, beat = "unhealthy", now.Add(-7*time.Minute)
	}
	return map[string]any{
		"metadatabase":  map[string]any{"status": "healthy"},
		"scheduler":     map[string]any{"status": status, "latest_scheduler_heartbeat": pyTime(beat, s.opts.API == V2)},
		"triggerer":     map[string]any{"status": "healthy", "latest_triggerer_heartbeat": pyTime(now.Add(-3*time.Second), s.opts.API == V2)},
		"dag_processor": map[string]any{"status": nil, "latest_dag_processor_heartbeat": nil},
	}
}

// authenticate checks credentials as the configured Airflow does.
func (s *Server) authenticate(r *http.Request, now time.Time) (response, bool) {
	if s.opts.API == V1 {
		user, pass, ok := r.BasicAuth()
		if !s.opts.BasicAuthDisabled && ok && user == s.opts.Username && pass == s.opts.Password {
			return response{}, true
		}
		resp := s.problemNull(http.StatusUnauthorized, "Unauthorized", "Unauthenticated")
		if !s.opts.BasicAuthDisabled {
			resp.header.Set("WWW-Authenticate", "Basic")
		}
		return resp, false
	}
	a := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(a, "Bearer ")
	if !ok || tok == "" {
		return jsonResponse(http.StatusUnauthorized, map[string]any{"detail": "Not authenticated"}), false
	}
	if !s.validToken(tok, now) {
		return jsonResponse(http.StatusUnauthorized, map[string]any{"detail": "Invalid JWT"}), false
	}
	return response{}, true
}

type claims struct {
	Sub  string `json:"sub"`
	Role string `json:"role"`
	Iss  string `json:"iss"`
	Aud  string `json:"aud"`
	Nbf  int64  `json:"nbf"`
	Exp  int64  `json:"exp"`
	Iat  int64  `json:"iat"`
	JTI  string `json:"jti"`
}

func (s *Server) sign(c claims) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`))
	payload, _ := json.Marshal(c)
	msg := head + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha512.New, s.key)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

func (s *Server) validToken(tok string, now time.Time) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	mac := hmac.New(sha512.New, s.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c claims
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	jti, _ := strconv.Atoi(c.JTI)
	return c.Sub == s.opts.Username && now.Unix() < c.Exp && jti >= s.minJTI
}

// issueToken is POST /auth/token of Airflow 3's simple auth manager: a
// JSON or form body with username and password, answered 201.
func (s *Server) issueToken(r *http.Request, body []byte, now time.Time) response {
	if r.Method != http.MethodPost {
		return jsonResponse(http.StatusMethodNotAllowed, map[string]any{"detail": "Method Not Allowed"})
	}
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		form, _ := url.ParseQuery(string(body))
		if form.Has("username") {
			in.Username = ptr(form.Get("username"))
		}
		if form.Has("password") {
			in.Password = ptr(form.Get("password"))
		}
	} else if err := json.Unmarshal(body, &in); err != nil {
		return jsonResponse(http.StatusUnprocessableEntity, map[string]any{"detail": []any{map[string]any{
			"type": "json_invalid", "loc": []any{"body", 0}, "msg": "JSON decode error", "input": map[string]any{}, "ctx": map[string]any{"error": "Expecting value"},
		}}})
	}
	var missing []any
	if in.Username == nil {
		missing = append(missing, map[string]any{"type": "missing", "loc": []any{"body", "username"}, "msg": "Field required", "input": json.RawMessage(orEmpty(body))})
	}
	if in.Password == nil {
		missing = append(missing, map[string]any{"type": "missing", "loc": []any{"body", "password"}, "msg": "Field required", "input": json.RawMessage(orEmpty(body))})
	}
	if len(missing) > 0 {
		return jsonResponse(http.StatusUnprocessableEntity, map[string]any{"detail": missing})
	}
	if *in.Username != s.opts.Username || *in.Password != s.opts.Password {
		return jsonResponse(http.StatusUnauthorized, map[string]any{"detail": "Invalid credentials"})
	}
	s.tokens++
	tok := s.sign(claims{
		Sub: s.opts.Username, Role: "ADMIN", Iss: "airflow", Aud: "apache-airflow",
		Nbf: now.Unix(), Iat: now.Unix(), Exp: now.Add(s.opts.TokenTTL).Unix(), JTI: strconv.Itoa(s.tokens),
	})
	return jsonResponse(http.StatusCreated, map[string]any{"access_token": tok})
}

func orEmpty(b []byte) []byte {
	if !json.Valid(b) {
		return []byte("{}")
	}
	return b
}

// Run advances the world every tick until ctx is done, so runs progress
// even when nobody asks (requests advance it too). The demo runs it in a
// goroutine.
func (s *Server) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Advance()
		}
	}
}
