package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func mkSource(t *testing.T, db *store.DB, ctx context.Context, name string) store.Source {
	t.Helper()
	src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hello", Name: name, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var t0 = time.Date(2026, 11, 17, 3, 0, 0, 0, time.UTC)

func at(min int) *time.Time {
	t := t0.Add(time.Duration(min) * time.Minute)
	return &t
}

func run(ext, pipeline, state string, startMin int) store.RunUpsert {
	return store.RunUpsert{ExternalID: ext, PipelineExternalID: pipeline, PipelineName: "Pipeline " + pipeline,
		RunData: store.RunData{State: state, RawState: "RAW_" + state, StartedAt: at(startMin)}}
}

func ingest(t *testing.T, db *store.DB, ctx context.Context, srcID string, cursor *string, runs ...store.RunUpsert) store.IngestResult {
	t.Helper()
	res, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: srcID, Runs: runs, Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ptr[T any](v T) *T { return &v }

func countRuns(t *testing.T, db *store.DB, ctx context.Context, srcID string) int {
	t.Helper()
	n, err := db.Runs().Count(ctx, srcID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRuns_ingestIdempotent: the same batch twice stores each run once and
// reports changes only the first time; an overlapping batch reports only
// what is new.
func TestRuns_ingestIdempotent(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		var batch []store.RunUpsert
		for i := range 120 {
			r := run(strconv.Itoa(i), "etl_"+strconv.Itoa(i%3), store.RunSucceeded, i)
			r.EndedAt = at(i + 1)
			r.Attributes = map[string]string{"trigger": "cron", "i": strconv.Itoa(i)}
			r.Tasks = []store.Task{{ExternalID: "t1", Name: "ingest", State: store.RunSucceeded, StartedAt: at(i)}}
			r.Metrics = map[string]float64{"rows": float64(i)}
			batch = append(batch, r)
		}
		first := ingest(t, db, ctx, src.ID, ptr("c1"), batch...)
		if first.Received != 120 || first.Written != 120 || len(first.Changed) != 120 {
			t.Fatalf("first ingest: received %d written %d changed %d, want 120 each", first.Received, first.Written, len(first.Changed))
		}
		for _, c := range first.Changed {
			if !c.New || c.PreviousState != "" || c.State != store.RunSucceeded || c.RunID == "" || c.PipelineID == "" || c.PipelineExternalID == "" {
				t.Fatalf("change of a new run: %+v", c)
			}
		}
		if !first.Latest.Equal(*at(120)) {
			t.Fatalf("Latest = %v, want %v", first.Latest, *at(120))
		}
		again := ingest(t, db, ctx, src.ID, ptr("c1"), batch...)
		if again.Written != 0 || len(again.Changed) != 0 {
			t.Fatalf("replay: written %d, changed %v; want nothing", again.Written, again.Changed)
		}
		// Overlap: the last 20 again plus 10 new ones.
		overlap := append([]store.RunUpsert(nil), batch[100:]...)
		for i := 120; i < 130; i++ {
			overlap = append(overlap, run(strconv.Itoa(i), "etl_0", store.RunRunning, i))
		}
		res := ingest(t, db, ctx, src.ID, ptr("c2"), overlap...)
		if res.Written != 10 || len(res.Changed) != 10 {
			t.Fatalf("overlap: written %d changed %d, want 10 and 10", res.Written, len(res.Changed))
		}
		if n := countRuns(t, db, ctx, src.ID); n != 130 {
			t.Fatalf("%d runs stored, want 130", n)
		}
		ps, _, err := db.Pipelines().List(ctx, store.PipelineFilter{SourceID: src.ID}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 3 {
			t.Fatalf("%d pipelines, want 3 (created once each)", len(ps))
		}
		got, err := db.Runs().GetByExternalID(ctx, src.ID, "7")
		if err != nil {
			t.Fatal(err)
		}
		if got.Attributes["i"] != "7" || len(got.Tasks) != 1 || got.Tasks[0].Name != "ingest" || got.Metrics["rows"] != 7 ||
			got.DurationMS == nil || *got.DurationMS != 60000 || got.PipelineExternalID != "etl_1" || got.PipelineName != "Pipeline etl_1" {
			t.Fatalf("stored run = %+v", got)
		}
		s, err := db.Sources().Get(ctx, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Cursor != "c2" {
			t.Fatalf("cursor = %q, want c2", s.Cursor)
		}
	})
}

// TestRuns_ingestStateChanges: a run seen running then finished is one
// row, with exactly one change per change.
func TestRuns_ingestStateChanges(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		steps := []struct {
			name    string
			run     store.RunUpsert
			changed bool
			prev    string
		}{
			{"new, running", run("r1", "etl", store.RunRunning, 0), true, ""},
			{"running again", run("r1", "etl", store.RunRunning, 0), false, ""},
			{"finished", func() store.RunUpsert {
				r := run("r1", "etl", store.RunFailed, 0)
				r.EndedAt, r.ErrorMessage = at(5), "boom"
				return r
			}(), true, store.RunRunning},
			{"finished again", func() store.RunUpsert {
				r := run("r1", "etl", store.RunFailed, 0)
				r.EndedAt, r.ErrorMessage = at(5), "boom"
				return r
			}(), false, ""},
			{"error text changed", func() store.RunUpsert {
				r := run("r1", "etl", store.RunFailed, 0)
				r.EndedAt, r.ErrorMessage = at(5), "boom, with details"
				return r
			}(), true, store.RunFailed},
		}
		for _, st := range steps {
			res := ingest(t, db, ctx, src.ID, nil, st.run)
			if got := len(res.Changed) == 1; got != st.changed {
				t.Fatalf("%s: changed = %v, want %v", st.name, res.Changed, st.changed)
			}
			if st.changed && res.Changed[0].PreviousState != st.prev {
				t.Fatalf("%s: previous state %q, want %q", st.name, res.Changed[0].PreviousState, st.prev)
			}
		}
		if n := countRuns(t, db, ctx, src.ID); n != 1 {
			t.Fatalf("%d runs, want 1", n)
		}
		got, err := db.Runs().GetByExternalID(ctx, src.ID, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.RunFailed || got.ErrorMessage != "boom, with details" || got.DurationMS == nil || *got.DurationMS != 5*60000 {
			t.Fatalf("run = %+v", got)
		}
	})
}

// TestRuns_unknownStateKeepsStored: an unknown or empty state keeps the
// stored state (running for a new run), and is no change by itself.
func TestRuns_unknownStateKeepsStored(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		res := ingest(t, db, ctx, src.ID, nil, run("r1", "etl", "", 0))
		if len(res.Changed) != 1 || res.Changed[0].State != store.RunRunning {
			t.Fatalf("new run with unknown state: %+v, want running", res.Changed)
		}
		ingest(t, db, ctx, src.ID, nil, run("r1", "etl", store.RunSucceeded, 0))
		weird := run("r1", "etl", "EXOTIC_VENDOR_STATE", 0)
		weird.RawState = "EXOTIC_VENDOR_STATE"
		res = ingest(t, db, ctx, src.ID, nil, weird)
		if len(res.Changed) != 0 || res.Written != 1 {
			t.Fatalf("unknown state: changed %v written %d; want no change, the raw state written", res.Changed, res.Written)
		}
		got, err := db.Runs().GetByExternalID(ctx, src.ID, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.RunSucceeded || got.RawState != "EXOTIC_VENDOR_STATE" {
			t.Fatalf("state %q raw %q, want succeeded kept and the raw state stored", got.State, got.RawState)
		}
	})
}

// TestRuns_duplicateInBatch: a run listed twice in one batch is one row
// with the last report, and one change.
func TestRuns_duplicateInBatch(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		res := ingest(t, db, ctx, src.ID, nil, run("r1", "etl", store.RunRunning, 0), run("r1", "etl", store.RunSucceeded, 0))
		if len(res.Changed) != 1 || res.Changed[0].State != store.RunSucceeded || res.Written != 1 {
			t.Fatalf("duplicate in batch: %+v", res)
		}
	})
}

