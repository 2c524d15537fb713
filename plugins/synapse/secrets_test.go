package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// TestSecrets_neverInErrors drives the connector through every failure it
// reports (refused secret, refused token, unreachable endpoints, throttling,
// malformed pages, bad configuration) with distinctive secrets, records every
// text the host would see (errors, health, run data) and greps them for the
// secrets, as is and encoded.
func TestSecrets_neverInErrors(t *testing.T) {
	const wrongSecret = "Zq8~LEAK-the-wrong-secret-7777-do-not-show"
	e := newEnv(t, synapsesim.Options{ClientSecret: leakSecret, PageSize: 10, History: 2 * time.Hour}, nil)
	if e.secrets["client_secret"] != leakSecret {
		t.Fatal("the simulator does not use the test's secret")
	}
	tr := &plugintest.Transcript{}
	client := plugintest.Serve(t, e.plugin())
	configure := func(id string, cfg []byte, secrets map[string]string) *plugintest.Instance {
		in := plugintest.Configure(t, client, sdk.InstanceConfig{ID: id, Revision: 1, Config: cfg, Secrets: secrets})
		in.Transcript = tr
		return in
	}
	ctx := context.Background()
	record := func(in *plugintest.Instance) {
		h, err := in.Client.CheckHealth(ctx, in.ID())
		tr.RecordError("CheckHealth", err)
		tr.Record("CheckHealth message", h.Message)
		_, err = plugintest.Poll(in, "")
		tr.RecordError("ListRuns", err)
		_, err = in.Client.ListPipelines(ctx, in.ID())
		tr.RecordError("ListPipelines", err)
		_, err = in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: cardRunsTable, TimeRange: sdk.TimeRange{From: t0.Add(-time.Hour), To: t0}})
		tr.RecordError("QueryCard", err)
	}

	good := configure("good", e.config, e.secrets)
	record(good)
	e.sim.FailNext(30, http.StatusServiceUnavailable, 0)
	record(good)
	e.sim.FailNext(0, 0, 0)
	e.sim.MalformNext(3)
	record(good)

	record(configure("wrong-secret", e.config, map[string]string{"client_secret": wrongSecret}))

	dead := httptest.NewServer(nil)
	dead.Close()
	record(configure("dead-token-url", []byte(`{"workspace_url": "`+e.srv.URL+`", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "token_url": "`+dead.URL+`/t/oauth2/v2.0/token"}`), e.secrets))
	record(configure("dead-workspace", []byte(`{"workspace_url": "`+dead.URL+`", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "token_url": "`+e.sim.TokenURL(e.srv.URL)+`"}`), e.secrets))

	static := configure("static", []byte(`{"workspace_url": "`+e.srv.URL+`"}`), map[string]string{"access_token": leakToken})
	record(static)

	for _, cfg := range []string{
		`{"workspace_url": "http://remote.example"}`,
		`{"workspace_url": "https://syn.dev.azuresynapse.net", "tenant_id": "t"}`,
		`{"workspace_url": "https://syn.dev.azuresynapse.net", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "initial_lookback": "99d"}`,
	} {
		for _, secrets := range []map[string]string{{"client_secret": leakSecret}, {"client_secret": leakSecret, "access_token": leakToken}} {
			fes, err := client.ValidateConfig(ctx, []byte(cfg), secrets)
			tr.RecordError("ValidateConfig", err)
			for _, fe := range fes {
				tr.Record("field error "+fe.Field, fe.Message)
			}
			err = client.Configure(ctx, sdk.InstanceConfig{ID: "bad", Revision: 1, Config: []byte(cfg), Secrets: secrets})
			tr.RecordError("Configure", err)
		}
	}

	entries := tr.Entries()
	if len(entries) < 20 {
		t.Fatalf("only %d texts recorded: the failure paths did not run", len(entries))
	}
	plugintest.CheckNoSecrets(t, map[string]string{"client_secret": leakSecret, "wrong client_secret": wrongSecret, "access_token": leakToken}, entries)
}
