package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	databrickssim "github.com/puod/puod/plugins/sim/databricks"
	"github.com/puod/puod/sdk"
)

const failedMessage = "Task transform_vendas failed with message: [TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`silver`.`vendas_itens` cannot be found. This caused all downstream tasks to get skipped."

func fixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := databrickssim.Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func checkFailedRun(t *testing.T, r sdk.Run) {
	t.Helper()
	want := sdk.Run{
		ExternalID: "1102044718239904", PipelineExternalID: "845213907761204", PipelineName: "etl_vendas_daily",
		State: sdk.StateFailed, RawState: "TERMINATED/FAILED",
		StartedAt:    time.Date(2026, 11, 17, 3, 0, 4, 218e6, time.UTC),
		EndedAt:      time.Date(2026, 11, 17, 3, 32, 42, 624e6, time.UTC),
		Duration:     1958406 * time.Millisecond,
		ErrorMessage: failedMessage,
		URL:          "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904",
	}
	if r.ExternalID != want.ExternalID || r.PipelineExternalID != want.PipelineExternalID || r.PipelineName != want.PipelineName ||
		r.State != want.State || r.RawState != want.RawState || !r.StartedAt.Equal(want.StartedAt) || !r.EndedAt.Equal(want.EndedAt) ||
		r.Duration != want.Duration || r.ErrorMessage != want.ErrorMessage || r.URL != want.URL || r.Attempt != 0 {
		t.Errorf("failed run:\n got %+v\nwant %+v", r, want)
	}
	if r.Attributes["termination_code"] != "RUN_EXECUTION_ERROR" || r.Attributes["trigger"] != "PERIODIC" {
		t.Errorf("attributes %v", r.Attributes)
	}
	wantTasks := []struct {
		id, name string
		state    sdk.RunState
		raw      string
		attempt  int
		errPart  string
	}{
		{"1102044718240011", "extract_vendas", sdk.StateSucceeded, "TERMINATED/SUCCESS", 0, ""},
		{"1102044718240356", "transform_vendas", sdk.StateFailed, "TERMINATED/FAILED", 1, "[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`silver`.`vendas_itens` cannot be found. Verify the spelling and correctness of the schema and catalog."},
		{"1102044718240187", "load_gold_vendas", sdk.StateSkipped, "SKIPPED/UPSTREAM_FAILED", 0, "Upstream task(s) failed."},
	}
	if len(r.Tasks) != len(wantTasks) {
		t.Fatalf("%d tasks, want %d", len(r.Tasks), len(wantTasks))
	}
	for i, w := range wantTasks {
		g := r.Tasks[i]
		if g.ExternalID != w.id || g.Name != w.name || g.State != w.state || g.RawState != w.raw || g.Attempt != w.attempt || g.ErrorMessage != w.errPart {
			t.Errorf("task %d: %+v", i, g)
		}
	}
	if !r.Tasks[1].StartedAt.Equal(time.UnixMilli(1794885181044).UTC()) || !r.Tasks[1].EndedAt.Equal(time.UnixMilli(1794886350984).UTC()) {
		t.Errorf("transform_vendas times: %s - %s", r.Tasks[1].StartedAt, r.Tasks[1].EndedAt)
	}
}

func TestFixtures_parseIntoRuns(t *testing.T) {
	s := newSim(t, simOpts{at: fixtureNow})
	c := s.direct(t, false, nil, sdk.Env{})

	var full apiRun
	fixture(t, "runs-get-failed.json", &full)
	checkFailedRun(t, c.toRun(&full, ""))

	type want struct {
		id    string
		state sdk.RunState
		raw   string
		msg   string
	}
	wants := []want{
		{"1102963358820017", sdk.StateRunning, "RUNNING", ""},
		{"1102587120094433", sdk.StateSucceeded, "TERMINATED/SUCCESS", ""},
		{"1102210938475561", sdk.StateSucceeded, "TERMINATED/SUCCESS", ""},
		{"1102044718239904", sdk.StateFailed, "TERMINATED/FAILED", failedMessage},
		{"1101928374650112", sdk.StateTimedOut, "TERMINATED/TIMEDOUT", "Run timed out after 1800 seconds."},
		{"1101560287731046", sdk.StateSucceeded, "TERMINATED/SUCCESS", ""},
	}
	var got []sdk.Run
	for _, f := range []string{"runs-list-page1.json", "runs-list-page2.json"} {
		var p runsPage
		fixture(t, f, &p)
		for i := range p.Runs {
			got = append(got, c.toRun(&p.Runs[i], ""))
		}
	}
	if len(got) != len(wants) {
		t.Fatalf("%d runs, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.ExternalID != w.id || r.State != w.state || r.RawState != w.raw || r.ErrorMessage != w.msg {
			t.Errorf("run %d: %s %s %s %q", i, r.ExternalID, r.State, r.RawState, r.ErrorMessage)
		}
	}
	running := got[0]
	if !running.EndedAt.IsZero() || running.Duration != fixtureNow.Sub(time.UnixMilli(1794892503507)) {
		t.Errorf("the running run: ended %s, duration %s (want now minus start)", running.EndedAt, running.Duration)
	}
	if got[1].Duration != 398904*time.Millisecond {
		t.Errorf("run_duration not used: %s", got[1].Duration)
	}

	var jobs jobsPage
	fixture(t, "jobs-list.json", &jobs)
	var ps []sdk.Pipeline
	for i := range jobs.Jobs {
		ps = append(ps, c.toPipeline(&jobs.Jobs[i]))
	}
	if len(ps) != 3 || ps[0].ExternalID != "845213907761204" || ps[0].Name != "etl_vendas_daily" ||
		!slices.Equal(ps[0].Tags, []string{"criticidade=alta", "dominio=vendas"}) || ps[2].Attributes["pause_status"] != "PAUSED" {
		t.Errorf("pipelines: %+v", ps)
	}
}

// The whole path: a workspace holding the reference scenario, synced over
// gRPC, gives the fixtures' runs, and its webhooks give the failed run.
func TestFixtures_throughTheWire(t *testing.T) {
	s := newSim(t, simOpts{at: fixtureNow, fixtures: true})
	in := s.serve(t, false, nil)
	sy := poll(t, in, "")
	if n := len(sy.Runs()); n != 6 {
		t.Fatalf("%d runs, want the fixtures' 6", n)
	}
	failed, ok := runByID(sy, "1102044718239904")
	if !ok {
		t.Fatal("the failed run is missing")
	}
	checkFailedRun(t, failed)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := in.Client.ListPipelines(ctx, in.ID())
	if err != nil || len(ps) != 3 {
		t.Fatalf("pipelines: %v %v", ps, err)
	}

	for _, f := range []string{"webhook-on-failure.json", "webhook-task-on-failure.json"} {
		body, _ := databrickssim.Fixture(f)
		runs, err := in.Client.HandleWebhook(ctx, in.ID(), sdk.Webhook{Headers: map[string]string{"Content-Type": "application/json"}, Body: body})
		if err != nil || len(runs) != 1 {
			t.Fatalf("%s: %v %v", f, runs, err)
		}
		checkFailedRun(t, runs[0])
		if runs[0].Attributes["notification"] != "jobs.on_failure" {
			t.Errorf("%s: attributes %v", f, runs[0].Attributes)
		}
	}
}