// failCursorUpdates installs a trigger that makes every update of a
// source's cursor fail: a failure injected after the runs are written, in
// the same transaction.
func failCursorUpdates(t *testing.T, db *store.DB) func() {
	t.Helper()
	ctx := context.Background()
	stmts := []string{`CREATE TRIGGER fail_cursor BEFORE UPDATE OF cursor ON sources BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
	drop := []string{`DROP TRIGGER fail_cursor`}
	if db.Dialect() == store.DialectPostgres {
		stmts = []string{
			`CREATE FUNCTION fail_cursor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
			`CREATE TRIGGER fail_cursor BEFORE UPDATE OF cursor ON sources FOR EACH ROW EXECUTE FUNCTION fail_cursor()`,
		}
		drop = []string{`DROP TRIGGER fail_cursor ON sources`, `DROP FUNCTION fail_cursor()`}
	}
	for _, s := range stmts {
		if _, err := store.ExecRaw(ctx, db, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return func() {
		for _, s := range drop {
			if _, err := store.ExecRaw(ctx, db, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
}

// TestRuns_cursorInSameTransaction: when storing the cursor fails, the
// runs written before it in the batch are rolled back too.
func TestRuns_cursorInSameTransaction(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		src := mkSource(t, db, ctx, "dbx")
		ingest(t, db, ctx, src.ID, ptr("100"), run("r0", "etl", store.RunSucceeded, 0))

		restore := failCursorUpdates(t, db)
		_, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Cursor: ptr("200"),
			Runs: []store.RunUpsert{run("r1", "etl", store.RunRunning, 1), run("r2", "new_pipeline", store.RunRunning, 2), run("r0", "etl", store.RunFailed, 0)}})
		if err == nil {
			t.Fatal("ingest succeeded although storing the cursor failed")
		}
		if n := countRuns(t, db, ctx, src.ID); n != 1 {
			t.Fatalf("%d runs after the failed ingest, want 1: the batch must roll back", n)
		}
		if got, _ := db.Runs().GetByExternalID(ctx, src.ID, "r0"); got.State != store.RunSucceeded {
			t.Fatalf("r0 is %s after the failed ingest, want succeeded", got.State)
		}
		if ps, _, _ := db.Pipelines().List(ctx, store.PipelineFilter{}, store.Page{}); len(ps) != 1 {
			t.Fatalf("%d pipelines after the failed ingest, want 1", len(ps))
		}
		if s, _ := db.Sources().Get(ctx, src.ID); s.Cursor != "100" {
			t.Fatalf("cursor = %q after the failed ingest, want 100", s.Cursor)
		}
		restore()

		res := ingest(t, db, ctx, src.ID, ptr("200"), run("r1", "etl", store.RunRunning, 1), run("r2", "new_pipeline", store.RunRunning, 2))
		if len(res.Changed) != 2 {
			t.Fatalf("retry after the failure: %d changes, want 2", len(res.Changed))
		}
		if s, _ := db.Sources().Get(ctx, src.ID); s.Cursor != "200" {
			t.Fatalf("cursor = %q, want 200", s.Cursor)
		}
	})
}

