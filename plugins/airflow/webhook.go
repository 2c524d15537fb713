package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/puod/puod/sdk"
)

// webhookBody is what an Airflow callback posts to PUOD's webhook URL for
// the source, e.g. from a DAG's on_success_callback/on_failure_callback:
//
//	requests.post(PUOD_WEBHOOK_URL, json={"dag_id": context["dag"].dag_id, "dag_run_id": context["run_id"]})
//
// It is only a signal: the run is read from the API, so a forged body
// cannot invent run data.
type webhookBody struct {
	DagID    string `json:"dag_id"`
	DagRunID string `json:"dag_run_id"`
	RunID    string `json:"run_id"`
}

// HandleWebhook reads the run a callback names, with its tasks when the
// configuration asks for them.
func (c *connector) HandleWebhook(ctx context.Context, w sdk.Webhook) ([]sdk.Run, error) {
	var b webhookBody
	if err := json.Unmarshal(w.Body, &b); err != nil {
		return nil, sdk.PermanentError("the webhook body is not JSON: send {\"dag_id\": ..., \"dag_run_id\": ...}")
	}
	if b.DagRunID == "" {
		b.DagRunID = b.RunID
	}
	if b.DagID == "" || b.DagRunID == "" {
		return nil, sdk.PermanentError("the webhook body needs dag_id and dag_run_id (or run_id)")
	}
	if !c.wantDAG(b.DagID) {
		return nil, nil
	}
	api, r, err := c.client.getRun(ctx, b.DagID, b.DagRunID)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, sdk.NotFoundError("DAG run %s not found in Airflow", runExternalID(b.DagID, b.DagRunID))
	}
	if err != nil {
		return nil, err
	}
	run := c.toRun(api, r)
	if c.wantTasks(run) {
		if err := c.withTasks(ctx, api, &run); err != nil {
			return nil, err
		}
	}
	return []sdk.Run{run}, nil
}
