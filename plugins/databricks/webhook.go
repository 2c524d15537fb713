package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/puod/puod/sdk"
)

// HandleWebhook turns a job notification into the run it is about. The
// notification is only a signal carrying ids (as JSON strings in the
// vendor's example, sometimes numbers): the run is read with runs/get. A
// task-level notification names the task run; its job run (parent_run_id)
// is what PUOD stores. The host has already checked the source's secret.
func (c *connector) HandleWebhook(ctx context.Context, w sdk.Webhook) ([]sdk.Run, error) {
	var n notification
	dec := json.NewDecoder(bytes.NewReader(w.Body))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return nil, sdk.PermanentError("the webhook body is not a Databricks job notification: %v", err)
	}
	id := n.Run.ParentRunID
	if id == 0 {
		id = n.Run.RunID
	}
	if id == 0 {
		return nil, sdk.PermanentError("the Databricks notification %q carries no run.run_id: nothing to fetch", n.EventType)
	}
	r, err := c.api.getRun(ctx, int64(id))
	if err != nil {
		return nil, err
	}
	run := c.toRun(r, "")
	if run.Attributes == nil {
		run.Attributes = map[string]string{}
	}
	if n.EventType != "" {
		run.Attributes["notification"] = n.EventType
	}
	if strings.HasSuffix(n.EventType, "on_duration_warning_threshold_exceeded") {
		run.Attributes["duration_warning"] = "true"
	}
	return []sdk.Run{run}, nil
}

// notification is a job notification webhook's body.
type notification struct {
	EventType   string `json:"event_type"`
	WorkspaceID flexID `json:"workspace_id"`
	Run         struct {
		RunID       flexID `json:"run_id"`
		ParentRunID flexID `json:"parent_run_id"`
	} `json:"run"`
	Job struct {
		JobID flexID `json:"job_id"`
		Name  string `json:"name"`
	} `json:"job"`
	Task *struct {
		TaskKey string `json:"task_key"`
	} `json:"task"`
}

// flexID is an int64 id sent as a JSON string or number.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("id %s is not an integer", string(b))
	}
	*f = flexID(v)
	return nil
}
