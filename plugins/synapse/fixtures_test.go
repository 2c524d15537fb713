package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
)

// The doc's scenario (shared/apis/synapse.md, fixtures/synapse).
const (
	fxFailed    = "c6d1f0a2-8e4b-4c39-9a57-2f0e3b7d1a64"
	fxRecovery  = "9e4d7b21-3c6a-4f58-8d0e-b5a1c2f3d4e6"
	fxCust0430  = "5b2e8c17-0f6a-4d2e-b1c9-7a3d9e64f0b8"
	fxCust0330  = "1f9a3c42-7d85-4e0b-a6f3-c28d5b9e7a13"
	fxCust0230  = "2a8f5e63-b94c-4d17-9e2a-6c3b0d1f8e57"
	fxLoginFail = "Login failed for user 'svc_syn_loader'."
)

func fxTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestFixtures_parse decodes the fixture bodies with the plugin's wire
// types: 7-digit times, null runEnd and durationInMs, the continuation
// token.
func TestFixtures_parse(t *testing.T) {
	var p1, p2 runsPage
	if err := json.Unmarshal(synapsesim.Fixture("query-pipeline-runs-page1.json"), &p1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(synapsesim.Fixture("query-pipeline-runs-page2.json"), &p2); err != nil {
		t.Fatal(err)
	}
	if len(p1.Value) != 3 || len(p2.Value) != 2 || p1.ContinuationToken == nil || *p1.ContinuationToken == "" || p2.ContinuationToken != nil {
		t.Fatalf("pages: %d runs (token %v), %d runs (token %v)", len(p1.Value), p1.ContinuationToken, len(p2.Value), p2.ContinuationToken)
	}
	rec := p1.Value[0]
	if rec.RunID != fxRecovery || !rec.RunEnd.IsZero() || rec.DurationInMs != nil || !rec.RunStart.Equal(time.Date(2026, 11, 17, 5, 5, 12, 441780600, time.UTC)) {
		t.Errorf("recovery run: %+v", rec)
	}
	failed := p1.Value[2]
	if failed.RunID != fxFailed || failed.Status != "Failed" || *failed.DurationInMs != 458339 || !failed.RunEnd.Equal(fxTime("2026-11-17T04:07:41.2209737Z")) ||
		!strings.Contains(failed.Message, fxLoginFail) || paramString(failed.Parameters["p_full_reload"]) != "false" {
		t.Errorf("failed run: %+v", failed)
	}
	var one pipelineRun
	if err := json.Unmarshal(synapsesim.Fixture("pipeline-run-get.json"), &one); err != nil || one.RunID != fxFailed {
		t.Errorf("pipeline-run-get: %+v %v", one, err)
	}
	var acts activityPage
	if err := json.Unmarshal(synapsesim.Fixture("activity-runs.json"), &acts); err != nil || len(acts.Value) != 2 ||
		acts.Value[1].Error == nil || acts.Value[1].Error.ErrorCode != "2200" || acts.Value[0].RetryAttempt != nil {
		t.Errorf("activity runs: %+v %v", acts, err)
	}
	var ps pipelinesPage
	if err := json.Unmarshal(synapsesim.Fixture("pipelines-list.json"), &ps); err != nil || len(ps.Value) != 2 || ps.Value[0].Properties.Folder.Name != "vendas" {
		t.Errorf("pipelines: %+v %v", ps, err)
	}
	var req runFilter
	if err := json.Unmarshal(synapsesim.Fixture("query-pipeline-runs-request.json"), &req); err != nil {
		t.Fatal(err)
	}
	mine := newFilter(fxTime(req.LastUpdatedAfter), fxTime(req.LastUpdatedBefore), "", []queryFilter{{Operand: "PipelineName", Operator: "In", Values: []string{"pl_sales_load", "pl_customers_sync"}}})
	a, _ := json.Marshal(req)
	b, _ := json.Marshal(mine)
	if string(a) != string(b) {
		t.Errorf("the plugin's first-page body differs from the fixture request:\n got %s\nwant %s", b, a)
	}
}

// TestFixtures_syncIntoExpectedRuns syncs the doc's scenario: the
// simulator answers the plugin's requests with the fixture files byte for
// byte (the fixture continuation token comes back in the first cursor), and
// the runs come out as the scenario says.
func TestFixtures_syncIntoExpectedRuns(t *testing.T) {
	e := newEnv(t, synapsesim.Options{Fixtures: true}, map[string]any{
		"pipelines": []string{"pl_sales_load", "pl_customers_sync"}, "initial_lookback": "5h20m",
	})
	in := e.served(t)
	s := mustPoll(t, in, "")
	if len(s.Batches) != 2 || !strings.Contains(s.Batches[0].NextCursor, `+RID:~Xo1bAKzNJ8ABAAAAAAAAAA==#RT:1#TRC:3#ISV:2#IEO:65567#QCF:8`) {
		t.Fatalf("%d batches, first cursor %s: the fixture pages were not the ones served", len(s.Batches), s.Batches[0].NextCursor)
	}
	runs, n := byID(s.Runs())
	if len(runs) != 5 || len(n) != 5 {
		t.Fatalf("%d runs, want the scenario's 5", len(runs))
	}
	for id, want := range map[string]struct {
		state sdk.RunState
		raw   string
	}{
		fxRecovery: {sdk.StateRunning, "InProgress"}, fxCust0430: {sdk.StateSucceeded, "Succeeded"}, fxFailed: {sdk.StateFailed, "Failed"},
		fxCust0330: {sdk.StateSucceeded, "Succeeded"}, fxCust0230: {sdk.StateCancelled, "Cancelled"},
	} {
		if r := runs[id]; r.State != want.state || r.RawState != want.raw {
			t.Errorf("run %s: %s (%s), want %s (%s)", id, r.State, r.RawState, want.state, want.raw)
		}
	}

	f := runs[fxFailed]
	if f.PipelineExternalID != "pl_sales_load" || f.Attempt != 1 || !strings.HasPrefix(f.ErrorMessage, "Operation on target Copy_Sales_To_Staging failed: Failure happened on 'Sink' side.") ||
		!strings.Contains(f.ErrorMessage, fxLoginFail) {
		t.Errorf("failed run: %+v", f)
	}
	if !f.StartedAt.Equal(fxTime("2026-11-17T04:00:02.8815201Z")) || !f.EndedAt.Equal(fxTime("2026-11-17T04:07:41.2209737Z")) || f.Duration != 458339*time.Millisecond {
		t.Errorf("failed run times: %s %s %s", f.StartedAt, f.EndedAt, f.Duration)
	}
	for k, v := range map[string]string{
		"run_group_id": fxFailed, "invoked_by": "tr_sales_daily_0400", "invoked_by_type": "ScheduleTrigger", "param.p_data_ref": "2026-11-16",
		"annotations": "dominio:vendas", "failed_activity": "Copy_Sales_To_Staging", "failed_activity_type": "Copy", "error_code": "2200", "failure_type": "UserError",
	} {
		if f.Attributes[k] != v {
			t.Errorf("failed run attribute %s = %q, want %q", k, f.Attributes[k], v)
		}
	}
	if len(f.Tasks) != 2 || f.Tasks[0].Name != "Lookup_Watermark" || f.Tasks[0].State != sdk.StateSucceeded || f.Tasks[0].Attempt != 1 ||
		f.Tasks[1].Name != "Copy_Sales_To_Staging" || f.Tasks[1].State != sdk.StateFailed || !strings.Contains(f.Tasks[1].ErrorMessage, fxLoginFail) ||
		f.Tasks[1].ExternalID != "7f3a1d6b-c08e-4b92-a5d7-3e1f9c2b8a40" || !f.Tasks[1].EndedAt.Equal(fxTime("2026-11-17T04:07:38.5526104Z")) {
		t.Errorf("failed run tasks: %+v", f.Tasks)
	}
	if f.Metrics["rows_read"] != 412880 || f.Metrics["rows_copied"] != 0 || f.Metrics["data_read_bytes"] != 18350211 {
		t.Errorf("failed run metrics: %v", f.Metrics)
	}
	if !strings.Contains(f.URL, "workspace=%2Fsubscriptions%2F3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c%2FresourceGroups%2Frg-dados-prod%2Fproviders%2FMicrosoft.Synapse%2Fworkspaces%2Fsyn-puod-prod") {
		t.Errorf("run URL %s does not name the fixture workspace", f.URL)
	}

	r := runs[fxRecovery]
	if r.Attempt != 2 || r.Attributes["run_group_id"] != fxFailed || r.Attributes["invoked_by_type"] != "Manual" || !r.EndedAt.IsZero() || r.Duration != 0 || r.ErrorMessage != "" {
		t.Errorf("recovery re-run: %+v", r)
	}
	if c := runs[fxCust0430]; c.Duration != 491767*time.Millisecond || c.Attributes["param.p_since_hours"] != "1" || len(c.Tasks) != 0 {
		t.Errorf("pl_customers_sync 04:30: %+v", c)
	}
}
