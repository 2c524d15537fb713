package main

import "github.com/puod/puod/sdk"

// Vendor state → PUOD state, exactly as the API reference's table says.
// Decide in this order: (1) state.result_state if present, (2)
// state.life_cycle_state, (3) status.state with its termination code, for
// payloads that carry only the newer status object. A value not in these
// tables is unknown: the caller keeps the run's previous state.

var resultStates = map[string]sdk.RunState{
	"SUCCESS":                         sdk.StateSucceeded,
	"SUCCESS_WITH_FAILURES":           sdk.StateSucceeded,
	"FAILED":                          sdk.StateFailed,
	"TIMEDOUT":                        sdk.StateTimedOut,
	"CANCELED":                        sdk.StateCancelled,
	"MAXIMUM_CONCURRENT_RUNS_REACHED": sdk.StateSkipped,
	"EXCLUDED":                        sdk.StateSkipped,
	"DISABLED":                        sdk.StateSkipped,
	"UPSTREAM_FAILED":                 sdk.StateSkipped,
	"UPSTREAM_CANCELED":               sdk.StateSkipped,
}

// TERMINATED is deliberately absent: without a result it "should not
// happen", and the run is polled once more.
var lifeCycleStates = map[string]sdk.RunState{
	"QUEUED":            sdk.StateQueued,
	"PENDING":           sdk.StateQueued,
	"BLOCKED":           sdk.StateQueued,
	"RUNNING":           sdk.StateRunning,
	"TERMINATING":       sdk.StateRunning,
	"WAITING_FOR_RETRY": sdk.StateRunning,
	"SKIPPED":           sdk.StateSkipped,
	"INTERNAL_ERROR":    sdk.StateFailed,
}

var statusStates = map[string]sdk.RunState{
	"QUEUED":      sdk.StateQueued,
	"PENDING":     sdk.StateQueued,
	"BLOCKED":     sdk.StateQueued,
	"RUNNING":     sdk.StateRunning,
	"WAITING":     sdk.StateRunning,
	"TERMINATING": sdk.StateRunning,
}

// terminationCodes covers status TERMINATED; any other non-empty code is a
// failure. Timeouts also arrive as CANCELED here: only result_state
// TIMEDOUT tells them apart, which is why the legacy state is read first.
var terminationCodes = map[string]sdk.RunState{
	"SUCCESS":                      sdk.StateSucceeded,
	"SUCCESS_WITH_FAILURES":        sdk.StateSucceeded,
	"USER_CANCELED":                sdk.StateCancelled,
	"CANCELED":                     sdk.StateCancelled,
	"SKIPPED":                      sdk.StateSkipped,
	"DISABLED":                     sdk.StateSkipped,
	"MAX_CONCURRENT_RUNS_EXCEEDED": sdk.StateSkipped,
	"MAX_JOB_QUEUE_SIZE_EXCEEDED":  sdk.StateSkipped,
}

// mapState normalises a run's (or task run's) state. raw is the vendor
// value kept alongside ("TERMINATED/FAILED", "RUNNING", ...). ok is false
// when the value is unknown: then state is empty and the caller decides.
func mapState(st *apiState, status *apiStatus) (state sdk.RunState, raw string, ok bool) {
	if st != nil && st.ResultState != "" {
		raw = st.ResultState
		if st.LifeCycleState != "" {
			raw = st.LifeCycleState + "/" + st.ResultState
		}
		state, ok = resultStates[st.ResultState]
		return state, raw, ok
	}
	if st != nil && st.LifeCycleState != "" {
		state, ok = lifeCycleStates[st.LifeCycleState]
		return state, st.LifeCycleState, ok
	}
	if status != nil && status.State != "" {
		if status.State != "TERMINATED" {
			state, ok = statusStates[status.State]
			return state, status.State, ok
		}
		code := ""
		if status.TerminationDetails != nil {
			code = status.TerminationDetails.Code
		}
		if code == "" {
			return "", "TERMINATED", false
		}
		raw = "TERMINATED/" + code
		if state, ok = terminationCodes[code]; ok {
			return state, raw, true
		}
		return sdk.StateFailed, raw, true
	}
	return "", "", false
}
