package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestConfig_validateNamesTheField(t *testing.T) {
	const ws = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no credentials", Config{WorkspaceURL: ws}, "/token"},
		{"both credentials", Config{WorkspaceURL: ws, Token: "t", ClientID: "i", ClientSecret: "s"}, "/token"},
		{"client id only", Config{WorkspaceURL: ws, ClientID: "i"}, "/client_secret"},
		{"client secret only", Config{WorkspaceURL: ws, ClientSecret: "s"}, "/client_id"},
		{"no scheme", Config{WorkspaceURL: "dbc-a1b2c3d4-e5f6.cloud.databricks.com", Token: "t"}, "/workspace_url"},
		{"other scheme", Config{WorkspaceURL: "ftp://dbc.cloud.databricks.com", Token: "t"}, "/workspace_url"},
		{"credentials in the url", Config{WorkspaceURL: "https://token:dapi123@dbc.cloud.databricks.com", Token: "t"}, "/workspace_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			var fe sdk.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 || fe[0].Field != c.field || fe[0].Message == "" {
				t.Errorf("Validate() = %v, want a problem at %s", err, c.field)
			}
		})
	}
	for _, ok := range []Config{
		{WorkspaceURL: ws, Token: "t"},
		{WorkspaceURL: ws + "/?o=6051921418418893#job/1", ClientID: "i", ClientSecret: "s"},
		{WorkspaceURL: "http://127.0.0.1:8080", Token: "t"},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
	if got := (Config{WorkspaceURL: ws + "/?o=6051921418418893#job/1"}).baseURL(); got != ws {
		t.Errorf("baseURL = %q", got)
	}
}

// A distinctive secret injected in every place a credential goes never
// comes back in an error, a health message or run data, as is or encoded.
func TestSecrets_neverInErrors(t *testing.T) {
	const pat = "dapi-LEAKCANARY-7f3e9b21c4d8a6e0"
	const clientSecret = "dose-LEAKCANARY-5a1c8e2f9b7d3046"
	s := newSim(t, simOpts{scenario: true})
	c := plugintest.Serve(t, newPlugin(s.deps()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var msgs []string
	record := func(where string, err error) {
		if err != nil {
			msgs = append(msgs, where+": "+err.Error())
		}
	}

	// Invalid configurations carrying the secrets.
	for _, cfg := range []string{
		`{"workspace_url": "not a url"}`,
		`{"workspace_url": "https://dbc.cloud.databricks.com", "client_id": "x"}`,
		`{"workspace_url": "https://dbc.cloud.databricks.com", "page_size": 99}`,
	} {
		secrets := map[string]string{"token": pat, "client_secret": clientSecret}
		fes, err := c.ValidateConfig(ctx, json.RawMessage(cfg), secrets)
		record("ValidateConfig", err)
		for _, fe := range fes {
			msgs = append(msgs, "field error: "+fe.Field+": "+fe.Message)
		}
		record("Configure", c.Configure(ctx, sdk.InstanceConfig{ID: "bad-" + cfg[:20], Revision: 1, Config: json.RawMessage(cfg), Secrets: secrets}))
	}

	// Refused credentials: every call fails with an auth error.
	cfgPAT, _ := s.config(false, nil)
	cfgOAuth, _ := s.config(true, nil)
	for _, ic := range []sdk.InstanceConfig{
		{ID: "pat", Revision: 1, Config: cfgPAT, Secrets: map[string]string{"token": pat}},
		{ID: "oauth", Revision: 1, Config: cfgOAuth, Secrets: map[string]string{"client_secret": clientSecret}},
	} {
		in := plugintest.Configure(t, c, ic)
		_, err := in.Client.CheckHealth(ctx, in.ID())
		if !errors.Is(err, sdk.ErrAuth) {
			t.Errorf("%s: CheckHealth with refused credentials: %v, want an auth error", ic.ID, err)
		}
		record("CheckHealth", err)
		_, err = plugintest.Poll(in, "")
		record("ListRuns", err)
		_, err = in.Client.ListPipelines(ctx, in.ID())
		record("ListPipelines", err)
		_, err = in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: cardRunsTable, Options: json.RawMessage(`{}`)})
		record("QueryCard", err)
		_, err = in.Client.HandleWebhook(ctx, in.ID(), sdk.Webhook{Body: []byte(`{"run":{"run_id":"1"}}`)})
		record("HandleWebhook", err)
	}

	// Working credentials, failing server: errors still carry no secret.
	s2 := newSim(t, simOpts{scenario: true})
	cfg2, _ := s2.config(false, nil)
	in := plugintest.Configure(t, c, sdk.InstanceConfig{ID: "ok", Revision: 1, Config: cfg2, Secrets: map[string]string{"token": testPAT}})
	s2.ws.FailNext(100, http.StatusInternalServerError, 0)
	_, err := plugintest.Poll(in, "")
	record("ListRuns 500", err)

	// In-process, before the SDK's redaction: the plugin's own errors.
	for _, oauth := range []bool{false, true} {
		inst := s.directWith(t, map[string]string{"token": pat})
		if oauth {
			inst = s.directWith(t, map[string]string{"client_secret": clientSecret})
		}
		_, err := inst.CheckHealth(ctx)
		record("direct CheckHealth", err)
		record("direct ListRuns", inst.ListRuns(ctx, "", func(sdk.RunBatch) error { return nil }))
	}

	if len(msgs) < 10 {
		t.Fatalf("only %d error messages collected: %v", len(msgs), msgs)
	}
	for _, m := range msgs {
		for _, secret := range []string{pat, clientSecret} {
			for _, form := range []string{secret, url.QueryEscape(secret), base64.StdEncoding.EncodeToString([]byte(secret)), "LEAKCANARY"} {
				if strings.Contains(m, form) {
					t.Errorf("a secret leaked: %s", strings.ReplaceAll(m, secret, "<secret>"))
				}
			}
		}
	}
	t.Logf("%d messages checked, e.g. %q", len(msgs), msgs[len(msgs)-2])
}
