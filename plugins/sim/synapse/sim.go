package synapsesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the only api-version the simulator (and PUOD) speaks.
const APIVersion = "2020-12-01"

// Scope is the token scope the data plane requires.
const Scope = "https://dev.azuresynapse.net/.default"

// FixtureNow is the simulator's clock in fixture mode unless Options.Now
// says otherwise: 05:20:30 on the doc's scenario day, so a connector's
// window ends at 05:20:00 like the fixture request.
var FixtureNow = time.Date(2026, 11, 17, 5, 20, 30, 0, time.UTC)

// Options configure a simulator. The zero value is a demo workspace with
// the default scenario, on the real clock.
type Options struct {
	// Workspace is the workspace name (default "syn-puod-prod"); with
	// SubscriptionID and ResourceGroup it makes the resource ids.
	Workspace      string
	SubscriptionID string
	ResourceGroup  string
	// TenantID, ClientID and ClientSecret are the service principal the
	// token endpoint accepts (defaults: fixed fake values, see
	// Credentials).
	TenantID, ClientID, ClientSecret string
	// Now is the clock (default time.Now; FixtureNow in fixture mode).
	// Use a ManualClock to drive the world from a test.
	Now func() time.Time
	// Seed makes the scenario reproducible (default 1).
	Seed uint64
	// Scenario lists the pipelines (default DefaultScenario). NoScenario
	// starts with an empty workspace.
	Scenario   []PipelineSpec
	NoScenario bool
	// History is how far back the scenario's runs go when the simulator
	// first serves (default 24h).
	History time.Duration
	// Fixtures loads the doc's scenario from the fixture files instead of
	// generating one, and answers the requests the doc pairs with a
	// fixture with that file, byte for byte.
	Fixtures bool
	// PageSize is the number of runs per page of run queries (default
	// 100, like the service); PipelinesPageSize the number of pipelines
	// per page of GET /pipelines (default 50).
	PageSize, PipelinesPageSize int
	// TokenTTL is the lifetime of issued tokens (default 3599 s).
	TokenTTL time.Duration
	// Retention is how long runs stay queryable (default 45 days).
	Retention time.Duration
}

// Server is the simulator: an http.Handler plus the methods a test or the
// demo uses to drive the world and inject faults. Safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	world    *world
	rng      *rand.Rand
	tokens   map[string]time.Time
	faults   faults
	requests []Request
	// started: the scenario's history has been generated.
	started bool
}

// Request is one request the simulator answered, for tests to inspect.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Status int
	// Token is the bearer token presented (data plane) or issued (token
	// endpoint).
	Token string
}

type faults struct {
	failN          int
	failStatus     int
	failRetryAfter time.Duration
	malformN       int
	overlapPages   int
	overlapItems   int
}

