package alerting_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestMuter_silences(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"team": "data-sales", "alertname": "rule r1"}
	team := func(v string) json.RawMessage {
		return json.RawMessage(`[{"name":"team","op":"=","value":"` + v + `"}]`)
	}
	cases := []struct {
		name         string
		matchers     json.RawMessage
		starts, ends time.Duration // relative to t0
		wantMuted    bool
	}{
		{name: "a silence in force mutes", matchers: team("data-sales"), starts: -time.Hour, ends: time.Hour, wantMuted: true},
		{name: "a silence of other labels does not", matchers: team("finance"), starts: -time.Hour, ends: time.Hour},
		{name: "an expired silence does not", matchers: team("data-sales"), starts: -2 * time.Hour, ends: -time.Hour},
		{name: "a silence not started yet does not", matchers: team("data-sales"), starts: time.Hour, ends: 2 * time.Hour},
		{name: "a stored silence that no longer compiles is ignored",
			matchers: json.RawMessage(`[{"name":"team","op":"=~","value":"("}]`), starts: -time.Hour, ends: time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx, profileID := tenant(t, db)
				sil, err := db.Silences().Create(ctx, store.SilenceInput{Matchers: tc.matchers,
					StartsAt: t0.Add(tc.starts), EndsAt: t0.Add(tc.ends), Comment: "test", CreatedBy: "u1"})
				if err != nil {
					t.Fatal(err)
				}
				m := &alerting.Muter{DB: db}
				why, err := m.Muted(context.Background(), profileID, labels, t0)
				if err != nil {
					t.Fatal(err)
				}
				if tc.wantMuted != (len(why) > 0) {
					t.Fatalf("muted because %v, want muted: %v", why, tc.wantMuted)
				}
				if tc.wantMuted && !strings.Contains(why[0], sil.ID) {
					t.Errorf("reason %q does not name silence %s", why[0], sil.ID)
				}
			})
		})
	}
}

// TestMuter_silenceEndsAndCache: the copy read from the store still obeys
// a silence's end to the second, and Invalidate makes a new silence count
// at once (the TTL would otherwise hide it for up to its length).
func TestMuter_silenceEndsAndCache(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		labels := map[string]string{"team": "data-sales"}
		m := &alerting.Muter{DB: db, TTL: time.Hour}
		muted := func(at time.Time) bool {
			t.Helper()
			why, err := m.Muted(context.Background(), profileID, labels, at)
			if err != nil {
				t.Fatal(err)
			}
			return len(why) > 0
		}
		if muted(t0) {
			t.Fatal("muted with no silence")
		}
		if _, err := db.Silences().Create(ctx, store.SilenceInput{
			Matchers: json.RawMessage(`[{"name":"team","op":"=","value":"data-sales"}]`),
			StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour), Comment: "maintenance", CreatedBy: "u1"}); err != nil {
			t.Fatal(err)
		}
		if muted(t0) {
			t.Fatal("the cached copy changed without Invalidate (the test proves nothing)")
		}
		m.Invalidate(profileID)
		if !muted(t0.Add(59 * time.Minute)) {
			t.Error("not muted while the silence is in force")
		}
		if muted(t0.Add(time.Hour + time.Second)) {
			t.Error("still muted after the silence ended")
		}
	})
}

// TestMuter_inhibition: while a source's health is error, every alert of
// its pipelines is held back with a reason naming the source; other
// sources' alerts are not; a healthy source releases them.
func TestMuter_inhibition(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		src := func(name string) store.Source {
			s, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.airflow", Name: name,
				Config: json.RawMessage(`{}`), PollIntervalSeconds: 60, Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		down, up := src("Airflow prod"), src("Airflow dev")
		failed := time.Now()
		if err := db.Sources().UpdateHealth(ctx, down.ID, store.SourceHealth{Status: store.HealthError,
			LastError: "connection refused", LastErrorAt: &failed}); err != nil {
			t.Fatal(err)
		}
		m := &alerting.Muter{DB: db, TTL: time.Nanosecond}
		ask := func(sourceID string) []string {
			t.Helper()
			why, err := m.Muted(context.Background(), profileID, map[string]string{"source_id": sourceID, "pipeline": "etl"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			return why
		}
		why := ask(down.ID)
		if len(why) != 1 || !strings.Contains(why[0], "Airflow prod") || !strings.Contains(why[0], "connection refused") {
			t.Errorf("alert of the unhealthy source: reasons %q, want one naming the source and its error", why)
		}
		if why := ask(up.ID); len(why) != 0 {
			t.Errorf("alert of a healthy source muted: %q", why)
		}
		if err := db.Sources().UpdateHealth(ctx, down.ID, store.SourceHealth{Status: store.HealthOK}); err != nil {
			t.Fatal(err)
		}
		if why := ask(down.ID); len(why) != 0 {
			t.Errorf("still inhibited after the source recovered: %q", why)
		}
	})
}
