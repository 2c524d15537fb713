package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

func TestConfig_validateNamesTheField(t *testing.T) {
	ok := Config{BaseURL: "https://airflow.example.com/prefix", Username: "u", Password: "p"}
	cases := []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"valid", func(*Config) {}, ""},
		{"valid token", func(c *Config) { c.Username, c.Password, c.Token = "", "", "jwt" }, ""},
		{"relative url", func(c *Config) { c.BaseURL = "airflow.example.com" }, "/base_url"},
		{"url with credentials", func(c *Config) { c.BaseURL = "https://u:p@airflow.example.com" }, "/base_url"},
		{"url with query", func(c *Config) { c.BaseURL = "https://airflow.example.com/?x=1" }, "/base_url"},
		{"console url", func(c *Config) { c.ConsoleURL = "ftp://x" }, "/console_url"},
		{"api version", func(c *Config) { c.APIVersion = "v3" }, "/api_version"},
		{"both methods", func(c *Config) { c.Token = "jwt" }, "/token"},
		{"token on v1", func(c *Config) { c.Username, c.Password, c.Token, c.APIVersion = "", "", "jwt", "v1" }, "/token"},
		{"no password", func(c *Config) { c.Password = "" }, "/password"},
		{"no username", func(c *Config) { c.Username = "" }, "/username"},
		{"nothing", func(c *Config) { c.Username, c.Password = "", "" }, "/username"},
		{"dag id", func(c *Config) { c.DagIDs = []string{"ok", "not ok"} }, "/dag_ids/1"},
		{"page size", func(c *Config) { c.PageSize = 101 }, "/page_size"},
		{"lookback", func(c *Config) { c.LookbackDays = 400 }, "/lookback_days"},
		{"task instances", func(c *Config) { c.TaskInstances = "some" }, "/task_instances"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Errorf("valid config rejected: %v", err)
				}
				return
			}
			var e *sdk.Error
			if !errors.As(err, &e) || e.Kind != sdk.KindConfig || e.Field != tc.field || e.Message == "" {
				t.Errorf("Validate() = %v, want sdk.ConfigError(%q, ...)", err, tc.field)
			}
		})
	}
}

// TestSecrets_neverInErrors provokes every error path with distinctive
// secrets and looks for them, raw or encoded, in the errors.
func TestSecrets_neverInErrors(t *testing.T) {
	const pw = "Pw-Leak-Canary-9f8e7d"
	const tok = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJjYW5hcnkifQ.Tok-Leak-Canary-1a2b3c"
	forms := []string{pw, url.QueryEscape(pw), base64.StdEncoding.EncodeToString([]byte("svc_puod:" + pw)), tok, "Tok-Leak-Canary"}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	ctx := context.Background()
	for _, api := range apis {
		w := newWorld(t, worldOpts{api: api, history: time.Hour})
		// Wrong password.
		c := w.connector(t, nil)
		c.client.cfg.Password = pw
		_, err := collect(ctx, c, "")
		check(err)
		_, err = c.CheckHealth(ctx)
		check(err)
		_, err = c.QueryCard(ctx, sdk.CardQuery{CardType: "runs_table"})
		check(err)
		// Malformed page, outage, bad webhook.
		c = w.connector(t, nil)
		w.sim.MalformNext(1)
		_, err = collect(ctx, c, "")
		check(err)
		w.sim.FailNext(10, 503, 0)
		_, err = c.ListPipelines(ctx)
		check(err)
		w.sim.ClearFaults()
		_, err = c.HandleWebhook(ctx, sdk.Webhook{Body: []byte(`{"dag_id": "x"}`)})
		check(err)
	}
	// A token Airflow refuses.
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: time.Hour})
	c := w.connector(t, nil)
	c.client.cfg.Username, c.client.cfg.Password, c.client.cfg.Token = "", "", tok
	_, err := collect(ctx, c, "")
	check(err)
	// Unreachable server.
	c = w.connector(t, nil)
	c.client.cfg.BaseURL = "http://127.0.0.1:1"
	c.client.cfg.Password = pw
	_, err = c.CheckHealth(ctx)
	check(err)
	// Validation.
	check((&Config{BaseURL: "https://svc_puod:" + pw + "@airflow.example.com", Username: "svc_puod", Password: pw, Token: tok}).Validate())

	for _, e := range errs {
		t.Log(e)
	}
	if len(errs) < 10 {
		t.Fatalf("only %d errors provoked", len(errs))
	}
	for _, err := range errs {
		for _, f := range forms {
			if strings.Contains(err.Error(), f) {
				t.Errorf("error %q contains a secret", err)
			}
		}
		var e *sdk.Error
		var fe sdk.FieldErrors
		if !errors.As(err, &e) && !errors.As(err, &fe) {
			t.Errorf("untyped error %v (%T)", err, err)
		}
	}
}
