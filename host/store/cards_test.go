package store_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// cardSeed is a small history with known answers: two sources of profile
// A (pipelines etl and load of "airflow", another etl of "dbx"), runs in
// the range [T0, T0+24h), before it (the previous period) and after it,
// and a profile B whose runs must never show.
type cardSeed struct {
	ctx, ctxB               context.Context
	s1, s2                  string
	p1, p2, p3              string // airflow/etl, airflow/load, dbx/etl
	run                     map[string]string
	rng                     store.CardFilter
	foreignRun, foreignPipe string
}

var cardT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

type seedRun struct {
	ext, pipeline, state string
	start                time.Duration // after T0
	dur                  time.Duration // 0: no end
	err                  string
}

func ingestSeed(t *testing.T, ctx context.Context, db *store.DB, sourceID string, runs []seedRun) map[string]string {
	t.Helper()
	var ups []store.RunUpsert
	for _, r := range runs {
		start := cardT0.Add(r.start)
		u := store.RunUpsert{ExternalID: r.ext, PipelineExternalID: r.pipeline, PipelineName: r.pipeline,
			RunData: store.RunData{State: r.state, StartedAt: &start, ErrorMessage: r.err, URL: "https://vendor.example/" + r.ext}}
		if r.dur > 0 {
			end := start.Add(r.dur)
			u.EndedAt = &end
		}
		if r.state == store.RunSkipped {
			u.StartedAt, u.EndedAt = nil, nil
			q := start
			u.QueuedAt = &q
		}
		ups = append(ups, u)
	}
	res, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: sourceID, Runs: ups})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, c := range res.Changed {
		ids[c.ExternalID] = c.RunID
		ids["pipeline:"+c.PipelineExternalID] = c.PipelineID
	}
	return ids
}

func seedCards(t *testing.T, db *store.DB) cardSeed {
	t.Helper()
	s := cardSeed{ctx: storetest.Tenant(t, db, "cards-a", identity.RoleViewer), ctxB: storetest.Tenant(t, db, "cards-b", identity.RoleViewer),
		run: map[string]string{}, rng: store.CardFilter{From: cardT0, To: cardT0.Add(24 * time.Hour)}}
	mk := func(ctx context.Context, name string) string {
		src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.hello", Name: name, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		return src.ID
	}
	s.s1, s.s2 = mk(s.ctx, "airflow"), mk(s.ctx, "dbx")
	h := time.Hour
	a := ingestSeed(t, s.ctx, db, s.s1, []seedRun{
		{"r1", "etl", store.RunSucceeded, 1 * h, 60 * time.Second, ""},
		{"r2", "etl", store.RunFailed, 2 * h, 120 * time.Second, "boom"},
		{"r3", "etl", store.RunSucceeded, 3 * h, 180 * time.Second, ""},
		{"r4", "etl", store.RunRunning, 4 * h, 0, ""},
		{"r5", "load", store.RunSucceeded, 90 * time.Minute, 30 * time.Second, ""},
		{"r6", "load", store.RunTimedOut, 5 * h, 600 * time.Second, "timeout"},
		{"r7", "load", store.RunFailed, -2 * h, 10 * time.Second, "earlier"},
		{"r8", "load", store.RunSucceeded, -3 * h, 10 * time.Second, ""},
	})
	b := ingestSeed(t, s.ctx, db, s.s2, []seedRun{
		{"r9", "etl", store.RunSucceeded, 6 * h, 90 * time.Second, ""},
		{"r10", "etl", store.RunSucceeded, 25 * h, 10 * time.Second, ""},
		{"r11", "etl", store.RunSkipped, 7 * h, 0, ""},
		{"r12", "etl", store.RunCancelled, 8 * h, 5 * time.Second, "cancelled"},
	})
	for k, v := range a {
		s.run[k] = v
	}
	s.p1, s.p2 = a["pipeline:etl"], a["pipeline:load"]
	for k, v := range b {
		if k == "pipeline:etl" {
			s.p3 = v
			continue
		}
		s.run[k] = v
	}
	sb := mk(s.ctxB, "other")
	foreign := ingestSeed(t, s.ctxB, db, sb, []seedRun{{"x1", "etl", store.RunFailed, 1 * h, 5 * time.Second, "secret of B"}})
	s.foreignRun, s.foreignPipe = foreign["x1"], foreign["pipeline:etl"]
	return s
}

