package main

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/puod/puod/sdk"
)

// Config is one Airflow source. Its JSON Schema (served to the host's
// source form) is derived from the tags.
type Config struct {
	BaseURL string `json:"base_url" jsonschema:"required,minLength=1,format=uri" jsonschema_description:"Root URL of the Airflow webserver (Airflow 2) or API server (Airflow 3), including any path prefix, e.g. https://airflow.example.com. The REST API lives under /api/v1 or /api/v2 below it."`
	// APIVersion exists for servers whose version endpoint is hidden by a
	// proxy; normally the connector asks the server.
	APIVersion string `json:"api_version,omitempty" jsonschema:"enum=auto,enum=v1,enum=v2,default=auto" jsonschema_description:"REST API to use: auto (ask the server's version endpoint), v1 (Airflow 2) or v2 (Airflow 3)."`
	Username   string `json:"username,omitempty" jsonschema:"minLength=1" jsonschema_description:"User name. Airflow 2 sends it with HTTP Basic auth (needs airflow.api.auth.backend.basic_auth in [api] auth_backends); Airflow 3 exchanges it with the password for a JWT at POST /auth/token."`
	Password   string `json:"password,omitempty" secret:"true" jsonschema_description:"Password of the user."`
	// Token is for Airflow 3 deployments whose auth manager issues tokens
	// out of band (e.g. Keycloak): the connector cannot refresh it.
	Token string `json:"token,omitempty" secret:"true" jsonschema_description:"A pre-issued Airflow 3 JWT, instead of username and password. It cannot be refreshed: replace it before it expires."`
	// DagIDs narrows a shared Airflow to the DAGs a team owns.
	DagIDs []string `json:"dag_ids,omitempty" jsonschema:"uniqueItems=true,pattern=^[A-Za-z0-9_.-]+$" jsonschema_description:"Only collect these DAGs (default: every DAG the user can read)."`
	// LookbackDays bounds the first sync of a new source.
	LookbackDays int `json:"lookback_days,omitempty" jsonschema:"minimum=1,maximum=365,default=7" jsonschema_description:"How many days of history the first sync imports."`
	// PageSize is the page size asked for; Airflow caps it at its
	// [api] maximum_page_limit anyway.
	PageSize int `json:"page_size,omitempty" jsonschema:"minimum=1,maximum=100,default=100" jsonschema_description:"DAG runs per API page (Airflow caps pages at [api] maximum_page_limit, 100 by default)."`
	// TaskInstances trades API calls for detail: one call per run fetched.
	TaskInstances string `json:"task_instances,omitempty" jsonschema:"enum=failed,enum=all,enum=none,default=failed" jsonschema_description:"Which runs to fetch task instances for (one extra call per run): failed (names the failing task and its tries), all, or none."`
	ConsoleURL    string `json:"console_url,omitempty" jsonschema:"format=uri" jsonschema_description:"Base URL of the Airflow UI for run links, when it differs from base_url."`
	// InsecureSkipVerify is for test installations with self-signed
	// certificates only.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty" jsonschema_description:"Accept any TLS certificate (test installations only)."`
}

var dagIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate checks what the schema cannot: the URLs, and exactly one
// authentication method that the chosen API supports.
func (c *Config) Validate() error {
	var fe sdk.FieldErrors
	add := func(field, msg string) { fe = append(fe, sdk.FieldError{Field: field, Message: msg}) }
	if msg := checkURL(c.BaseURL); msg != "" {
		add("/base_url", msg)
	}
	if c.ConsoleURL != "" {
		if msg := checkURL(c.ConsoleURL); msg != "" {
			add("/console_url", msg)
		}
	}
	switch c.APIVersion {
	case "", "auto", "v1", "v2":
	default:
		add("/api_version", "must be auto, v1 or v2")
	}
	basic := c.Username != "" || c.Password != ""
	switch {
	case basic && c.Token != "":
		add("/token", "set either a token or a username and password, not both")
	case c.Token != "" && c.APIVersion == "v1":
		add("/token", "Airflow 2's REST API (v1) takes HTTP Basic auth only: set username and password instead")
	case c.Username != "" && c.Password == "":
		add("/password", "is required with a username")
	case c.Password != "" && c.Username == "":
		add("/username", "is required with a password")
	case !basic && c.Token == "":
		add("/username", "set a username and password (or, for Airflow 3, a token)")
	}
	for i, id := range c.DagIDs {
		if !dagIDPattern.MatchString(id) {
			add("/dag_ids/"+strconv.Itoa(i), "is not a DAG id (letters, digits, _ . -)")
		}
	}
	if c.LookbackDays < 0 || c.LookbackDays > 365 {
		add("/lookback_days", "must be between 1 and 365")
	}
	if c.PageSize < 0 || c.PageSize > 100 {
		add("/page_size", "must be between 1 and 100")
	}
	switch c.TaskInstances {
	case "", "failed", "all", "none":
	default:
		add("/task_instances", "must be failed, all or none")
	}
	switch len(fe) {
	case 0:
		return nil
	case 1:
		return sdk.ConfigError(fe[0].Field, "%s", fe[0].Message)
	}
	return fe // every problem at once, so the form shows them together
}

func checkURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case raw == "":
		return "is required"
	case err != nil || u.Host == "":
		return "must be an absolute URL such as https://airflow.example.com"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with https:// (or http://)"
	case u.User != nil:
		return "must not carry credentials: set username and password instead"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	}
	return ""
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.APIVersion == "" {
		c.APIVersion = "auto"
	}
	if c.LookbackDays == 0 {
		c.LookbackDays = 7
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.TaskInstances == "" {
		c.TaskInstances = "failed"
	}
	if c.ConsoleURL == "" {
		c.ConsoleURL = c.BaseURL
	}
	c.ConsoleURL = strings.TrimRight(c.ConsoleURL, "/")
	return c
}