// TestRuns_customMerge: a merge function sees the stored run and decides.
func TestRuns_customMerge(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
	src := mkSource(t, db, ctx, "push")
	keepTerminal := func(stored *store.RunData, in store.RunData) store.RunData {
		if stored != nil && store.TerminalRunState(stored.State) && !store.TerminalRunState(in.State) {
			return *stored
		}
		return store.ReplaceMerge(stored, in)
	}
	for _, st := range []string{store.RunSucceeded, store.RunRunning} {
		if _, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Merge: keepTerminal,
			Runs: []store.RunUpsert{run("r1", "etl", st, 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := db.Runs().GetByExternalID(ctx, src.ID, "r1"); got.State != store.RunSucceeded {
		t.Fatalf("state %s, want succeeded kept by the merge", got.State)
	}
}

// TestRuns_listFiltersAndPages: filters combine, pages follow each other
// without gaps or repeats, newest first.
func TestRuns_listFiltersAndPages(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		a := mkSource(t, db, ctx, "a")
		b := mkSource(t, db, ctx, "b")
		var runsA []store.RunUpsert
		for i := range 25 {
			state := store.RunSucceeded
			if i%5 == 0 {
				state = store.RunFailed
			}
			r := run(fmt.Sprintf("a-%02d", i), []string{"vendas", "clientes"}[i%2], state, i)
			if state == store.RunFailed {
				r.ErrorMessage = fmt.Sprintf("100%% broken_%d", i)
			}
			runsA = append(runsA, r)
		}
		// Three runs with the same start time: the id breaks the tie.
		for i := range 3 {
			runsA = append(runsA, run(fmt.Sprintf("tie-%d", i), "vendas", store.RunRunning, 30))
		}
		ingest(t, db, ctx, a.ID, nil, runsA...)
		ingest(t, db, ctx, b.ID, nil, run("b-1", "other", store.RunSucceeded, 3))

		all := listAll(t, db, ctx, store.RunFilter{}, 4)
		if len(all) != 29 {
			t.Fatalf("listed %d runs, want 29", len(all))
		}
		for i := 1; i < len(all); i++ {
			p, c := all[i-1], all[i]
			if c.SortAt.After(p.SortAt) || (c.SortAt.Equal(p.SortAt) && c.ID >= p.ID) {
				t.Fatalf("runs %d and %d out of order: %v/%s then %v/%s", i-1, i, p.SortAt, p.ID, c.SortAt, c.ID)
			}
		}
		seen := map[string]bool{}
		for _, r := range all {
			if seen[r.ID] {
				t.Fatalf("run %s listed twice", r.ID)
			}
			seen[r.ID] = true
		}

		vendas, _, err := db.Pipelines().List(ctx, store.PipelineFilter{SourceID: a.ID, Text: "vendas"}, store.Page{})
		if err != nil || len(vendas) != 1 {
			t.Fatalf("pipeline vendas: %v, %v", vendas, err)
		}
		cases := []struct {
			name string
			f    store.RunFilter
			want int
		}{
			{"source", store.RunFilter{SourceID: b.ID}, 1},
			{"pipeline", store.RunFilter{PipelineID: vendas[0].ID}, 16},
			{"state", store.RunFilter{State: store.RunFailed}, 5},
			{"state and pipeline", store.RunFilter{State: store.RunFailed, PipelineID: vendas[0].ID}, 3},
			{"from", store.RunFilter{From: *at(20)}, 8},
			{"from to", store.RunFilter{From: *at(10), To: *at(20)}, 10},
			{"text in error", store.RunFilter{Text: "BROKEN_1"}, 2},
			{"text is literal", store.RunFilter{Text: "100%"}, 5},
			{"wildcard is literal", store.RunFilter{Text: "%"}, 5},
			{"underscore is literal", store.RunFilter{Text: "a_0"}, 0},
			{"text in pipeline name", store.RunFilter{Text: "pipeline clientes"}, 12},
			{"text in external id", store.RunFilter{Text: "tie-"}, 3},
		}
		for _, c := range cases {
			got := listAll(t, db, ctx, c.f, 3)
			if len(got) != c.want {
				t.Errorf("%s: %d runs, want %d", c.name, len(got), c.want)
			}
		}
		if _, _, err := db.Runs().List(ctx, store.RunFilter{State: "exploded"}, store.Page{}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown state filter: %v, want ErrInvalid", err)
		}
		if _, _, err := db.Runs().List(ctx, store.RunFilter{}, store.Page{Cursor: "garbage!"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad cursor: %v, want ErrInvalid", err)
		}
	})
}

func listAll(t *testing.T, db *store.DB, ctx context.Context, f store.RunFilter, limit int) []store.Run {
	t.Helper()
	var out []store.Run
	page := store.Page{Limit: limit}
	for range 100 {
		runs, next, err := db.Runs().List(ctx, f, page)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > limit {
			t.Fatalf("page of %d runs, limit %d", len(runs), limit)
		}
		out = append(out, runs...)
		if next == "" {
			return out
		}
		page.Cursor = next
	}
	t.Fatal("pagination does not end")
	return nil
}

// TestRuns_tenantIsolation: profile B can neither read nor write profile
// A's runs; A's ids answer like missing ones.
func TestRuns_tenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "b", identity.RoleAdmin)
		src := mkSource(t, db, ctxA, "dbx")
		res := ingest(t, db, ctxA, src.ID, nil, run("r1", "etl", store.RunFailed, 0))
		runID, pipelineID := res.Changed[0].RunID, res.Changed[0].PipelineID

		if _, err := db.Runs().Ingest(ctxB, store.IngestBatch{SourceID: src.ID, Runs: []store.RunUpsert{run("r2", "etl", store.RunRunning, 0)}}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B ingests into A's source: %v, want ErrNotFound", err)
		}
		if _, err := db.Runs().Get(ctxB, runID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B gets A's run: %v, want ErrNotFound", err)
		}
		if runs, _, err := db.Runs().List(ctxB, store.RunFilter{SourceID: src.ID}, store.Page{}); err != nil || len(runs) != 0 {
			t.Fatalf("B lists A's runs: %v, %v", runs, err)
		}
		if _, err := db.Pipelines().Get(ctxB, pipelineID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B gets A's pipeline: %v, want ErrNotFound", err)
		}
		if ps, _, err := db.Pipelines().List(ctxB, store.PipelineFilter{}, store.Page{}); err != nil || len(ps) != 0 {
			t.Fatalf("B lists A's pipelines: %v, %v", ps, err)
		}
		if n := countRuns(t, db, ctxA, src.ID); n != 1 {
			t.Fatalf("A has %d runs, want 1", n)
		}
	})
}

