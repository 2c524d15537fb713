package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/cache/redistest"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/host/timerange"
)

// BenchmarkCardsCached measures a cached POST /api/v1/cards/query
// (puod.pipelines_overview, the answer in the cache) at 64 concurrent
// keep-alive connections over real TCP, against a gin hello-world handler
// loaded the same way in the same run, with the in-memory cache and with
// Redis. Target: ratio ≥ 0.50.
//
// Two cards, because the answer's size decides much of the ratio (the
// baseline answers 17 bytes): the success-rate stat (about 0.5 KB, the
// most common card) and a 50-row pipelines table (about 4.4 KB).
func BenchmarkCardsCached(b *testing.B) {
	stat := cachedCard{typ: cards.TypeSuccessRate, options: map[string]any{}}
	table := cachedCard{typ: cards.TypePipelinesOverview, options: map[string]any{"limit": 50}}
	b.Run("memory/stat", func(b *testing.B) { benchCardsCached(b, "", stat) })
	b.Run("memory/table", func(b *testing.B) { benchCardsCached(b, "", table) })
	b.Run("redis/stat", func(b *testing.B) { benchCardsCached(b, redistest.URL(b), stat) })
	b.Run("redis/table", func(b *testing.B) { benchCardsCached(b, redistest.URL(b), table) })
}

type cachedCard struct {
	typ     string
	options map[string]any
}

func benchCardsCached(b *testing.B, redisURL string, cc cachedCard) {
	const (
		conns    = 64
		requests = 10000 // per round
		rounds   = 2
	)
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.PluginDir = b.TempDir()
	cfg.AdminPassword = benchAdminPassword
	cfg.RedisURL = redisURL
	ctx := context.Background()
	a, err := app.New(ctx, cfg, hclog.NewNullLogger(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(func() {
		srv.Close()
		_ = a.Plugins().Close(context.Background())
		_ = a.Store().Close()
	})
	h := &apiHost{app: a, srv: srv}
	client := keepAliveClient(conns)
	defer client.CloseIdleConnections()
	token := h.login(b, client, "admin", benchAdminPassword)
	var me struct {
		Profile struct{ ID string } `json:"profile"`
	}
	h.call(b, client, "GET", "/api/v1/auth/me", token, nil, http.StatusOK, &me)
	// A day of runs of 50 pipelines, so the answer is a realistic table.
	sctx := collect.SystemPrincipal(ctx, me.Profile.ID)
	src, err := a.Store().Sources().Create(sctx, store.SourceInput{PluginID: "bench.runs", Name: "bench", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	var ups []store.RunUpsert
	for i := 0; i < 1000; i++ {
		start := now.Add(-time.Duration(i) * time.Minute)
		end := start.Add(time.Duration(30+i%300) * time.Second)
		state := store.RunSucceeded
		if i%20 == 7 {
			state = store.RunFailed
		}
		ups = append(ups, store.RunUpsert{ExternalID: fmt.Sprint(i), PipelineExternalID: fmt.Sprintf("job-%d", i%50),
			RunData: store.RunData{State: state, StartedAt: &start, EndedAt: &end}})
	}
	if _, err := a.Store().Runs().Ingest(sctx, store.IngestBatch{SourceID: src.ID, Runs: ups}); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"type": cc.typ, "options": cc.options,
		"time_range": map[string]any{"from": "now-24h", "to": "now"}})
	var first struct {
		Cached bool `json:"cached"`
	}
	h.call(b, client, "POST", "/api/v1/cards/query", token, json.RawMessage(body), http.StatusOK, &first)
	h.call(b, client, "POST", "/api/v1/cards/query", token, json.RawMessage(body), http.StatusOK, &first)
	if !first.Cached {
		b.Fatal("the second identical card query was not answered from the cache")
	}

	gin.SetMode(gin.ReleaseMode)
	hello := gin.New()
	hello.GET("/hello", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"hello": "world"}) })
	helloSrv := httptest.NewServer(hello)
	defer helloSrv.Close()
	puodReq := func() *http.Request {
		rq, _ := http.NewRequest("POST", srv.URL+"/api/v1/cards/query", bytes.NewReader(body))
		rq.Header.Set("Authorization", "Bearer "+token)
		rq.Header.Set("X-PUOD-Profile", me.Profile.ID)
		rq.Header.Set("Content-Type", "application/json")
		return rq
	}
	ginReq := func() *http.Request {
		rq, _ := http.NewRequest("GET", helloSrv.URL+"/hello", nil)
		rq.Header.Set("Authorization", "Bearer "+token)
		rq.Header.Set("X-PUOD-Profile", me.Profile.ID)
		rq.Header.Set("Content-Type", "application/json")
		return rq
	}
	load(b, client, ginReq, 2000, conns)
	load(b, client, puodReq, 2000, conns)

	var puod, base loadResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			g := load(b, client, ginReq, requests, conns)
			p := load(b, client, puodReq, requests, conns)
			base.elapsed += g.elapsed
			base.lat = append(base.lat, g.lat...)
			puod.elapsed += p.elapsed
			puod.lat = append(puod.lat, p.lat...)
		}
	}
	b.StopTimer()
	b.ReportMetric(puod.rate(), "puod-req/s")
	b.ReportMetric(base.rate(), "gin-req/s")
	b.ReportMetric(puod.rate()/base.rate(), "ratio")
	b.ReportMetric(float64(puod.percentile(0.99).Microseconds())/1000, "puod-p99-ms")
	b.ReportMetric(float64(base.percentile(0.99).Microseconds())/1000, "gin-p99-ms")
	b.ReportMetric(float64(len(body)), "request-bytes")
	// The answer's size, next to hello-world's 17 bytes, is part of what
	// the ratio compares.
	if res, err := client.Do(puodReq()); err == nil {
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		b.ReportMetric(float64(n), "response-bytes")
	}
}