// New returns a simulator.
func New(opts Options) *Server {
	if opts.Workspace == "" {
		opts.Workspace = "syn-puod-prod"
	}
	if opts.SubscriptionID == "" {
		opts.SubscriptionID = "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"
	}
	if opts.ResourceGroup == "" {
		opts.ResourceGroup = "rg-dados-prod"
	}
	if opts.TenantID == "" {
		opts.TenantID = "5e0c7a12-3b4d-4f68-9a1e-2c3d4e5f6a7b"
	}
	if opts.ClientID == "" {
		opts.ClientID = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim~Xq8Q~synapse-demo-secret-0f9e8d7c"
	}
	if opts.Now == nil {
		if opts.Fixtures {
			opts.Now = func() time.Time { return FixtureNow }
		} else {
			opts.Now = time.Now
		}
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Scenario == nil && !opts.NoScenario && !opts.Fixtures {
		opts.Scenario = DefaultScenario()
	}
	if opts.History <= 0 {
		opts.History = 24 * time.Hour
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.PipelinesPageSize <= 0 {
		opts.PipelinesPageSize = 50
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 3599 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 45 * 24 * time.Hour
	}
	s := &Server{
		opts: opts, world: newWorld(), tokens: map[string]time.Time{},
		rng: rand.New(rand.NewPCG(opts.Seed, 0x5a5a)),
	}
	for i := range opts.Scenario {
		s.world.addPipeline(s.definition(&opts.Scenario[i]))
	}
	if opts.Fixtures {
		if err := s.loadFixtures(); err != nil {
			panic("synapsesim: embedded fixtures are broken: " + err.Error())
		}
	}
	return s
}

// Credentials returns the service principal the simulator accepts.
func (s *Server) Credentials() (tenantID, clientID, clientSecret string) {
	return s.opts.TenantID, s.opts.ClientID, s.opts.ClientSecret
}

// Workspace returns the workspace name.
func (s *Server) Workspace() string { return s.opts.Workspace }

// WorkspaceResourceID is the workspace's Azure resource id.
func (s *Server) WorkspaceResourceID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Synapse/workspaces/%s", s.opts.SubscriptionID, s.opts.ResourceGroup, s.opts.Workspace)
}

// TokenURL is the token endpoint of a simulator served at baseURL.
func (s *Server) TokenURL(baseURL string) string {
	return strings.TrimRight(baseURL, "/") + "/" + s.opts.TenantID + "/oauth2/v2.0/token"
}

// SourceConfig is the configuration (and secrets) of a puod.synapse
// source pointed at a simulator served at baseURL: the workspace URL and
// the token URL are both the simulator's.
func (s *Server) SourceConfig(baseURL string) (config json.RawMessage, secrets map[string]string) {
	cfg := map[string]any{
		"workspace_url": strings.TrimRight(baseURL, "/"),
		"tenant_id":     s.opts.TenantID,
		"client_id":     s.opts.ClientID,
		"token_url":     s.TokenURL(baseURL),
	}
	b, _ := json.Marshal(cfg)
	return b, map[string]string{"client_secret": s.opts.ClientSecret}
}

// Now is the simulator's clock.
func (s *Server) Now() time.Time { return s.opts.Now().UTC() }

// advance generates the scheduled runs the clock has reached. Call with
// s.mu held.
func (s *Server) advance(now time.Time) {
	if !s.started {
		s.started = true
		from := now.Add(-s.opts.History)
		for _, p := range s.world.pipelines {
			if p.spec != nil && p.generatedUntil.IsZero() {
				p.generatedUntil = from
			}
		}
	}
	for _, p := range s.world.pipelines {
		if p.spec == nil || !now.After(p.generatedUntil) {
			continue
		}
		for _, slot := range p.spec.slots(p.generatedUntil, now) {
			s.generate(p.spec, slot)
		}
		p.generatedUntil = now
	}
	s.world.prune(now, s.opts.Retention)
}

// --- HTTP ---

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	token := ""
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Status: rec.status, Token: token})
		s.mu.Unlock()
	}()
	rec.Header().Set("x-ms-request-id", s.newID())
	rec.Header().Set("x-ms-correlation-request-id", s.newID())

	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		token = s.handleToken(rec, r, body)
		return
	}
	s.mu.Lock()
	now := s.Now()
	s.advance(now)
	fault := s.takeFault()
	s.mu.Unlock()
	if fault != nil {
		fault(rec)
		return
	}
	if v := r.URL.Query().Get("api-version"); v == "" {
		writeError(rec, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.", "")
		return
	} else if v != APIVersion {
		writeError(rec, http.StatusBadRequest, "InvalidApiVersionParameter", fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s'.", v, APIVersion), "")
		return
	}
	var ok bool
	if token, ok = s.checkBearer(rec, r, now); !ok {
		return
	}
	s.route(rec, r, body, now)
}

// takeFault returns the injected answer for this request, if any. Call
// with s.mu held.
func (s *Server) takeFault() func(http.ResponseWriter) {
	f := &s.faults
	if f.failN <= 0 {
		return nil
	}
	f.failN--
	status, after := f.failStatus, f.failRetryAfter
	return func(w http.ResponseWriter) {
		if after > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
		}
		switch status {
		case http.StatusTooManyRequests:
			writeError(w, status, "TooManyRequests", fmt.Sprintf("The request was throttled. Retry after %d seconds.", int(after/time.Second)), "")
		case http.StatusServiceUnavailable:
			writeError(w, status, "ServiceUnavailable", "The service is temporarily unavailable. Please retry the request later.", "")
		default:
			writeError(w, status, "InternalServerError", "An internal error occurred. Please retry the request later.", "")
		}
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte, now time.Time) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 1 && strings.EqualFold(parts[0], "queryPipelineRuns"):
		s.handleQueryPipelineRuns(w, body, now)
	case r.Method == http.MethodPost && len(parts) == 1 && strings.EqualFold(parts[0], "queryTriggerRuns"):
		s.handleQueryTriggerRuns(w, body, now)
	case r.Method == http.MethodGet && len(parts) == 2 && strings.EqualFold(parts[0], "pipelineruns"):
		s.handleGetRun(w, parts[1], now)
	case r.Method == http.MethodPost && len(parts) == 3 && strings.EqualFold(parts[0], "pipelineruns") && strings.EqualFold(parts[2], "cancel"):
		s.handleCancel(w, parts[1], now)
	case r.Method == http.MethodPost && len(parts) == 5 && strings.EqualFold(parts[0], "pipelines") && strings.EqualFold(parts[2], "pipelineruns") && strings.EqualFold(parts[4], "queryActivityruns"):
		s.handleQueryActivityRuns(w, parts[1], parts[3], body, now)
	case r.Method == http.MethodGet && len(parts) == 1 && strings.EqualFold(parts[0], "pipelines"):
		s.handleListPipelines(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && strings.EqualFold(parts[0], "pipelines"):
		s.handleGetPipeline(w, parts[1])
	default:
		writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("The requested resource '%s %s' does not exist.", r.Method, r.URL.Path), "")
	}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// writeError answers the data plane's error shape.
