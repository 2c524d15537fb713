package main

import (
	"testing"

	"github.com/puod/puod/sdk"
)

// TestStates_mapping covers every vendor value of the API reference's
// table, plus unknown ones.
func TestStates_mapping(t *testing.T) {
	runs := []struct {
		raw  string
		want sdk.RunState
	}{
		{"queued", sdk.StateQueued},
		{"running", sdk.StateRunning},
		{"success", sdk.StateSucceeded},
		{"failed", sdk.StateFailed},
		{"cancelled", sdk.StateRunning}, // not an Airflow run state: unknown, first sight
		{"", sdk.StateRunning},
	}
	tr := newStateTracker(nil)
	for _, tc := range runs {
		if got := tr.run("dag/run-"+tc.raw, tc.raw); got != tc.want {
			t.Errorf("DAG run state %q maps to %s, want %s", tc.raw, got, tc.want)
		}
	}
	tasks := []struct {
		raw  string
		want sdk.RunState
	}{
		{"", sdk.StateQueued}, // null
		{"none", sdk.StateQueued},
		{"scheduled", sdk.StateQueued},
		{"queued", sdk.StateQueued},
		{"running", sdk.StateRunning},
		{"restarting", sdk.StateRunning},
		{"deferred", sdk.StateRunning},
		{"up_for_retry", sdk.StateRunning},
		{"up_for_reschedule", sdk.StateRunning},
		{"success", sdk.StateSucceeded},
		{"failed", sdk.StateFailed},
		{"upstream_failed", sdk.StateSkipped},
		{"skipped", sdk.StateSkipped},
		{"removed", sdk.StateSkipped},
		{"shutdown", sdk.StateRunning}, // removed in Airflow 2.x: unknown now
	}
	for _, tc := range tasks {
		if got := tr.task("dag/run/task-"+tc.raw, tc.raw); got != tc.want {
			t.Errorf("task state %q maps to %s, want %s", tc.raw, got, tc.want)
		}
	}
	// Unknown after known: the previous state stays.
	tr.run("dag/r1", "success")
	if got := tr.run("dag/r1", "archived"); got != sdk.StateSucceeded {
		t.Errorf("unknown state after success: %s, want succeeded", got)
	}
	for _, s := range runStates {
		if !s.Valid() {
			t.Errorf("%s is not a normalised state", s)
		}
	}
}
