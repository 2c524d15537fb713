package main

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// Config is one Synapse source. Its JSON Schema (plugin.json's "config")
// is derived from these tags; Validate adds the rules a schema cannot say.
type Config struct {
	WorkspaceURL string `json:"workspace_url" jsonschema:"required,format=uri,minLength=1" jsonschema_description:"Development endpoint of the Synapse workspace: https://<workspace>.dev.azuresynapse.net (Azure portal > Synapse workspace > Overview > Development endpoint)."`

	TenantID     string `json:"tenant_id,omitempty" jsonschema:"pattern=^[A-Za-z0-9][A-Za-z0-9.-]*$" jsonschema_description:"Microsoft Entra ID tenant (directory) id or domain of the service principal. Required with client_secret."`
	ClientID     string `json:"client_id,omitempty" jsonschema:"pattern=^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$" jsonschema_description:"Application (client) id of the service principal. It needs a Synapse RBAC role that can read artifacts and monitor runs (e.g. Synapse User plus Synapse Monitoring Operator). Required with client_secret."`
	ClientSecret string `json:"client_secret,omitempty" secret:"true" jsonschema:"minLength=1" jsonschema_description:"Client secret value (not its id) of the service principal. Use either client_secret or access_token."`
	AccessToken  string `json:"access_token,omitempty" secret:"true" jsonschema:"minLength=1" jsonschema_description:"A bearer token for https://dev.azuresynapse.net obtained elsewhere (e.g. az account get-access-token --resource https://dev.azuresynapse.net). It cannot be refreshed: prefer client_secret. Use either client_secret or access_token."`
	TokenURL     string `json:"token_url,omitempty" jsonschema:"format=uri" jsonschema_description:"Token endpoint for the client credentials. Default: https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token (set it for sovereign clouds or tests)."`

	Pipelines       []string `json:"pipelines,omitempty" jsonschema:"uniqueItems=true" jsonschema_description:"Only collect these pipelines (by name). Empty: every pipeline of the workspace."`
	InitialLookback string   `json:"initial_lookback,omitempty" jsonschema:"pattern=^[0-9]+(d|h|m)$|^([0-9]+h)?([0-9]+m)?$,default=24h" jsonschema_description:"How far back the first sync reads runs: a number of days (7d), hours (24h) or minutes; at most 45d, the service's retention. Default 24h."`
	ActivityRuns    string   `json:"activity_runs,omitempty" jsonschema:"enum=failed,enum=all,enum=none,default=failed" jsonschema_description:"Which runs get their activity runs fetched (one extra call each) as tasks: failed (to name the failing activity and its error), all, or none. Default failed."`

	SubscriptionID string `json:"subscription_id,omitempty" jsonschema:"pattern=^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$" jsonschema_description:"Azure subscription of the workspace, for links into Synapse Studio. Optional: without it (and resource_group) the workspace is found from its pipeline definitions."`
	ResourceGroup  string `json:"resource_group,omitempty" jsonschema:"minLength=1" jsonschema_description:"Resource group of the workspace, for links into Synapse Studio. Set it with subscription_id."`
}

const (
	// scope is the audience the data plane accepts: a token for the ARM
	// management endpoint is refused with 401.
	scope              = "https://dev.azuresynapse.net/.default"
	defaultLookback    = 24 * time.Hour
	retention          = 45 * 24 * time.Hour
	activityRunsFailed = "failed"
	activityRunsAll    = "all"
	activityRunsNone   = "none"
)

var lookbackPattern = regexp.MustCompile(`^([0-9]+)d$`)

// Validate checks what the schema cannot: one authentication method with
// what it needs, URLs that are safe to send credentials to, a lookback
// within the service's retention.
func (c *Config) Validate() error {
	var errs sdk.FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, sdk.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if msg := checkEndpoint(c.WorkspaceURL, false); msg != "" {
		add("/workspace_url", "%s: use the workspace's development endpoint, https://<workspace>.dev.azuresynapse.net", msg)
	}
	switch {
	case c.ClientSecret == "" && c.AccessToken == "":
		add("/client_secret", "no credentials: set client_secret (with tenant_id and client_id) for a service principal, or access_token")
	case c.ClientSecret != "" && c.AccessToken != "":
		add("/access_token", "set either client_secret or access_token, not both")
	case c.ClientSecret != "":
		if c.TenantID == "" {
			add("/tenant_id", "required with client_secret: the directory (tenant) id of the service principal")
		}
		if c.ClientID == "" {
			add("/client_id", "required with client_secret: the application (client) id of the service principal")
		}
	case c.AccessToken != "":
		if c.TokenURL != "" {
			add("/token_url", "only used with client_secret: a static access_token is never refreshed")
		}
	}
	if c.TokenURL != "" {
		if msg := checkEndpoint(c.TokenURL, true); msg != "" {
			add("/token_url", "%s: use https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token or leave it empty", msg)
		}
	}
	if c.InitialLookback != "" {
		if d, err := parseLookback(c.InitialLookback); err != nil {
			add("/initial_lookback", "%v", err)
		} else if d < time.Minute || d > retention {
			add("/initial_lookback", "%q is out of range: use between 1m and 45d (the service keeps runs 45 days)", c.InitialLookback)
		}
	}
	for i, p := range c.Pipelines {
		if strings.TrimSpace(p) == "" {
			add(fmt.Sprintf("/pipelines/%d", i), "empty pipeline name")
		}
	}
	switch c.ActivityRuns {
	case "", activityRunsFailed, activityRunsAll, activityRunsNone:
	default:
		add("/activity_runs", "%q is not one of failed, all, none", c.ActivityRuns)
	}
	if (c.SubscriptionID == "") != (c.ResourceGroup == "") {
		if c.SubscriptionID == "" {
			add("/subscription_id", "set it with resource_group (both or neither)")
		} else {
			add("/resource_group", "set it with subscription_id (both or neither)")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkEndpoint returns what is wrong with a URL credentials are sent to:
// it must be https, except plain http to this machine (a local simulator).
func checkEndpoint(raw string, pathAllowed bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return "the URL must not carry credentials"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "the URL must not have a query or fragment"
	}
	if !pathAllowed && strings.Trim(u.Path, "/") != "" {
		return fmt.Sprintf("%q has a path: give the endpoint only", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "plain http would send credentials unencrypted (http is accepted only for localhost)"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseLookback reads "7d", "24h", "90m" or "1h30m".
func parseLookback(s string) (time.Duration, error) {
	if m := lookbackPattern.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 1000 {
			return 0, fmt.Errorf("%q is not a lookback like 7d, 24h or 90m", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || strings.ContainsAny(s, ".-") {
		return 0, fmt.Errorf("%q is not a lookback like 7d, 24h or 90m", s)
	}
	return d, nil
}

// lookback is the first sync's reach.
func (c *Config) lookback() time.Duration {
	if d, err := parseLookback(c.InitialLookback); err == nil && c.InitialLookback != "" {
		return d
	}
	return defaultLookback
}

// tokenURL is the Entra ID token endpoint of the tenant.
func (c *Config) tokenURL() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
}

func (c *Config) activityMode() string {
	if c.ActivityRuns == "" {
		return activityRunsFailed
	}
	return c.ActivityRuns
}
