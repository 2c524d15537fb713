package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// options are what tests inject; main uses the zero value.
type options struct {
	// now is the clock (default time.Now).
	now func() time.Time
	// sleep waits between retries (default: a real wait).
	sleep func(context.Context, time.Duration) error
	// transport is the HTTP transport (default http.DefaultTransport).
	transport http.RoundTripper
}

func newPlugin(o options) sdk.Plugin[Config] {
	return sdk.Plugin[Config]{Manifest: manifest, New: func(_ context.Context, cfg Config, env sdk.Env) (any, error) {
		return newConnector(cfg, env, o)
	}}
}

// connector is one configured Synapse workspace.
type connector struct {
	cfg      Config
	api      *client
	hc       *http.Client
	log      hclog.Logger
	now      func() time.Time
	host     string
	identity string
	states   *stateMemory

	mu sync.Mutex
	// workspaceID is the workspace's Azure resource id, for console
	// links: from the config, else from a pipeline definition's id.
	workspaceID string
	// workspaceTried is when the definitions were last read for it.
	workspaceTried time.Time
	// attempts caches the attempt number of recovery re-runs (it never
	// changes: later re-runs start later).
	attempts map[string]int
}

var (
	_ sdk.Connector     = (*connector)(nil)
	_ sdk.CardQuerier   = (*connector)(nil)
	_ sdk.HealthChecker = (*connector)(nil)
	_ sdk.Disposer      = (*connector)(nil)
)

func newConnector(cfg Config, env sdk.Env, o options) (*connector, error) {
	log := env.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	base, err := url.Parse(strings.TrimRight(cfg.WorkspaceURL, "/"))
	if err != nil {
		return nil, sdk.ConfigError("/workspace_url", "not a URL")
	}
	rt := o.transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &transport{base: rt, log: log}}
	c := &connector{
		cfg: cfg, hc: hc, log: log, now: func() time.Time { return now().UTC() }, host: base.Host,
		states: newStateMemory(log), attempts: map[string]int{},
	}
	var auth httpx.Authorizer
	if cfg.ClientSecret != "" {
		auth = &httpx.CachedToken{
			Fetch: httpx.ClientCredentials{TokenURL: cfg.tokenURL(), ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scope: scope, InForm: true, HTTP: hc}.Fetcher(),
			Now:   c.now,
		}
		c.identity = "application " + cfg.ClientID
	} else {
		auth = httpx.Bearer(cfg.AccessToken)
		c.identity = tokenIdentity(cfg.AccessToken)
	}
	c.api = &client{base: base, http: &httpx.Client{BaseURL: base.String(), HTTP: hc, Auth: auth, UserAgent: "puod-synapse", Sleep: o.sleep}}
	if cfg.SubscriptionID != "" && cfg.ResourceGroup != "" {
		c.workspaceID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Synapse/workspaces/%s", cfg.SubscriptionID, cfg.ResourceGroup, workspaceName(base.Hostname()))
	}
	return c, nil
}

// Dispose closes idle connections.
func (c *connector) Dispose() { c.hc.CloseIdleConnections() }

// workspaceName is the first label of <workspace>.dev.azuresynapse.net.
func workspaceName(host string) string {
	name, _, _ := strings.Cut(host, ".")
	return name
}

// tokenIdentity names who a static token belongs to, from its claims
// (read, not verified: the service verifies it).
func tokenIdentity(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		var claims struct {
			UPN        string `json:"upn"`
			UniqueName string `json:"unique_name"`
			AppID      string `json:"appid"`
		}
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(b, &claims) == nil {
			switch {
			case claims.UPN != "":
				return claims.UPN + " (static access token)"
			case claims.UniqueName != "":
				return claims.UniqueName + " (static access token)"
			case claims.AppID != "":
				return "application " + claims.AppID + " (static access token)"
			}
		}
	}
	return "the configured access token"
}

// --- errors ---

// withContext prefixes a typed error's message, keeping its kind (a plain
// fmt wrapper would be dropped on the wire, which sends only the typed
// error's message).
func withContext(err error, format string, args ...any) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	prefix := fmt.Sprintf(format, args...)
	var e *sdk.Error
	if errors.As(err, &e) {
		cp := *e
		cp.Message = prefix + ": " + e.Message
		return &cp
	}
	return sdk.DownstreamError(err, "%s", prefix)
}

