package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

// testNow is the tests' frozen "now": a Friday noon, UTC.
var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const testPassword = "Zq9-unique-airflow-secret-7731"

// world is a simulated Airflow and what a connector needs to reach it.
type world struct {
	sim   *airflowsim.Server
	srv   *httptest.Server
	clock *airflowsim.ManualClock

	mu     sync.Mutex
	sleeps []time.Duration
}

type worldOpts struct {
	api      airflowsim.API
	fixtures bool
	history  time.Duration // scenario history before now (0: no scenario)
	maxPage  int
	now      time.Time
	ttl      time.Duration
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if o.now.IsZero() {
		o.now = testNow
		if o.fixtures {
			o.now = airflowsim.FixtureNow
		}
	}
	clock := airflowsim.NewManualClock(o.now)
	sim := airflowsim.New(airflowsim.Options{
		API: o.api, Username: "svc_puod", Password: testPassword, Clock: clock,
		Fixtures: o.fixtures, MaxPageLimit: o.maxPage, Seed: 11, TokenTTL: o.ttl,
	})
	if o.history > 0 {
		if err := sim.StartScenario(airflowsim.DefaultScenario(), o.now.Add(-o.history)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &world{sim: sim, srv: srv, clock: clock}
}

// options point a connector at the world: its clock, and retries that
// wait no real time (the waits are recorded).
func (w *world) options() options {
	return options{
		now: w.clock.Now,
		sleep: func(ctx context.Context, d time.Duration) error {
			w.mu.Lock()
			w.sleeps = append(w.sleeps, d)
			w.mu.Unlock()
			return ctx.Err()
		},
		http: w.srv.Client(),
	}
}

func (w *world) waits() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.sleeps...)
}

func (w *world) plugin() sdk.Plugin[Config] {
	return sdk.Plugin[Config]{Manifest: manifest, New: w.options().build}
}

// config is a valid configuration for the world (merged with extra).
func (w *world) config(extra map[string]any) (json.RawMessage, map[string]string) {
	cfg := map[string]any{"base_url": w.srv.URL, "username": "svc_puod"}
	for k, v := range extra {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	return b, map[string]string{"password": testPassword}
}

// connector builds an instance in-process (no gRPC), for the tests that
// look at errors and internals directly.
func (w *world) connector(t testing.TB, extra map[string]any) *connector {
	t.Helper()
	raw, secrets := w.config(extra)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for k, v := range secrets {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	inst, err := w.options().build(context.Background(), cfg, sdk.Env{InstanceID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return inst.(*connector)
}

// instance configures the plugin over the real gRPC path.
func (w *world) instance(t testing.TB, extra map[string]any) *plugintest.Instance {
	t.Helper()
	c := plugintest.Serve(t, w.plugin())
	raw, secrets := w.config(extra)
	return plugintest.Configure(t, c, sdk.InstanceConfig{ID: "airflow-test", Revision: 1, Config: raw, Secrets: secrets})
}

// poll is one host poll over gRPC from cursor.
func poll(t testing.TB, in *plugintest.Instance, cursor string) *plugintest.Sync {
	t.Helper()
	s, err := plugintest.Poll(in, cursor)
	if err != nil {
		t.Fatalf("poll from %q: %v", cursor, err)
	}
	return s
}

// collect lists runs directly (in-process) and returns the batches.
func collect(ctx context.Context, c *connector, cursor string) ([]sdk.RunBatch, error) {
	var out []sdk.RunBatch
	err := c.ListRuns(ctx, cursor, func(b sdk.RunBatch) error {
		out = append(out, b)
		return nil
	})
	return out, err
}

func lastCursor(from string, bs []sdk.RunBatch) string {
	if len(bs) == 0 {
		return from
	}
	return bs[len(bs)-1].NextCursor
}

func runIDs(bs []sdk.RunBatch) map[string]sdk.Run {
	out := map[string]sdk.Run{}
	for _, b := range bs {
		for _, r := range b.Runs {
			out[r.ExternalID] = r
		}
	}
	return out
}

func countRuns(bs []sdk.RunBatch) int {
	n := 0
	for _, b := range bs {
		n += len(b.Runs)
	}
	return n
}

// simIDs is every run the simulator holds, by PUOD external id.
func simIDs(sim *airflowsim.Server) map[string]airflowsim.Run {
	out := map[string]airflowsim.Run{}
	for _, r := range sim.Runs() {
		out[r.DagID+"/"+r.RunID] = r
	}
	return out
}

func newServer(t testing.TB, h *airflowsim.Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