// BenchmarkCardsUncached answers each built-in card type, uncached, over
// a store of 1,000,000 runs (200 pipelines, one run every 30 s for 347
// days up to now), for the time range now-7d (20,160 runs) and now-30d
// (86,400 runs): p50 and p99 of 40 sequential queries per type (the
// service's Query, store included; no HTTP, no cache). Target: every p99
// ≤ 200 ms on PostgreSQL.
func BenchmarkCardsUncached(b *testing.B) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		b.Run(dialect, func(b *testing.B) { benchCardsUncached(b, dialect) })
	}
}

const (
	cardRuns      = 1_000_000
	cardPipelines = 200
)

func benchCardsUncached(b *testing.B, dialect string) {
	const samples = 40
	ctx := context.Background()
	db, raw := openRawStore(b, dialect)
	tctx := storetest.Tenant(b, db, "bench", identity.RoleViewer)
	p, _ := identity.From(tctx)
	src, err := db.Sources().Create(tctx, store.SourceInput{PluginID: "bench.runs", Name: "bench", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	seedRuns(b, raw, dialect, p.ProfileID, src.ID, time.Now().UTC())
	b.Logf("%s: seeded %d runs in %v", dialect, cardRuns, time.Since(t0).Round(time.Millisecond))

	svc, err := cards.New(cards.Config{}, hclog.NewNullLogger(), cards.Deps{DB: db})
	if err != nil {
		b.Fatal(err)
	}
	types := []struct {
		short, typ string
		opts       string
	}{
		{"overview", cards.TypePipelinesOverview, `{}`},
		{"trend", cards.TypeDurationTrend, `{}`},
		{"success", cards.TypeSuccessRate, `{}`},
		{"failures", cards.TypeRecentFailures, `{}`},
		{"grid", cards.TypeStatusGrid, `{}`},
		{"bysource", cards.TypeRunsBySource, `{}`},
	}
	worst := map[string]time.Duration{}
	for i := 0; i < b.N; i++ {
		for _, rng := range []string{"7d", "30d"} {
			for _, ct := range types {
				tr := &timerange.Range{From: "now-" + rng, To: "now"}
				q := cards.Request{Type: ct.typ, Options: json.RawMessage(ct.opts), TimeRange: tr}
				for w := 0; w < 3; w++ { // warm caches of the database
					if _, err := svc.Query(tctx, q); err != nil {
						b.Fatalf("%s: %v", ct.typ, err)
					}
				}
				lat := make([]time.Duration, samples)
				var rows int
				for s := range lat {
					start := time.Now()
					res, err := svc.Query(tctx, q)
					lat[s] = time.Since(start)
					if err != nil {
						b.Fatalf("%s: %v", ct.typ, err)
					}
					rows = frameRows(b, res.Frame)
				}
				if rows == 0 {
					b.Fatalf("%s over now-%s answered no rows", ct.typ, rng)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				p50, p99 := lat[len(lat)/2], lat[len(lat)-1-len(lat)/100]
				b.ReportMetric(ms(p50), ct.short+"-"+rng+"-p50-ms")
				b.ReportMetric(ms(p99), ct.short+"-"+rng+"-p99-ms")
				worst[rng] = max(worst[rng], p99)
			}
		}
	}
	for rng, d := range worst {
		b.ReportMetric(ms(d), "worst-"+rng+"-p99-ms")
	}
	_ = ctx
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func frameRows(b *testing.B, raw json.RawMessage) int {
	var f struct {
		Fields []struct {
			Values []any `json:"values"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		b.Fatal(err)
	}
	if len(f.Fields) == 0 {
		return 0
	}
	return len(f.Fields[0].Values)
}

// openRawStore opens a fresh, migrated store of the dialect and a plain
// database/sql handle on the same database, for bulk seeding in SQL.
func openRawStore(b *testing.B, dialect string) (*store.DB, *sql.DB) {
	ctx := context.Background()
	var cfg store.Config
	driver, dsn := "sqlite", ""
	if dialect == store.DialectPostgres {
		cfg.URL = storetest.NewPostgresDatabase(b) // skips loudly without PostgreSQL
		driver, dsn = "pgx", cfg.URL
	} else {
		cfg.DataDir = b.TempDir()
		dsn = filepath.Join(cfg.DataDir, "puod.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)"
	}
	db, err := store.Open(ctx, cfg, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = raw.Close() })
	return db, raw
}

// seedRuns writes cardRuns runs of cardPipelines pipelines with one SQL
// statement: run i starts at end - (cardRuns-i)·30 s, lasts 60 + (i·7919
// mod 900) s; one in 20 failed, one in 50 cancelled (as runset does).
func seedRuns(b *testing.B, raw *sql.DB, dialect, profileID, sourceID string, end time.Time) {
	ctx := context.Background()
	base := end.Add(-time.Duration(cardRuns) * 30 * time.Second)
	var stmts []string
	var args []any
	if dialect == store.DialectPostgres {
		stmts = []string{
			`INSERT INTO pipelines (id, profile_id, source_id, external_id, name, created_at, updated_at)
			SELECT 'pipe-' || lpad(i::text, 4, '0'), $1, $2, 'job-' || (1000 + i), 'etl_pipeline_' || (1000 + i), $3, $3
			FROM generate_series(0, ` + fmt.Sprint(cardPipelines-1) + `) AS i`,
			`INSERT INTO runs (id, profile_id, source_id, pipeline_id, external_id, state, raw_state, started_at, ended_at, duration_ms,
				error_message, updated_at, sort_at, created_at)
			SELECT 'run-' || lpad(i::text, 7, '0'), $1, $2, 'pipe-' || lpad((i % ` + fmt.Sprint(cardPipelines) + `)::text, 4, '0'), i::text,
				CASE WHEN i % 20 = 7 THEN 'failed' WHEN i % 50 = 13 THEN 'cancelled' ELSE 'succeeded' END, 'X',
				$3::timestamptz + i * interval '30 seconds',
				$3::timestamptz + i * interval '30 seconds' + (60 + (i * 7919) % 900) * interval '1 second',
				(60 + (i * 7919) % 900) * 1000,
				CASE WHEN i % 20 = 7 THEN 'Task transform failed: [CAST_INVALID_INPUT] malformed value' ELSE '' END,
				$3::timestamptz, $3::timestamptz + i * interval '30 seconds', $3::timestamptz
			FROM generate_series(0::bigint, ` + fmt.Sprint(cardRuns-1) + `) AS i`,
			`VACUUM ANALYZE runs`, `VACUUM ANALYZE pipelines`,
		}
		args = []any{profileID, sourceID, base}
	} else {
		baseMicro := base.UnixMicro()
		stmts = []string{
			`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ` + fmt.Sprint(cardPipelines-1) + `)
			INSERT INTO pipelines (id, profile_id, source_id, external_id, name, created_at, updated_at)
			SELECT printf('pipe-%04d', i), ?1, ?2, 'job-' || (1000 + i), 'etl_pipeline_' || (1000 + i), ?3, ?3 FROM seq`,
			`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ` + fmt.Sprint(cardRuns-1) + `)
			INSERT INTO runs (id, profile_id, source_id, pipeline_id, external_id, state, raw_state, started_at, ended_at, duration_ms,
				error_message, updated_at, sort_at, created_at)
			SELECT printf('run-%07d', i), ?1, ?2, printf('pipe-%04d', i % ` + fmt.Sprint(cardPipelines) + `), CAST(i AS TEXT),
				CASE WHEN i % 20 = 7 THEN 'failed' WHEN i % 50 = 13 THEN 'cancelled' ELSE 'succeeded' END, 'X',
				?3 + i * 30000000, ?3 + i * 30000000 + (60 + (i * 7919) % 900) * 1000000, (60 + (i * 7919) % 900) * 1000,
				CASE WHEN i % 20 = 7 THEN 'Task transform failed: [CAST_INVALID_INPUT] malformed value' ELSE '' END,
				?3, ?3 + i * 30000000, ?3
			FROM seq`,
			`ANALYZE`,
		}
		args = []any{profileID, sourceID, baseMicro}
	}
	for _, q := range stmts {
		a := args
		if strings.HasPrefix(q, "ANALYZE") || strings.HasPrefix(q, "VACUUM") {
			a = nil
		}
		if _, err := raw.ExecContext(ctx, q, a...); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
}
