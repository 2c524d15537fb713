package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// deps are what an instance takes from its environment; tests replace
// them (a simulator's clock, a sleep that does not wait).
type deps struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	http  *http.Client
}

// connector is one configured Databricks source.
type connector struct {
	cfg Config
	api *client
	log hclog.Logger
	now func() time.Time
	// unknownLogged holds the unknown raw states already logged.
	unknownLogged sync.Map
}

var (
	_ sdk.Connector      = (*connector)(nil)
	_ sdk.CardQuerier    = (*connector)(nil)
	_ sdk.WebhookHandler = (*connector)(nil)
	_ sdk.HealthChecker  = (*connector)(nil)
	_ sdk.Disposer       = (*connector)(nil)
)

// newConnector builds an instance. It does no I/O: connection problems
// show in CheckHealth and in the calls themselves.
func (d deps) newConnector(_ context.Context, cfg Config, env sdk.Env) (any, error) {
	if d.now == nil {
		d.now = time.Now
	}
	if d.sleep == nil {
		d.sleep = httpx.SleepContext
	}
	cfg = cfg.withDefaults()
	log := env.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &connector{cfg: cfg, api: newClient(cfg, d), log: log, now: d.now}, nil
}

// Dispose closes the idle connections of the instance's HTTP client.
func (c *connector) Dispose() {
	if hc := c.api.http.HTTP; hc != nil {
		hc.CloseIdleConnections()
	}
}

// ListPipelines lists the workspace's jobs (jobs/list, every page).
func (c *connector) ListPipelines(ctx context.Context) ([]sdk.Pipeline, error) {
	q := url.Values{"limit": {"100"}}
	var out []sdk.Pipeline
	token := ""
	for n := 0; ; n++ {
		if n == maxPages {
			return nil, sdk.DownstreamError(nil, "GET %s/list: still has_more after %d pages", c.api.jobsAPI, maxPages)
		}
		if token != "" {
			q.Set("page_token", token)
		}
		var page jobsPage
		if err := c.api.get(ctx, "/list", q, &page); err != nil {
			return nil, err
		}
		for i := range page.Jobs {
			out = append(out, c.toPipeline(&page.Jobs[i]))
		}
		if !page.HasMore || page.NextPageToken == "" || page.NextPageToken == token {
			return out, nil
		}
		token = page.NextPageToken
	}
}

func (c *connector) toPipeline(j *apiJob) sdk.Pipeline {
	id := strconv.FormatInt(j.JobID, 10)
	p := sdk.Pipeline{
		ExternalID: id,
		Name:       j.Settings.Name,
		URL:        fmt.Sprintf("%s/#job/%d", c.api.base, j.JobID),
		Attributes: map[string]string{},
	}
	if p.Name == "" {
		p.Name = "job " + id
	}
	for k, v := range j.Settings.Tags {
		if v == "" {
			p.Tags = append(p.Tags, k)
		} else {
			p.Tags = append(p.Tags, k+"="+v)
		}
	}
	slices.Sort(p.Tags)
	setAttr(p.Attributes, "creator", j.CreatorUserName)
	setAttr(p.Attributes, "run_as", j.RunAsUserName)
	setAttr(p.Attributes, "format", j.Settings.Format)
	if s := j.Settings.Schedule; s != nil {
		setAttr(p.Attributes, "schedule", s.QuartzCronExpression)
		setAttr(p.Attributes, "timezone", s.TimezoneID)
		setAttr(p.Attributes, "pause_status", s.PauseStatus)
	}
	if len(p.Attributes) == 0 {
		p.Attributes = nil
	}
	return p
}
