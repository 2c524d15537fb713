package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// runExternalID is the PUOD external id of a DAG run: dag_id and
// dag_run_id together (run ids are unique per DAG only).
func runExternalID(dagID, runID string) string { return dagID + "/" + runID }

// runURL links a run in the Airflow UI: the grid view in Airflow 2, the
// run page in Airflow 3.
func (c *connector) runURL(api, dagID, runID string) string {
	base := c.cfg.ConsoleURL + "/dags/" + escapeSegment(dagID)
	if api == apiV1 {
		return base + "/grid?dag_run_id=" + url.QueryEscape(runID)
	}
	return base + "/runs/" + escapeSegment(runID)
}

// taskURL links a task try's logs.
func (c *connector) taskURL(api, dagID, runID, taskID string, try int) string {
	base := c.cfg.ConsoleURL + "/dags/" + escapeSegment(dagID)
	if api == apiV1 {
		q := url.Values{"dag_run_id": {runID}, "task_id": {taskID}, "tab": {"logs"}}
		return base + "/grid?" + q.Encode()
	}
	return base + "/runs/" + escapeSegment(runID) + "/tasks/" + escapeSegment(taskID) + "?try_number=" + strconv.Itoa(try)
}

func (c *connector) pipelineURL(api, dagID string) string {
	base := c.cfg.ConsoleURL + "/dags/" + escapeSegment(dagID)
	if api == apiV1 {
		return base + "/grid"
	}
	return base
}

// toRun converts a DAG run. Tasks are added by withTasks.
func (c *connector) toRun(api string, r dagRunJSON) sdk.Run {
	id := runExternalID(r.DagID, r.DagRunID)
	name := r.DagDisplayName
	if name == "" {
		name = r.DagID
	}
	out := sdk.Run{
		ExternalID: id, PipelineExternalID: r.DagID, PipelineName: name,
		State: c.states.run(id, r.State), RawState: r.State,
		QueuedAt: r.QueuedAt.Time, StartedAt: r.StartDate.Time, EndedAt: r.EndDate.Time,
		URL: c.runURL(api, r.DagID, r.DagRunID),
		Attributes: map[string]string{
			"dag_run_id": r.DagRunID,
			"run_type":   r.RunType,
			"api":        api,
		},
	}
	// Airflow 3 reports no queued_at for runs it has not queued through
	// the scheduler; never let it come after the start.
	if !out.QueuedAt.IsZero() && !out.StartedAt.IsZero() && out.StartedAt.Before(out.QueuedAt) {
		out.QueuedAt = time.Time{}
	}
	if !out.EndedAt.IsZero() && out.EndedAt.Before(out.StartedAt) {
		out.EndedAt = time.Time{} // inconsistent dates: keep the start
	}
	switch {
	case r.Duration != nil && *r.Duration >= 0:
		out.Duration = time.Duration(*r.Duration * float64(time.Second)).Round(time.Microsecond)
	case !out.StartedAt.IsZero() && !out.EndedAt.IsZero() && !out.EndedAt.Before(out.StartedAt):
		out.Duration = out.EndedAt.Sub(out.StartedAt)
	}
	setTime := func(k string, t time.Time) {
		if !t.IsZero() {
			out.Attributes[k] = t.Format(time.RFC3339Nano)
		}
	}
	setTime("logical_date", r.LogicalDate.Time)
	setTime("run_after", r.RunAfter.Time)
	if r.TriggeredBy != "" {
		out.Attributes["triggered_by"] = r.TriggeredBy
	}
	if r.TriggeringUserName != nil && *r.TriggeringUserName != "" {
		out.Attributes["triggering_user"] = *r.TriggeringUserName
	}
	if r.ExternalTrigger != nil {
		out.Attributes["external_trigger"] = strconv.FormatBool(*r.ExternalTrigger)
	}
	if r.Note != nil && *r.Note != "" {
		out.Attributes["note"] = *r.Note
	}
	if out.State == sdk.StateFailed {
		out.ErrorMessage = "DAG run failed"
	}
	return out
}

