package runs_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/runs"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

type fakeAuth struct {
	mu sync.Mutex
	m  map[string]identity.Principal
}

func (f *fakeAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.m[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]; ok {
		return p, nil
	}
	return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
}

type env struct {
	t    *testing.T
	db   *store.DB
	srv  *api.Server
	auth *fakeAuth
}

func newEnv(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, auth: &fakeAuth{m: map[string]identity.Principal{}}}
	e.srv = api.New(api.Options{}, hclog.NewNullLogger(), e.auth)
	runs.Register(e.srv, db)
	return e
}

func (e *env) member(profile string, role identity.Role) (ctxPrincipal identity.Principal, token string) {
	ctx := storetest.Tenant(e.t, e.db, profile, role)
	p, _ := identity.From(ctx)
	tok := profile + "-" + string(role)
	e.auth.mu.Lock()
	e.auth.m[tok] = p
	e.auth.mu.Unlock()
	return p, tok
}

func (e *env) get(path, token string, v any) int {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if v != nil && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			e.t.Fatalf("decode %s: %v", rec.Body.String(), err)
		}
	}
	return rec.Code
}

type runList struct {
	Runs       []runs.Run `json:"runs"`
	NextCursor string     `json:"next_cursor"`
}

var t0 = time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)

// seed stores runs in profile "acme": 30 runs of two pipelines of source
// a, every 5th failed; one of source b.
func seed(t *testing.T, e *env) (srcA, srcB store.Source) {
	t.Helper()
	ctx := storetest.Tenant(t, e.db, "acme", identity.RoleAdmin)
	var err error
	srcA, err = e.db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.databricks", Name: "a", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	srcB, err = e.db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.airflow", Name: "b", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var batch []store.RunUpsert
	for i := range 30 {
		start, end := t0.Add(time.Duration(i)*time.Hour), t0.Add(time.Duration(i)*time.Hour+10*time.Minute)
		r := store.RunUpsert{ExternalID: fmt.Sprint("run-", i), PipelineExternalID: []string{"1", "2"}[i%2],
			PipelineName: []string{"etl_vendas_daily", "ingest_clientes"}[i%2],
			RunData: store.RunData{State: store.RunSucceeded, StartedAt: &start, EndedAt: &end, URL: fmt.Sprint("https://dbx/run/", i),
				Tasks: []store.Task{{ExternalID: "t", Name: "transform_vendas", State: store.RunSucceeded}}}}
		if i%5 == 0 {
			r.State, r.ErrorMessage = store.RunFailed, "transform_vendas failed: 100% bad rows"
		}
		batch = append(batch, r)
	}
	if _, err := e.db.Runs().Ingest(ctx, store.IngestBatch{SourceID: srcA.ID, Runs: batch}); err != nil {
		t.Fatal(err)
	}
	start := t0.Add(-time.Hour)
	if _, err := e.db.Runs().Ingest(ctx, store.IngestBatch{SourceID: srcB.ID, Runs: []store.RunUpsert{{ExternalID: "manual__2026", PipelineExternalID: "dag_vendas_export",
		RunData: store.RunData{State: store.RunQueued, QueuedAt: &start}}}}); err != nil {
		t.Fatal(err)
	}
	return srcA, srcB
}

