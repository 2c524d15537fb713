package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	databrickssim "github.com/puod/puod/plugins/sim/databricks"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

const (
	testPAT      = "dapi-test-4f1c9a7e2b6d8035c1e0"
	testClientID = "5f0c2e1a-7d4b-4e8f-9a3c-1b6d8e2f4a70"
	testSecret   = "dose-test-9b2e71c4a05f3d68"
)

// scenarioNow is a moment of the default scenario with runs in progress.
var scenarioNow = time.Date(2026, 11, 17, 12, 17, 0, 0, time.UTC)

// fixtureNow is shortly after the reference scenario's last run started.
var fixtureNow = time.Date(2026, 11, 17, 5, 20, 0, 0, time.UTC)

// sim is a simulated workspace served over HTTP, with its clock.
type sim struct {
	ws    *databrickssim.Workspace
	srv   *httptest.Server
	clock *databrickssim.ManualClock
	// sleeps records the waits httpx asked for (never slept).
	mu     sync.Mutex
	sleeps []time.Duration
}

type simOpts struct {
	at       time.Time
	fixtures bool
	scenario bool
	history  time.Duration
}

func newSim(t testing.TB, o simOpts) *sim {
	t.Helper()
	if o.at.IsZero() {
		o.at = scenarioNow
	}
	s := &sim{clock: databrickssim.NewManualClock(o.at)}
	s.ws = databrickssim.New(databrickssim.Options{
		Token: testPAT, ClientID: testClientID, ClientSecret: testSecret,
		Now: s.clock.Now, Fixtures: o.fixtures,
	})
	if o.scenario {
		if o.history == 0 {
			o.history = 24 * time.Hour
		}
		s.ws.StartScenario(databrickssim.Scenario{History: o.history})
	}
	s.srv = httptest.NewServer(s.ws)
	t.Cleanup(s.srv.Close)
	return s
}

// deps are the test dependencies: the simulator's clock, and a sleep that
// records instead of waiting.
func (s *sim) deps() deps {
	return deps{
		now: s.clock.Now,
		sleep: func(ctx context.Context, d time.Duration) error {
			s.mu.Lock()
			s.sleeps = append(s.sleeps, d)
			s.mu.Unlock()
			return ctx.Err()
		},
	}
}

func (s *sim) waited() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.sleeps...)
}

// config returns a configuration for this workspace: PAT unless oauth,
// plus extra settings.
func (s *sim) config(oauth bool, extra map[string]any) (json.RawMessage, map[string]string) {
	cfg := map[string]any{"workspace_url": s.srv.URL, "max_requests_per_second": 1000}
	secrets := map[string]string{"token": testPAT}
	if oauth {
		cfg["client_id"] = testClientID
		secrets = map[string]string{"client_secret": testSecret}
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	return b, secrets
}

// serve runs the plugin in-process over gRPC and configures one instance.
func (s *sim) serve(t testing.TB, oauth bool, extra map[string]any) *plugintest.Instance {
	t.Helper()
	c := plugintest.Serve(t, newPlugin(s.deps()))
	cfg, secrets := s.config(oauth, extra)
	return plugintest.Configure(t, c, sdk.InstanceConfig{ID: "dbx", Revision: 1, Config: cfg, Secrets: secrets})
}

// direct builds an instance without the wire, for checks of the plugin's
// own behaviour (logs, internals).
func (s *sim) direct(t testing.TB, oauth bool, extra map[string]any, env sdk.Env) *connector {
	t.Helper()
	cfg, secrets := s.config(oauth, extra)
	var c Config
	var m map[string]any
	_ = json.Unmarshal(cfg, &m)
	for k, v := range secrets {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	inst, err := s.deps().newConnector(context.Background(), c, env)
	if err != nil {
		t.Fatal(err)
	}
	return inst.(*connector)
}

// directWith builds an instance in-process with the given secrets (OAuth
// when they hold a client_secret).
func (s *sim) directWith(t testing.TB, secrets map[string]string) *connector {
	t.Helper()
	c := Config{WorkspaceURL: s.srv.URL, MaxRequestsPerSecond: 1000, Token: secrets["token"], ClientSecret: secrets["client_secret"]}
	if c.ClientSecret != "" {
		c.ClientID = testClientID
	}
	inst, err := s.deps().newConnector(context.Background(), c, sdk.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return inst.(*connector)
}

// poll is one host poll from cursor; it fails the test on error.
func poll(t testing.TB, in *plugintest.Instance, cursor string) *plugintest.Sync {
	t.Helper()
	s, err := plugintest.Poll(in, cursor)
	if err != nil {
		t.Fatalf("poll from %q: %v", cursor, err)
	}
	return s
}

func runByID(s *plugintest.Sync, id string) (sdk.Run, bool) {
	var found sdk.Run
	ok := false
	for _, r := range s.Runs() {
		if r.ExternalID == id {
			found, ok = r, true
		}
	}
	return found, ok
}

// simRunIDs are the ids of the runs the workspace holds now.
func (s *sim) runIDs() map[string]bool {
	out := map[string]bool{}
	for _, id := range s.ws.RunIDs(0) {
		out[itoa(id)] = true
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
