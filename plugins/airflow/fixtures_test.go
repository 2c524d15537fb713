package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/puod/puod/sdk"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

func fixture[T any](t *testing.T, name string) T {
	t.Helper()
	b, err := airflowsim.Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture %s does not parse: %v", name, err)
	}
	return v
}

// TestFixtures_parseIntoRuns converts the API reference's fixtures: the
// failed dag_finance_close run names reconcile_ledger, its third try, and
// the upstream_failed report task.
func TestFixtures_parseIntoRuns(t *testing.T) {
	for _, tc := range []struct {
		api, runs, tasks string
		n                int
	}{
		{apiV1, "v1-dagruns-list.json", "v1-task-instances.json", 4},
		{apiV2, "v2-dagruns.json", "v2-task-instances.json", 3},
	} {
		t.Run(tc.api, func(t *testing.T) {
			c := testConnector(t)
			list := fixture[dagRunList](t, tc.runs)
			tis := fixture[taskList](t, tc.tasks)
			byID := map[string]sdk.Run{}
			for _, r := range *list.DagRuns {
				run := c.toRun(tc.api, r)
				if run.State == sdk.StateFailed {
					applyTasks(c, tc.api, &run, *tis.TaskInstances)
				}
				byID[run.ExternalID] = run
			}
			if len(byID) != tc.n {
				t.Fatalf("%d runs, want %d", len(byID), tc.n)
			}
			f := byID["dag_finance_close/scheduled__2026-11-16T06:00:00+00:00"]
			start := time.Date(2026, 11, 17, 6, 0, 3, 412518000, time.UTC)
			end := time.Date(2026, 11, 17, 6, 41, 27, 902311000, time.UTC)
			if f.State != sdk.StateFailed || f.RawState != "failed" || !f.StartedAt.Equal(start) || !f.EndedAt.Equal(end) {
				t.Errorf("failed run: %s (%s) %v..%v", f.State, f.RawState, f.StartedAt, f.EndedAt)
			}
			if f.Duration != 2484489793*time.Microsecond {
				t.Errorf("duration %v, want 41m24.489793s", f.Duration)
			}
			wantMsg := "task reconcile_ledger failed after 3 tries (PythonOperator); 1 downstream task(s) upstream_failed"
			if f.ErrorMessage != wantMsg {
				t.Errorf("error message %q, want %q", f.ErrorMessage, wantMsg)
			}
			if f.Attributes["failed_task"] != "reconcile_ledger" || f.Attributes["failed_task_log_url"] == "" {
				t.Errorf("attributes %v", f.Attributes)
			}
			tasks := map[string]sdk.TaskRun{}
			for _, tr := range f.Tasks {
				tasks[tr.ExternalID] = tr
			}
			if r := tasks["reconcile_ledger"]; r.State != sdk.StateFailed || r.Attempt != 3 || r.ErrorMessage != "failed on try 3 of 3" {
				t.Errorf("reconcile_ledger: %+v", r)
			}
			if r := tasks["publish_close_report"]; r.State != sdk.StateSkipped || r.RawState != "upstream_failed" || r.Attempt != 0 {
				t.Errorf("publish_close_report: %+v", r)
			}
			if r := tasks["extract_gl"]; r.State != sdk.StateSucceeded || r.Attempt != 1 {
				t.Errorf("extract_gl: %+v", r)
			}
			q := byID["dag_vendas_export/manual__2026-11-17T06:52:10.118734+00:00"]
			if q.State != sdk.StateQueued || !q.StartedAt.IsZero() || q.Attributes["run_type"] != "manual" {
				t.Errorf("queued manual run: %+v", q)
			}
			if tc.api == apiV2 {
				if _, ok := q.Attributes["logical_date"]; ok {
					t.Errorf("v2 manual run has a logical_date attribute though Airflow 3 sends null")
				}
				if q.Attributes["triggering_user"] != "ana.souza" || q.Attributes["run_after"] == "" || q.QueuedAt.IsZero() {
					t.Errorf("v2 manual run attributes %v, queued %v", q.Attributes, q.QueuedAt)
				}
			}
			r := byID["dag_clientes_refresh/scheduled__2026-11-17T06:00:00+00:00"]
			if r.State != sdk.StateRunning || r.Duration != 0 || !r.EndedAt.IsZero() {
				t.Errorf("running run: %+v", r)
			}
			for id, run := range byID {
				if run.URL == "" || run.PipelineExternalID == "" {
					t.Errorf("run %s lacks URL or pipeline", id)
				}
			}
		})
	}
}

func testConnector(t *testing.T) *connector {
	t.Helper()
	inst, err := options{}.build(context.Background(), Config{BaseURL: "https://airflow.example.com", Username: "u", Password: "p"}, sdk.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return inst.(*connector)
}

// TestFixtures_endToEnd syncs the fixtures' world (fixture mode of the
// simulator) at the scenario's 07:10 and a minute later.
func TestFixtures_endToEnd(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, fixtures: true})
			in := w.instance(t, nil)
			s1 := poll(t, in, "")
			// dag_clientes_refresh's running run changed at 07:09:58, after
			// the window's end (now - 5 s): it comes with the next poll.
			if n := len(s1.IDs()); n != 3 {
				t.Errorf("first poll: %d runs, want 3", n)
			}
			w.clock.Advance(time.Minute)
			s2 := poll(t, in, s1.Cursor())
			all := runsOf(s1)
			for id, r := range runsOf(s2) {
				all[id] = r
			}
			if len(all) != 4 {
				t.Errorf("after two polls: %d runs, want 4", len(all))
			}
			f := all["dag_finance_close/scheduled__2026-11-16T06:00:00+00:00"]
			if f.ErrorMessage != "task reconcile_ledger failed after 3 tries (PythonOperator); 1 downstream task(s) upstream_failed" {
				t.Errorf("failed run message %q", f.ErrorMessage)
			}
			wantURL := w.srv.URL + "/dags/dag_finance_close/runs/scheduled__2026-11-16T06%3A00%3A00%2B00%3A00"
			if api == airflowsim.V1 {
				wantURL = w.srv.URL + "/dags/dag_finance_close/grid?dag_run_id=scheduled__2026-11-16T06%3A00%3A00%2B00%3A00"
			}
			if f.URL != wantURL {
				t.Errorf("run URL %s, want %s", f.URL, wantURL)
			}
		})
	}
}
