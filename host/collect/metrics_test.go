package collect_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestMetrics_push(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		ctx, editor := e.member("acme", identity.RoleEditor)
		_, viewer := e.member("acme", identity.RoleViewer)
		events, cancel := e.bus.Subscribe(bus.TopicMetricAppended)
		defer cancel()

		body := `{"points":[
			{"series":"sales.volume.brl","time":"2026-11-17T00:00:00Z","value":18432.77,"labels":{"region":"sul"}},
			{"series":"sales.volume.brl","time":"2026-11-18T00:00:00-03:00","value":1200},
			{"series":"orders","time":"2026-11-17T00:00:00Z","value":0}]}`
		if r := e.do(http.MethodPost, "/api/v1/metrics", viewer, body); r.status != http.StatusForbidden {
			t.Fatalf("viewer: %d, want 403", r.status)
		}
		r := e.do(http.MethodPost, "/api/v1/metrics", editor, body)
		if r.status != http.StatusOK || string(r.body) != `{"accepted":3}` {
			t.Fatalf("push: %d %s", r.status, r.body)
		}
		select {
		case ev := <-events:
			var p bus.MetricAppended
			if err := ev.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Points != 3 || len(p.Series) != 2 || p.Series[0] != "orders" || !p.To.Equal(time.Date(2026, 11, 18, 3, 0, 0, 0, time.UTC)) {
				t.Fatalf("metric.appended payload %+v", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no metric.appended event")
		}
		pts, err := db.Metrics().Range(ctx, "sales.volume.brl", time.Time{}, time.Time{}, 0)
		if err != nil || len(pts) != 2 || pts[0].Value != 18432.77 || pts[0].Labels["region"] != "sul" {
			t.Fatalf("stored points %+v, %v", pts, err)
		}
	})
}

// TestMetrics_rejectsWholeBatch: one bad point rejects the batch, and the
// answer lists every problem by JSON pointer.
func TestMetrics_rejectsWholeBatch(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, envOptions{})
	ctx, editor := e.member("acme", identity.RoleEditor)
	body := `{"points":[
		{"series":"ok","time":"2026-11-17T00:00:00Z","value":1},
		{"series":"s","time":"17/11/2026","value":1},
		{"time":"2026-11-17T00:00:00Z","value":1},
		{"series":"s","time":"2026-11-17T00:00:00Z","value":"many"},
		{"series":"s","time":"2026-11-17T00:00:00Z"},
		{"series":"s","time":"2026-11-17T00:00:00Z","value":1,"unit":"BRL"},
		"a string"]}`
	r := e.do(http.MethodPost, "/api/v1/metrics", editor, body)
	if r.status != http.StatusBadRequest {
		t.Fatalf("%d %s, want 400", r.status, r.body)
	}
	var ae apiError
	r.decode(t, &ae)
	want := []string{"/points/1/time", "/points/2/series", "/points/3/value", "/points/4/value", "/points/5/unit", "/points/6"}
	if len(ae.Error.Fields) != len(want) {
		t.Fatalf("fields %+v, want %v", ae.Error.Fields, want)
	}
	for i, f := range ae.Error.Fields {
		if f.Field != want[i] || f.Message == "" {
			t.Errorf("field %d = %+v, want %s", i, f, want[i])
		}
	}
	if pts, _ := db.Metrics().Range(ctx, "ok", time.Time{}, time.Time{}, 0); len(pts) != 0 {
		t.Fatalf("the valid point of a rejected batch was stored")
	}
	for name, bad := range map[string]string{
		"malformed":     `{"points":[`,
		"no points":     `{}`,
		"unknown field": `{"points":[],"extra":1}`,
		"points type":   `{"points":{}}`,
	} {
		if r := e.do(http.MethodPost, "/api/v1/metrics", editor, bad); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
}
