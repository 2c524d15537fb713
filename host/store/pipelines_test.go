package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// TestPipelines_summary: last run, success rate and median duration over
// the latest runs; running and skipped runs do not count.
func TestPipelines_summary(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		finished := func(ext, state string, start, minutes int) store.RunUpsert {
			r := run(ext, "etl_vendas", state, start)
			r.EndedAt = at(start + minutes)
			return r
		}
		ingest(t, db, ctx, src.ID, nil,
			finished("1", store.RunSucceeded, 0, 10),
			finished("2", store.RunSucceeded, 60, 20),
			finished("3", store.RunFailed, 120, 40),
			finished("4", store.RunSucceeded, 180, 30),
			finished("5", store.RunSkipped, 240, 0),
			run("6", "etl_vendas", store.RunRunning, 300),
			run("idle-1", "ingest_clientes", store.RunQueued, 5),
		)
		ingest(t, db, ctx, src.ID, nil, store.RunUpsert{ExternalID: "x", PipelineExternalID: "empty", PipelineName: "AAA-empty"})
		if _, err := store.ExecRaw(t.Context(), db, `DELETE FROM runs WHERE external_id = 'x'`); err != nil {
			t.Fatal(err)
		}

		ps, next, err := db.Pipelines().List(ctx, store.PipelineFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if next != "" || len(ps) != 3 {
			t.Fatalf("%d pipelines (next %q), want 3", len(ps), next)
		}
		if ps[0].Name != "AAA-empty" || ps[0].LastRun != nil || ps[0].SuccessRate != nil || ps[0].MedianDurationMS != nil {
			t.Fatalf("pipeline without runs: %+v", ps[0])
		}
		var vendas store.PipelineSummary
		for _, p := range ps {
			if p.ExternalID == "etl_vendas" {
				vendas = p
			}
		}
		if vendas.LastRun == nil || vendas.LastRun.ExternalID != "6" || vendas.LastRun.State != store.RunRunning {
			t.Fatalf("last run = %+v, want run 6 (running)", vendas.LastRun)
		}
		if vendas.WindowRuns != 4 || vendas.SuccessRate == nil || *vendas.SuccessRate != 0.75 {
			t.Fatalf("window %d success %v, want 4 and 0.75", vendas.WindowRuns, vendas.SuccessRate)
		}
		// Durations 10, 20, 40, 30 minutes: the median is 25 minutes.
		if vendas.MedianDurationMS == nil || *vendas.MedianDurationMS != (25*time.Minute).Milliseconds() {
			t.Fatalf("median = %v, want 25 min", vendas.MedianDurationMS)
		}
		got, err := db.Pipelines().Get(ctx, vendas.ID)
		if err != nil || got.WindowRuns != 4 || got.Name != "Pipeline etl_vendas" {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	})
}

// TestPipelines_statsWindow: statistics cover the latest StatsWindow runs
// only.
func TestPipelines_statsWindow(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	src := mkSource(t, db, ctx, "dbx")
	var batch []store.RunUpsert
	for i := range store.StatsWindow + 50 {
		state := store.RunFailed // the 50 oldest
		if i >= 50 {
			state = store.RunSucceeded
		}
		r := run(fmt.Sprint(i), "etl", state, i)
		r.EndedAt = at(i + 1)
		batch = append(batch, r)
	}
	ingest(t, db, ctx, src.ID, nil, batch...)
	ps, _, err := db.Pipelines().List(ctx, store.PipelineFilter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].WindowRuns != store.StatsWindow || *ps[0].SuccessRate != 1 {
		t.Fatalf("window %d success %v, want %d and 1", ps[0].WindowRuns, *ps[0].SuccessRate, store.StatsWindow)
	}
}

func TestPipelines_listPages(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		var batch []store.RunUpsert
		for i := range 12 {
			// Names repeat: the id breaks ties.
			batch = append(batch, store.RunUpsert{ExternalID: fmt.Sprint(i), PipelineExternalID: fmt.Sprint("p", i), PipelineName: fmt.Sprint("name-", i%4)})
		}
		ingest(t, db, ctx, src.ID, nil, batch...)
		seen := map[string]bool{}
		var last store.PipelineSummary
		page := store.Page{Limit: 5}
		for {
			ps, next, err := db.Pipelines().List(ctx, store.PipelineFilter{SourceID: src.ID}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if seen[p.ID] {
					t.Fatalf("pipeline %s listed twice", p.ID)
				}
				if last.ID != "" && (p.Name < last.Name || (p.Name == last.Name && p.ID < last.ID)) {
					t.Fatalf("out of order: %s/%s after %s/%s", p.Name, p.ID, last.Name, last.ID)
				}
				seen[p.ID], last = true, p
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if len(seen) != 12 {
			t.Fatalf("%d pipelines listed, want 12", len(seen))
		}
	})
}

// TestPipelines_sync: connector metadata creates and updates pipelines,
// and ingest finds them by external id.
func TestPipelines_sync(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		in := []store.PipelineInput{
			{ExternalID: "1", Name: "etl_vendas_daily", Tags: []string{"sales"}, URL: "https://x/jobs/1", Attributes: map[string]string{"owner": "ana"}},
			{ExternalID: "2", Name: "ingest_clientes"},
		}
		n, err := db.Pipelines().Sync(ctx, src.ID, in)
		if err != nil || n != 2 {
			t.Fatalf("first sync: %d, %v", n, err)
		}
		if n, err := db.Pipelines().Sync(ctx, src.ID, in); err != nil || n != 0 {
			t.Fatalf("same sync again wrote %d rows (%v), want 0", n, err)
		}
		in[1].Tags = []string{"crm"}
		if n, err := db.Pipelines().Sync(ctx, src.ID, in); err != nil || n != 1 {
			t.Fatalf("changed sync wrote %d rows (%v), want 1", n, err)
		}
		r := run("r", "1", store.RunRunning, 0)
		r.PipelineName = ""
		res := ingest(t, db, ctx, src.ID, nil, r)
		ps, _, err := db.Pipelines().List(ctx, store.PipelineFilter{Text: "VENDAS"}, store.Page{})
		if err != nil || len(ps) != 1 {
			t.Fatalf("list: %v, %v", ps, err)
		}
		p := ps[0]
		if p.ID != res.Changed[0].PipelineID || p.URL != "https://x/jobs/1" || p.Tags[0] != "sales" || p.Attributes["owner"] != "ana" ||
			p.Name != "etl_vendas_daily" {
			t.Fatalf("pipeline after sync and ingest: %+v", p)
		}
		ingest(t, db, ctx, src.ID, nil, run("r", "1", store.RunRunning, 0))
		if got, _ := db.Pipelines().Get(ctx, p.ID); got.Name != "Pipeline 1" {
			t.Fatalf("pipeline name %q after a run named it, want the run's pipeline name", got.Name)
		}
		if _, err := db.Pipelines().Sync(ctx, src.ID, []store.PipelineInput{{Name: "no id"}}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("pipeline without external id: %v, want ErrInvalid", err)
		}
	})
}
