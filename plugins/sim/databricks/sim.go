package databrickssim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configures a simulated workspace. Every field is optional.
type Options struct {
	// Token is the personal access token the workspace accepts
	// ("Authorization: Bearer <Token>"). Empty: no PAT is accepted.
	Token string
	// ClientID and ClientSecret are the service principal's OAuth
	// credentials accepted by POST /oidc/v1/token. Empty: OAuth is refused.
	ClientID, ClientSecret string
	// TokenTTL is the lifetime of OAuth access tokens (default 1 h, as the
	// vendor's).
	TokenTTL time.Duration
	// Now is the clock (default time.Now). Runs are generated, progress and
	// tokens expire on this clock only, so a test controls everything with
	// a ManualClock.
	Now func() time.Time
	// Seed makes the scenario generator reproducible (default 1).
	Seed uint64
	// WorkspaceID is the numeric workspace id shown in run URLs (?o=) and
	// webhook payloads (default the fixtures' 6051921418418893).
	WorkspaceID string
	// ConsoleURL is the base of run_page_url for runs the simulator
	// creates. Empty: the scheme and host the request was sent to, so links
	// point back at the simulator, which answers "/" with a small page.
	ConsoleURL string
	// Fixtures loads the reference scenario (jobs-list, runs-list pages,
	// runs-get-failed) into the world and answers the exact requests the
	// reference pairs with each fixture file with that file, byte for byte.
	Fixtures bool
	// OnNotification, when set, receives the body of every job
	// notification webhook (jobs.on_start, on_success, on_failure,
	// on_duration_warning_threshold_exceeded) the workspace would POST to
	// a system destination, for jobs whose settings ask for one. It is
	// called without locks held but synchronously, from whichever call
	// advanced the world (a request, Tick, Run): a receiver that does I/O
	// (POSTing to PUOD's webhook endpoint) should hand off to a goroutine.
	OnNotification func(body []byte)
}

// Workspace is a simulated Databricks workspace. It is an http.Handler;
// all its methods are safe for concurrent use.
type Workspace struct {
	opts Options

	mu       sync.Mutex
	jobs     []*simJob
	jobsByID map[int64]*simJob
	runs     map[int64]*simRun
	taskRuns map[int64]*simRun // task run id -> its job run
	scenario *scenarioState
	manual   int64

	tokens         map[string]time.Time // OAuth token -> expiry
	tokensIssued   int
	fixtureToken   bool // the fixture's token was handed out already
	faults         []*Fault
	overlap        int
	requests       []Request
	pendingNotices [][]byte
}

// Request is one request the workspace answered, for assertions.
type Request struct {
	Method string
	Path   string
	// Query is the raw query string.
	Query  string
	Status int
	// Auth says how the request authenticated: "pat", "oauth", "" (none
	// or refused).
	Auth string
}

// New returns a workspace with no jobs and no runs (except the
// fixtures' when Options.Fixtures is set).
func New(opts Options) *Workspace {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.WorkspaceID == "" {
		opts.WorkspaceID = "6051921418418893"
	}
	w := &Workspace{
		opts:     opts,
		jobsByID: map[int64]*simJob{},
		runs:     map[int64]*simRun{},
		taskRuns: map[int64]*simRun{},
		tokens:   map[string]time.Time{},
	}
	if opts.Fixtures {
		if err := w.loadFixtures(); err != nil {
			// The fixtures are embedded: failing to read them is a bug.
			panic(fmt.Sprintf("databrickssim: load embedded fixtures: %v", err))
		}
	}
	return w
}

// Now is the workspace's clock.
func (w *Workspace) Now() time.Time { return w.opts.Now() }

// Requests returns the requests answered so far, oldest first.
func (w *Workspace) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.requests...)
}

