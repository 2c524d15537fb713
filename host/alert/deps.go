package alert

import (
	"context"
	"errors"
	"time"

	"github.com/puod/puod/sdk"
)

// Clock tells the engine the time; tests inject a fixed one.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Pipeline is what the engine needs to know about a pipeline.
type Pipeline struct {
	ID, SourceID, ExternalID, Name, URL string
	Tags                                []string
	// CreatedAt is when PUOD first saw the pipeline: an absence rule on a
	// pipeline that never ran counts its interval from here (or from when
	// the rule was loaded, whichever is later).
	CreatedAt time.Time
}

// Run is what the engine needs to know about a run.
type Run struct {
	ID, SourceID, ExternalID string
	// State is a normalised state (queued, running, succeeded, failed,
	// cancelled, skipped, timed_out).
	State        string
	ErrorMessage string
	// URL links to the run in the vendor's console.
	URL string
	// Pipeline is the run's pipeline; ID is empty for a run without one.
	Pipeline Pipeline
	// Zero times are unknown.
	QueuedAt, StartedAt, EndedAt time.Time
	// Duration is the reported or computed duration; zero when unknown.
	Duration time.Duration
	// SortAt orders runs: StartedAt when known, else QueuedAt, else
	// EndedAt, else when PUOD first saw the run (as the store's Run.SortAt).
	SortAt time.Time
}

// ErrNotFound is what a RunReader returns for a run that does not exist
// (deleted since the event was published); the engine skips such events.
var ErrNotFound = errors.New("not found")

// RunReader is what the engine reads about runs and pipelines. Every
// method is scoped to one profile, given explicitly because the engine
// serves all profiles from one event stream.
type RunReader interface {
	// Run returns a run with its pipeline, or an error wrapping ErrNotFound.
	Run(ctx context.Context, profileID, runID string) (Run, error)
	// Pipelines lists every pipeline of the profile: deadline and absence
	// rules must watch pipelines that send no events.
	Pipelines(ctx context.Context, profileID string) ([]Pipeline, error)
	// LastRun returns the newest run (by SortAt) of the pipeline whose
	// state is one of states (any state when none is given); ok is false
	// when there is none. It seeds what the engine otherwise learns from
	// events, after a restart or a rule change.
	LastRun(ctx context.Context, profileID, pipelineID string, states ...string) (r Run, ok bool, err error)
}

// MetricPoint is one point of a metric series.
type MetricPoint struct {
	Time  time.Time
	Value float64
}

// MetricReader reads business metric windows.
type MetricReader interface {
	// MetricWindow returns the points of series with from <= time <= to,
	// oldest first.
	MetricWindow(ctx context.Context, profileID, series string, from, to time.Time) ([]MetricPoint, error)
}

// Outbox receives what one evaluation decided — transitions and
// notifications — before the engine moves its in-memory state. A later
// step implements it as one transaction that writes alert_states and the
// notifications outbox; if Write fails, the engine keeps its previous state
// and the same decision is taken again on the next event or tick, with the
// same notification ids.
type Outbox interface {
	Write(ctx context.Context, b Batch) error
}

// OutboxFunc adapts a function to Outbox.
type OutboxFunc func(ctx context.Context, b Batch) error

// Write calls f.
func (f OutboxFunc) Write(ctx context.Context, b Batch) error { return f(ctx, b) }

// Batch is the outcome of one evaluation in one profile.
type Batch struct {
	ProfileID string
	// States are the new states of the series that transitioned, for
	// alert_states.
	States []SeriesState
	// Transitions are the state changes, oldest first, for the history.
	Transitions []Transition
	// Notifications are the intents to deliver, in decision order.
	Notifications []Intent
}

// Intent is one notification to deliver to the rule's sinks. The outbox
// stores one row per (Notification.ID, sink).
type Intent struct {
	ProfileID   string
	RuleID      string
	Fingerprint string
	// Seq is the series' episode number; with Status it makes the id.
	Seq          int64
	Sinks        []string
	Notification sdk.Notification
	// GroupWait and GroupInterval are the rule's grouping times (its
	// GroupPolicy, defaults applied) for the outbox; Notification.GroupKey
	// names the group.
	GroupWait, GroupInterval time.Duration
}

// Muter holds notifications back: silences and inhibition. Muted returns
// why a notification with these labels must not be sent at time at (one
// reason per silence or inhibiting source), or nothing. The engine asks
// when it decides a notification and, for held ones, on every tick until
// nothing mutes them; so Muted is called often and should answer from
// memory.
type Muter interface {
	Muted(ctx context.Context, profileID string, labels map[string]string, at time.Time) ([]string, error)
}

// Detector evaluates anomaly conditions. No implementation ships yet; the
// slot exists so anomaly rules validate and evaluate through the same
// engine once one does.
type Detector interface {
	// Validate checks the anomaly parameters; Field pointers are relative
	// to /condition/anomaly ("/sensitivity").
	Validate(a Anomaly) []Problem
	// Evaluate scores the newest value of a series.
	Evaluate(ctx context.Context, in AnomalyInput) (Verdict, error)
}

// AnomalyInput is the value a Detector scores.
type AnomalyInput struct {
	ProfileID string
	Rule      Rule
	// Pipeline and Run are set for Series "duration"; Series names the
	// metric series otherwise.
	Pipeline *Pipeline
	Run      *Run
	Series   string
	Now      time.Time
}

// Verdict is a Detector's answer.
type Verdict struct {
	Anomalous bool
	// Value and Expected are formatted for people ("7m12s", "2m–3m").
	Value, Expected string
}
