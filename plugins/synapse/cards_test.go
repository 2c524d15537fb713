package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func queryCard(t *testing.T, in *plugintest.Instance, typ, options string, from, to time.Time) (*sdk.Frame, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: typ, Options: json.RawMessage(options), TimeRange: sdk.TimeRange{From: from, To: to}})
}

func mustCard(t *testing.T, in *plugintest.Instance, typ, options string, from, to time.Time) *sdk.Frame {
	t.Helper()
	f, err := queryCard(t, in, typ, options, from, to)
	if err != nil {
		t.Fatalf("QueryCard(%s, %s): %v", typ, options, err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("QueryCard(%s): invalid frame: %v", typ, err)
	}
	return f
}

// simRunsStarted lists the simulator's runs that started in [from, to).
func simRunsStarted(e *testEnv, from, to time.Time, pipeline string) []synapsesim.PipelineRun {
	var out []synapsesim.PipelineRun
	for _, r := range e.sim.Runs() {
		start, _ := time.Parse(time.RFC3339Nano, r.RunStart)
		if !start.Before(from) && start.Before(to) && (pipeline == "" || r.PipelineName == pipeline) {
			out = append(out, r)
		}
	}
	return out
}

func TestCards(t *testing.T) {
	e := newEnv(t, synapsesim.Options{History: 36 * time.Hour}, nil)
	in := e.served(t)
	from, to := t0.Add(-12*time.Hour), t0

	t.Run("runs_table", func(t *testing.T) {
		f := mustCard(t, in, cardRunsTable, `{}`, from, to)
		if f.Type != sdk.FrameTable || f.Rows() != 50 {
			t.Fatalf("type %s, %d rows; want a table of the default 50", f.Type, f.Rows())
		}
		if d := f.Field("duration"); d == nil || d.Type != sdk.FieldDuration || d.Unit != "ms" {
			t.Errorf("duration field: %+v", d)
		}
		starts := f.Field("started_at").Times
		for i := 1; i < len(starts); i++ {
			if starts[i].After(starts[i-1]) {
				t.Fatal("runs are not newest first")
			}
		}
		f = mustCard(t, in, cardRunsTable, `{"state": "failed", "limit": 500, "pipeline": "ETL_Vendas"}`, from, to)
		want := 0
		for _, r := range simRunsStarted(e, from, to, "ETL_Vendas") {
			if r.Status == "Failed" {
				want++
			}
		}
		if f.Rows() != want || want == 0 {
			t.Errorf("%d failed ETL_Vendas runs, the simulator has %d", f.Rows(), want)
		}
		for i := 0; i < f.Rows(); i++ {
			if f.Field("state").Strings[i] != "failed" || f.Field("error_message").Strings[i] == "" || f.Field("pipeline").Strings[i] != "ETL_Vendas" {
				t.Errorf("row %d: %v %v", i, f.Field("state").Value(i), f.Field("error_message").Value(i))
			}
		}
	})

	t.Run("success_rate", func(t *testing.T) {
		f := mustCard(t, in, cardSuccessRate, `{}`, from, to)
		var ok, bad int
		for _, r := range simRunsStarted(e, from, to, "") {
			switch r.Status {
			case "Succeeded":
				ok++
			case "Failed":
				bad++
			}
		}
		want := math.Round(1000*float64(ok)/float64(ok+bad)) / 10
		if f.Type != sdk.FrameStat || f.Rows() != 1 || f.Field("success_rate").Floats[0] != want || f.Field("success_rate").Unit != "percent" {
			t.Errorf("success rate %v (%s), want %.1f", f.Field("success_rate").Value(0), f.Field("success_rate").Unit, want)
		}
		if f.Field("succeeded").Ints[0] != int64(ok) || f.Field("failed").Ints[0] != int64(bad) {
			t.Errorf("counts %d/%d, want %d/%d", f.Field("succeeded").Ints[0], f.Field("failed").Ints[0], ok, bad)
		}
		if _, has := f.Meta["trend"].(float64); !has {
			t.Errorf("no trend in meta: %v", f.Meta)
		}
		empty := mustCard(t, in, cardSuccessRate, `{"pipeline": "no_such_pipeline"}`, from, to)
		if !empty.Field("success_rate").IsNull(0) {
			t.Errorf("a rate without runs should be null, got %v", empty.Field("success_rate").Value(0))
		}
	})

	t.Run("duration_trend", func(t *testing.T) {
		f := mustCard(t, in, cardDurationTrend, `{"pipeline": "ETL_Vendas", "aggregate": "max"}`, from, to)
		if f.Type != sdk.FrameTimeSeries || len(f.Fields) != 2 || f.Fields[1].Name != "ETL_Vendas" || f.Fields[1].Unit != "ms" {
			t.Fatalf("frame: %s %v", f.Type, f.Fields)
		}
		if f.Rows() != 48 || f.Meta["bucket"] != "15m" {
			t.Errorf("%d rows, bucket %v; want 48 rows of 15m over 12h", f.Rows(), f.Meta["bucket"])
		}
		long := 0
		for i := 0; i < f.Rows(); i++ {
			if !f.Fields[1].IsNull(i) && f.Fields[1].Durations[i] > 5*time.Minute {
				long++
			}
		}
		if long == 0 {
			t.Error("no ETL_Vendas bucket over 5 minutes: the scenario has slow runs")
		}
		all := mustCard(t, in, cardDurationTrend, `{"max_series": 3, "bucket": "1h"}`, from, to)
		if len(all.Fields) != 4 || all.Rows() != 12 {
			t.Errorf("3 series over 12 hourly buckets: %d fields, %d rows", len(all.Fields), all.Rows())
		}
	})

	t.Run("status_grid", func(t *testing.T) {
		f := mustCard(t, in, cardStatusGrid, `{"runs_per_pipeline": 3}`, from, to)
		per := map[string]int{}
		for i := 0; i < f.Rows(); i++ {
			p := f.Field("pipeline").Strings[i]
			if f.Field("position").Ints[i] != int64(per[p]) || !sdk.RunState(f.Field("state").Strings[i]).Valid() {
				t.Errorf("row %d: %s position %d state %s", i, p, f.Field("position").Ints[i], f.Field("state").Strings[i])
			}
			per[p]++
		}
		if f.Type != sdk.FrameStatusGrid || len(per) < 4 || per["ETL_Vendas"] != 3 {
			t.Errorf("grid: %s %v", f.Type, per)
		}
	})

	t.Run("bad options", func(t *testing.T) {
		_, err := queryCard(t, in, cardRunsTable, `{"limit": 0}`, from, to)
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindConfig || se.Field != "/options/limit" {
			t.Errorf("limit 0: %v", err)
		}
		_, err = queryCard(t, in, cardRunsTable, `{}`, to, from)
		if !errors.As(err, &se) || se.Kind != sdk.KindConfig {
			t.Errorf("inverted range: %v", err)
		}
	})
}
