package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

// toRun converts a Jobs API run into a PUOD run. prev is the state PUOD
// last stored for it ("" if none): an unknown vendor state keeps it (or
// becomes running on first sight) and is logged once per raw value.
func (c *connector) toRun(r *apiRun, prev sdk.RunState) sdk.Run {
	state, raw, ok := mapState(r.State, r.Status)
	if !ok {
		state = c.unknownState(raw, prev, r.RunID)
	}
	out := sdk.Run{
		ExternalID:         strconv.FormatInt(r.RunID, 10),
		PipelineExternalID: strconv.FormatInt(r.JobID, 10),
		PipelineName:       r.RunName,
		State:              state,
		RawState:           raw,
		URL:                r.RunPageURL,
		Attempt:            r.AttemptNumber,
		Attributes:         map[string]string{},
	}
	if r.JobID == 0 {
		// One-off submit runs belong to no job: group them by name.
		out.PipelineExternalID = "submit:" + r.RunName
	}
	if out.PipelineName == "" {
		out.PipelineName = "job " + out.PipelineExternalID
	}
	if out.URL == "" {
		out.URL = fmt.Sprintf("%s/#job/%d/run/%d", c.api.base, r.JobID, r.RunID)
	}

	// start_time is when the run was created; with queueing it waited
	// queue_duration before really starting.
	if r.StartTime > 0 {
		start := msTime(r.StartTime)
		switch {
		case state == sdk.StateQueued:
			out.QueuedAt = start
		case r.QueueDuration > 0:
			out.QueuedAt, out.StartedAt = start, start.Add(ms(r.QueueDuration))
		default:
			out.StartedAt = start
		}
	}
	if r.EndTime > 0 {
		out.EndedAt = msTime(r.EndTime)
		if !out.StartedAt.IsZero() && out.EndedAt.Before(out.StartedAt) {
			out.StartedAt = out.EndedAt // queued, then skipped or cancelled
		}
	}
	out.Duration = c.duration(r.RunDuration, r.SetupDuration+r.ExecutionDuration+r.CleanupDuration, r.StartTime, r.EndTime, state)

	message := ""
	if r.State != nil {
		message = r.State.StateMessage
	}
	if r.Status != nil && r.Status.TerminationDetails != nil {
		td := r.Status.TerminationDetails
		if message == "" {
			message = td.Message
		}
		setAttr(out.Attributes, "termination_code", td.Code)
		setAttr(out.Attributes, "termination_type", td.Type)
	}
	switch state {
	case sdk.StateFailed, sdk.StateTimedOut, sdk.StateCancelled, sdk.StateSkipped:
		out.ErrorMessage = message
	default:
		setAttr(out.Attributes, "state_message", message)
	}
	if r.State != nil && r.State.ResultState == "SUCCESS_WITH_FAILURES" {
		out.Attributes["success_with_failures"] = "true"
	}
	if r.State != nil {
		setAttr(out.Attributes, "queue_reason", r.State.QueueReason)
	}
	if r.Status != nil && r.Status.QueueDetails != nil {
		setAttr(out.Attributes, "queue_reason", r.Status.QueueDetails.Message)
	}
	setAttr(out.Attributes, "run_type", r.RunType)
	setAttr(out.Attributes, "trigger", r.Trigger)
	setAttr(out.Attributes, "creator", r.CreatorUserName)
	if r.OriginalAttemptRunID != 0 && r.OriginalAttemptRunID != r.RunID {
		out.Attributes["original_attempt_run_id"] = strconv.FormatInt(r.OriginalAttemptRunID, 10)
	}
	if r.Schedule != nil {
		setAttr(out.Attributes, "schedule", r.Schedule.QuartzCronExpression)
	}
	if len(out.Attributes) == 0 {
		out.Attributes = nil
	}

	for i := range r.Tasks {
		out.Tasks = append(out.Tasks, c.toTaskRun(&r.Tasks[i], r.RunID))
	}
	return out
}

func (c *connector) toTaskRun(t *apiTask, parent int64) sdk.TaskRun {
	state, raw, ok := mapState(t.State, t.Status)
	if !ok {
		state = c.unknownState(raw, "", t.RunID)
	}
	tr := sdk.TaskRun{
		ExternalID: strconv.FormatInt(t.RunID, 10),
		Name:       t.TaskKey,
		State:      state,
		RawState:   raw,
		Attempt:    t.AttemptNumber,
	}
	if t.RunID == 0 {
		tr.ExternalID = strconv.FormatInt(parent, 10) + ":" + t.TaskKey
	}
	if t.StartTime > 0 {
		tr.StartedAt = msTime(t.StartTime)
	}
	if t.EndTime > 0 {
		tr.EndedAt = msTime(t.EndTime)
		if tr.StartedAt.IsZero() || tr.EndedAt.Before(tr.StartedAt) {
			tr.StartedAt = tr.EndedAt
		}
	}
	switch state {
	case sdk.StateFailed, sdk.StateTimedOut, sdk.StateCancelled, sdk.StateSkipped:
		if t.State != nil {
			tr.ErrorMessage = t.State.StateMessage
		}
		if tr.ErrorMessage == "" && t.Status != nil && t.Status.TerminationDetails != nil {
			tr.ErrorMessage = t.Status.TerminationDetails.Message
		}
	}
	return tr
}

// unknownState resolves a state the mapping does not know: the previous
// state, or running on first sight (so the run stays open and is polled
// again). Each raw value is logged once per instance.
func (c *connector) unknownState(raw string, prev sdk.RunState, runID int64) sdk.RunState {
	if _, logged := c.unknownLogged.LoadOrStore(raw, true); !logged {
		c.log.Warn("unknown Databricks run state: keeping the run's previous state (running on first sight)", "raw_state", raw, "run_id", runID)
	}
	if prev != "" {
		return prev
	}
	return sdk.StateRunning
}

// duration is the reference's rule: run_duration if set (multi-task runs),
// else setup+execution+cleanup (legacy single-task runs), else the time
// since start for an active run (end minus start for an ended one).
func (c *connector) duration(runDuration, phases, start, end int64, state sdk.RunState) time.Duration {
	switch {
	case runDuration > 0:
		return ms(runDuration)
	case phases > 0:
		return ms(phases)
	case start <= 0:
		return 0
	case end > 0:
		return max(ms(end-start), 0)
	case !state.Terminal():
		return max(c.now().Sub(msTime(start)), 0)
	}
	return 0
}

func setAttr(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func msTime(v int64) time.Time { return time.UnixMilli(v).UTC() }

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
