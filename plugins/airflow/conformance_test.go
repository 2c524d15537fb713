package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/puod/puod/sdk/plugintest"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

// TestConformance runs the SDK's connector suite against the simulated
// Airflow 2 and Airflow 3, through the real gRPC path.
func TestConformance(t *testing.T) {
	for _, api := range []airflowsim.API{airflowsim.V1, airflowsim.V2} {
		t.Run(string(api), func(t *testing.T) {
			// "Now" near the wall clock, so the suite's card queries (last
			// 24 h of real time) find runs.
			now := time.Now().UTC().Truncate(time.Hour)
			w := newWorld(t, worldOpts{api: api, history: 36 * time.Hour, now: now})
			valid, secrets := w.config(map[string]any{"page_size": 40})
			cfg := func(m map[string]any) json.RawMessage { b, _ := json.Marshal(m); return b }
			base := w.srv.URL
			plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[Config]{
				Plugin:      w.plugin(),
				BundleDir:   ".",
				ValidConfig: valid,
				Secrets:     secrets,
				MinRuns:     150,
				InvalidConfigs: []plugintest.InvalidConfig{
					{Name: "no base_url", Config: cfg(map[string]any{"username": "svc_puod"}), Field: "/base_url"},
					{Name: "base_url not http", Config: cfg(map[string]any{"base_url": "ftp://airflow.example.com", "username": "svc_puod"}), Field: "/base_url"},
					{Name: "unknown api_version", Config: cfg(map[string]any{"base_url": base, "username": "svc_puod", "api_version": "v3"}), Field: "/api_version"},
					{Name: "username without password", Config: cfg(map[string]any{"base_url": base, "username": "svc_puod"}), Secrets: map[string]string{}, Field: "/password"},
					{Name: "two auth methods", Config: cfg(map[string]any{"base_url": base, "username": "svc_puod"}), Secrets: map[string]string{"password": secrets["password"], "token": "eyJ.unique-token-4411.sig"}, Field: "/token"},
					{Name: "token on Airflow 2", Config: cfg(map[string]any{"base_url": base, "api_version": "v1"}), Secrets: map[string]string{"token": "eyJ.unique-token-4411.sig"}, Field: "/token"},
					{Name: "no credentials", Config: cfg(map[string]any{"base_url": base}), Secrets: map[string]string{}, Field: "/username"},
					{Name: "page_size above the cap", Config: cfg(map[string]any{"base_url": base, "username": "svc_puod", "page_size": 500}), Field: "/page_size"},
					{Name: "bad dag id", Config: cfg(map[string]any{"base_url": base, "username": "svc_puod", "dag_ids": []string{"no spaces allowed"}}), Field: "/dag_ids/0"},
				},
			})
		})
	}
}
