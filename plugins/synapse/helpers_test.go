package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// t0 is the tests' clock start: midday on the doc's scenario day.
var t0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// testEnv is a simulator on a loopback server, a clock both share, and a
// source configuration pointed at it.
type testEnv struct {
	sim     *synapsesim.Server
	srv     *httptest.Server
	clock   *synapsesim.ManualClock
	config  json.RawMessage
	secrets map[string]string
	sleeps  *sleepRecorder
}

func newEnv(t testing.TB, opts synapsesim.Options, extra map[string]any) *testEnv {
	t.Helper()
	clock := synapsesim.NewManualClock(t0)
	if opts.Fixtures {
		clock.Set(synapsesim.FixtureNow)
	}
	opts.Now = clock.Now
	sim := synapsesim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg, secrets := sim.SourceConfig(srv.URL)
	if len(extra) > 0 {
		var m map[string]any
		if err := json.Unmarshal(cfg, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		cfg, _ = json.Marshal(m)
	}
	return &testEnv{sim: sim, srv: srv, clock: clock, config: cfg, secrets: secrets, sleeps: &sleepRecorder{}}
}

// plugin is the connector as main serves it, on the env's clock and with
// waits recorded instead of slept.
func (e *testEnv) plugin() sdk.Plugin[Config] {
	p := newPlugin(options{now: e.clock.Now, sleep: e.sleeps.sleep})
	p.Logger = hclog.NewNullLogger()
	return p
}

// direct builds the connector in-process, for tests that look at Go
// values rather than the wire.
func (e *testEnv) direct(t testing.TB) *connector {
	t.Helper()
	var cfg Config
	if err := json.Unmarshal(mergeJSON(t, e.config, e.secrets), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test configuration is invalid: %v", err)
	}
	c, err := newConnector(cfg, sdk.Env{InstanceID: "test", Logger: hclog.NewNullLogger()}, options{now: e.clock.Now, sleep: e.sleeps.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// served configures one instance of the plugin behind the real gRPC path.
func (e *testEnv) served(t testing.TB) *plugintest.Instance {
	t.Helper()
	client := plugintest.Serve(t, e.plugin())
	return plugintest.Configure(t, client, sdk.InstanceConfig{ID: "synapse-test", Revision: 1, Config: e.config, Secrets: e.secrets})
}

func mergeJSON(t testing.TB, cfg json.RawMessage, secrets map[string]string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(cfg, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range secrets {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// sleepRecorder replaces httpx's waits: it records them and returns at
// once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// mustPoll is poll that fails the test on error.
func mustPoll(t testing.TB, in *plugintest.Instance, cursor string) *plugintest.Sync {
	t.Helper()
	s, err := plugintest.Poll(in, cursor)
	if err != nil {
		t.Fatalf("poll from %q: %v", cursor, err)
	}
	return s
}

// byID indexes runs by external id, the last delivery winning, and
// counts deliveries.
func byID(runs []sdk.Run) (map[string]sdk.Run, map[string]int) {
	out, n := map[string]sdk.Run{}, map[string]int{}
	for _, r := range runs {
		out[r.ExternalID] = r
		n[r.ExternalID]++
	}
	return out, n
}