// CountRequests counts answered requests whose path ends with suffix
// ("runs/list", "oidc/v1/token"; "" counts all).
func (w *Workspace) CountRequests(suffix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.requests {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// TokensIssued is the number of OAuth access tokens handed out.
func (w *Workspace) TokensIssued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tokensIssued
}

// ServeHTTP answers one request as a Databricks workspace does.
func (w *Workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	now := w.opts.Now()
	w.advance(now)
	rec := &recorder{ResponseWriter: rw}
	auth := w.serve(rec, r, now)
	w.requests = append(w.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status, Auth: auth})
	notices := w.takeNotices()
	w.mu.Unlock()
	w.deliver(notices)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// serve routes a request; it runs with w.mu held.
func (w *Workspace) serve(rw http.ResponseWriter, r *http.Request, now time.Time) (auth string) {
	path := r.URL.Path
	switch {
	case path == "/oidc/v1/token":
		if answered, _ := w.applyFaults(rw, path, now); answered {
			return ""
		}
		w.serveToken(rw, r, now)
		return ""
	case path == "/oidc/.well-known/oauth-authorization-server":
		w.serveDiscovery(rw, r)
		return ""
	case path == "/" || path == "":
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, "<!doctype html><title>Databricks (simulated)</title><p>Simulated Databricks workspace %s. Open runs through the Jobs API.</p>", w.opts.WorkspaceID)
		return ""
	}
	endpoint, version, ok := apiEndpoint(path)
	if !ok {
		writeError(rw, http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, path))
		return ""
	}
	answered, malformed := w.applyFaults(rw, path, now)
	if answered {
		return ""
	}
	auth, ok = w.authenticate(rw, r, now)
	if !ok {
		return ""
	}
	if w.serveFixture(rw, r) {
		return auth
	}
	var out any
	status, errCode, errMsg := http.StatusOK, "", ""
	switch {
	case endpoint == "scim/Me" && r.Method == http.MethodGet:
		out = w.me(auth)
	case r.Method != http.MethodGet:
		status, errCode, errMsg = http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, path)
	case endpoint == "jobs/list":
		out, status, errCode, errMsg = w.listJobs(r.URL.Query())
	case endpoint == "jobs/get":
		out, status, errCode, errMsg = w.getJob(r.URL.Query())
	case endpoint == "jobs/runs/list":
		out, status, errCode, errMsg = w.listRuns(r.URL.Query(), consoleBase(w.opts.ConsoleURL, r))
	case endpoint == "jobs/runs/get":
		out, status, errCode, errMsg = w.getRun(r.URL.Query(), version, consoleBase(w.opts.ConsoleURL, r))
	case endpoint == "jobs/runs/get-output":
		out, status, errCode, errMsg = w.getRunOutput(r.URL.Query(), consoleBase(w.opts.ConsoleURL, r))
	default:
		status, errCode, errMsg = http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, path)
	}
	if errCode != "" {
		writeError(rw, status, errCode, errMsg)
		return auth
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(rw, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
		return auth
	}
	if malformed {
		// A gateway cut the answer short: valid start, broken end.
		body = body[:len(body)*2/3]
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(body)
	return auth
}

// apiEndpoint maps a path to its endpoint name and API version.
func apiEndpoint(path string) (endpoint, version string, ok bool) {
	if path == "/api/2.0/preview/scim/v2/Me" {
		return "scim/Me", "2.0", true
	}
	for _, v := range []string{"2.1", "2.2"} {
		prefix := "/api/" + v + "/"
		if rest, found := strings.CutPrefix(path, prefix); found {
			switch rest {
			case "jobs/list", "jobs/get", "jobs/runs/list", "jobs/runs/get", "jobs/runs/get-output":
				return rest, v, true
			}
			return "", "", false
		}
	}
	return "", "", false
}

func consoleBase(configured string, r *http.Request) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// authenticate checks the bearer token as the workspace does: a known PAT
// or an unexpired OAuth token it issued. It writes the 401 itself.
func (w *Workspace) authenticate(rw http.ResponseWriter, r *http.Request, now time.Time) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(h, "Bearer ")
	if h == "" || !isBearer || tok == "" {
		writeError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
		return "", false
	}
	if w.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(w.opts.Token)) == 1 {
		return "pat", true
	}
	if exp, ok := w.tokens[tok]; ok {
		if now.Before(exp) {
			return "oauth", true
		}
		writeError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Token expired. Request a new access token from the token endpoint.")
		return "", false
	}
	writeError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
	return "", false
}

