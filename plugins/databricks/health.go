package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/puod/puod/sdk"
)

// CheckHealth makes the cheapest authenticated call that needs the
// permission PUOD relies on (jobs/list with limit 1), then asks who the
// credential is (SCIM Me; best effort: a service principal without access
// to it is still healthy).
func (c *connector) CheckHealth(ctx context.Context) (sdk.Health, error) {
	host := c.api.base
	if u, err := url.Parse(c.api.base); err == nil {
		host = u.Host
	}
	var page jobsPage
	if err := c.api.get(ctx, "/list", url.Values{"limit": {"1"}}, &page); err != nil {
		var e *sdk.Error
		if errors.As(err, &e) && e.Kind == sdk.KindDownstream && strings.Contains(e.Message, "request failed") {
			// Not an answer from Databricks: the workspace is not reachable.
			return sdk.Health{}, sdk.DownstreamError(nil, "cannot reach the workspace at %s: %s; check workspace_url and that PUOD can reach it (proxy, firewall, private link)", host, e.Message)
		}
		return sdk.Health{}, err
	}
	who := c.api.identity
	var me struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	if err := c.api.getPath(ctx, "/api/2.0/preview/scim/v2/Me", nil, &me); err == nil && me.UserName != "" && !strings.Contains(who, me.UserName) {
		who = me.UserName + " (" + who + ")"
	}
	return sdk.Health{
		Status:  sdk.HealthOK,
		Message: fmt.Sprintf("connected to %s as %s", host, who),
		Details: map[string]any{"api_version": c.cfg.APIVersion, "jobs_visible": len(page.Jobs) > 0},
	}, nil
}
