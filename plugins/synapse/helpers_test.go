package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
	hooks   *requestHooks
}

// requestHooks runs test code at a fixed point of the request sequence
// the simulator sees, rather than when the test happens to get a batch:
// the plugin streams batches without waiting for the host, so by the time
// a batch reaches the test the next pages may already have been read.
type requestHooks struct {
	mu    sync.Mutex
	pages map[int]func()
	n     int
}

// onPageQuery runs f just before the simulator answers the k-th page
// query from now on, k = 1 being the next one: f can inject a fault that
// this very request meets. Page queries are the run queries (POST
// /queryPipelineRuns) of a sync's windows; the lookups of a run group's
// attempts are not counted.
func (e *testEnv) onPageQuery(k int, f func()) {
	h := e.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pages == nil {
		h.pages = map[int]func(){}
	}
	h.pages[h.n+k] = f
}

func (h *requestHooks) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/queryPipelineRuns") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var q struct {
				Filters []struct{ Operand string }
			}
			_ = json.Unmarshal(body, &q)
			group := false
			for _, f := range q.Filters {
				group = group || strings.EqualFold(f.Operand, "RunGroupId")
			}
			if !group {
				h.mu.Lock()
				h.n++
				f := h.pages[h.n]
				delete(h.pages, h.n)
				h.mu.Unlock()
				if f != nil {
					f()
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func newEnv(t testing.TB, opts synapsesim.Options, extra map[string]any) *testEnv {
	t.Helper()
	clock := synapsesim.NewManualClock(t0)
	if opts.Fixtures {
		clock.Set(synapsesim.FixtureNow)
	}
	opts.Now = clock.Now
	sim := synapsesim.New(opts)
	hooks := &requestHooks{}
	srv := httptest.NewServer(hooks.wrap(sim))
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
	return &testEnv{sim: sim, srv: srv, clock: clock, config: cfg, secrets: secrets, sleeps: &sleepRecorder{}, hooks: hooks}
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
