package main

import (
	"net/url"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// Config is one Databricks source: one workspace and one credential. Its
// JSON Schema (plugin.json "config") is derived from this struct.
type Config struct {
	// WorkspaceURL is where every call goes; run and job links point there
	// too. Only scheme and host are used, so a URL copied from the browser
	// (with ?o=… or a path) works.
	WorkspaceURL string `json:"workspace_url" jsonschema:"required,minLength=1,format=uri,pattern=^https?://" jsonschema_description:"Workspace URL, e.g. https://dbc-a1b2c3d4-e5f6.cloud.databricks.com or https://adb-1234567890123456.7.azuredatabricks.net."`
	// Token is a personal access token. It is simplest to set up but is
	// tied to a user and expires when the admin-set lifetime ends.
	Token string `json:"token,omitempty" secret:"true" jsonschema_description:"Personal access token (dapi…). Set either this or client_id and client_secret."`
	// ClientID and ClientSecret are a service principal's OAuth
	// machine-to-machine credentials: the recommended way, since the
	// access tokens they yield live one hour and are renewed automatically.
	ClientID     string `json:"client_id,omitempty" jsonschema_description:"OAuth client id (application id) of a service principal, for OAuth machine-to-machine authentication."`
	ClientSecret string `json:"client_secret,omitempty" secret:"true" jsonschema_description:"OAuth secret of the service principal."`
	// APIVersion picks the Jobs API path. 2.2 is the current one; 2.1
	// answers the same fields and suits older workspaces and gateways.
	APIVersion string `json:"api_version,omitempty" jsonschema:"enum=2.2,enum=2.1,default=2.2" jsonschema_description:"Jobs API version (default 2.2)."`
	// BackfillDays bounds the first sync: run history is kept about 60 days.
	BackfillDays int `json:"backfill_days,omitempty" jsonschema:"minimum=1,maximum=60,default=7" jsonschema_description:"Days of run history the first sync reads (default 7)."`
	// LookbackMinutes is the overlap of each incremental listing with the
	// previous one: it absorbs clock skew and runs the workspace records
	// late. Re-read runs are not sent again unless they changed.
	LookbackMinutes int `json:"lookback_minutes,omitempty" jsonschema:"minimum=1,maximum=1440,default=10" jsonschema_description:"Overlap in minutes between consecutive listings (default 10)."`
	// PageSize is runs/list's limit; the API allows at most 25.
	PageSize int `json:"page_size,omitempty" jsonschema:"minimum=1,maximum=25,default=25" jsonschema_description:"Runs per page when listing (1-25, default 25)."`
	// MaxRequestsPerSecond is a client-side rate limit, as the vendor's SDK
	// applies (15/s): rate limits are per workspace and shared with every
	// other client.
	MaxRequestsPerSecond float64 `json:"max_requests_per_second,omitempty" jsonschema:"minimum=0.1,maximum=1000,default=15" jsonschema_description:"Client-side limit of API requests per second (default 15)."`
}

// Defaults.
const (
	defaultAPIVersion   = "2.2"
	defaultBackfillDays = 7
	defaultLookback     = 10
	defaultPageSize     = 25
	defaultRPS          = 15
)

// Validate checks what the JSON Schema cannot: exactly one authentication
// method, and a usable workspace URL. Messages never repeat a value: a
// misplaced secret must not end up in an error.
func (c *Config) Validate() error {
	var fe sdk.FieldErrors
	add := func(field, msg string) { fe = append(fe, sdk.FieldError{Field: field, Message: msg}) }

	if u, err := url.Parse(strings.TrimSpace(c.WorkspaceURL)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("/workspace_url", "must be the workspace's URL, starting with https:// (e.g. https://dbc-a1b2c3d4-e5f6.cloud.databricks.com)")
	} else if u.User != nil {
		add("/workspace_url", "must not contain credentials: put the token in the token field")
	}

	pat := c.Token != ""
	oauth := c.ClientID != "" || c.ClientSecret != ""
	switch {
	case pat && oauth:
		add("/token", "set either a personal access token or client_id and client_secret (OAuth), not both")
	case !pat && !oauth:
		add("/token", "set a personal access token, or client_id and client_secret for OAuth machine-to-machine")
	case oauth && c.ClientID == "":
		add("/client_id", "is required with client_secret: the service principal's application id")
	case oauth && c.ClientSecret == "":
		add("/client_secret", "is required with client_id: create an OAuth secret for the service principal")
	}
	if len(fe) > 0 {
		return fe
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	if c.APIVersion == "" {
		c.APIVersion = defaultAPIVersion
	}
	if c.BackfillDays == 0 {
		c.BackfillDays = defaultBackfillDays
	}
	if c.LookbackMinutes == 0 {
		c.LookbackMinutes = defaultLookback
	}
	if c.PageSize == 0 {
		c.PageSize = defaultPageSize
	}
	if c.MaxRequestsPerSecond == 0 {
		c.MaxRequestsPerSecond = defaultRPS
	}
	return c
}

// baseURL is the workspace URL reduced to scheme and host.
func (c Config) baseURL() string {
	u, err := url.Parse(strings.TrimSpace(c.WorkspaceURL))
	if err != nil {
		return strings.TrimRight(c.WorkspaceURL, "/")
	}
	return u.Scheme + "://" + u.Host
}

func (c Config) lookback() time.Duration { return time.Duration(c.LookbackMinutes) * time.Minute }

func (c Config) backfill() time.Duration { return time.Duration(c.BackfillDays) * 24 * time.Hour }

// usesOAuth reports whether the source authenticates as a service principal.
func (c Config) usesOAuth() bool { return c.ClientID != "" }
