package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

// TestStates_mapping covers every status of shared/apis/synapse.md's
// table, the activity-only and trigger spellings, and unknown values.
func TestStates_mapping(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		activity bool
		want     sdk.RunState
		known    bool
	}{
		{"Queued", false, sdk.StateQueued, true},
		{"InProgress", false, sdk.StateRunning, true},
		{"Canceling", false, sdk.StateCancelled, true},
		{"Cancelled", false, sdk.StateCancelled, true},
		{"Succeeded", false, sdk.StateSucceeded, true},
		{"Failed", false, sdk.StateFailed, true},
		{"Inprogress", false, sdk.StateRunning, true}, // trigger runs' spelling
		{"Canceled", false, sdk.StateCancelled, true}, // the one-"l" past tense some SDKs use
		{"Skipped", false, "", false},                 // not a pipeline-run status
		{"TimedOut", false, "", false},                // pipeline timeouts end Failed
		{"Paused", false, "", false},
		{"", false, "", false},
		{"Queued", true, sdk.StateQueued, true},
		{"InProgress", true, sdk.StateRunning, true},
		{"Succeeded", true, sdk.StateSucceeded, true},
		{"Failed", true, sdk.StateFailed, true},
		{"Cancelled", true, sdk.StateCancelled, true},
		{"Skipped", true, sdk.StateSkipped, true},
		{"TimedOut", true, sdk.StateTimedOut, true},
		{"Waiting", true, "", false},
	} {
		var got sdk.RunState
		var known bool
		if tc.activity {
			got, known = activityRunState(tc.raw)
		} else {
			got, known = pipelineRunState(tc.raw)
		}
		if got != tc.want || known != tc.known {
			t.Errorf("activity=%v %q -> %q (known %v), want %q (known %v)", tc.activity, tc.raw, got, known, tc.want, tc.known)
		}
	}
}

// TestStates_unknownKeepsPreviousAndLogsOnce: an unknown value keeps the
// run's last known state, is running on first sight, and is logged once
// with the raw value.
func TestStates_unknownKeepsPreviousAndLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	m := newStateMemory(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Warn}))
	resolve := func(id, raw string) sdk.RunState {
		s, ok := pipelineRunState(raw)
		return m.resolve("pipeline run", id, raw, s, ok)
	}
	if got := resolve("a", "Paused"); got != sdk.StateRunning {
		t.Errorf("first sight of an unknown status: %s, want running", got)
	}
	if got := resolve("b", "Queued"); got != sdk.StateQueued {
		t.Errorf("known: %s", got)
	}
	if got := resolve("b", "Paused"); got != sdk.StateQueued {
		t.Errorf("unknown after queued: %s, want the previous state queued", got)
	}
	if got := resolve("b", "Failed"); got != sdk.StateFailed {
		t.Errorf("known again: %s", got)
	}
	if got := resolve("b", "Paused"); got != sdk.StateFailed {
		t.Errorf("unknown after failed: %s, want failed", got)
	}
	if n := strings.Count(buf.String(), "unknown Synapse pipeline run status"); n != 1 {
		t.Errorf("the unknown value was logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "Paused") {
		t.Errorf("the log does not name the raw value:\n%s", buf.String())
	}
	resolve("c", "Hibernating")
	if n := strings.Count(buf.String(), "unknown Synapse pipeline run status"); n != 2 {
		t.Errorf("a second unknown value was not logged: %d lines", n)
	}
}
