package cards_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// seedAlerts makes alert rules and states in profiles A and B of e and
// returns the alert ids by short name.
func (e *env) seedAlerts() map[string]string {
	t := e.t
	t.Helper()
	ctxB := storetest.Tenant(t, e.db, "b", identity.RoleViewer)
	rule := func(ctx context.Context, name, severity string) string {
		r, err := e.db.AlertRules().Create(ctx, store.AlertRuleInput{Name: name, Kind: "threshold", Enabled: true,
			Spec: []byte(`{"name":"` + name + `","severity":"` + severity + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	disk, slow, info := rule(e.ctx, "Disk full", "critical"), rule(e.ctx, "Slow ETL", "warning"), rule(e.ctx, "Info rule", "info")
	v := func(f float64) *float64 { return &f }
	st := func(ruleID, fp, state string, since time.Duration, labels map[string]string, value *float64) store.AlertState {
		return store.AlertState{RuleID: ruleID, Fingerprint: fp, State: state, Labels: labels, Value: value, Since: t0.Add(since)}
	}
	if err := e.db.AlertStates().Save(e.ctx, []store.AlertState{
		st(disk, "a", "firing", 3*time.Hour, map[string]string{"pipeline": "etl", "series": "ignored"}, v(95)),
		st(slow, "b", "firing", 5*time.Hour, map[string]string{"series": "sales"}, nil),
		st(slow, "c", "pending", 6*time.Hour, nil, v(2)),
		st(info, "d", "firing", time.Hour, map[string]string{"pipeline": "load"}, v(1.5)),
		st(disk, "e", "normal", 7*time.Hour, nil, nil),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AlertStates().Acknowledge(e.ctx, disk, "a", t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	secret := rule(ctxB, "Secret of B", "critical")
	if err := e.db.AlertStates().Save(ctxB, []store.AlertState{st(secret, "x", "firing", 9*time.Hour, map[string]string{"pipeline": "secret-pipeline-of-b"}, nil)}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"a": disk + ":a", "b": slow + ":b", "c": slow + ":c", "d": info + ":d", "x": secret + ":x"}
}

func TestQuery_firingAlerts(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil, nil)
		ids := e.seedAlerts()
		since := func(d time.Duration) any { return t0.Add(d).Format(time.RFC3339) }
		columns := []string{"since:time", "rule:string", "severity:string", "series:string", "value:float", "acknowledged_by:string", "alert_id:string"}
		cases := []struct {
			name    string
			profile string
			opts    map[string]any
			want    map[string][]any
		}{
			{"firing, newest first", "a", nil, map[string][]any{
				"since":           {since(5 * time.Hour), since(3 * time.Hour), since(time.Hour)},
				"rule":            {"Slow ETL", "Disk full", "Info rule"},
				"severity":        {"warning", "critical", "info"},
				"series":          {"sales", "etl", "load"},
				"value":           {nil, 95.0, 1.5},
				"acknowledged_by": {nil, "a-viewer", nil},
				"alert_id":        {ids["b"], ids["a"], ids["d"]},
			}},
			{"with pending", "a", map[string]any{"include_pending": true}, map[string][]any{
				"rule":     {"Slow ETL", "Slow ETL", "Disk full", "Info rule"},
				"series":   {nil, "sales", "etl", "load"},
				"value":    {2.0, nil, 95.0, 1.5},
				"alert_id": {ids["c"], ids["b"], ids["a"], ids["d"]},
			}},
			{"severity", "a", map[string]any{"severity": "critical", "include_pending": true}, map[string][]any{
				"alert_id": {ids["a"]},
			}},
			{"severity and pending", "a", map[string]any{"severity": "warning", "include_pending": true, "limit": 1}, map[string][]any{
				"alert_id": {ids["c"]},
			}},
			{"limit", "a", map[string]any{"limit": 2}, map[string][]any{
				"alert_id": {ids["b"], ids["a"]},
			}},
			{"other profile", "b", nil, map[string][]any{
				"rule":     {"Secret of B"},
				"alert_id": {ids["x"]},
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a := e.query(tc.profile, card(cards.TypeFiringAlerts, tc.opts))
				if a.status != 200 {
					t.Fatalf("status %d: %s", a.status, a.raw)
				}
				if a.Frame.Type != "table" || a.Frame.Name != "firing_alerts" || !slices.Equal(a.columns(), columns) || !slices.Equal(a.Tags, []string{"alerts"}) {
					t.Errorf("frame %s %s columns %v tags %v", a.Frame.Name, a.Frame.Type, a.columns(), a.Tags)
				}
				for name, want := range tc.want {
					if got := a.field(name); !slices.Equal(got, want) {
						t.Errorf("%s: got %v, want %v", name, got, want)
					}
				}
				if tc.profile == "a" && strings.Contains(string(a.raw), "Secret") {
					t.Errorf("profile A sees B's alert: %s", a.raw)
				}
			})
		}

		refusals := []struct {
			name  string
			opts  map[string]any
			field string
		}{
			{"unknown severity", map[string]any{"severity": "fatal"}, "/options/severity"},
			{"include_pending not a boolean", map[string]any{"include_pending": "yes"}, "/options/include_pending"},
			{"limit too big", map[string]any{"limit": 501}, "/options/limit"},
			{"run option", map[string]any{"source_id": e.source}, ""},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				a := e.query("a", card(cards.TypeFiringAlerts, tc.opts))
				if a.status != 400 || a.Error.Code != cards.CodeInvalidOptions {
					t.Fatalf("got %d %s, want 400 invalid_options", a.status, a.raw)
				}
				if tc.field != "" && (len(a.Error.Fields) == 0 || a.Error.Fields[0].Field != tc.field) {
					t.Errorf("fields %+v, want %s", a.Error.Fields, tc.field)
				}
			})
		}
	})
}

func TestQuery_firingAlertsCatalog(t *testing.T) {
	var found bool
	for _, ct := range (cards.Builtins{}).CardTypes() {
		if ct.Type == cards.TypeFiringAlerts {
			found = true
			if ct.PluginID != cards.BuiltinPluginID || ct.Visualization != "table" || !strings.Contains(string(ct.OptionsSchema), `"include_pending"`) {
				t.Errorf("catalog entry: %+v", ct)
			}
		}
	}
	if !found {
		t.Fatal("puod.firing_alerts is not in the catalog")
	}
}

// publishAlert hands an alert.changed event to the service as the app's
// event hub does, before any browser sees it.
func (e *env) publishAlert(profileCtx context.Context) {
	e.t.Helper()
	p, _ := identity.From(profileCtx)
	ev, err := bus.NewEvent(bus.TopicAlertChanged, p.ProfileID, map[string]any{"kind": "alert", "alert_id": "x"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc.Observe(ev)
}

func TestQuery_firingAlertsCache(t *testing.T) {
	c := cache.NewMemory(cache.MemoryConfig{}, nil)
	t.Cleanup(func() { _ = c.Close() })
	e := newEnv(t, storetest.OpenSQLite(t), c, nil)
	ctxB := storetest.Tenant(t, e.db, "b", identity.RoleViewer)
	ids := e.seedAlerts()
	alerts := card(cards.TypeFiringAlerts, nil)
	runs := card(cards.TypeSuccessRate, nil)

	if a := e.query("a", alerts); a.status != 200 || a.Cached {
		t.Fatalf("first query: %s", a.raw)
	}
	e.query("a", runs)
	if a := e.query("a", alerts); !a.Cached {
		t.Fatalf("second identical query must come from the cache: %s", a.raw)
	}

	// A run change, or another profile's alert change, leaves it cached.
	e.publishRun(e.ctx, bus.RunChanged{SourceID: e.source, PipelineID: e.pipes["etl"], RunID: e.runs["r1"]})
	e.publishAlert(ctxB)
	if a := e.query("a", alerts); !a.Cached {
		t.Errorf("run.changed or another profile's alert.changed invalidated the alerts card: %s", a.raw)
	}
	if a := e.query("a", runs); a.Cached {
		t.Errorf("run.changed left the runs card cached: %s", a.raw)
	}
	e.query("a", runs)

	// An alert resolves: the alert.changed of its profile makes the card
	// fresh, and leaves the runs card cached.
	disk, fp, _ := strings.Cut(ids["a"], ":")
	if err := e.db.AlertStates().Save(e.ctx, []store.AlertState{{RuleID: disk, Fingerprint: fp, State: "normal", Since: t0.Add(8 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	e.publishAlert(e.ctx)
	a := e.query("a", alerts)
	if a.Cached || !slices.Equal(a.field("alert_id"), []any{ids["b"], ids["d"]}) {
		t.Errorf("after alert.changed the card must be fresh without the resolved alert: %s", a.raw)
	}
	if r := e.query("a", runs); !r.Cached {
		t.Errorf("alert.changed invalidated a runs card: %s", r.raw)
	}

	// Invalidate (the synchronous path) bumps alerts too.
	e.query("a", alerts)
	p, _ := identity.From(e.ctx)
	ev, err := bus.NewEvent(bus.TopicAlertChanged, p.ProfileID, map[string]any{"kind": "rule"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Invalidate(context.Background(), ev)
	if a := e.query("a", alerts); a.Cached {
		t.Errorf("Invalidate(alert.changed) left the card cached: %s", a.raw)
	}
}
