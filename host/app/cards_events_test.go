package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/puod/puod/host/store"
)

// TestCards_alertChangeRefreshesTheCard: an alert.changed (here: a new
// silence) reaches the card cache through the event hub of the running
// host, so the firing-alerts card is recomputed instead of served from the
// cache until its TTL.
func TestCards_alertChangeRefreshesTheCard(t *testing.T) {
	e := newTestEnv(t, store.DialectSQLite)
	admin, _ := e.login(t, "admin", adminPassword)
	query := func() bool {
		var a struct {
			Cached bool `json:"cached"`
		}
		must(t, e.do(t, req{method: "POST", path: "/api/v1/cards/query", token: admin,
			body: map[string]any{"type": "puod.firing_alerts", "options": map[string]any{}}}), http.StatusOK).json(t, &a)
		return a.Cached
	}
	query()
	if !query() {
		t.Fatal("the second identical query was not served from the cache")
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/silences", token: admin, body: map[string]any{
		"matchers": []any{map[string]any{"name": "pipeline", "op": "=", "value": "ETL_Vendas"}},
		"ends_at":  time.Now().Add(time.Hour).Format(time.RFC3339), "comment": "maintenance",
	}}), http.StatusCreated)
	deadline := time.Now().Add(10 * time.Second)
	for query() {
		if time.Now().After(deadline) {
			t.Fatal("the firing-alerts card stayed cached after alert.changed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
