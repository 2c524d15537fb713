package main

import (
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// TestConnector_conformance runs PUOD's connector conformance suite
// against the simulator: a day of the default scenario (several hundred
// runs, pages of 40, so resuming mid-window is exercised), the clock
// stopped so the source does not change during the suite.
func TestConnector_conformance(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 40, History: 24 * time.Hour}, nil)
	plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[Config]{
		Plugin:      e.plugin(),
		BundleDir:   ".",
		ValidConfig: e.config,
		Secrets:     e.secrets,
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "no workspace url", Config: []byte(`{"tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}`), Field: "/workspace_url"},
			{Name: "plain http to a remote host", Config: []byte(`{"workspace_url": "http://syn-puod-prod.dev.azuresynapse.net", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}`), Field: "/workspace_url"},
			{Name: "no credentials", Config: []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net"}`), Secrets: map[string]string{}, Field: "/client_secret"},
			{Name: "secret without tenant", Config: []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}`), Field: "/tenant_id"},
			{Name: "two auth methods", Config: []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}`),
				Secrets: map[string]string{"client_secret": "conformance-secret-1", "access_token": "conformance-token-2"}, Field: "/access_token"},
			{Name: "lookback past retention", Config: []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "initial_lookback": "60d"}`), Field: "/initial_lookback"},
			{Name: "unknown activity mode", Config: []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "activity_runs": "some"}`), Field: "/activity_runs"},
		},
		MinRuns: 300,
	})
}

// TestConnector_conformanceStaticToken runs the suite's sync checks with
// the other authentication method.
func TestConnector_conformanceStaticToken(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 50, History: 6 * time.Hour}, map[string]any{"tenant_id": nil, "client_id": nil, "token_url": nil})
	secrets := map[string]string{"access_token": e.sim.IssueToken()}
	in := plugintest.Configure(t, plugintest.Serve(t, e.plugin()), sdk.InstanceConfig{ID: "static", Revision: 1, Config: e.config, Secrets: secrets})
	plugintest.CheckHealth(t, in)
	full := plugintest.CheckFullSync(t, in, 50)
	plugintest.CheckResume(t, in, full)
	plugintest.CheckReplay(t, in, full)
}
