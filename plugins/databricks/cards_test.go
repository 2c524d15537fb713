package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
)

func TestQueryCard_allTypes(t *testing.T) {
	s := newSim(t, simOpts{scenario: true, history: 48 * time.Hour})
	in := s.serve(t, false, nil)
	etl, _ := s.ws.JobID("ETL_Vendas")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	day := sdk.TimeRange{From: scenarioNow.Add(-24 * time.Hour), To: scenarioNow}
	query := func(card, opts string) *sdk.Frame {
		t.Helper()
		f, err := in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: card, Options: json.RawMessage(opts), TimeRange: day})
		if err != nil {
			t.Fatalf("%s: %v", card, err)
		}
		if err := f.Validate(); err != nil {
			t.Fatalf("%s: invalid frame: %v", card, err)
		}
		return f
	}

	f := query(cardRunsTable, `{"job_id": "`+itoa(etl)+`", "limit": 500}`)
	if f.Type != sdk.FrameTable || f.Rows() < 90 || f.Rows() > 100 {
		t.Errorf("runs_table for ETL_Vendas over a day: %s with %d rows", f.Type, f.Rows())
	}
	if u := f.Field("duration").Unit; u != "ms" {
		t.Errorf("duration unit %q", u)
	}
	for i, job := range f.Field("job").Strings {
		if job != "ETL_Vendas" {
			t.Fatalf("row %d is job %s", i, job)
		}
		if at := f.Field("started_at").Times[i]; at.Before(day.From) || !at.Before(day.To) {
			t.Fatalf("row %d started at %s, outside the range", i, at)
		}
	}
	failed := query(cardRunsTable, `{"states": ["failed", "timed_out"]}`)
	for i, st := range failed.Field("state").Strings {
		if (st != "failed" && st != "timed_out") || failed.Field("error").Strings[i] == "" {
			t.Errorf("failed runs table row %d: %s %q", i, st, failed.Field("error").Strings[i])
		}
	}
	if failed.Rows() == 0 {
		t.Errorf("no failed run in a day of the scenario")
	}

	f = query(cardSuccessRate, `{}`)
	if f.Type != sdk.FrameStat || f.Rows() != 1 || f.Field("success_rate").Unit != "percent" {
		t.Fatalf("success_rate frame: %+v", f)
	}
	rate := f.Field("success_rate").Floats[0]
	if rate < 70 || rate > 100 {
		t.Errorf("success rate %v", rate)
	}
	if _, ok := f.Meta["trend"]; !ok {
		t.Errorf("no trend in meta: %v", f.Meta)
	}
	if _, ok := f.Meta["previous"]; !ok {
		t.Errorf("no previous value in meta: %v", f.Meta)
	}

	f = query(cardDurationTrend, `{"job_id": "`+itoa(etl)+`"}`)
	if f.Type != sdk.FrameTimeSeries || f.Rows() < 20 || f.Field("avg_duration").Unit != "ms" || f.Meta["interval"] != "hour" {
		t.Errorf("duration_trend: %s, %d rows, meta %v", f.Type, f.Rows(), f.Meta)
	}
	slowest := time.Duration(0)
	for _, d := range f.Field("max_duration").Durations {
		slowest = max(slowest, d)
	}
	if slowest <= 5*time.Minute {
		t.Errorf("no hour where ETL_Vendas ran longer than 5 minutes (longest %s)", slowest)
	}

	f = query(cardStatusGrid, `{"runs_per_job": 5}`)
	perJob := map[string]int{}
	for _, j := range f.Field("job").Strings {
		perJob[j]++
	}
	if f.Type != sdk.FrameStatusGrid || len(perJob) < 4 {
		t.Errorf("status_grid: %s, jobs %v", f.Type, perJob)
	}
	for j, n := range perJob {
		if n > 5 {
			t.Errorf("job %s has %d cells, want at most 5", j, n)
		}
	}
	times := f.Field("started_at").Times
	jobs := f.Field("job").Strings
	for i := 1; i < len(times); i++ {
		if jobs[i] == jobs[i-1] && times[i].Before(times[i-1]) {
			t.Errorf("status grid row %d is older than the one before it", i)
		}
	}

	// An unknown card type is a not-found error, bad options a config one.
	if _, err := in.Client.QueryCard(ctx, in.ID(), sdk.CardQuery{CardType: cardRunsTable, Options: json.RawMessage(`{"job_id": "x"}`), TimeRange: day}); err == nil {
		t.Errorf("a non-numeric job_id was accepted")
	}
}