// wantTasks says whether the configuration asks for a run's tasks.
func (c *connector) wantTasks(r sdk.Run) bool {
	switch c.cfg.TaskInstances {
	case "all":
		return true
	case "failed":
		return r.State == sdk.StateFailed
	}
	return false
}

// withTasks fetches a run's task instances (retries included: try_number
// is the attempt) and names the failing task in the error message. A run
// deleted meanwhile keeps no tasks.
func (c *connector) withTasks(ctx context.Context, api string, r *sdk.Run) error {
	dagID, runID := r.PipelineExternalID, r.Attributes["dag_run_id"]
	tis, err := c.client.taskInstances(ctx, dagID, runID)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	if err != nil {
		return annotate(err, "task instances of %s", r.ExternalID)
	}
	applyTasks(c, api, r, tis)
	return nil
}

func applyTasks(c *connector, api string, r *sdk.Run, tis []taskJSON) {
	dagID, runID := r.PipelineExternalID, r.Attributes["dag_run_id"]
	sort.SliceStable(tis, func(i, j int) bool { return tis[i].TaskID < tis[j].TaskID })
	r.Tasks = r.Tasks[:0]
	var failed []taskJSON
	for _, ti := range tis {
		tid := ti.TaskID
		if ti.MapIndex != nil && *ti.MapIndex >= 0 {
			tid += "[" + strconv.Itoa(*ti.MapIndex) + "]"
		}
		raw := ""
		if ti.State != nil {
			raw = *ti.State
		}
		name := ti.TaskDisplayName
		if name == "" {
			name = ti.TaskID
		}
		t := sdk.TaskRun{
			ExternalID: tid, Name: name, State: c.states.task(r.ExternalID+"/"+tid, raw), RawState: rawOrNone(raw),
			StartedAt: ti.StartDate.Time, EndedAt: ti.EndDate.Time, Attempt: ti.TryNumber,
		}
		if !t.StartedAt.IsZero() && t.EndedAt.Before(t.StartedAt) {
			t.EndedAt = time.Time{}
		}
		if raw == "failed" {
			t.ErrorMessage = fmt.Sprintf("failed on try %d of %d", ti.TryNumber, ti.MaxTries+1)
			failed = append(failed, ti)
		}
		r.Tasks = append(r.Tasks, t)
	}
	if r.RawState != "failed" {
		return
	}
	if len(failed) == 0 {
		r.ErrorMessage = "DAG run failed with no failed task: it timed out (dagrun_timeout) or was marked failed"
		return
	}
	// The failing task is the failed one with the highest try.
	sort.SliceStable(failed, func(i, j int) bool { return failed[i].TryNumber > failed[j].TryNumber })
	first := failed[0]
	msg := fmt.Sprintf("task %s failed", first.TaskID)
	if first.TryNumber > 1 {
		msg += fmt.Sprintf(" after %d tries", first.TryNumber)
	}
	if first.Operator != nil && *first.Operator != "" {
		msg += " (" + *first.Operator + ")"
	}
	if len(failed) > 1 {
		names := make([]string, 0, len(failed)-1)
		for _, f := range failed[1:] {
			names = append(names, f.TaskID)
		}
		msg += "; also failed: " + strings.Join(names, ", ")
	}
	var skipped int
	for _, ti := range tis {
		if ti.State != nil && *ti.State == "upstream_failed" {
			skipped++
		}
	}
	if skipped > 0 {
		msg += fmt.Sprintf("; %d downstream task(s) upstream_failed", skipped)
	}
	r.ErrorMessage = msg
	r.Attributes["failed_task"] = first.TaskID
	r.Attributes["failed_task_log_url"] = c.taskURL(api, dagID, runID, first.TaskID, first.TryNumber)
}

func rawOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