// serveToken is POST /oidc/v1/token: the client-credentials grant with
// the client id and secret in a Basic header (or, as the vendor also
// accepts, in the form).
func (w *Workspace) serveToken(rw http.ResponseWriter, r *http.Request, now time.Time) {
	oauthErr := func(status int, code, desc string) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_ = json.NewEncoder(rw).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if w.opts.ClientID == "" || id != w.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(w.opts.ClientSecret)) != 1 {
		oauthErr(http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Grant type %q is not supported.", gt))
		return
	}
	if scope := r.PostForm.Get("scope"); scope != "all-apis" {
		oauthErr(http.StatusBadRequest, "invalid_scope", fmt.Sprintf("The requested scope %q is invalid: use all-apis.", scope))
		return
	}
	w.tokensIssued++
	if w.opts.Fixtures && !w.fixtureToken && w.opts.TokenTTL == time.Hour {
		body, err := Fixture("oauth-token.json")
		if err == nil {
			var t struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(body, &t) == nil && t.AccessToken != "" {
				w.fixtureToken = true
				w.tokens[t.AccessToken] = now.Add(w.opts.TokenTTL)
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write(body)
				return
			}
		}
	}
	tok := w.newAccessToken(now)
	w.tokens[tok] = now.Add(w.opts.TokenTTL)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{
		"access_token": tok,
		"scope":        "all-apis",
		"token_type":   "Bearer",
		"expires_in":   int64(w.opts.TokenTTL / time.Second),
	})
}

// newAccessToken mints a JWT-shaped token (not signed: nobody verifies it
// but the simulator, which remembers it).
func (w *Workspace) newAccessToken(now time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"kid":"sim","typ":"at+jwt","alg":"RS256"}`))
	payload, _ := json.Marshal(map[string]any{
		"client_id": w.opts.ClientID,
		"scope":     "all-apis",
		"exp":       now.Add(w.opts.TokenTTL).Unix(),
		"jti":       w.tokensIssued,
	})
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d", w.opts.ClientID, w.tokensIssued, now.UnixNano())))
	return header + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sum[:])
}

func (w *Workspace) serveDiscovery(rw http.ResponseWriter, r *http.Request) {
	base := consoleBase(w.opts.ConsoleURL, r)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{
		"issuer":                                base + "/oidc",
		"authorization_endpoint":                base + "/oidc/v1/authorize",
		"token_endpoint":                        base + "/oidc/v1/token",
		"grant_types_supported":                 []string{"client_credentials", "authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"all-apis", "offline_access"},
	})
}

// me answers the SCIM "current user" endpoint, the cheapest call that
// says who a credential is.
func (w *Workspace) me(auth string) any {
	if auth == "oauth" {
		return map[string]any{
			"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"},
			"id":          "7412093385510263",
			"userName":    w.opts.ClientID,
			"displayName": "puod-observer",
			"active":      true,
		}
	}
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"id":          "5521907734418826",
		"userName":    "ana.souza@dados.test",
		"displayName": "Ana Souza",
		"active":      true,
	}
}

// ExpireTokens makes every OAuth access token issued so far expire now,
// as if their hour were up: the next request with one answers 401.
func (w *Workspace) ExpireTokens() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expireTokens(w.opts.Now())
}

func (w *Workspace) expireTokens(now time.Time) {
	for t := range w.tokens {
		w.tokens[t] = now
	}
}

func writeError(rw http.ResponseWriter, status int, code, message string) {
	sum := sha256.Sum256([]byte(code + message))
	reqID := hex.EncodeToString(sum[:16])
	reqID = reqID[:8] + "-" + reqID[8:12] + "-" + reqID[12:16] + "-" + reqID[16:20] + "-" + reqID[20:32]
	body := errorJSON{ErrorCode: code, Message: message}
	detail, _ := json.Marshal(map[string]string{
		"@type":        "type.googleapis.com/google.rpc.RequestInfo",
		"request_id":   reqID,
		"serving_data": "",
	})
	body.Details = []json.RawMessage{detail}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(body)
}

// queryEqual reports whether q holds exactly the given parameters.
func queryEqual(q url.Values, want map[string]string) bool {
	if len(q) != len(want) {
		return false
	}
	for k, v := range want {
		if vs, ok := q[k]; !ok || len(vs) != 1 || vs[0] != v {
			return false
		}
	}
	return true
}

// ConnectorConfig returns a puod.databricks source configuration pointing
// at the workspace served at baseURL, and its secrets: the personal access
// token when Options.Token is set, else the OAuth client credentials.
func (w *Workspace) ConnectorConfig(baseURL string) (config json.RawMessage, secrets map[string]string) {
	cfg := map[string]any{"workspace_url": baseURL}
	if w.opts.Token != "" {
		secrets = map[string]string{"token": w.opts.Token}
	} else {
		cfg["client_id"] = w.opts.ClientID
		secrets = map[string]string{"client_secret": w.opts.ClientSecret}
	}
	config, _ = json.Marshal(cfg)
	return config, secrets
}

// ResetRequests forgets the requests recorded so far.
func (w *Workspace) ResetRequests() {
	w.mu.Lock()
	w.requests = nil
	w.mu.Unlock()
}
