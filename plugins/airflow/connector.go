package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

// connector is one configured Airflow source.
type connector struct {
	cfg    Config
	client *client
	states *stateTracker
	log    hclog.Logger
	now    func() time.Time
	dags   map[string]bool // nil: every DAG
}

var (
	_ sdk.Connector      = (*connector)(nil)
	_ sdk.CardQuerier    = (*connector)(nil)
	_ sdk.HealthChecker  = (*connector)(nil)
	_ sdk.WebhookHandler = (*connector)(nil)
	_ sdk.Disposer       = (*connector)(nil)
)

// options are what tests replace: the clock, the wait between retries,
// the HTTP client.
type options struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	http  *http.Client
}

// newConnector builds an instance with the real clock and HTTP client.
func newConnector(ctx context.Context, cfg Config, env sdk.Env) (any, error) {
	return options{}.build(ctx, cfg, env)
}

// build is the sdk.Plugin New function for these options. It does no
// network I/O: the API version is detected on first use.
func (o options) build(_ context.Context, cfg Config, env sdk.Env) (any, error) {
	cfg = cfg.withDefaults()
	now := o.now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	log := env.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c := &connector{
		cfg: cfg, log: log, now: now,
		client: newClient(cfg, o.http, now, o.sleep),
		states: newStateTracker(log),
	}
	if len(cfg.DagIDs) > 0 {
		c.dags = map[string]bool{}
		for _, id := range cfg.DagIDs {
			c.dags[id] = true
		}
	}
	return c, nil
}

func (c *connector) wantDAG(id string) bool { return c.dags == nil || c.dags[id] }

// Dispose closes idle connections.
func (c *connector) Dispose() { c.client.http.CloseIdleConnections() }

// maxPipelines bounds ListPipelines.
const maxPipelines = 100000

// ListPipelines lists the DAGs (paused ones included; stale ones are
// hidden by Airflow's defaults).
func (c *connector) ListPipelines(ctx context.Context) ([]sdk.Pipeline, error) {
	api, dags, _, err := c.client.dags(ctx, maxPipelines)
	if err != nil {
		return nil, annotate(err, "list DAGs")
	}
	out := make([]sdk.Pipeline, 0, len(dags))
	for _, d := range dags {
		if d.DagID == "" || !c.wantDAG(d.DagID) {
			continue
		}
		p := sdk.Pipeline{ExternalID: d.DagID, Name: d.DagDisplayName, URL: c.pipelineURL(api, d.DagID), Attributes: map[string]string{}}
		if p.Name == "" {
			p.Name = d.DagID
		}
		for _, t := range d.Tags {
			p.Tags = append(p.Tags, t.Name)
		}
		if len(d.Owners) > 0 {
			p.Attributes["owners"] = strings.Join(d.Owners, ",")
		}
		if d.Description != nil && *d.Description != "" {
			p.Attributes["description"] = *d.Description
		}
		if s := schedule(d); s != "" {
			p.Attributes["schedule"] = s
		}
		if d.TimetableDescription != nil && *d.TimetableDescription != "" {
			p.Attributes["timetable_description"] = *d.TimetableDescription
		}
		if d.IsPaused != nil {
			p.Attributes["paused"] = boolString(*d.IsPaused)
		}
		out = append(out, p)
	}
	return out, nil
}

// schedule reads Airflow 3's timetable_summary or Airflow 2's
// schedule_interval object (a cron string value, or a timedelta object).
func schedule(d dagJSON) string {
	if d.TimetableSummary != nil {
		return *d.TimetableSummary
	}
	if d.ScheduleInterval == nil {
		return ""
	}
	var s string
	if jsonString(d.ScheduleInterval.Value, &s) {
		return s
	}
	return d.ScheduleInterval.Type
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