func TestCards_builtinQueries(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		s := seedCards(t, db)
		cards := db.Cards()

		t.Run("success rate with the previous period", func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				f         store.CardFilter
				cur, prev store.RunCounts
			}{
				{"profile", s.rng, store.RunCounts{Runs: 9, Succeeded: 4, Failed: 2, Finished: 7}, store.RunCounts{Runs: 2, Succeeded: 1, Failed: 1, Finished: 2}},
				{"source dbx", withSource(s.rng, s.s2), store.RunCounts{Runs: 3, Succeeded: 1, Finished: 2}, store.RunCounts{}},
				{"pipeline load", withPipeline(s.rng, s.p2), store.RunCounts{Runs: 2, Succeeded: 1, Failed: 1, Finished: 2}, store.RunCounts{Runs: 2, Succeeded: 1, Failed: 1, Finished: 2}},
				{"pipeline of profile B", withPipeline(s.rng, s.foreignPipe), store.RunCounts{}, store.RunCounts{}},
			} {
				cur, prev, err := cards.SuccessRate(s.ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if cur != tc.cur || prev != tc.prev {
					t.Errorf("%s: current %+v previous %+v, want %+v %+v", tc.name, cur, prev, tc.cur, tc.prev)
				}
			}
			cur, _, _ := cards.SuccessRate(s.ctx, s.rng)
			if r, ok := cur.SuccessRate(); !ok || math.Abs(r-4.0/7) > 1e-9 {
				t.Errorf("rate %v %v, want 4/7", r, ok)
			}
		})

		t.Run("runs by source", func(t *testing.T) {
			got, err := cards.RunsBySource(s.ctx, s.rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].SourceName != "airflow" || got[0].Runs != 6 || got[0].Failed != 2 ||
				got[1].SourceName != "dbx" || got[1].Runs != 3 || got[1].Failed != 0 {
				t.Errorf("runs by source = %+v", got)
			}
			// Profile B sees its own source only.
			got, err = cards.RunsBySource(s.ctxB, s.rng)
			if err != nil || len(got) != 1 || got[0].SourceName != "other" || got[0].Runs != 1 {
				t.Errorf("profile B: %+v %v", got, err)
			}
		})

		t.Run("recent failures newest first", func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				f     store.CardFilter
				limit int
				want  []string
			}{
				{"profile", s.rng, 20, []string{"r6", "r2"}},
				{"limit", s.rng, 1, []string{"r6"}},
				{"pipeline etl of airflow", withPipeline(s.rng, s.p1), 20, []string{"r2"}},
				{"source dbx", withSource(s.rng, s.s2), 20, nil},
				{"previous day", store.CardFilter{From: cardT0.Add(-24 * time.Hour), To: cardT0}, 20, []string{"r7"}},
			} {
				got, err := cards.RecentFailures(s.ctx, tc.f, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range got {
					ids = append(ids, r.RunID)
				}
				want := make([]string, len(tc.want))
				for i, ext := range tc.want {
					want[i] = s.run[ext]
				}
				if !equalStrings(ids, want) {
					t.Errorf("%s: runs %v, want %v (%v)", tc.name, ids, want, tc.want)
				}
			}
			got, _ := cards.RecentFailures(s.ctx, s.rng, 20)
			if f := got[0]; f.State != store.RunTimedOut || f.ErrorMessage != "timeout" || f.PipelineName != "load" || f.SourceName != "airflow" ||
				f.DurationMS == nil || *f.DurationMS != 600000 || !f.SortAt.Equal(cardT0.Add(5*time.Hour)) || f.URL != "https://vendor.example/r6" {
				t.Errorf("first failure = %+v", f)
			}
		})

		t.Run("pipelines overview", func(t *testing.T) {
			got, err := cards.PipelinesOverview(s.ctx, s.rng, 50)
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				id                         string
				runs, ok, failed, finished int64
				avg                        float64
				lastRun, lastState         string
			}
			want := []row{
				{s.p1, 4, 2, 1, 3, 120000, "r4", store.RunRunning},
				{s.p2, 2, 1, 1, 2, 315000, "r6", store.RunTimedOut},
				{s.p3, 3, 1, 0, 2, 47500, "r12", store.RunCancelled},
			}
			if len(got) != len(want) {
				t.Fatalf("overview has %d rows, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				if g.PipelineID != w.id || g.Runs != w.runs || g.Succeeded != w.ok || g.Failed != w.failed || g.Finished != w.finished ||
					g.AvgDurationMS == nil || math.Abs(*g.AvgDurationMS-w.avg) > 1e-6 || g.LastRunID != s.run[w.lastRun] || g.LastState != w.lastState {
					t.Errorf("row %d = %+v (avg %v), want %+v", i, g, derefFloat(g.AvgDurationMS), w)
				}
			}
			if got[2].SourceName != "dbx" || got[0].PipelineName != "etl" || !got[0].LastRunAt.Equal(cardT0.Add(4*time.Hour)) {
				t.Errorf("names and times: %+v", got)
			}
			limited, _ := cards.PipelinesOverview(s.ctx, withSource(s.rng, s.s1), 1)
			if len(limited) != 1 || limited[0].PipelineID != s.p1 {
				t.Errorf("source airflow, limit 1: %+v", limited)
			}
		})

		t.Run("duration trend", func(t *testing.T) {
			pls, pts, err := cards.DurationTrend(s.ctx, s.rng, time.Hour, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(pls) != 3 || pls[0].ID != s.p2 || pls[0].TotalDurationMS != 630000 || pls[1].ID != s.p1 || pls[2].ID != s.p3 {
				t.Fatalf("top pipelines = %+v", pls)
			}
			// Two pipelines are named etl: the source names tell them apart.
			if pls[0].SourceName != "airflow" || pls[1].SourceName != "airflow" || pls[1].Name != "etl" ||
				pls[2].SourceName != "dbx" || pls[2].SourceID != s.s2 || pls[2].Name != "etl" {
				t.Errorf("top pipelines' names and sources = %+v", pls)
			}
			type pt struct {
				at   time.Duration
				pipe string
				avg  float64
			}
			want := []pt{{1 * time.Hour, s.p1, 60000}, {1 * time.Hour, s.p2, 30000}, {2 * time.Hour, s.p1, 120000},
				{3 * time.Hour, s.p1, 180000}, {5 * time.Hour, s.p2, 600000}, {6 * time.Hour, s.p3, 90000}, {8 * time.Hour, s.p3, 5000}}
			if len(pts) != len(want) {
				t.Fatalf("points = %+v", pts)
			}
			// Same bucket: ordered by pipeline id.
			if s.p2 < s.p1 {
				want[0], want[1] = want[1], want[0]
			}
			for i, w := range want {
				if p := pts[i]; !p.Bucket.Equal(cardT0.Add(w.at)) || p.PipelineID != w.pipe || p.AvgDurationMS != w.avg || p.Runs != 1 {
					t.Errorf("point %d = %+v, want %+v", i, p, w)
				}
			}
			pls, pts, err = cards.DurationTrend(s.ctx, s.rng, 24*time.Hour, 2)
			if err != nil || len(pls) != 2 || len(pts) != 2 || !pts[0].Bucket.Equal(cardT0) {
				t.Fatalf("day buckets, top 2: %+v %+v %v", pls, pts, err)
			}
			for _, p := range pts {
				if p.PipelineID == s.p1 && (p.Runs != 3 || p.AvgDurationMS != 120000) {
					t.Errorf("etl's day = %+v", p)
				}
			}
		})

		t.Run("status grid", func(t *testing.T) {
			got, err := cards.StatusGrid(s.ctx, s.rng, 2, 20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[2].ID != s.p2 || got[0].Name != "etl" || got[1].Name != "etl" {
				t.Fatalf("grid rows = %+v", got)
			}
			want := map[string][]string{s.p1: {"r4", "r3"}, s.p2: {"r6", "r5"}, s.p3: {"r12", "r11"}}
			for _, g := range got {
				if len(g.Runs) != 2 {
					t.Fatalf("%s has %d runs", g.Name, len(g.Runs))
				}
				for i, r := range g.Runs {
					if r.RunID != s.run[want[g.ID][i]] || r.Position != i {
						t.Errorf("%s cell %d = %+v, want run %s", g.Name, i, r, want[g.ID][i])
					}
				}
			}
			top, _ := cards.StatusGrid(s.ctx, s.rng, 10, 1)
			if len(top) != 1 || top[0].ID != s.p3 || len(top[0].Runs) != 3 {
				t.Errorf("limit 1 keeps the most recently active pipeline: %+v", top)
			}
		})

		t.Run("tenant isolation", func(t *testing.T) {
			for _, f := range []store.CardFilter{s.rng, withSource(s.rng, s.s1), withPipeline(s.rng, s.p1)} {
				fails, err := cards.RecentFailures(s.ctxB, f, 50)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range fails {
					if r.RunID != s.foreignRun {
						t.Errorf("profile B sees run %s of A", r.RunID)
					}
				}
				ov, _ := cards.PipelinesOverview(s.ctxB, f, 50)
				grid, _ := cards.StatusGrid(s.ctxB, f, 10, 50)
				pls, _, _ := cards.DurationTrend(s.ctxB, f, time.Hour, 20)
				for _, id := range []string{s.p1, s.p2, s.p3} {
					for _, o := range ov {
						if o.PipelineID == id {
							t.Errorf("B's overview shows A's pipeline")
						}
					}
					for _, g := range grid {
						if g.ID == id {
							t.Errorf("B's grid shows A's pipeline")
						}
					}
					for _, p := range pls {
						if p.ID == id {
							t.Errorf("B's trend shows A's pipeline")
						}
					}
				}
			}
			fails, _ := cards.RecentFailures(s.ctx, s.rng, 50)
			for _, r := range fails {
				if r.RunID == s.foreignRun {
					t.Errorf("profile A sees B's run")
				}
			}
			if _, err := cards.RecentFailures(context.Background(), s.rng, 5); err == nil {
				t.Error("a query without a principal must fail")
			}
			if _, err := cards.RecentFailures(s.ctx, store.CardFilter{From: cardT0, To: cardT0}, 5); err == nil {
				t.Error("an empty range must fail")
			}
		})
	})
}