// TestRuns_noPrincipal: every run, pipeline and metric method refuses to
// run without a principal, before any I/O (the database is closed).
func TestRuns_noPrincipal(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Runs.Ingest": func() error {
			_, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: "s", Runs: []store.RunUpsert{{ExternalID: "x"}}})
			return err
		},
		"Runs.List":            func() error { _, _, err := db.Runs().List(ctx, store.RunFilter{}, store.Page{}); return err },
		"Runs.Get":             func() error { _, err := db.Runs().Get(ctx, "x"); return err },
		"Runs.GetByExternalID": func() error { _, err := db.Runs().GetByExternalID(ctx, "s", "x"); return err },
		"Runs.Newest":          func() error { _, _, err := db.Runs().Newest(ctx, "s"); return err },
		"Runs.Count":           func() error { _, err := db.Runs().Count(ctx, "s"); return err },
		"Pipelines.List": func() error {
			_, _, err := db.Pipelines().List(ctx, store.PipelineFilter{}, store.Page{})
			return err
		},
		"Pipelines.Get":  func() error { _, err := db.Pipelines().Get(ctx, "x"); return err },
		"Pipelines.Sync": func() error { _, err := db.Pipelines().Sync(ctx, "s", nil); return err },
		"Metrics.Append": func() error {
			_, err := db.Metrics().Append(ctx, []store.MetricPoint{{Series: "s", Time: t0}})
			return err
		},
		"Metrics.Range":            func() error { _, err := db.Metrics().Range(ctx, "s", time.Time{}, time.Time{}, 0); return err },
		"Sources.SetWebhookSecret": func() error { return db.Sources().SetWebhookSecret(ctx, "s", []byte{1}, "k") },
		"Sources.EnsureBuiltin":    func() error { _, err := db.Sources().EnsureBuiltin(ctx, "builtin.x", "x"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, identity.ErrNoPrincipal) {
			t.Errorf("%s: %v, want ErrNoPrincipal", name, err)
		}
	}
}

// BenchmarkRuns_ingest measures the direct store path of ingest: batches
// of 500 new runs (of 10 pipelines), each with its cursor, per dialect.
func BenchmarkRuns_ingest(b *testing.B) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		b.Run(dialect, func(b *testing.B) {
			db := storetest.Open(b, dialect)
			ctx := storetest.Tenant(b, db, "bench", identity.RoleAdmin)
			src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "bench", Name: "bench", Enabled: true})
			if err != nil {
				b.Fatal(err)
			}
			const batch = 500
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				runs := make([]store.RunUpsert, batch)
				for j := range runs {
					n := i*batch + j
					start := t0.Add(time.Duration(n) * time.Second)
					end := start.Add(time.Minute)
					runs[j] = store.RunUpsert{ExternalID: strconv.Itoa(n), PipelineExternalID: strconv.Itoa(n % 10), PipelineName: "p",
						RunData: store.RunData{State: store.RunSucceeded, RawState: "SUCCESS", StartedAt: &start, EndedAt: &end,
							Attributes: map[string]string{"trigger": "cron"}}}
				}
				cursor := strconv.Itoa(i)
				if _, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Runs: runs, Cursor: &cursor}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}
