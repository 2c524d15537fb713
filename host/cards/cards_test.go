package cards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cache/redistest"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// principalAuth authenticates every request as the principal of the
// profile named by the Authorization header (a test profile's name).
type principalAuth map[string]identity.Principal

func (a principalAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	p, ok := a[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]
	if !ok {
		return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
	}
	return p, nil
}

type env struct {
	t      *testing.T
	db     *store.DB
	svc    *cards.Service
	srv    *api.Server
	ctx    context.Context // profile "a"
	source string
	pipes  map[string]string // pipeline external id → id
	runs   map[string]string // run external id → id
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// rangeBody is the fixed range [T0, T0+24h).
var rangeBody = map[string]any{"from": t0.Format(time.RFC3339), "to": t0.Add(24 * time.Hour).Format(time.RFC3339)}

// newEnv builds the service over db with profiles "a" and "b"; opts may
// change its collaborators (metrics, say).
func newEnv(t *testing.T, db *store.DB, c cards.Cache, p cards.Plugins, opts ...func(*cards.Deps)) *env {
	t.Helper()
	deps := cards.Deps{DB: db, Cache: c, Plugins: p}
	for _, o := range opts {
		o(&deps)
	}
	svc, err := cards.New(cards.Config{CallTimeout: 5 * time.Second}, hclog.NewNullLogger(), deps)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, svc: svc, pipes: map[string]string{}, runs: map[string]string{}}
	e.ctx = storetest.Tenant(t, db, "a", identity.RoleViewer)
	ctxB := storetest.Tenant(t, db, "b", identity.RoleViewer)
	pa, _ := identity.From(e.ctx)
	pb, _ := identity.From(ctxB)
	e.srv = api.New(api.Options{}, hclog.NewNullLogger(), principalAuth{"a": pa, "b": pb})
	svc.Register(e.srv)

	src, err := db.Sources().Create(e.ctx, store.SourceInput{PluginID: "acme.hello", Name: "airflow", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	e.source = src.ID
	var ups []store.RunUpsert
	add := func(ext, pipeline, state string, start, dur time.Duration, msg string) {
		st := t0.Add(start)
		u := store.RunUpsert{ExternalID: ext, PipelineExternalID: pipeline, PipelineName: pipeline,
			RunData: store.RunData{State: state, StartedAt: &st, ErrorMessage: msg}}
		if dur > 0 {
			end := st.Add(dur)
			u.EndedAt = &end
		}
		ups = append(ups, u)
	}
	add("r1", "etl", store.RunSucceeded, time.Hour, time.Minute, "")
	add("r2", "etl", store.RunFailed, 2*time.Hour, 2*time.Minute, "boom")
	add("r3", "etl", store.RunSucceeded, 3*time.Hour, 3*time.Minute, "")
	add("r4", "load", store.RunSucceeded, 4*time.Hour, 30*time.Second, "")
	add("r5", "load", store.RunTimedOut, 5*time.Hour, 10*time.Minute, "timeout")
	add("r0", "load", store.RunFailed, -2*time.Hour, time.Second, "before") // previous period
	res, err := db.Runs().Ingest(e.ctx, store.IngestBatch{SourceID: src.ID, Runs: ups})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changed {
		e.runs[c.ExternalID] = c.RunID
		e.pipes[c.PipelineExternalID] = c.PipelineID
	}
	// Profile B has runs too; A must never see them.
	srcB, err := db.Sources().Create(ctxB, store.SourceInput{PluginID: "acme.hello", Name: "secret-source-of-b", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	st := t0.Add(time.Hour)
	if _, err := db.Runs().Ingest(ctxB, store.IngestBatch{SourceID: srcB.ID, Runs: []store.RunUpsert{{ExternalID: "x", PipelineExternalID: "secret-pipeline-of-b",
		RunData: store.RunData{State: store.RunFailed, StartedAt: &st, ErrorMessage: "secret error of b"}}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

type answer struct {
	status int
	raw    []byte
	Frame  struct {
		Name   string         `json:"name"`
		Type   string         `json:"type"`
		Meta   map[string]any `json:"meta"`
		Fields []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Unit   string `json:"unit"`
			Values []any  `json:"values"`
		} `json:"fields"`
	} `json:"frame"`
	AsOf   time.Time `json:"as_of"`
	Cached bool      `json:"cached"`
	Tags   []string  `json:"tags"`
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Fields  []struct {
			Field string `json:"field"`
		} `json:"fields"`
	} `json:"error"`
}

// columns lists the frame's fields as "name:type", in frame order: the
// order tables show them in.
func (a answer) columns() []string {
	out := make([]string, len(a.Frame.Fields))
	for i, f := range a.Frame.Fields {
		out[i] = f.Name + ":" + f.Type
	}
	return out
}

func (a answer) field(name string) []any {
	for _, f := range a.Frame.Fields {
		if f.Name == name {
			return f.Values
		}
	}
	return nil
}

func (e *env) query(profile string, body map[string]any) answer {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest("POST", "/api/v1/cards/query", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+profile)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	a := answer{status: rec.Code, raw: rec.Body.Bytes()}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		e.t.Fatalf("answer is not JSON: %v: %s", err, rec.Body.Bytes())
	}
	return a
}

func card(typ string, opts map[string]any) map[string]any {
	if opts == nil {
		opts = map[string]any{}
	}
	return map[string]any{"type": typ, "options": opts, "time_range": rangeBody}
}

func TestQuery_builtinFrames(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil, nil)
		cases := []struct {
			name      string
			body      map[string]any
			frameType string
			columns   []string
			check     func(t *testing.T, a answer)
		}{
			{"success rate with trend", card(cards.TypeSuccessRate, nil), "stat",
				[]string{"success_rate:float", "succeeded:int", "failed:int", "finished:int"}, func(t *testing.T, a answer) {
					// 3 of 5 finished runs succeeded; the day before 0 of 1.
					if v := a.field("success_rate"); len(v) != 1 || v[0] != 60.0 {
						t.Errorf("success_rate = %v, want [60]", v)
					}
					if a.Frame.Meta["previous"] != 0.0 || a.Frame.Meta["trend"] != 60.0 || a.Frame.Meta["trend_direction"] != "up" {
						t.Errorf("meta = %v", a.Frame.Meta)
					}
					if a.field("succeeded")[0] != 3.0 || a.field("failed")[0] != 2.0 {
						t.Errorf("counts: %s", a.raw)
					}
				}},
			// Tables show the columns in frame order: what a person reads
			// first, the run id (for a click to open the run) last.
			{"recent failures", card(cards.TypeRecentFailures, nil), "table",
				[]string{"started_at:time", "pipeline:string", "source:string", "state:string", "error:string", "duration:duration", "url:string", "run_id:string"},
				func(t *testing.T, a answer) {
					ids := a.field("run_id")
					if len(ids) != 2 || ids[0] != e.runs["r5"] || ids[1] != e.runs["r2"] {
						t.Errorf("run ids = %v, want r5, r2", ids)
					}
					if errs := a.field("error"); errs[0] != "timeout" || a.field("duration")[0] != 600000.0 {
						t.Errorf("first failure: %s", a.raw)
					}
				}},
			{"pipelines overview", card(cards.TypePipelinesOverview, map[string]any{"source_id": e.source}), "table",
				[]string{"pipeline:string", "source:string", "state:string", "last_run_at:time", "runs:int", "failed:int", "success_rate:float", "avg_duration:duration"},
				func(t *testing.T, a answer) {
					if p := a.field("pipeline"); len(p) != 2 || p[0] != "etl" || p[1] != "load" {
						t.Errorf("pipelines = %v", p)
					}
					if r := a.field("success_rate"); r[0] != 66.67 || r[1] != 50.0 {
						t.Errorf("rates = %v", r)
					}
					if d := a.field("avg_duration"); d[0] != 120000.0 {
						t.Errorf("mean durations = %v", d)
					}
					if a.Tags[0] != "source:"+e.source {
						t.Errorf("tags %v", a.Tags)
					}
				}},
			{"duration trend", card(cards.TypeDurationTrend, map[string]any{"bucket": "hour", "top": 1}), "timeseries",
				[]string{"time:time", "pipeline:string", "avg_duration:duration", "runs:int"}, func(t *testing.T, a answer) {
					// load ran 10m30s in all, etl 6m: load only.
					if p := a.field("pipeline"); len(p) != 2 || p[0] != "load" || p[1] != "load" {
						t.Errorf("series = %v", p)
					}
					if tm := a.field("time"); tm[0] != t0.Add(4*time.Hour).Format(time.RFC3339) {
						t.Errorf("times = %v", tm)
					}
				}},
			{"runs by source", card(cards.TypeRunsBySource, nil), "categories",
				[]string{"source:string", "runs:int", "failed:int"}, func(t *testing.T, a answer) {
					if s := a.field("source"); len(s) != 1 || s[0] != "airflow" || a.field("runs")[0] != 5.0 || a.field("failed")[0] != 2.0 {
						t.Errorf("frame: %s", a.raw)
					}
				}},
			{"status grid", card(cards.TypeStatusGrid, map[string]any{"runs_per_pipeline": 2}), "status-grid",
				[]string{"pipeline:string", "position:int", "started_at:time", "run_id:string", "state:string", "duration:duration", "pipeline_id:string"},
				func(t *testing.T, a answer) {
					want := []any{e.runs["r3"], e.runs["r2"], e.runs["r5"], e.runs["r4"]}
					got := a.field("run_id")
					if len(got) != 4 {
						t.Fatalf("cells: %s", a.raw)
					}
					for i := range want {
						if got[i] != want[i] {
							t.Errorf("cell %d run %v, want %v", i, got[i], want[i])
						}
					}
					if pos := a.field("position"); pos[0] != 0.0 || pos[1] != 1.0 {
						t.Errorf("positions %v", pos)
					}
					// The viz labels rows with the first text field.
					if a.Frame.Fields[0].Name != "pipeline" || a.Frame.Fields[0].Type != "string" {
						t.Errorf("first field %+v", a.Frame.Fields[0])
					}
				}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a := e.query("a", tc.body)
				if a.status != http.StatusOK {
					t.Fatalf("%d %s", a.status, a.raw)
				}
				if a.Frame.Type != tc.frameType || a.Cached || a.AsOf.IsZero() || len(a.Tags) == 0 {
					t.Errorf("envelope: %s", a.raw)
				}
				if bytes.Contains(a.raw, []byte("of b")) {
					t.Errorf("profile A sees B's data: %s", a.raw)
				}
				if got := a.columns(); strings.Join(got, " ") != strings.Join(tc.columns, " ") {
					t.Errorf("columns\n got  %v\n want %v", got, tc.columns)
				}
				tc.check(t, a)
			})
		}
		// Profile B sees its own run only.
		a := e.query("b", card(cards.TypeRecentFailures, nil))
		if ids := a.field("run_id"); len(ids) != 1 || ids[0] == e.runs["r5"] {
			t.Errorf("profile B's failures: %s", a.raw)
		}
	})
}

// Pipelines of the same name are told apart by their source's name, then
// by a number, never by an id: charts and grids key series and rows by the
// text a person reads.
func TestQuery_sameNamedPipelines(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil, nil)
		dbx, err := db.Sources().Create(e.ctx, store.SourceInput{PluginID: "puod.databricks", Name: "Databricks (demo)", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		run := func(sourceID, ext, pipelineExt string, start, dur time.Duration) {
			st := t0.Add(start)
			end := st.Add(dur)
			if _, err := db.Runs().Ingest(e.ctx, store.IngestBatch{SourceID: sourceID, Runs: []store.RunUpsert{{ExternalID: ext,
				PipelineExternalID: pipelineExt, PipelineName: "etl",
				RunData: store.RunData{State: store.RunSucceeded, StartedAt: &st, EndedAt: &end}}}}); err != nil {
				t.Fatal(err)
			}
		}
		run(dbx.ID, "d1", "etl", 7*time.Hour, 20*time.Minute)   // etl of Databricks (demo): 20m
		run(e.source, "v1", "etl_v2", 8*time.Hour, time.Minute) // a second etl of airflow: 1m
		want := []string{"etl (Databricks (demo))", "etl (airflow)", "etl (airflow) #2", "load"}
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"duration trend", card(cards.TypeDurationTrend, map[string]any{"bucket": "day"})},
			{"status grid", card(cards.TypeStatusGrid, map[string]any{"runs_per_pipeline": 1})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.query("a", tc.body)
				if a.status != http.StatusOK {
					t.Fatalf("%d %s", a.status, a.raw)
				}
				got := map[string]bool{}
				for _, v := range a.field("pipeline") {
					got[v.(string)] = true
				}
				if len(got) != len(want) {
					t.Errorf("series or rows %v, want %v", got, want)
				}
				for _, w := range want {
					if !got[w] {
						t.Errorf("no %q among %v", w, got)
					}
				}
				for _, id := range []string{dbx.ID, e.source, e.pipes["etl"]} {
					if bytes.Contains(a.raw, []byte("("+id+")")) {
						t.Errorf("a label names an id: %s", a.raw)
					}
				}
			})
		}
		// The trend numbers the same-named pipelines by run time: the
		// original etl of airflow (6m) keeps the plain label.
		trend := e.query("a", card(cards.TypeDurationTrend, map[string]any{"bucket": "day"}))
		mean := map[string]any{}
		names, avg := trend.field("pipeline"), trend.field("avg_duration")
		for i := range names {
			mean[names[i].(string)] = avg[i]
		}
		if mean["etl (airflow)"] != 120000.0 || mean["etl (airflow) #2"] != 60000.0 || mean["etl (Databricks (demo))"] != 1200000.0 {
			t.Errorf("mean durations by series %v", mean)
		}
	})
}