func TestRunsAPI_filtersAndPages(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		srcA, srcB := seed(t, e)
		_, viewer := e.member("acme", identity.RoleViewer)

		var pl struct {
			Pipelines []runs.Pipeline `json:"pipelines"`
		}
		if code := e.get("/api/v1/pipelines?source="+srcA.ID, viewer, &pl); code != http.StatusOK || len(pl.Pipelines) != 2 {
			t.Fatalf("pipelines: %d %+v", code, pl)
		}
		vendas := pl.Pipelines[0]
		if vendas.Name != "etl_vendas_daily" || vendas.LastRun == nil || vendas.LastRun.ExternalID != "run-28" ||
			vendas.WindowRuns != 15 || *vendas.SuccessRate != 0.8 || *vendas.MedianDurationMS != 600000 {
			t.Fatalf("etl_vendas_daily summary = %+v (last run %+v)", vendas, vendas.LastRun)
		}

		// All runs, 7 per page, newest first, no repeats.
		var all []runs.Run
		next := ""
		for {
			var page runList
			if code := e.get("/api/v1/runs?limit=7&cursor="+url.QueryEscape(next), viewer, &page); code != http.StatusOK {
				t.Fatalf("page: %d", code)
			}
			all = append(all, page.Runs...)
			if next = page.NextCursor; next == "" {
				break
			}
		}
		if len(all) != 31 || all[0].ExternalID != "run-29" || all[30].ExternalID != "manual__2026" {
			t.Fatalf("%d runs, first %s last %s", len(all), all[0].ExternalID, all[len(all)-1].ExternalID)
		}
		cases := map[string]int{
			"source=" + srcB.ID:                                                  1,
			"source=" + srcA.ID + "&state=failed":                                6,
			"pipeline=" + vendas.ID:                                              15,
			"pipeline=" + vendas.ID + "&state=failed":                            3,
			"from=" + url.QueryEscape(t0.Add(20*time.Hour).Format(time.RFC3339)): 10,
			"from=" + url.QueryEscape(t0.Format(time.RFC3339)) + "&to=" + url.QueryEscape(t0.Add(5*time.Hour).Format(time.RFC3339)): 5,
			"q=" + url.QueryEscape("100%"): 6,
			"q=" + url.QueryEscape("%"):    6,
			"q=INGEST_CLIENTES":            15,
			"q=manual__":                   1,
			"state=running":                0,
		}
		for q, want := range cases {
			var page runList
			if code := e.get("/api/v1/runs?limit=500&"+q, viewer, &page); code != http.StatusOK || len(page.Runs) != want {
				t.Errorf("?%s: %d, %d runs, want %d", q, code, len(page.Runs), want)
			}
		}
		for _, q := range []string{"state=exploded", "from=yesterday", "limit=0", "limit=501", "cursor=!!", "from=2026-11-18T00:00:00Z&to=2026-11-17T00:00:00Z"} {
			if code := e.get("/api/v1/runs?"+q, viewer, nil); code != http.StatusBadRequest {
				t.Errorf("?%s: %d, want 400", q, code)
			}
		}

		var detail runs.RunDetail
		if code := e.get("/api/v1/runs/"+all[0].ID, viewer, &detail); code != http.StatusOK {
			t.Fatalf("get run: %d", code)
		}
		if detail.URL != "https://dbx/run/29" || len(detail.Tasks) != 1 || detail.Tasks[0].Name != "transform_vendas" ||
			detail.PipelineName != "ingest_clientes" || detail.DurationMS == nil || *detail.DurationMS != 600000 {
			t.Fatalf("run detail = %+v", detail)
		}
	})
}

// TestRunsAPI_profileIsolation: another profile sees nothing of acme's
// runs and pipelines; their ids answer 404.
func TestRunsAPI_profileIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		srcA, _ := seed(t, e)
		_, viewerA := e.member("acme", identity.RoleViewer)
		_, viewerB := e.member("globex", identity.RoleViewer)
		var page runList
		e.get("/api/v1/runs", viewerA, &page)
		var other runList
		if code := e.get("/api/v1/runs?source="+srcA.ID, viewerB, &other); code != http.StatusOK || len(other.Runs) != 0 {
			t.Fatalf("B lists A's runs: %d, %d runs", code, len(other.Runs))
		}
		if code := e.get("/api/v1/runs/"+page.Runs[0].ID, viewerB, nil); code != http.StatusNotFound {
			t.Fatalf("B gets A's run: %d, want 404", code)
		}
		var pl struct {
			Pipelines []runs.Pipeline `json:"pipelines"`
		}
		if code := e.get("/api/v1/pipelines", viewerB, &pl); code != http.StatusOK || len(pl.Pipelines) != 0 {
			t.Fatalf("B lists A's pipelines: %d, %d", code, len(pl.Pipelines))
		}
		if code := e.get("/api/v1/runs", "", nil); code != http.StatusUnauthorized {
			t.Fatalf("no token: %d, want 401", code)
		}
	})
}

// TestRunsAPI_unstorableText: ids and filters with a NUL character or
// invalid UTF-8 (which PostgreSQL refuses in a query) are a 400, never a
// 500, on both databases.
func TestRunsAPI_unstorableText(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		seed(t, e)
		_, viewer := e.member("acme", identity.RoleViewer)
		for _, bad := range []string{"%00", "a%00b", "%ff", "run-1%c3"} {
			if code := e.get("/api/v1/runs/"+bad, viewer, nil); code != http.StatusBadRequest {
				t.Errorf("run id %s: %d, want 400", bad, code)
			}
			for _, q := range []string{"runs?source=", "runs?pipeline=", "runs?q=", "runs?cursor=", "pipelines?source=", "pipelines?q=", "pipelines?cursor="} {
				if code := e.get("/api/v1/"+q+bad, viewer, nil); code != http.StatusBadRequest {
					t.Errorf("%s%s: %d, want 400", q, bad, code)
				}
			}
		}
	})
}

func TestRunsAPI_routesAreDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	documented, err := api.OpenAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, op := range documented {
		have[op] = true
	}
	for _, r := range e.srv.Routes() {
		if strings.Contains(r, "/api/v1/runs") || strings.Contains(r, "/api/v1/pipelines") {
			if !have[r] {
				t.Errorf("route %s is not in the OpenAPI document (host/api/openapi/runs.yaml)", r)
			}
		}
	}
}
