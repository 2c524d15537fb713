package main

import (
	"context"
	"fmt"

	"github.com/puod/puod/sdk"
)

// CheckHealth makes one cheap authenticated call (the first DAG) and
// reads the scheduler's heartbeat: "connected to airflow.example.com as
// svc_puod (Airflow 3.1.3, REST API v2, 42 DAGs)".
func (c *connector) CheckHealth(ctx context.Context) (sdk.Health, error) {
	api, _, total, err := c.client.dags(ctx, 1)
	if err != nil {
		return sdk.Health{}, err
	}
	_, version := c.client.info()
	if version == "" {
		version = "version unknown"
	}
	h := sdk.Health{
		Status:  sdk.HealthOK,
		Message: fmt.Sprintf("connected to %s as %s (Airflow %s, REST API %s, %d DAGs)", c.client.host(), c.who(), version, api, total),
		Details: map[string]any{"api": api, "version": version, "dags": total},
	}
	if hj, err := c.client.health(ctx); err == nil && hj.Scheduler != nil && hj.Scheduler.Status != nil && *hj.Scheduler.Status != "healthy" {
		h.Status = sdk.HealthDegraded
		h.Message += "; the Airflow scheduler is " + *hj.Scheduler.Status
		if hj.Scheduler.Heartbeat != nil {
			h.Message += " (last heartbeat " + *hj.Scheduler.Heartbeat + ")"
		}
		h.Details["scheduler"] = *hj.Scheduler.Status
	}
	return h, nil
}

// who names the identity used, never the secret.
func (c *connector) who() string {
	if c.cfg.Username != "" {
		return c.cfg.Username
	}
	if sub, ok := jwtClaims(c.cfg.Token)["sub"].(string); ok && sub != "" {
		return sub + " (token)"
	}
	return "a bearer token"
}
