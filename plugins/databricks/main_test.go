package main

import (
	"testing"

	"github.com/puod/puod/sdk/plugintest"
)

// The conformance suite, against the simulator, with each credential
// type: describe, config schema and validation, health, pipelines, full
// sync, cursor advance, replay, resume, cancellation, the consume contract
// under host failures and crashes, cards, and no secret in any message.
func TestDatabricks_conformance(t *testing.T) {
	for _, c := range []struct {
		name  string
		oauth bool
	}{{"pat", false}, {"oauth", true}} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, simOpts{scenario: true})
			cfg, secrets := s.config(c.oauth, map[string]any{"page_size": 20})
			plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[Config]{
				Plugin:      newPlugin(s.deps()),
				BundleDir:   ".",
				ValidConfig: cfg,
				Secrets:     secrets,
				InvalidConfigs: []plugintest.InvalidConfig{
					{Name: "missing workspace url", Config: []byte(`{"client_id": "x"}`), Secrets: map[string]string{"client_secret": "s3cr3t-value"}, Field: "/workspace_url"},
					{Name: "not a url", Config: []byte(`{"workspace_url": "dbc-a1b2.cloud.databricks.com"}`), Field: "/workspace_url"},
					{Name: "no credentials", Config: []byte(`{"workspace_url": "https://dbc-a1b2.cloud.databricks.com"}`), Secrets: map[string]string{}, Field: "/token"},
					{Name: "both credentials", Config: []byte(`{"workspace_url": "https://dbc-a1b2.cloud.databricks.com", "client_id": "x"}`), Secrets: map[string]string{"token": testPAT, "client_secret": testSecret}, Field: "/token"},
					{Name: "client id without secret", Config: []byte(`{"workspace_url": "https://dbc-a1b2.cloud.databricks.com", "client_id": "x"}`), Secrets: map[string]string{}, Field: "/client_secret"},
					{Name: "page size above the API's", Config: []byte(`{"workspace_url": "https://dbc-a1b2.cloud.databricks.com", "page_size": 26}`), Field: "/page_size"},
					{Name: "unknown api version", Config: []byte(`{"workspace_url": "https://dbc-a1b2.cloud.databricks.com", "api_version": "3.0"}`), Field: "/api_version"},
				},
				MinRuns: 150,
			})
		})
	}
}
