package synapsesim

import (
	"encoding/json"
	"time"
)

// Wire shapes, in the field order the service (and the fixtures) use.

// PipelineRun is a pipeline run as the API answers it.
type PipelineRun struct {
	RunID        string            `json:"runId"`
	RunGroupID   string            `json:"runGroupId"`
	IsLatest     bool              `json:"isLatest"`
	PipelineName string            `json:"pipelineName"`
	Parameters   map[string]string `json:"parameters"`
	InvokedBy    InvokedBy         `json:"invokedBy"`
	RunStart     string            `json:"runStart"`
	RunEnd       *string           `json:"runEnd"`
	DurationInMs *int64            `json:"durationInMs"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	LastUpdated  string            `json:"lastUpdated"`
	Annotations  []string          `json:"annotations"`
}

// InvokedBy says what started a run.
type InvokedBy struct {
	Name          string `json:"name"`
	ID            string `json:"id"`
	InvokedByType string `json:"invokedByType"`
}

// ActivityRun is an activity run as the API answers it.
type ActivityRun struct {
	ActivityRunEnd    *string         `json:"activityRunEnd"`
	ActivityName      string          `json:"activityName"`
	ActivityRunStart  string          `json:"activityRunStart"`
	ActivityType      string          `json:"activityType"`
	DurationInMs      *int64          `json:"durationInMs"`
	RetryAttempt      *int            `json:"retryAttempt"`
	Error             ActivityError   `json:"error"`
	ActivityRunID     string          `json:"activityRunId"`
	Input             json.RawMessage `json:"input"`
	LinkedServiceName string          `json:"linkedServiceName"`
	Output            json.RawMessage `json:"output"`
	UserProperties    map[string]any  `json:"userProperties"`
	PipelineName      string          `json:"pipelineName"`
	PipelineRunID     string          `json:"pipelineRunId"`
	Status            string          `json:"status"`
}

// ActivityError is an activity run's error object. The service sends it
// with empty strings (and details "") when there is no error.
type ActivityError struct {
	ErrorCode   string `json:"errorCode"`
	Message     string `json:"message"`
	FailureType string `json:"failureType"`
	Target      string `json:"target"`
	Details     any    `json:"details"`
}

// TriggerRun is a trigger firing.
type TriggerRun struct {
	TriggerRunID        string            `json:"triggerRunId"`
	TriggerName         string            `json:"triggerName"`
	TriggerType         string            `json:"triggerType"`
	TriggerRunTimestamp string            `json:"triggerRunTimestamp"`
	Status              string            `json:"status"`
	Message             string            `json:"message"`
	Properties          map[string]string `json:"properties"`
	TriggeredPipelines  map[string]string `json:"triggeredPipelines"`
}

// PipelineResource is a pipeline definition.
type PipelineResource struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Properties PipelineProperties `json:"properties"`
	Etag       string             `json:"etag"`
}

// PipelineProperties is the body of a pipeline definition.
type PipelineProperties struct {
	Description string                   `json:"description,omitempty"`
	Activities  []ActivityDefinition     `json:"activities"`
	Parameters  map[string]ParameterSpec `json:"parameters,omitempty"`
	Annotations []string                 `json:"annotations"`
	Folder      *Folder                  `json:"folder,omitempty"`
}

// ActivityDefinition is one activity of a pipeline definition.
type ActivityDefinition struct {
	Name           string          `json:"name"`
	Type           string          `json:"type"`
	DependsOn      []Dependency    `json:"dependsOn"`
	Policy         *Policy         `json:"policy,omitempty"`
	TypeProperties json.RawMessage `json:"typeProperties,omitempty"`
}

// Dependency links an activity to the one before it.
type Dependency struct {
	Activity             string   `json:"activity"`
	DependencyConditions []string `json:"dependencyConditions"`
}

// Policy is an activity's timeout and retry policy.
type Policy struct {
	Timeout string `json:"timeout,omitempty"`
	Retry   int    `json:"retry"`
}

// ParameterSpec declares a pipeline parameter.
type ParameterSpec struct {
	Type         string `json:"type"`
	DefaultValue any    `json:"defaultValue,omitempty"`
}

// Folder is where a pipeline sits in Synapse Studio.
type Folder struct {
	Name string `json:"name"`
}

// RunFilterParameters is the body of the run queries.
type RunFilterParameters struct {
	LastUpdatedAfter  string            `json:"lastUpdatedAfter"`
	LastUpdatedBefore string            `json:"lastUpdatedBefore"`
	ContinuationToken *string           `json:"continuationToken,omitempty"`
	Filters           []RunQueryFilter  `json:"filters,omitempty"`
	OrderBy           []RunQueryOrderBy `json:"orderBy,omitempty"`
}

// RunQueryFilter is one filter of a run query.
type RunQueryFilter struct {
	Operand  string   `json:"operand"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// RunQueryOrderBy is one sort key of a run query.
type RunQueryOrderBy struct {
	OrderBy string `json:"orderBy"`
	Order   string `json:"order"`
}

// TimeLayout is how the service writes times: UTC, always 7 fractional
// digits.
const TimeLayout = "2006-01-02T15:04:05.0000000Z"

// FormatTime writes t the way the service does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

func formatTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := FormatTime(t)
	return &s
}

// durationMs rounds like the service: to the nearest millisecond.
func durationMs(d time.Duration) int64 {
	return d.Round(time.Millisecond).Milliseconds()
}