func writeError(w http.ResponseWriter, status int, code, message, target string) {
	e := map[string]any{"code": code, "message": message}
	if target != "" {
		e["target"] = target
		e["details"] = []any{}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"encoding failed"}}`)
	}
	writeBytes(w, status, b)
}

func writeBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) newID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newGUID(s.rng)
}

// --- handlers ---

func (s *Server) handleGetRun(w http.ResponseWriter, id string, now time.Time) {
	if b, ok := s.fixtureRunGet(id); ok {
		writeBytes(w, http.StatusOK, b)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.world.byID[id]
	if !ok {
		writeError(w, http.StatusNotFound, "PipelineRunNotFound", fmt.Sprintf("Pipeline run '%s' does not exist in workspace '%s'.", id, s.opts.Workspace), "")
		return
	}
	if _, visible := r.current(now); !visible {
		writeError(w, http.StatusNotFound, "PipelineRunNotFound", fmt.Sprintf("Pipeline run '%s' does not exist in workspace '%s'.", id, s.opts.Workspace), "")
		return
	}
	writeJSON(w, http.StatusOK, s.world.view(r, now))
}

func (s *Server) handleCancel(w http.ResponseWriter, id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.world.byID[id]
	cur, visible := event{}, false
	if ok {
		cur, visible = r.current(now)
	}
	switch {
	case !visible:
		writeError(w, http.StatusNotFound, "PipelineRunNotFound", fmt.Sprintf("Pipeline run '%s' does not exist in workspace '%s'.", id, s.opts.Workspace), "")
	case terminal(cur.status):
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Pipeline run '%s' is already %s and cannot be cancelled.", id, strings.ToLower(cur.status)), "runId")
	default:
		s.cancelLocked(r, now)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) handleListPipelines(w http.ResponseWriter, r *http.Request) {
	skip := 0
	if tok := r.URL.Query().Get("$skipToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "The skip token is invalid.", "$skipToken")
			return
		}
		skip = n
	} else if b, ok := s.fixtureFile("pipelines-list.json"); ok {
		writeBytes(w, http.StatusOK, b)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.world.pipelines
	var page struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"nextLink,omitempty"`
	}
	page.Value = []json.RawMessage{}
	for i := skip; i < len(ps) && i < skip+s.opts.PipelinesPageSize; i++ {
		page.Value = append(page.Value, ps[i].json())
	}
	if skip+s.opts.PipelinesPageSize < len(ps) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		q := url.Values{"api-version": {APIVersion}, "$skipToken": {strconv.Itoa(skip + s.opts.PipelinesPageSize)}}
		page.NextLink = scheme + "://" + r.Host + "/pipelines?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetPipeline(w http.ResponseWriter, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.world.byName[name]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The pipeline '%s' was not found in workspace '%s'.", name, s.opts.Workspace), "")
		return
	}
	writeBytes(w, http.StatusOK, p.json())
}

func (p *pipeline) json() json.RawMessage {
	if p.raw != nil {
		return p.raw
	}
	b, _ := json.Marshal(p.res)
	return b
}

// definition turns a scenario pipeline into a pipeline resource.
func (s *Server) definition(spec *PipelineSpec) *pipeline {
	res := PipelineResource{
		ID:   s.WorkspaceResourceID() + "/pipelines/" + spec.Name,
		Name: spec.Name, Type: "Microsoft.Synapse/workspaces/pipelines",
		Properties: PipelineProperties{Description: spec.Description, Parameters: spec.ParameterSpecs, Annotations: spec.Annotations},
	}
	if res.Properties.Annotations == nil {
		res.Properties.Annotations = []string{}
	}
	if spec.Folder != "" {
		res.Properties.Folder = &Folder{Name: spec.Folder}
	}
	for i, a := range spec.Activities {
		d := ActivityDefinition{Name: a.Name, Type: a.Type, DependsOn: []Dependency{}}
		if i > 0 {
			d.DependsOn = []Dependency{{Activity: spec.Activities[i-1].Name, DependencyConditions: []string{"Succeeded"}}}
		}
		if a.Timeout != "" || a.Retry > 0 {
			d.Policy = &Policy{Timeout: a.Timeout, Retry: a.Retry}
		}
		res.Properties.Activities = append(res.Properties.Activities, d)
	}
	h := newRNG(s.opts.Seed, spec.Name, time.Time{})
	res.Etag = fmt.Sprintf("%s-0000-0b00-0000-%s0000", hexID(h, 8), hexID(h, 8))
	return &pipeline{res: res, spec: spec}
}

