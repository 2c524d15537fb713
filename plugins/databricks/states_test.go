package main

import (
	"testing"

	"github.com/puod/puod/sdk"
)

// Every vendor value of the reference's state tables, plus unknown ones.
func TestMapState_table(t *testing.T) {
	st := func(life, result string) *apiState { return &apiState{LifeCycleState: life, ResultState: result} }
	status := func(state, code string) *apiStatus {
		s := &apiStatus{State: state}
		if code != "" {
			s.TerminationDetails = &struct {
				Code    string `json:"code"`
				Type    string `json:"type"`
				Message string `json:"message"`
			}{Code: code}
		}
		return s
	}
	const unknown = sdk.RunState("")
	cases := []struct {
		name   string
		state  *apiState
		status *apiStatus
		want   sdk.RunState
		raw    string
	}{
		// (1) result_state decides first.
		{"result SUCCESS", st("TERMINATED", "SUCCESS"), nil, sdk.StateSucceeded, "TERMINATED/SUCCESS"},
		{"result SUCCESS_WITH_FAILURES", st("TERMINATED", "SUCCESS_WITH_FAILURES"), nil, sdk.StateSucceeded, "TERMINATED/SUCCESS_WITH_FAILURES"},
		{"result FAILED", st("TERMINATED", "FAILED"), nil, sdk.StateFailed, "TERMINATED/FAILED"},
		{"result TIMEDOUT", st("TERMINATED", "TIMEDOUT"), status("TERMINATED", "CANCELED"), sdk.StateTimedOut, "TERMINATED/TIMEDOUT"},
		{"result CANCELED", st("TERMINATED", "CANCELED"), nil, sdk.StateCancelled, "TERMINATED/CANCELED"},
		{"result MAXIMUM_CONCURRENT_RUNS_REACHED", st("SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED"), nil, sdk.StateSkipped, "SKIPPED/MAXIMUM_CONCURRENT_RUNS_REACHED"},
		{"result EXCLUDED", st("TERMINATED", "EXCLUDED"), nil, sdk.StateSkipped, "TERMINATED/EXCLUDED"},
		{"result DISABLED", st("TERMINATED", "DISABLED"), nil, sdk.StateSkipped, "TERMINATED/DISABLED"},
		{"result UPSTREAM_FAILED", st("SKIPPED", "UPSTREAM_FAILED"), nil, sdk.StateSkipped, "SKIPPED/UPSTREAM_FAILED"},
		{"result UPSTREAM_CANCELED", st("SKIPPED", "UPSTREAM_CANCELED"), nil, sdk.StateSkipped, "SKIPPED/UPSTREAM_CANCELED"},
		{"result with INTERNAL_ERROR life", st("INTERNAL_ERROR", "FAILED"), nil, sdk.StateFailed, "INTERNAL_ERROR/FAILED"},
		{"result unknown", st("TERMINATED", "QUANTUM_FAILURE"), status("TERMINATED", "SUCCESS"), unknown, "TERMINATED/QUANTUM_FAILURE"},
		// (2) life_cycle_state without a result.
		{"life QUEUED", st("QUEUED", ""), nil, sdk.StateQueued, "QUEUED"},
		{"life PENDING", st("PENDING", ""), nil, sdk.StateQueued, "PENDING"},
		{"life BLOCKED", st("BLOCKED", ""), nil, sdk.StateQueued, "BLOCKED"},
		{"life RUNNING", st("RUNNING", ""), nil, sdk.StateRunning, "RUNNING"},
		{"life TERMINATING", st("TERMINATING", ""), nil, sdk.StateRunning, "TERMINATING"},
		{"life WAITING_FOR_RETRY", st("WAITING_FOR_RETRY", ""), nil, sdk.StateRunning, "WAITING_FOR_RETRY"},
		{"life SKIPPED", st("SKIPPED", ""), nil, sdk.StateSkipped, "SKIPPED"},
		{"life INTERNAL_ERROR", st("INTERNAL_ERROR", ""), nil, sdk.StateFailed, "INTERNAL_ERROR"},
		{"life TERMINATED without result", st("TERMINATED", ""), status("TERMINATED", "SUCCESS"), unknown, "TERMINATED"},
		{"life unknown", st("HIBERNATING", ""), nil, unknown, "HIBERNATING"},
		// (3) status only.
		{"status QUEUED", nil, status("QUEUED", ""), sdk.StateQueued, "QUEUED"},
		{"status PENDING", nil, status("PENDING", ""), sdk.StateQueued, "PENDING"},
		{"status BLOCKED", nil, status("BLOCKED", ""), sdk.StateQueued, "BLOCKED"},
		{"status RUNNING", nil, status("RUNNING", ""), sdk.StateRunning, "RUNNING"},
		{"status WAITING", nil, status("WAITING", ""), sdk.StateRunning, "WAITING"},
		{"status TERMINATING", nil, status("TERMINATING", ""), sdk.StateRunning, "TERMINATING"},
		{"status TERMINATED SUCCESS", nil, status("TERMINATED", "SUCCESS"), sdk.StateSucceeded, "TERMINATED/SUCCESS"},
		{"status TERMINATED SUCCESS_WITH_FAILURES", nil, status("TERMINATED", "SUCCESS_WITH_FAILURES"), sdk.StateSucceeded, "TERMINATED/SUCCESS_WITH_FAILURES"},
		{"status TERMINATED USER_CANCELED", nil, status("TERMINATED", "USER_CANCELED"), sdk.StateCancelled, "TERMINATED/USER_CANCELED"},
		{"status TERMINATED CANCELED (also timeouts)", nil, status("TERMINATED", "CANCELED"), sdk.StateCancelled, "TERMINATED/CANCELED"},
		{"status TERMINATED SKIPPED", nil, status("TERMINATED", "SKIPPED"), sdk.StateSkipped, "TERMINATED/SKIPPED"},
		{"status TERMINATED DISABLED", nil, status("TERMINATED", "DISABLED"), sdk.StateSkipped, "TERMINATED/DISABLED"},
		{"status TERMINATED MAX_CONCURRENT_RUNS_EXCEEDED", nil, status("TERMINATED", "MAX_CONCURRENT_RUNS_EXCEEDED"), sdk.StateSkipped, "TERMINATED/MAX_CONCURRENT_RUNS_EXCEEDED"},
		{"status TERMINATED MAX_JOB_QUEUE_SIZE_EXCEEDED", nil, status("TERMINATED", "MAX_JOB_QUEUE_SIZE_EXCEEDED"), sdk.StateSkipped, "TERMINATED/MAX_JOB_QUEUE_SIZE_EXCEEDED"},
		{"status TERMINATED RUN_EXECUTION_ERROR", nil, status("TERMINATED", "RUN_EXECUTION_ERROR"), sdk.StateFailed, "TERMINATED/RUN_EXECUTION_ERROR"},
		{"status TERMINATED CLUSTER_ERROR", nil, status("TERMINATED", "CLUSTER_ERROR"), sdk.StateFailed, "TERMINATED/CLUSTER_ERROR"},
		{"status TERMINATED a future code", nil, status("TERMINATED", "SOMETHING_NEW"), sdk.StateFailed, "TERMINATED/SOMETHING_NEW"},
		{"status TERMINATED without a code", nil, status("TERMINATED", ""), unknown, "TERMINATED"},
		{"status unknown", nil, status("DREAMING", ""), unknown, "DREAMING"},
		{"nothing at all", nil, nil, unknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, raw, ok := mapState(c.state, c.status)
			if ok != (c.want != unknown) || got != c.want || raw != c.raw {
				t.Errorf("mapState = %q, %q, %v; want %q, %q, %v", got, raw, ok, c.want, c.raw, c.want != unknown)
			}
		})
	}
	// Every termination code the reference lists is covered: the ones not
	// in the table are failures.
	for _, code := range []string{"SUCCESS", "SUCCESS_WITH_FAILURES", "USER_CANCELED", "CANCELED", "SKIPPED", "DISABLED",
		"RUN_EXECUTION_ERROR", "INTERNAL_ERROR", "DRIVER_ERROR", "CLUSTER_ERROR", "CLOUD_FAILURE", "CLUSTER_REQUEST_LIMIT_EXCEEDED",
		"WORKSPACE_RUN_LIMIT_EXCEEDED", "MAX_CONCURRENT_RUNS_EXCEEDED", "MAX_JOB_QUEUE_SIZE_EXCEEDED", "MAX_SPARK_CONTEXTS_EXCEEDED",
		"INVALID_CLUSTER_REQUEST", "INVALID_RUN_CONFIGURATION", "LIBRARY_INSTALLATION_ERROR", "REPOSITORY_CHECKOUT_FAILED",
		"RESOURCE_NOT_FOUND", "STORAGE_ACCESS_ERROR", "UNAUTHORIZED_ERROR", "FEATURE_DISABLED", "BUDGET_POLICY_LIMIT_EXCEEDED", "BREAKING_CHANGE"} {
		got, _, ok := mapState(nil, status("TERMINATED", code))
		if !ok || !got.Valid() {
			t.Errorf("termination code %s maps to %q", code, got)
		}
	}
}

// The unknown rule as the connector applies it: previous state, else
// running.
func TestUnknownState_keepsPrevious(t *testing.T) {
	s := newSim(t, simOpts{})
	c := s.direct(t, false, nil, sdk.Env{})
	r := &apiRun{RunID: 1, JobID: 2, RunName: "j", StartTime: 1794884404218, State: &apiState{LifeCycleState: "NEW_LIFE"}}
	if got := c.toRun(r, "").State; got != sdk.StateRunning {
		t.Errorf("first sight: %s, want running", got)
	}
	if got := c.toRun(r, sdk.StateQueued).State; got != sdk.StateQueued {
		t.Errorf("with a previous state: %s, want queued", got)
	}
}
