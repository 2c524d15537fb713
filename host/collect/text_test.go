package collect_test

import (
	"net/http"
	"testing"

	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// TestPush_unstorableText: a NUL character (JSON \u0000) or invalid UTF-8
// where PUOD stores or looks up text — which PostgreSQL refuses — is a 400
// naming the field, a 404 for a source id (the usual 401 for a webhook),
// never a 500; in free text (an error message) NUL characters are dropped.
func TestPush_unstorableText(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db, envOptions{})
		ctx, editor := e.member("acme", identity.RoleEditor)

		ev := func(eventType, runID, ns, name string) string {
			return `{"eventType":"` + eventType + `","eventTime":"2026-11-17T06:00:00Z","run":{"runId":"` + runID +
				`"},"job":{"namespace":"` + ns + `","name":"` + name + `"}}`
		}
		for field, body := range map[string]string{
			"/eventType":     ev(`START\u0000`, "r", "n", "j"),
			"/run/runId":     ev("START", `r\u0000`, "n", "j"),
			"/job/namespace": ev("START", "r", `\u0000`, "j"),
			"/job/name":      ev("START", "r", "n", `j\u0000x`),
		} {
			r := e.do(http.MethodPost, "/api/v1/lineage", editor, body)
			var ae apiError
			if r.status == http.StatusBadRequest {
				r.decode(t, &ae)
			}
			if r.status != http.StatusBadRequest || len(ae.Error.Fields) == 0 || ae.Error.Fields[0].Field != field {
				t.Errorf("lineage with NUL in %s: %d %s, want 400 naming it", field, r.status, r.body)
			}
		}
		r := e.do(http.MethodPost, "/api/v1/lineage", editor,
			`{"eventType":"FAIL","eventTime":"2026-11-17T06:00:00Z","run":{"runId":"nul-msg","facets":{"errorMessage":{"message":"bad\u0000 row"}}},"job":{"namespace":"n","name":"j"}}`)
		if r.status != http.StatusOK {
			t.Fatalf("lineage with NUL in the error message: %d %s", r.status, r.body)
		}
		src, err := db.Sources().EnsureBuiltin(ctx, collect.LineagePluginID, collect.LineageSourceName)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.Runs().GetByExternalID(ctx, src.ID, "nul-msg"); err != nil || got.ErrorMessage != "bad row" {
			t.Fatalf("stored run %+v, %v; want error message %q", got, err, "bad row")
		}

		r = e.do(http.MethodPost, "/api/v1/metrics", editor, `{"points":[{"series":"s\u0000","time":"2026-11-17T00:00:00Z","value":1}]}`)
		var ae apiError
		if r.status == http.StatusBadRequest {
			r.decode(t, &ae)
		}
		if r.status != http.StatusBadRequest || len(ae.Error.Fields) == 0 || ae.Error.Fields[0].Field != "/points/0/series" {
			t.Errorf("metric series with NUL: %d %s, want 400 naming /points/0/series", r.status, r.body)
		}

		// Ids no source can have are refused by the API layer before any
		// lookup: 400 naming the parameter, the same for every route.
		_, admin := e.member("acme", identity.RoleAdmin)
		for _, id := range []string{"%00", "a%00b", "%ff"} {
			if r := e.do(http.MethodPost, "/api/v1/webhooks/"+id, "", `{}`, "Authorization", "Bearer puodwh_x"); r.status != http.StatusBadRequest {
				t.Errorf("webhook for source %s: %d %s, want 400", id, r.status, r.body)
			}
			if r := e.do(http.MethodPost, "/api/v1/sources/"+id+"/sync", editor, nil); r.status != http.StatusBadRequest {
				t.Errorf("sync of source %s: %d %s, want 400", id, r.status, r.body)
			}
			if r := e.do(http.MethodPost, "/api/v1/sources/"+id+"/webhook-secret", admin, nil); r.status != http.StatusBadRequest {
				t.Errorf("webhook secret of source %s: %d %s, want 400", id, r.status, r.body)
			}
		}
	})
}
