package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// distinctive secrets: any error that shows one of them leaks.
const (
	leakSecret = "Zq8~LEAK-client-secret-4242-do-not-show"
	leakToken  = "eyLEAK.static-token-9191.do-not-show"
)

func validConfig() Config {
	return Config{
		WorkspaceURL: "https://syn-puod-prod.dev.azuresynapse.net",
		TenantID:     "5e0c7a12-3b4d-4f68-9a1e-2c3d4e5f6a7b",
		ClientID:     "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		ClientSecret: leakSecret,
	}
}

func TestConfig_validateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"valid", func(*Config) {}, ""},
		{"valid static token", func(c *Config) { c.ClientSecret, c.TenantID, c.ClientID, c.AccessToken = "", "", "", leakToken }, ""},
		{"valid local simulator", func(c *Config) {
			c.WorkspaceURL, c.TokenURL = "http://127.0.0.1:8080", "http://localhost:8080/t/oauth2/v2.0/token"
		}, ""},
		{"valid lookback in days", func(c *Config) { c.InitialLookback = "7d" }, ""},
		{"valid lookback in hours and minutes", func(c *Config) { c.InitialLookback = "5h20m" }, ""},
		{"no credentials", func(c *Config) { c.ClientSecret = "" }, "/client_secret"},
		{"both auth methods", func(c *Config) { c.AccessToken = leakToken }, "/access_token"},
		{"secret without tenant", func(c *Config) { c.TenantID = "" }, "/tenant_id"},
		{"secret without client id", func(c *Config) { c.ClientID = "" }, "/client_id"},
		{"token url with a static token", func(c *Config) { c.ClientSecret, c.AccessToken, c.TokenURL = "", leakToken, "https://login.example/t" }, "/token_url"},
		{"workspace url not a url", func(c *Config) { c.WorkspaceURL = "syn-puod-prod" }, "/workspace_url"},
		{"workspace url over http", func(c *Config) { c.WorkspaceURL = "http://syn-puod-prod.dev.azuresynapse.net" }, "/workspace_url"},
		{"workspace url with a path", func(c *Config) { c.WorkspaceURL = "https://syn-puod-prod.dev.azuresynapse.net/pipelines" }, "/workspace_url"},
		{"workspace url with user info", func(c *Config) { c.WorkspaceURL = "https://user:" + leakSecret + "@syn.dev.azuresynapse.net" }, "/workspace_url"},
		{"token url over http", func(c *Config) { c.TokenURL = "http://login.microsoftonline.com/t/oauth2/v2.0/token" }, "/token_url"},
		{"lookback past retention", func(c *Config) { c.InitialLookback = "46d" }, "/initial_lookback"},
		{"lookback too short", func(c *Config) { c.InitialLookback = "0m" }, "/initial_lookback"},
		{"lookback not a duration", func(c *Config) { c.InitialLookback = "a week" }, "/initial_lookback"},
		{"empty pipeline name", func(c *Config) { c.Pipelines = []string{"pl_sales_load", " "} }, "/pipelines/1"},
		{"unknown activity mode", func(c *Config) { c.ActivityRuns = "some" }, "/activity_runs"},
		{"subscription without resource group", func(c *Config) { c.SubscriptionID = "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c" }, "/resource_group"},
		{"resource group without subscription", func(c *Config) { c.ResourceGroup = "rg" }, "/subscription_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fes sdk.FieldErrors
			if !errors.As(err, &fes) {
				t.Fatalf("Validate returned %v, want field errors at %s", err, tc.field)
			}
			found := false
			for _, fe := range fes {
				found = found || fe.Field == tc.field
				if fe.Message == "" {
					t.Errorf("field error at %s without a message", fe.Field)
				}
			}
			if !found {
				t.Errorf("Validate: %v; want a problem at %s", err, tc.field)
			}
			for _, s := range []string{leakSecret, leakToken} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// TestConfig_overTheWire: the host's ValidateConfig and Configure see the
// same field errors, as config errors, and the schema the plugin derives is
// plugin.json's.
func TestConfig_overTheWire(t *testing.T) {
	c := plugintest.Serve(t, newPlugin(options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := []byte(`{"workspace_url": "https://syn-puod-prod.dev.azuresynapse.net", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "activity_runs": "failed"}`)
	fes, err := c.ValidateConfig(ctx, cfg, map[string]string{"client_secret": leakSecret})
	if err != nil || len(fes) != 1 || fes[0].Field != "/tenant_id" {
		t.Fatalf("ValidateConfig: %v %v; want one problem at /tenant_id", fes, err)
	}
	err = c.Configure(ctx, sdk.InstanceConfig{ID: "x", Revision: 1, Config: cfg, Secrets: map[string]string{"client_secret": leakSecret}})
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.KindConfig || e.Field != "/tenant_id" {
		t.Fatalf("Configure: %v; want a config error at /tenant_id", err)
	}
	if strings.Contains(err.Error(), leakSecret) {
		t.Errorf("Configure's error shows the secret: %v", err)
	}
	fes, err = c.ValidateConfig(ctx, []byte(`{"workspace_url": "https://x.dev.azuresynapse.net", "access_token": "t", "unknown": 1}`), nil)
	if err != nil || len(fes) == 0 {
		t.Errorf("an unknown field is accepted: %v %v", fes, err)
	}
	d, err := c.Describe(ctx, sdk.DescribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]map[string]any `json:"properties"`
		Required   []string                  `json:"required"`
	}
	if err := json.Unmarshal(d.ConfigSchema, &schema); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"client_secret", "access_token"} {
		if schema.Properties[k]["x-secret"] != true {
			t.Errorf("%s is not marked x-secret", k)
		}
	}
	for k, p := range schema.Properties {
		if p["description"] == nil {
			t.Errorf("config field %s has no description", k)
		}
	}
	if len(schema.Required) != 1 || schema.Required[0] != "workspace_url" {
		t.Errorf("required: %v", schema.Required)
	}
}

func TestConfig_defaults(t *testing.T) {
	c := validConfig()
	if c.lookback() != 24*time.Hour || c.activityMode() != "failed" {
		t.Errorf("defaults: lookback %s, activity runs %s", c.lookback(), c.activityMode())
	}
	if got := c.tokenURL(); got != "https://login.microsoftonline.com/5e0c7a12-3b4d-4f68-9a1e-2c3d4e5f6a7b/oauth2/v2.0/token" {
		t.Errorf("default token URL %s", got)
	}
	c.InitialLookback = "7d"
	if c.lookback() != 7*24*time.Hour {
		t.Errorf("7d is %s", c.lookback())
	}
}
