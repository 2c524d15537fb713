package main

import (
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

// runStates maps Airflow DAG run states (the API reference's table).
// Airflow has no cancelled run state ("mark failed" stops a run) and a
// dagrun_timeout also ends as failed.
var runStates = map[string]sdk.RunState{
	"queued":  sdk.StateQueued,
	"running": sdk.StateRunning,
	"success": sdk.StateSucceeded,
	"failed":  sdk.StateFailed,
}

// taskStates maps task instance states; a retry pending still counts as
// running. "" is a null state (and "none" its deprecated spelling).
var taskStates = map[string]sdk.RunState{
	"":                  sdk.StateQueued,
	"none":              sdk.StateQueued,
	"scheduled":         sdk.StateQueued,
	"queued":            sdk.StateQueued,
	"running":           sdk.StateRunning,
	"restarting":        sdk.StateRunning,
	"deferred":          sdk.StateRunning,
	"up_for_retry":      sdk.StateRunning,
	"up_for_reschedule": sdk.StateRunning,
	"success":           sdk.StateSucceeded,
	"failed":            sdk.StateFailed,
	"upstream_failed":   sdk.StateSkipped,
	"skipped":           sdk.StateSkipped,
	"removed":           sdk.StateSkipped,
}

// maxRemembered bounds the states kept for unknown values.
const maxRemembered = 100000

// stateTracker normalises states. An unknown vendor value keeps the
// state last seen for the same run (or task), or running on first sight,
// and is logged once per value: newer Airflows may add states, and a run
// must not flap because of one.
type stateTracker struct {
	log hclog.Logger

	mu     sync.Mutex
	last   map[string]sdk.RunState
	logged map[string]bool
}

func newStateTracker(log hclog.Logger) *stateTracker {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &stateTracker{log: log, last: map[string]sdk.RunState{}, logged: map[string]bool{}}
}

// run normalises a DAG run state; id is the run's external id.
func (t *stateTracker) run(id, raw string) sdk.RunState {
	return t.resolve("DAG run", runStates, id, raw)
}

// task normalises a task instance state; id is the task's external id
// within its run's.
func (t *stateTracker) task(id, raw string) sdk.RunState {
	return t.resolve("task instance", taskStates, id, raw)
}

func (t *stateTracker) resolve(kind string, table map[string]sdk.RunState, id, raw string) sdk.RunState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := table[raw]; ok {
		if len(t.last) >= maxRemembered {
			clear(t.last)
		}
		t.last[id] = s
		return s
	}
	if !t.logged[kind+"\x00"+raw] {
		t.logged[kind+"\x00"+raw] = true
		t.log.Warn("unknown Airflow state: keeping the previous state (running on first sight)", "kind", kind, "raw_state", raw, "example", id)
	}
	if s, ok := t.last[id]; ok {
		return s
	}
	return sdk.StateRunning
}