// --- driving the world ---

// RunSpec describes a run started by hand.
type RunSpec struct {
	// Pipeline names the pipeline; it is created (without schedule) when
	// unknown. Ignored with RecoveryOf.
	Pipeline string
	// RecoveryOf makes the run a recovery re-run of that run: same
	// pipeline, parameters and runGroupId; the original's isLatest turns
	// false.
	RecoveryOf string
	Parameters map[string]string
	// Status is the initial status (default InProgress).
	Status string
	// Duration, when set, ends the run by itself that long after it
	// starts, with FinalStatus (default Succeeded) and Message.
	Duration    time.Duration
	FinalStatus string
	Message     string
}

// StartRun starts a run now, invoked manually, and returns its runId. It
// gets one activity run (the pipeline's first activity) that ends with it.
func (s *Server) StartRun(spec RunSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r := &run{id: newGUID(s.rng), pipeline: spec.Pipeline, params: spec.Parameters, start: now}
	r.invokedBy = InvokedBy{Name: "Manual", ID: hexID(s.rng, 32), InvokedByType: "Manual"}
	if spec.RecoveryOf != "" {
		orig, ok := s.world.byID[spec.RecoveryOf]
		if !ok {
			return "", fmt.Errorf("synapsesim: no run %q to recover", spec.RecoveryOf)
		}
		r.pipeline, r.groupID, r.params, r.annotations = orig.pipeline, orig.groupID, orig.params, orig.annotations
	}
	if r.pipeline == "" {
		return "", errors.New("synapsesim: RunSpec needs a Pipeline or RecoveryOf")
	}
	p, ok := s.world.byName[r.pipeline]
	if !ok {
		p = s.definition(&PipelineSpec{Name: r.pipeline, Activities: []ActivitySpec{{Name: "Run_" + r.pipeline, Type: "ExecutePipeline"}}})
		p.spec = nil
		s.world.addPipeline(p)
	}
	if r.annotations == nil {
		r.annotations = p.res.Properties.Annotations
	}
	status := spec.Status
	if status == "" {
		status = StatusInProgress
	}
	r.events = []event{{at: now, status: status, forced: true}}
	name, typ := "Run_"+r.pipeline, "ExecutePipeline"
	if acts := p.res.Properties.Activities; len(acts) > 0 {
		name, typ = acts[0].Name, acts[0].Type
	}
	act := &activity{id: newGUID(s.rng), name: name, typ: typ, start: now, forced: true}
	r.activities = []*activity{act}
	if spec.Duration > 0 {
		final := spec.FinalStatus
		if final == "" {
			final = StatusSucceeded
		}
		end := now.Add(spec.Duration)
		r.events = append(r.events, event{at: end, status: final, message: spec.Message})
		s.endActivities(r, end, final, spec.Message)
	}
	s.world.addRun(r)
	return r.id, nil
}

// SetStatus changes a run's status now, to any value (unknown ones too),
// dropping whatever its timeline had planned after now. Its lastUpdated
// becomes now (or just after its previous change).
func (s *Server) SetStatus(runID, status, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r, ok := s.world.byID[runID]
	if !ok {
		return fmt.Errorf("synapsesim: no run %q", runID)
	}
	s.setStatusLocked(r, now, status, message)
	return nil
}

func (s *Server) setStatusLocked(r *run, now time.Time, status, message string) time.Time {
	keep := r.events[:0]
	for _, e := range r.events {
		if e.visible(now) {
			keep = append(keep, e)
		}
	}
	r.events = keep
	at := now
	if n := len(r.events); n > 0 && !r.events[n-1].at.Before(at) {
		at = r.events[n-1].at.Add(time.Microsecond)
	}
	r.events = append(r.events, event{at: at, status: status, message: message, forced: true})
	// Activities planned after now are dropped too.
	acts := r.activities[:0]
	for _, a := range r.activities {
		if a.visible(now) {
			if !a.ended(now) && !a.end.IsZero() {
				a.end = time.Time{}
			}
			acts = append(acts, a)
		}
	}
	r.activities = acts
	return at
}

