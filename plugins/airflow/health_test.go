package main

import (
	"context"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

func TestCheckHealth(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, history: time.Hour})
			in := w.instance(t, nil)
			h, err := in.Client.CheckHealth(context.Background(), in.ID())
			if err != nil {
				t.Fatal(err)
			}
			version := map[airflowsim.API]string{airflowsim.V1: "2.10.3", airflowsim.V2: "3.1.3"}[api]
			want := "connected to " + strings.TrimPrefix(w.srv.URL, "http://") + " as svc_puod (Airflow " + version + ", REST API " + string(api) + ", 5 DAGs)"
			if h.Status != sdk.HealthOK || h.Message != want {
				t.Errorf("health %s %q, want ok %q", h.Status, h.Message, want)
			}
			w.sim.SetHealthy(false)
			h, err = in.Client.CheckHealth(context.Background(), in.ID())
			if err != nil || h.Status != sdk.HealthDegraded || !strings.Contains(h.Message, "scheduler is unhealthy") {
				t.Errorf("unhealthy scheduler: %v %+v", err, h)
			}
		})
	}
	t.Run("basic auth backend missing", func(t *testing.T) {
		sim := airflowsim.New(airflowsim.Options{API: airflowsim.V1, Username: "svc_puod", Password: testPassword, BasicAuthDisabled: true, Fixtures: true})
		w := &world{sim: sim, clock: airflowsim.NewManualClock(airflowsim.FixtureNow)}
		w.srv = newServer(t, sim)
		_, err := w.connector(t, nil).CheckHealth(context.Background())
		if !errors.Is(err, sdk.ErrAuth) || !strings.Contains(err.Error(), "airflow.api.auth.backend.basic_auth") {
			t.Errorf("health without the basic_auth backend: %v", err)
		}
	})
	t.Run("airflow 2.5", func(t *testing.T) {
		sim := airflowsim.New(airflowsim.Options{API: airflowsim.V1, Version: "2.5.3", Username: "svc_puod", Password: testPassword, Fixtures: true})
		w := &world{sim: sim, clock: airflowsim.NewManualClock(airflowsim.FixtureNow)}
		w.srv = newServer(t, sim)
		_, err := w.connector(t, nil).CheckHealth(context.Background())
		if !errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "2.6") {
			t.Errorf("Airflow 2.5: %v", err)
		}
	})
	t.Run("not airflow", func(t *testing.T) {
		w := newWorld(t, worldOpts{api: airflowsim.V2})
		c := w.connector(t, nil)
		c.client.cfg.BaseURL += "/wrong-prefix"
		_, err := c.CheckHealth(context.Background())
		var e *sdk.Error
		if !errors.As(err, &e) || e.Kind != sdk.KindConfig || e.Field != "/base_url" {
			t.Errorf("no API at the base URL: %v", err)
		}
	})
}

// TestDetect_pickTheServersAPI: auto detection, and a pinned version
// that disagrees with the server fails clearly.
func TestDetect_pickTheServersAPI(t *testing.T) {
	for _, api := range apis {
		w := newWorld(t, worldOpts{api: api, fixtures: true})
		c := w.connector(t, map[string]any{"api_version": "auto"})
		got, _, err := c.client.ready(context.Background())
		if err != nil || got != string(api) {
			t.Errorf("server %s: detected %q (%v)", api, got, err)
		}
	}
	w := newWorld(t, worldOpts{api: airflowsim.V2, fixtures: true})
	c := w.connector(t, map[string]any{"api_version": "v1"})
	_, err := c.ListPipelines(context.Background())
	var e *sdk.Error
	if !errors.As(err, &e) || e.Field != "/api_version" || !strings.Contains(e.Message, "set api_version to auto or v2") {
		t.Errorf("api_version v1 against Airflow 3: %v", err)
	}
}

func TestWebhook_fetchesTheNamedRun(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V2, fixtures: true})
	in := w.instance(t, nil)
	runs, err := in.Client.HandleWebhook(context.Background(), in.ID(), sdk.Webhook{
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    []byte(`{"dag_id": "dag_finance_close", "run_id": "scheduled__2026-11-16T06:00:00+00:00"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].State != sdk.StateFailed || len(runs[0].Tasks) != 4 || runs[0].Attributes["failed_task"] != "reconcile_ledger" {
		t.Errorf("webhook runs %+v", runs)
	}
	_, err = in.Client.HandleWebhook(context.Background(), in.ID(), sdk.Webhook{Body: []byte(`{"dag_id": "dag_finance_close", "dag_run_id": "scheduled__2026-11-13T06:00:00+00:00"}`)})
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
}

// TestImports_onlySDK: a first-party plugin is an honest example for
// third parties: it imports the SDK, never the host.
func TestImports_onlySDK(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, "github.com/puod/puod/host") {
				t.Errorf("%s imports %s", f, p)
			}
			if strings.HasPrefix(p, "github.com/puod/puod/plugins/sim") && !strings.HasSuffix(f, "_test.go") {
				t.Errorf("%s imports the simulator outside tests", f)
			}
		}
	}
}

func TestVersion_matchesPluginJSON(t *testing.T) {
	var m struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil || m.Version != pluginVersion {
		t.Errorf("plugin.json version %q, pluginVersion %q (%v)", m.Version, pluginVersion, err)
	}
}