func withSource(f store.CardFilter, id string) store.CardFilter   { f.SourceID = id; return f }
func withPipeline(f store.CardFilter, id string) store.CardFilter { f.PipelineID = id; return f }

func derefFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// seedAlerts makes rules and alert states in profile A (and a firing
// alert in profile B) and returns the alert ids by short name.
func seedAlerts(t *testing.T, db *store.DB, ctx, ctxB context.Context) map[string]string {
	t.Helper()
	rule := func(ctx context.Context, name, severity string) string {
		r, err := db.AlertRules().Create(ctx, store.AlertRuleInput{Name: name, Kind: "threshold", Enabled: true,
			Spec: []byte(`{"name":"` + name + `","severity":"` + severity + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	disk, slow, info := rule(ctx, "Disk full", "critical"), rule(ctx, "Slow ETL", "warning"), rule(ctx, "Info rule", "info")
	v := func(f float64) *float64 { return &f }
	st := func(ruleID, fp, state string, since time.Duration, labels map[string]string, value *float64) store.AlertState {
		return store.AlertState{RuleID: ruleID, Fingerprint: fp, State: state, Labels: labels, Value: value, Since: cardT0.Add(since)}
	}
	if err := db.AlertStates().Save(ctx, []store.AlertState{
		st(disk, "a", "firing", 3*time.Hour, map[string]string{"pipeline": "etl", "series": "ignored"}, v(95)),
		st(slow, "b", "firing", 5*time.Hour, map[string]string{"series": "sales"}, nil),
		st(slow, "c", "pending", 6*time.Hour, nil, v(2)),
		st(info, "d", "firing", time.Hour, map[string]string{"pipeline": "load"}, v(1.5)),
		st(info, "g", "firing", 3*time.Hour, nil, nil), // same since as a: after it by rule name
		st(disk, "e", "normal", 7*time.Hour, nil, nil),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AlertStates().Acknowledge(ctx, disk, "a", cardT0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	secret := rule(ctxB, "Secret of B", "critical")
	if err := db.AlertStates().Save(ctxB, []store.AlertState{st(secret, "x", "firing", 9*time.Hour, nil, nil)}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"a": disk + ":a", "b": slow + ":b", "c": slow + ":c", "d": info + ":d", "g": info + ":g", "x": secret + ":x"}
}

func TestCards_firingAlerts(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "a", identity.RoleEditor)
		ctxB := storetest.Tenant(t, db, "b", identity.RoleEditor)
		ids := seedAlerts(t, db, ctx, ctxB)

		cases := []struct {
			name  string
			f     store.FiringAlertFilter
			limit int
			want  []string // short names, in order
		}{
			{"firing, newest first", store.FiringAlertFilter{}, 20, []string{"b", "a", "g", "d"}},
			{"with pending", store.FiringAlertFilter{IncludePending: true}, 20, []string{"c", "b", "a", "g", "d"}},
			{"limit", store.FiringAlertFilter{IncludePending: true}, 2, []string{"c", "b"}},
			{"critical", store.FiringAlertFilter{Severity: "critical"}, 20, []string{"a"}},
			{"warning", store.FiringAlertFilter{Severity: "warning"}, 20, []string{"b"}},
			{"warning with pending", store.FiringAlertFilter{Severity: "warning", IncludePending: true}, 20, []string{"c", "b"}},
			{"info, limit after the filter", store.FiringAlertFilter{Severity: "info"}, 1, []string{"g"}},
			{"critical with pending", store.FiringAlertFilter{Severity: "critical", IncludePending: true}, 20, []string{"a"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.Cards().FiringAlerts(ctx, tc.f, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				var gotIDs, wantIDs []string
				for _, a := range got {
					gotIDs = append(gotIDs, a.ID)
				}
				for _, w := range tc.want {
					wantIDs = append(wantIDs, ids[w])
				}
				if strings.Join(gotIDs, " ") != strings.Join(wantIDs, " ") {
					t.Errorf("got %v, want %v", gotIDs, wantIDs)
				}
			})
		}

		got, err := db.Cards().FiringAlerts(ctx, store.FiringAlertFilter{IncludePending: true}, 20)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]store.FiringAlert{}
		for _, a := range got {
			byID[a.ID] = a
		}
		a := byID[ids["a"]]
		if a.RuleName != "Disk full" || a.Severity != "critical" || a.State != "firing" || a.Labels["pipeline"] != "etl" ||
			a.Value == nil || *a.Value != 95 || !a.Since.Equal(cardT0.Add(3*time.Hour)) ||
			a.AcknowledgedBy == "" || a.AcknowledgedByName != "a-editor" || a.Fingerprint != "a" {
			t.Errorf("alert a: %+v", a)
		}
		if b := byID[ids["b"]]; b.Value != nil || b.AcknowledgedBy != "" || b.AcknowledgedByName != "" || b.Labels["series"] != "sales" || b.Severity != "warning" {
			t.Errorf("alert b: %+v", b)
		}
		if c := byID[ids["c"]]; c.State != "pending" || c.Labels == nil {
			t.Errorf("alert c: %+v", c)
		}

		// Profile B sees its own alert only.
		gotB, err := db.Cards().FiringAlerts(ctxB, store.FiringAlertFilter{IncludePending: true}, 20)
		if err != nil || len(gotB) != 1 || gotB[0].ID != ids["x"] {
			t.Errorf("profile B: %+v, %v", gotB, err)
		}
		if _, err := db.Cards().FiringAlerts(context.Background(), store.FiringAlertFilter{}, 20); err == nil {
			t.Error("no principal: want an error")
		}
		if _, err := db.Cards().FiringAlerts(ctx, store.FiringAlertFilter{}, 0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("limit 0: %v, want ErrInvalid", err)
		}
	})
}