func TestQuery_refusals(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), nil, nil)
	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{"unknown type", card("puod.nope", nil), 404, cards.CodeCardTypeNotFound, ""},
		{"plugin type without plugins", card("acme.hello/greeting_runs", nil), 404, cards.CodeCardTypeNotFound, ""},
		{"no type", map[string]any{"options": map[string]any{}}, 400, api.CodeInvalid, "/type"},
		{"unknown option", card(cards.TypeSuccessRate, map[string]any{"limit": 3}), 400, cards.CodeInvalidOptions, "/options"},
		{"limit too big", card(cards.TypeRecentFailures, map[string]any{"limit": 100000}), 400, cards.CodeInvalidOptions, "/options/limit"},
		{"wrong option type", card(cards.TypeRecentFailures, map[string]any{"source_id": 12}), 400, cards.CodeInvalidOptions, "/options/source_id"},
		{"unknown bucket", card(cards.TypeDurationTrend, map[string]any{"bucket": "minute"}), 400, cards.CodeInvalidOptions, "/options/bucket"},
		{"hours over a year", map[string]any{"type": cards.TypeDurationTrend, "options": map[string]any{"bucket": "hour"},
			"time_range": map[string]any{"from": "now-365d", "to": "now"}}, 400, cards.CodeInvalidOptions, "/options/bucket"},
		{"options not an object", map[string]any{"type": cards.TypeSuccessRate, "options": []any{1}}, 400, cards.CodeInvalidOptions, "/options"},
		{"bad time", map[string]any{"type": cards.TypeSuccessRate, "time_range": map[string]any{"from": "yesterday"}}, 400, cards.CodeInvalidTimeRange, "/time_range/from"},
		{"empty range", map[string]any{"type": cards.TypeSuccessRate, "time_range": map[string]any{"from": "now", "to": "now-1h"}}, 400, cards.CodeInvalidTimeRange, "/time_range/from"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.query("a", tc.body)
			if a.status != tc.status || a.Error.Code != tc.code || a.Error.Message == "" {
				t.Fatalf("got %d %s, want %d %s", a.status, a.raw, tc.status, tc.code)
			}
			if tc.field != "" && (len(a.Error.Fields) == 0 || a.Error.Fields[0].Field != tc.field) {
				t.Errorf("fields %+v, want %s", a.Error.Fields, tc.field)
			}
		})
	}
	// The default time range (now-24h → now) answers too.
	if a := e.query("a", map[string]any{"type": cards.TypeSuccessRate}); a.status != 200 || a.field("success_rate")[0] != nil {
		t.Errorf("default range: %s", a.raw)
	}
}

