package sdk

import (
	"encoding/json"
	"time"
)

// RunState is a run's normalised state. The vendor's own value is kept in
// Run.RawState.
type RunState string

const (
	StateQueued    RunState = "queued"
	StateRunning   RunState = "running"
	StateSucceeded RunState = "succeeded"
	StateFailed    RunState = "failed"
	StateCancelled RunState = "cancelled"
	StateSkipped   RunState = "skipped"
	StateTimedOut  RunState = "timed_out"
)

// RunStates lists every normalised state.
var RunStates = []RunState{StateQueued, StateRunning, StateSucceeded, StateFailed, StateCancelled, StateSkipped, StateTimedOut}

// Valid reports whether s is one of the normalised states.
func (s RunState) Valid() bool {
	for _, v := range RunStates {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether a run in state s will not change any more.
func (s RunState) Terminal() bool {
	switch s {
	case StateSucceeded, StateFailed, StateCancelled, StateSkipped, StateTimedOut:
		return true
	}
	return false
}

// Pipeline is a job, pipeline or DAG in the external system.
type Pipeline struct {
	ExternalID string            `json:"external_id"`
	Name       string            `json:"name"`
	Tags       []string          `json:"tags,omitempty"`
	URL        string            `json:"url,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Run is one execution of a pipeline.
type Run struct {
	// ExternalID identifies the run in the vendor system, unique per source.
	ExternalID         string             `json:"external_id"`
	PipelineExternalID string             `json:"pipeline_external_id"`
	PipelineName       string             `json:"pipeline_name"`
	State              RunState           `json:"state"`
	RawState           string             `json:"raw_state,omitempty"`
	QueuedAt           time.Time          `json:"queued_at,omitzero"`
	StartedAt          time.Time          `json:"started_at,omitzero"`
	EndedAt            time.Time          `json:"ended_at,omitzero"`
	Duration           time.Duration      `json:"duration,omitempty"`
	ErrorMessage       string             `json:"error_message,omitempty"`
	URL                string             `json:"url,omitempty"`
	Attributes         map[string]string  `json:"attributes,omitempty"`
	Tasks              []TaskRun          `json:"tasks,omitempty"`
	Attempt            int                `json:"attempt,omitempty"`
	Metrics            map[string]float64 `json:"metrics,omitempty"`
}

// TaskRun is one task (activity, task instance) of a run.
type TaskRun struct {
	ExternalID   string    `json:"external_id"`
	Name         string    `json:"name"`
	State        RunState  `json:"state"`
	RawState     string    `json:"raw_state,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
	Attempt      int       `json:"attempt,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
}

// RunBatch is a group of runs plus the cursor that is valid once they are
// stored. The host stores both in one transaction.
type RunBatch struct {
	Runs       []Run
	NextCursor string
}

// TimeRange is a closed-open time interval [From, To).
type TimeRange struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// CardQuery asks a plugin for the data of one card.
type CardQuery struct {
	// CardType is one of the types in the plugin's manifest.
	CardType string
	// Options are the card's options, valid against its options schema.
	Options   json.RawMessage
	TimeRange TimeRange
}

// Webhook is a notification an external system sent to PUOD for a source.
type Webhook struct {
	// Headers with canonical names, first value each.
	Headers map[string]string
	Body    []byte
}

// NotificationStatus says whether an alert fires or resolved.
type NotificationStatus string

const (
	NotificationFiring   NotificationStatus = "firing"
	NotificationResolved NotificationStatus = "resolved"
)

// Link is a titled URL in a notification.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Notification is an alert to deliver. ID is stable across retries so a
// sink can de-duplicate.
type Notification struct {
	ID            string             `json:"id"`
	Status        NotificationStatus `json:"status"`
	RuleID        string             `json:"rule_id"`
	RuleName      string             `json:"rule_name"`
	Severity      string             `json:"severity"`
	Title         string             `json:"title"`
	Summary       string             `json:"summary"`
	Labels        map[string]string  `json:"labels,omitempty"`
	Annotations   map[string]string  `json:"annotations,omitempty"`
	PipelineName  string             `json:"pipeline_name,omitempty"`
	RunExternalID string             `json:"run_external_id,omitempty"`
	Value         string             `json:"value,omitempty"`
	Threshold     string             `json:"threshold,omitempty"`
	StartsAt      time.Time          `json:"starts_at,omitzero"`
	EndsAt        time.Time          `json:"ends_at,omitzero"`
	Links         []Link             `json:"links,omitempty"`
	GroupKey      string             `json:"group_key,omitempty"`
	// Alerts is set on a group message: the alerts it gathers, each a
	// single notification. The fields above then describe the group
	// (Status firing when any alert is, the highest Severity, the Labels
	// all alerts share). Empty for a single alert.
	Alerts []Notification `json:"alerts,omitempty"`
}

// ExportHeader describes the file an exporter is asked to write.
type ExportHeader struct {
	Format     string
	Title      string
	TimeRange  TimeRange
	Parameters map[string]string
	JobID      string
}

// HealthStatus is the result of a health check.
type HealthStatus string

const (
	HealthOK       HealthStatus = "ok"
	HealthDegraded HealthStatus = "degraded"
	HealthError    HealthStatus = "error"
)

// Health is what CheckHealth reports.
type Health struct {
	Status  HealthStatus   `json:"status"`
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}
