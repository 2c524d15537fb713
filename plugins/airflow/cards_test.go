package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	sdkmanifest "github.com/puod/puod/sdk/manifest"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

func TestCards_answerEveryDeclaredType(t *testing.T) {
	m, err := sdkmanifest.Parse(manifest)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: 3 * 24 * time.Hour})
	in := w.instance(t, nil)
	day := sdk.TimeRange{From: testNow.Add(-24 * time.Hour), To: testNow}
	want := map[string]sdk.FrameType{
		"runs_table": sdk.FrameTable, "success_rate": sdk.FrameStat,
		"duration_trend": sdk.FrameTimeSeries, "status_grid": sdk.FrameStatusGrid,
	}
	if len(m.Cards) != len(want) {
		t.Fatalf("plugin.json declares %d card types, want %d", len(m.Cards), len(want))
	}
	for _, card := range m.Cards {
		f, err := in.Client.QueryCard(context.Background(), in.ID(), sdk.CardQuery{CardType: card.Type, Options: json.RawMessage(`{}`), TimeRange: day})
		if err != nil {
			t.Errorf("%s: %v", card.Type, err)
			continue
		}
		if f.Type != want[card.Type] || f.Rows() == 0 {
			t.Errorf("%s: frame type %s with %d rows", card.Type, f.Type, f.Rows())
		}
		for _, fld := range f.Fields {
			if (fld.Type == sdk.FieldFloat || fld.Type == sdk.FieldInt) && fld.Name != "position" && fld.Unit == "" {
				t.Errorf("%s: numeric field %s has no unit", card.Type, fld.Name)
			}
		}
	}
}

func TestCards_content(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V1, history: 3 * 24 * time.Hour})
	c := w.connector(t, nil)
	ctx := context.Background()
	day := sdk.TimeRange{From: testNow.Add(-24 * time.Hour), To: testNow}
	query := func(typ, opts string) *sdk.Frame {
		t.Helper()
		f, err := c.QueryCard(ctx, sdk.CardQuery{CardType: typ, Options: json.RawMessage(opts), TimeRange: day})
		if err != nil {
			t.Fatalf("%s %s: %v", typ, opts, err)
		}
		if err := f.Validate(); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return f
	}
	// Expected from the simulator: runs started in the day.
	var started, finishedOK, finishedAll int
	for _, r := range w.sim.Runs() {
		if r.StartDate.IsZero() || r.StartDate.Before(day.From) || !r.StartDate.Before(day.To) {
			continue
		}
		started++
		if r.State == "success" {
			finishedOK++
		}
		if r.State == "success" || r.State == "failed" {
			finishedAll++
		}
	}

	tbl := query("runs_table", `{"limit": 1000}`)
	if tbl.Rows() != started {
		t.Errorf("runs_table: %d rows, the day has %d started runs", tbl.Rows(), started)
	}
	times := tbl.Field("started_at").Times
	for i := 1; i < len(times); i++ {
		if times[i].After(times[i-1]) {
			t.Fatalf("runs_table is not newest first")
		}
	}
	failed := query("runs_table", `{"state": "failed", "limit": 5}`)
	for i := 0; i < failed.Rows(); i++ {
		if failed.Field("state").Strings[i] != "failed" || failed.Field("error").Strings[i] == "" {
			t.Errorf("failed-runs table row %d: %v %q", i, failed.Field("state").Strings[i], failed.Field("error").Strings[i])
		}
	}

	sr := query("success_rate", `{}`)
	if got := sr.Field("finished").Ints[0]; int(got) != finishedAll {
		t.Errorf("success_rate counts %d finished runs, want %d", got, finishedAll)
	}
	want := float64(finishedOK) / float64(finishedAll) * 100
	if got := sr.Field("success_rate").Floats[0]; got < want-0.01 || got > want+0.01 {
		t.Errorf("success_rate %.2f%%, want %.2f%%", got, want)
	}
	trend, _ := sr.Meta["trend"].(map[string]any)
	if trend == nil || trend["previous_success_rate"] == nil || trend["direction"] == "unknown" {
		t.Errorf("success_rate meta has no trend: %v", sr.Meta)
	}

	dt := query("duration_trend", `{"dag_id": "ETL_Vendas", "bucket": "run"}`)
	slow := 0
	for i := 0; i < dt.Rows(); i++ {
		if dt.Field("dag_id").Strings[i] != "ETL_Vendas" {
			t.Fatalf("duration_trend for ETL_Vendas has %s", dt.Field("dag_id").Strings[i])
		}
		if dt.Field("duration").Floats[i] > 300 {
			slow++
		}
	}
	if dt.Rows() < 80 || slow == 0 {
		t.Errorf("ETL_Vendas: %d points, %d over 5 minutes", dt.Rows(), slow)
	}
	hourly := query("duration_trend", `{"bucket": "hour"}`)
	if hourly.Rows() == 0 || hourly.Rows() >= tbl.Rows() {
		t.Errorf("hourly buckets: %d rows for %d runs", hourly.Rows(), tbl.Rows())
	}

	grid := query("status_grid", `{"runs_per_dag": 3}`)
	per := map[string]int{}
	for i := 0; i < grid.Rows(); i++ {
		per[grid.Field("dag_id").Strings[i]]++
	}
	for dag, n := range per {
		if n > 3 {
			t.Errorf("status_grid shows %d runs of %s, want at most 3", n, dag)
		}
	}
	if len(per) < 4 {
		t.Errorf("status_grid covers %d DAGs", len(per))
	}
	if _, err := c.QueryCard(ctx, sdk.CardQuery{CardType: "nope"}); err == nil {
		t.Errorf("an unknown card type answers")
	}
}