// --- pipelines and console links ---

// studioURL is Synapse Studio, where run and pipeline links point. The
// link shapes follow what Studio shows in its address bar (unverified
// against a documented contract).
const studioURL = "https://web.azuresynapse.net"

func (c *connector) runURL(runID string) string {
	return c.studioLink("/en/monitoring/pipelineruns/" + url.PathEscape(runID))
}

func (c *connector) pipelineURL(name string) string {
	return c.studioLink("/en/authoring/orchestrate/pipeline/" + url.PathEscape(name))
}

func (c *connector) studioLink(path string) string {
	c.mu.Lock()
	ws := c.workspaceID
	c.mu.Unlock()
	if ws == "" {
		return studioURL + path
	}
	return studioURL + path + "?workspace=" + url.QueryEscape(ws)
}

// learnWorkspace takes the workspace resource id from a pipeline
// definition id (/subscriptions/…/workspaces/<ws>/pipelines/<name>).
func (c *connector) learnWorkspace(ps []pipelineResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.workspaceID != "" {
		return
	}
	for _, p := range ps {
		if i := strings.LastIndex(p.ID, "/pipelines/"); i > 0 && strings.Contains(p.ID[:i], "/workspaces/") {
			c.workspaceID = p.ID[:i]
			return
		}
	}
}

// resolveWorkspace makes sure console links can name the workspace: one
// cheap read of the first page of pipeline definitions, once (again at
// most hourly while it fails). Failing is not fatal: the principal may
// monitor runs without reading artifacts, and links then open Studio
// without the workspace.
func (c *connector) resolveWorkspace(ctx context.Context) {
	now := c.now()
	c.mu.Lock()
	skip := c.workspaceID != "" || (!c.workspaceTried.IsZero() && now.Sub(c.workspaceTried) < time.Hour)
	if !skip {
		c.workspaceTried = now
	}
	c.mu.Unlock()
	if skip {
		return
	}
	ps, err := c.api.listPipelines(ctx, true)
	if err != nil {
		c.log.Debug("cannot read pipeline definitions to link runs into Synapse Studio; set subscription_id and resource_group", "error", err)
		return
	}
	c.learnWorkspace(ps)
}

// ListPipelines lists the pipeline definitions (those of cfg.Pipelines
// when set).
func (c *connector) ListPipelines(ctx context.Context) ([]sdk.Pipeline, error) {
	ps, err := c.api.listPipelines(ctx, false)
	if err != nil {
		return nil, withContext(err, "list pipelines of %s", c.host)
	}
	c.learnWorkspace(ps)
	want := map[string]bool{}
	for _, p := range c.cfg.Pipelines {
		want[p] = true
	}
	out := make([]sdk.Pipeline, 0, len(ps))
	for _, p := range ps {
		if p.Name == "" || (len(want) > 0 && !want[p.Name]) {
			continue
		}
		sp := sdk.Pipeline{ExternalID: p.Name, Name: p.Name, URL: c.pipelineURL(p.Name), Attributes: map[string]string{}}
		for _, a := range p.Properties.Annotations {
			sp.Tags = append(sp.Tags, paramString(a))
		}
		if p.Properties.Folder != nil && p.Properties.Folder.Name != "" {
			sp.Attributes["folder"] = p.Properties.Folder.Name
		}
		if p.Properties.Description != "" {
			sp.Attributes["description"] = p.Properties.Description
		}
		sp.Attributes["activities"] = fmt.Sprint(len(p.Properties.Activities))
		out = append(out, sp)
	}
	return out, nil
}

// --- health ---

// CheckHealth makes one cheap authenticated call: a run query over the
// last minute.
func (c *connector) CheckHealth(ctx context.Context) (sdk.Health, error) {
	now := c.now()
	if _, err := c.api.queryPipelineRuns(ctx, newFilter(now.Add(-time.Minute), now, "", nil)); err != nil {
		return sdk.Health{}, withContext(err, "cannot query pipeline runs of %s as %s", c.host, c.identity)
	}
	return sdk.Health{
		Status:  sdk.HealthOK,
		Message: fmt.Sprintf("connected to %s as %s", c.host, c.identity),
		Details: map[string]any{"workspace": c.host, "api_version": apiVersion},
	}, nil
}