// FinishRun ends a run now with a terminal status (Succeeded, Failed or
// Cancelled) and, for failures, a message ("Operation on target ...").
// Its running activities end with it.
func (s *Server) FinishRun(runID, status, message string) error {
	if !terminal(status) {
		return fmt.Errorf("synapsesim: %q is not a terminal status (Succeeded, Failed, Cancelled)", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r, ok := s.world.byID[runID]
	if !ok {
		return fmt.Errorf("synapsesim: no run %q", runID)
	}
	at := s.setStatusLocked(r, now, status, message)
	s.endActivities(r, at, status, message)
	return nil
}

// CancelRun cancels a run as POST /pipelineruns/{id}/cancel does: it is
// Canceling now and Cancelled three seconds later.
func (s *Server) CancelRun(runID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r, ok := s.world.byID[runID]
	if !ok {
		return fmt.Errorf("synapsesim: no run %q", runID)
	}
	s.cancelLocked(r, now)
	return nil
}

func (s *Server) cancelLocked(r *run, now time.Time) {
	at := s.setStatusLocked(r, now, StatusCanceling, "")
	end := at.Add(3 * time.Second)
	r.events = append(r.events, event{at: end, status: StatusCancelled})
	s.endActivities(r, end, StatusCancelled, "")
}

func (s *Server) endActivities(r *run, at time.Time, status, message string) {
	for _, a := range r.activities {
		if !a.end.IsZero() {
			continue
		}
		a.end, a.status = at, status
		if status == StatusFailed {
			msg := strings.TrimPrefix(message, "Operation on target "+a.name+" failed: ")
			a.err = ActivityError{ErrorCode: "2200", Message: msg, FailureType: "UserError", Target: a.name}
		}
	}
}

// AddPipeline adds (or replaces) a pipeline. With a Trigger and Every its
// scheduled runs start from now on.
func (s *Server) AddPipeline(spec PipelineSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.definition(&spec)
	if spec.Trigger == "" || spec.Every <= 0 {
		p.spec = nil
	}
	if s.started {
		p.generatedUntil = s.Now()
	}
	s.world.addPipeline(p)
}

// Run returns a run as the API shows it now.
func (s *Server) Run(runID string) (PipelineRun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r, ok := s.world.byID[runID]
	if !ok {
		return PipelineRun{}, false
	}
	if _, visible := r.current(now); !visible {
		return PipelineRun{}, false
	}
	return s.world.view(r, now), true
}

// Runs returns every run the API shows now, oldest first.
func (s *Server) Runs() []PipelineRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	var out []PipelineRun
	for _, r := range s.world.runs {
		if _, ok := r.current(now); ok {
			out = append(out, s.world.view(r, now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RunStart < out[j].RunStart })
	return out
}

// ActivityRuns returns the activity runs of a run as the API shows them
// now.
func (s *Server) ActivityRuns(runID string) []ActivityRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	s.advance(now)
	r, ok := s.world.byID[runID]
	if !ok {
		return nil
	}
	var out []ActivityRun
	for _, a := range r.activities {
		if a.visible(now) {
			out = append(out, a.view(r, now))
		}
	}
	return out
}

// --- fault injection ---

// FailNext makes the next n data-plane requests answer status (429 or
// 503; others answer 500) with a Retry-After of retryAfter when positive.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failN, s.faults.failStatus, s.faults.failRetryAfter = n, status, retryAfter
}

// ExpireTokens expires every access token issued so far: the next
// data-plane request with one answers 401, as when a token's lifetime
// ends mid-sync.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.Now().Add(-time.Second)
	for t := range s.tokens {
		s.tokens[t] = past
	}
}

// IssueToken mints a valid access token directly, for sources configured
// with a static access token.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked()
}

// MalformNext makes the next n successful answers to run queries
// (queryPipelineRuns) truncated JSON, as a broken proxy would.
func (s *Server) MalformNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.malformN = n
}

// OverlapNextPages makes the next `pages` continuation pages of run
// queries start `items` runs early, repeating the end of the page before.
func (s *Server) OverlapNextPages(pages, items int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.overlapPages, s.faults.overlapItems = pages, items
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// CountRequests counts the recorded requests whose path ends with suffix
// (any method), e.g. "/queryPipelineRuns" or "/oauth2/v2.0/token".
func (s *Server) CountRequests(suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// malformed truncates a JSON answer in the middle.
func malformed(b []byte) []byte {
	b = bytes.TrimSpace(b)
	return append([]byte(nil), b[:len(b)/2]...)
}
