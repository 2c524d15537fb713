package main

import (
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

// pipelineRunStates maps the documented pipeline-run statuses (compared
// case-insensitively: trigger runs spell "Inprogress"). Canceling is not
// terminal, but it is on its way to Cancelled: a later poll sees the end.
// Timeouts end Failed; there is no timed-out status.
var pipelineRunStates = map[string]sdk.RunState{
	"queued":     sdk.StateQueued,
	"inprogress": sdk.StateRunning,
	"canceling":  sdk.StateCancelled,
	"cancelling": sdk.StateCancelled,
	"cancelled":  sdk.StateCancelled,
	"canceled":   sdk.StateCancelled,
	"succeeded":  sdk.StateSucceeded,
	"failed":     sdk.StateFailed,
}

// activityRunStates adds what activity runs may also report (unverified in
// the doc, harmless to accept).
var activityRunStates = map[string]sdk.RunState{
	"skipped":  sdk.StateSkipped,
	"timedout": sdk.StateTimedOut,
}

// pipelineRunState maps a pipeline run's status; ok is false for a value
// the doc does not list.
func pipelineRunState(raw string) (sdk.RunState, bool) {
	s, ok := pipelineRunStates[strings.ToLower(strings.TrimSpace(raw))]
	return s, ok
}

// activityRunState maps an activity run's status.
func activityRunState(raw string) (sdk.RunState, bool) {
	key := strings.ToLower(strings.TrimSpace(raw))
	if s, ok := activityRunStates[key]; ok {
		return s, true
	}
	s, ok := pipelineRunStates[key]
	return s, ok
}

// stateMemory resolves vendor statuses PUOD does not know: such a run
// keeps the state it had when last seen by this instance (running on
// first sight), and each unknown value is logged once.
type stateMemory struct {
	log hclog.Logger

	mu     sync.Mutex
	last   map[string]sdk.RunState
	logged map[string]bool
}

// memoryLimit bounds the remembered states; past it the memory starts
// over (a run then counts as first seen again).
const memoryLimit = 100_000

func newStateMemory(log hclog.Logger) *stateMemory {
	return &stateMemory{log: log, last: map[string]sdk.RunState{}, logged: map[string]bool{}}
}

// resolve returns the state to report for run id with raw status raw.
func (m *stateMemory) resolve(kind, id, raw string, mapped sdk.RunState, known bool) sdk.RunState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if known {
		if len(m.last) >= memoryLimit {
			m.last = map[string]sdk.RunState{}
		}
		m.last[id] = mapped
		return mapped
	}
	if !m.logged[kind+"\x00"+raw] && len(m.logged) < 1000 {
		m.logged[kind+"\x00"+raw] = true
		m.log.Warn("unknown Synapse "+kind+" status: keeping the run's previous state (running when first seen)", "status", raw, "run", id)
	}
	if prev, ok := m.last[id]; ok {
		return prev
	}
	return sdk.StateRunning
}