// publishRun invalidates a run.changed event's tags as the collector
// does before it publishes the event.
func (e *env) publishRun(profileCtx context.Context, rc bus.RunChanged) {
	e.t.Helper()
	p, _ := identity.From(profileCtx)
	ev, err := bus.NewEvent(bus.TopicRunChanged, p.ProfileID, rc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc.Invalidate(context.Background(), ev)
}

func TestQuery_cache(t *testing.T) {
	backends := map[string]func(t *testing.T) cards.Cache{
		"memory": func(t *testing.T) cards.Cache { return cache.NewMemory(cache.MemoryConfig{}, nil) },
		"redis": func(t *testing.T) cards.Cache {
			url := redistest.URL(t)
			r, err := cache.NewRedisWithConfig(context.Background(), cache.RedisConfig{URL: url, Prefix: redistest.Prefix(t, url)}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			c := open(t)
			t.Cleanup(func() { _ = c.Close() })
			e := newEnv(t, storetest.OpenSQLite(t), c, nil)
			ctxB := storetest.Tenant(t, e.db, "b", identity.RoleViewer)
			etl := card(cards.TypeSuccessRate, map[string]any{"pipeline_id": e.pipes["etl"]})

			first := e.query("a", etl)
			second := e.query("a", etl)
			if first.status != 200 || first.Cached || !second.Cached || !bytes.Equal(mustJSON(t, first.Frame), mustJSON(t, second.Frame)) ||
				!first.AsOf.Equal(second.AsOf) || second.Tags[0] != "pipeline:"+e.pipes["etl"] {
				t.Fatalf("second identical query must come from the cache:\n%s\n%s", first.raw, second.raw)
			}
			// Other options, another range, another profile: other entries.
			if a := e.query("a", card(cards.TypeSuccessRate, map[string]any{"pipeline_id": e.pipes["load"]})); a.Cached {
				t.Error("another pipeline's card came from the cache")
			}
			if a := e.query("b", etl); a.Cached {
				t.Error("profile B got A's cached card")
			}

			// A run of another pipeline, or of another profile, leaves it cached.
			e.publishRun(e.ctx, bus.RunChanged{SourceID: e.source, PipelineID: e.pipes["load"], RunID: e.runs["r4"]})
			e.publishRun(ctxB, bus.RunChanged{SourceID: "other", PipelineID: e.pipes["etl"], RunID: "x"})
			if a := e.query("a", etl); !a.Cached {
				t.Errorf("a run.changed of another pipeline or profile invalidated the card: %s", a.raw)
			}
			// The profile-wide card reads every run: invalidated by that run.
			all := card(cards.TypeSuccessRate, nil)
			e.query("a", all)
			if a := e.query("a", all); !a.Cached {
				t.Fatal("profile-wide card not cached")
			}

			// A run of the pipeline changes: the next answer is computed again
			// and sees it.
			st := t0.Add(6 * time.Hour)
			res, err := e.db.Runs().Ingest(e.ctx, store.IngestBatch{SourceID: e.source, Runs: []store.RunUpsert{{ExternalID: "r6", PipelineExternalID: "etl",
				RunData: store.RunData{State: store.RunFailed, StartedAt: &st}}}})
			if err != nil {
				t.Fatal(err)
			}
			ch := res.Changed[0]
			e.publishRun(e.ctx, bus.RunChanged{SourceID: e.source, PipelineID: ch.PipelineID, RunID: ch.RunID, State: ch.State, New: true})
			a := e.query("a", etl)
			if a.Cached || a.field("failed")[0] != 2.0 {
				t.Errorf("after run.changed of its pipeline the card must be fresh: %s", a.raw)
			}
			if b := e.query("a", all); b.Cached {
				t.Errorf("the profile-wide card survived a run.changed of the profile: %s", b.raw)
			}
			if a := e.query("a", etl); !a.Cached {
				t.Error("the fresh answer was not cached again")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brokenCache fails every call, like a Redis that is down.
type brokenCache struct{ calls atomic.Int64 }

var errDown = errors.New("cache down")

func (b *brokenCache) Get(context.Context, string) ([]byte, bool, error) {
	b.calls.Add(1)
	return nil, false, errDown
}
func (b *brokenCache) Set(context.Context, string, []byte, time.Duration) error {
	b.calls.Add(1)
	return errDown
}
func (b *brokenCache) TagVersions(context.Context, []string) ([]uint64, error) {
	b.calls.Add(1)
	return nil, errDown
}
func (b *brokenCache) Bump(context.Context, ...string) error { b.calls.Add(1); return errDown }
func (b *brokenCache) Close() error                          { return nil }

// halfCache answers tag versions but fails reads and writes.
type halfCache struct{ brokenCache }

func (h *halfCache) TagVersions(_ context.Context, tags []string) ([]uint64, error) {
	return make([]uint64, len(tags)), nil
}

func TestQuery_failingCacheAnswersUncached(t *testing.T) {
	for name, c := range map[string]cards.Cache{"everything fails": &brokenCache{}, "reads and writes fail": &halfCache{}} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, storetest.OpenSQLite(t), c, nil)
			for i := 0; i < 3; i++ {
				a := e.query("a", card(cards.TypeRecentFailures, nil))
				if a.status != 200 || a.Cached || len(a.field("run_id")) != 2 {
					t.Fatalf("query %d: %d %s", i, a.status, a.raw)
				}
			}
			// Invalidation failing is logged, not fatal.
			p, _ := identity.From(e.ctx)
			ev, _ := bus.NewEvent(bus.TopicRunChanged, p.ProfileID, bus.RunChanged{SourceID: e.source})
			e.svc.Invalidate(context.Background(), ev)
		})
	}
}
