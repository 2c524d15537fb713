package dashboards_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/puod/puod/host/dashboards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestHTTP_lifecycle(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)

		var d dashboards.Dashboard
		e.must(e.do(ed, "POST", "/api/v1/dashboards", board("ops", "Operations")), http.StatusCreated).decode(t, &d)
		if d.ID == "" || d.Slug != "ops" || d.Version != 1 || d.ReadOnly || d.Provisioned || len(d.Cards) != 2 ||
			d.TimeRange.From != "now-6h" || string(d.Cards[0].Options) != "{}" || d.Cards[0].TimeRange != nil ||
			d.Cards[1].TimeRange == nil || d.Cards[1].TimeRange.From != "now-7d" || d.CreatedBy == "" {
			t.Fatalf("created = %+v", d)
		}

		// Viewers read, by id and by slug.
		for _, ref := range []string{d.ID, "ops"} {
			var got dashboards.Dashboard
			e.must(e.do(viewer, "GET", "/api/v1/dashboards/"+ref, nil), http.StatusOK).decode(t, &got)
			if got.ID != d.ID || len(got.Cards) != 2 {
				t.Fatalf("GET %s = %+v", ref, got)
			}
		}
		var list struct {
			Dashboards []map[string]any `json:"dashboards"`
		}
		e.must(e.do(viewer, "GET", "/api/v1/dashboards", nil), http.StatusOK).decode(t, &list)
		if len(list.Dashboards) != 1 || list.Dashboards[0]["card_count"] != float64(2) || list.Dashboards[0]["cards"] != nil {
			t.Fatalf("list = %+v", list)
		}

		// Update at the current version.
		upd := board("", "Operations v2")
		upd["cards"] = []any{map[string]any{"id": "only", "type": "puod.runs_by_source", "x": 0, "y": 0, "w": 12, "h": 3}}
		upd["version"] = 1
		var v2 dashboards.Dashboard
		e.must(e.do(ed, "PUT", "/api/v1/dashboards/"+d.ID, upd), http.StatusOK).decode(t, &v2)
		if v2.Version != 2 || v2.Title != "Operations v2" || v2.Slug != "ops" || len(v2.Cards) != 1 {
			t.Fatalf("updated = %+v (an omitted slug keeps the current one)", v2)
		}

		// A stale version: 409 version_conflict with the stored dashboard.
		stale := board("", "Lost update")
		stale["version"] = 1
		r := e.do(ed, "PUT", "/api/v1/dashboards/ops", stale)
		if r.status != http.StatusConflict {
			t.Fatalf("stale PUT: %s", r)
		}
		eb := r.err(t)
		if eb.Error.Code != dashboards.CodeVersionConflict || eb.Current == nil || eb.Current.Version != 2 ||
			eb.Current.Title != "Operations v2" || len(eb.Current.Cards) != 1 || !strings.Contains(eb.Error.Message, "version 2") {
			t.Fatalf("stale PUT answer: %s", r.body)
		}

		// Copy: an editable copy with a free slug, twice.
		var c1, c2 dashboards.Dashboard
		e.must(e.do(ed, "POST", "/api/v1/dashboards/ops/copy", nil), http.StatusCreated).decode(t, &c1)
		e.must(e.do(ed, "POST", "/api/v1/dashboards/ops/copy", map[string]any{"title": "Mine"}), http.StatusCreated).decode(t, &c2)
		if c1.Slug != "ops-copy" || c1.Title != "Operations v2 (copy)" || c1.Version != 1 || len(c1.Cards) != 1 ||
			c2.Slug != "mine" || c2.Title != "Mine" {
			t.Fatalf("copies = %+v / %+v", c1, c2)
		}
		var c3 dashboards.Dashboard
		e.must(e.do(ed, "POST", "/api/v1/dashboards/ops/copy", ""), http.StatusCreated).decode(t, &c3)
		if c3.Slug != "ops-copy-2" {
			t.Fatalf("second default copy has slug %q, want ops-copy-2", c3.Slug)
		}

		// Delete.
		e.must(e.do(ed, "DELETE", "/api/v1/dashboards/"+c1.ID, nil), http.StatusNoContent)
		e.must(e.do(viewer, "GET", "/api/v1/dashboards/"+c1.ID, nil), http.StatusNotFound)
		e.must(e.do(ed, "DELETE", "/api/v1/dashboards/"+c1.ID, nil), http.StatusNotFound)

		// Every write was published, with the version after it.
		got := e.bus.changes(t)
		want := []dashboards.Changed{
			{DashboardID: d.ID, Version: 1}, {DashboardID: d.ID, Version: 2},
			{DashboardID: c1.ID, Version: 1}, {DashboardID: c2.ID, Version: 1}, {DashboardID: c3.ID, Version: 1},
			{DashboardID: c1.ID, Version: 1, Deleted: true},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("published %+v, want %+v", got, want)
		}
		// ... and audited, failures included.
		entries, _, err := db.Audit().List(e.ctxOf(ed), store.AuditFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, en := range entries {
			count[en.Action+"/"+en.Outcome]++
		}
		for key, n := range map[string]int{"dashboard.create/success": 1, "dashboard.update/success": 1, "dashboard.update/failure": 1,
			"dashboard.copy/success": 3, "dashboard.delete/success": 1, "dashboard.delete/failure": 1} {
			if count[key] != n {
				t.Errorf("audit %s: %d entries, want %d (all: %v)", key, count[key], n, count)
			}
		}
	})
}

func TestHTTP_exportImportRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		a := e.member("alpha", identity.RoleEditor)
		b := e.member("bravo", identity.RoleEditor)
		viewer := e.member("alpha", identity.RoleViewer)
		var orig dashboards.Dashboard
		e.must(e.do(a, "POST", "/api/v1/dashboards", board("shared-board", "Shared board")), http.StatusCreated).decode(t, &orig)

		r := e.must(e.do(viewer, "GET", "/api/v1/dashboards/shared-board/export", nil), http.StatusOK)
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="shared-board.json"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		var doc map[string]any
		r.decode(t, &doc)
		for _, k := range []string{"id", "version", "profile_id", "read_only", "provisioned", "created_by"} {
			if _, ok := doc[k]; ok {
				t.Errorf("export has %q: %s", k, r.body)
			}
		}
		// The export is a valid dashboards-as-code file.
		if _, err := dashboards.ParseDocument(r.body); err != nil {
			t.Fatalf("export does not validate against the schema: %v\n%s", err, r.body)
		}

		// Into another profile: the same dashboard, editable, at version 1.
		var imported dashboards.Dashboard
		e.must(e.do(b, "POST", "/api/v1/dashboards/import", string(r.body)), http.StatusCreated).decode(t, &imported)
		if imported.ID == orig.ID || imported.Slug != orig.Slug || imported.Title != orig.Title || imported.Version != 1 ||
			imported.ReadOnly || imported.Description != orig.Description || imported.TimeRange != orig.TimeRange ||
			fmt.Sprint(imported.Cards) != fmt.Sprint(orig.Cards) {
			t.Fatalf("imported %+v\nwant like %+v", imported, orig)
		}
		// Into the same profile: the slug is taken.
		r2 := e.do(a, "POST", "/api/v1/dashboards/import", string(r.body))
		if r2.status != http.StatusConflict || !strings.Contains(r2.err(t).Error.Message, "shared-board") {
			t.Fatalf("import of a taken slug: %s", r2)
		}
		// Exported again from B: the same document.
		r3 := e.must(e.do(b, "GET", "/api/v1/dashboards/"+imported.ID+"/export", nil), http.StatusOK)
		if string(r3.body) != string(r.body) {
			t.Fatalf("round trip changed the document:\n%s\n%s", r.body, r3.body)
		}
	})
}

func TestHTTP_tenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		a := e.member("alpha", identity.RoleEditor)
		b := e.member("bravo", identity.RoleAdmin)
		var d dashboards.Dashboard
		e.must(e.do(a, "POST", "/api/v1/dashboards", board("alpha-secret-board", "Alpha secret")), http.StatusCreated).decode(t, &d)
		put := board("", "Stolen")
		put["version"] = 1
		for _, ref := range []string{d.ID, "alpha-secret-board"} {
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/api/v1/dashboards/" + ref, nil},
				{"PUT", "/api/v1/dashboards/" + ref, put},
				{"DELETE", "/api/v1/dashboards/" + ref, nil},
				{"POST", "/api/v1/dashboards/" + ref + "/copy", nil},
				{"GET", "/api/v1/dashboards/" + ref + "/export", nil},
			} {
				r := e.do(b, c.method, c.path, c.body)
				if r.status != http.StatusNotFound || strings.Contains(string(r.body), "Alpha secret") {
					t.Errorf("B: %s %s: %s, want 404 without A's data", c.method, c.path, r)
				}
			}
		}
		r := e.must(e.do(b, "GET", "/api/v1/dashboards", nil), http.StatusOK)
		if strings.Contains(string(r.body), d.ID) {
			t.Errorf("B's list shows A's dashboard: %s", r.body)
		}
		var got dashboards.Dashboard
		e.must(e.do(a, "GET", "/api/v1/dashboards/"+d.ID, nil), http.StatusOK).decode(t, &got)
		if got.Title != "Alpha secret" || got.Version != 1 {
			t.Fatalf("A's dashboard changed: %+v", got)
		}
	})
}

func TestHTTP_rolesAndReadOnly(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db)
	ed := e.member("acme", identity.RoleEditor)
	viewer := e.member("acme", identity.RoleViewer)
	var d dashboards.Dashboard
	e.must(e.do(ed, "POST", "/api/v1/dashboards", board("ops", "Ops")), http.StatusCreated).decode(t, &d)
	put := board("", "x")
	put["version"] = 1
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/dashboards", board("v", "Viewer's")},
		{"POST", "/api/v1/dashboards/import", board("v", "Viewer's")},
		{"PUT", "/api/v1/dashboards/ops", put},
		{"DELETE", "/api/v1/dashboards/ops", nil},
		{"POST", "/api/v1/dashboards/ops/copy", nil},
	} {
		r := e.do(viewer, c.method, c.path, c.body)
		if r.status != http.StatusForbidden || r.err(t).Error.Code != "forbidden" {
			t.Errorf("viewer %s %s: %s, want 403 forbidden", c.method, c.path, r)
		}
	}

	// A provisioned dashboard is read-only for everyone, admins included.
	p, err := dashboards.NewProvisioner(dashboards.ProvisionConfig{}, nil, db, e.bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := identity.From(e.ctxOf(ed))
	if err := p.ProvisionProfile(t.Context(), prof.ProfileID); err != nil {
		t.Fatal(err)
	}
	admin := e.member("acme", identity.RoleAdmin)
	var po dashboards.Dashboard
	e.must(e.do(viewer, "GET", "/api/v1/dashboards/pipelines-overview", nil), http.StatusOK).decode(t, &po)
	if !po.ReadOnly || !po.Provisioned || po.Version != 1 {
		t.Fatalf("provisioned dashboard = %+v", po)
	}
	put["version"] = po.Version
	for _, c := range []struct {
		method string
		body   any
	}{{"PUT", put}, {"DELETE", nil}} {
		r := e.do(admin, c.method, "/api/v1/dashboards/pipelines-overview", c.body)
		eb := r.err(t)
		if r.status != http.StatusForbidden || eb.Error.Code != dashboards.CodeReadOnly || !strings.Contains(eb.Error.Message, "copy it to edit") {
			t.Errorf("%s of a provisioned dashboard: %s, want 403 read_only with the remedy", c.method, r)
		}
	}
	// Copying it gives an editable one.
	var cp dashboards.Dashboard
	e.must(e.do(ed, "POST", "/api/v1/dashboards/pipelines-overview/copy", nil), http.StatusCreated).decode(t, &cp)
	if cp.ReadOnly || cp.Provisioned || cp.Slug != "pipelines-overview-copy" || len(cp.Cards) != len(po.Cards) {
		t.Fatalf("copy of the provisioned dashboard = %+v", cp)
	}
	put["version"] = cp.Version
	e.must(e.do(ed, "PUT", "/api/v1/dashboards/"+cp.ID, put), http.StatusOK)
}

func TestHTTP_invalidBodies(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db)
	ed := e.member("acme", identity.RoleEditor)
	e.must(e.do(ed, "POST", "/api/v1/dashboards", board("taken", "Taken")), http.StatusCreated)
	withCards := func(cards ...map[string]any) map[string]any {
		b := board("", "T")
		list := make([]any, len(cards))
		for i, c := range cards {
			list[i] = c
		}
		b["cards"] = list
		return b
	}
	card := func(id string, x, w int) map[string]any {
		return map[string]any{"id": id, "type": "puod.success_rate", "x": x, "y": 0, "w": w, "h": 2}
	}
	with := func(k string, v any) map[string]any {
		b := board("", "T")
		b[k] = v
		return b
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string // a problem at this pointer, when set
		code   string
	}{
		{"malformed JSON", "POST", "/api/v1/dashboards", `{"title": "x",`, 400, "", "invalid_request"},
		{"an array", "POST", "/api/v1/dashboards", `[]`, 400, "", "invalid_request"},
		{"empty", "POST", "/api/v1/dashboards", ``, 400, "", "invalid_request"},
		{"unknown field", "POST", "/api/v1/dashboards", with("colour", "red"), 400, "/colour", "invalid_request"},
		{"version on create", "POST", "/api/v1/dashboards", with("version", 3), 400, "/version", "invalid_request"},
		{"no title", "POST", "/api/v1/dashboards", with("title", "  "), 400, "/title", "invalid_request"},
		{"bad slug", "POST", "/api/v1/dashboards", with("slug", "Not A Slug"), 400, "/slug", "invalid_request"},
		{"uuid slug", "POST", "/api/v1/dashboards", with("slug", "0190d7a4-7c1e-7e2a-9a3b-5d1f0b6c2e01"), 400, "/slug", "invalid_request"},
		{"taken slug", "POST", "/api/v1/dashboards", with("slug", "taken"), 409, "", "conflict"},
		{"string for title", "POST", "/api/v1/dashboards", with("title", 5), 400, "/title", "invalid_request"},
		{"bad range", "POST", "/api/v1/dashboards", with("time_range", map[string]any{"from": "yesterday", "to": "now"}), 400, "/time_range/from", "invalid_request"},
		{"empty range", "POST", "/api/v1/dashboards", with("time_range", map[string]any{"from": "now", "to": "now-1h"}), 400, "/time_range/from", "invalid_request"},
		{"negative refresh", "POST", "/api/v1/dashboards", with("refresh_seconds", -1), 400, "/refresh_seconds", "invalid_request"},
		{"past the grid", "POST", "/api/v1/dashboards", withCards(card("a", 8, 6)), 400, "/cards/0/w", "invalid_request"},
		{"zero width", "POST", "/api/v1/dashboards", withCards(card("a", 0, 0)), 400, "/cards/0/w", "invalid_request"},
		{"zero height", "POST", "/api/v1/dashboards", withCards(map[string]any{"id": "a", "type": "t", "x": 0, "y": 0, "w": 1, "h": 0}), 400, "/cards/0/h", "invalid_request"},
		{"negative x", "POST", "/api/v1/dashboards", withCards(card("a", -1, 2)), 400, "/cards/0/x", "invalid_request"},
		{"duplicate card ids", "POST", "/api/v1/dashboards", withCards(card("a", 0, 2), card("a", 2, 2)), 400, "/cards/1/id", "invalid_request"},
		{"no card type", "POST", "/api/v1/dashboards", withCards(map[string]any{"id": "a", "x": 0, "y": 0, "w": 1, "h": 1}), 400, "/cards/0/type", "invalid_request"},
		{"number for card type", "POST", "/api/v1/dashboards", withCards(map[string]any{"id": "a", "type": 7, "x": 0, "y": 0, "w": 1, "h": 1}), 400, "", "invalid_request"},
		{"options not an object", "POST", "/api/v1/dashboards", withCards(map[string]any{"id": "a", "type": "t", "options": []any{1}, "x": 0, "y": 0, "w": 1, "h": 1}), 400, "/cards/0/options", "invalid_request"},
		{"bad card range", "POST", "/api/v1/dashboards", withCards(map[string]any{"id": "a", "type": "t", "time_range": map[string]any{"from": "now-5x", "to": "now"}, "x": 0, "y": 0, "w": 1, "h": 1}), 400, "/cards/0/time_range/from", "invalid_request"},
		{"update without version", "PUT", "/api/v1/dashboards/taken", board("", "T"), 400, "/version", "invalid_request"},
		{"update without cards", "PUT", "/api/v1/dashboards/taken", map[string]any{"title": "T", "version": 1}, 400, "/cards", "invalid_request"},
		{"import with unknown field", "POST", "/api/v1/dashboards/import", with("panels", []any{}), 400, "/panels", "invalid_request"},
		{"copy with a bad title", "POST", "/api/v1/dashboards/taken/copy", map[string]any{"title": 5}, 400, "/title", "invalid_request"},
		{"copy with unknown field", "POST", "/api/v1/dashboards/taken/copy", map[string]any{"slug": "x"}, 400, "/slug", "invalid_request"},
		{"unknown query parameter", "GET", "/api/v1/dashboards?folder=x", nil, 400, "", "invalid_request"},
		{"unknown dashboard", "GET", "/api/v1/dashboards/nope", nil, 404, "", "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(ed, tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			eb := r.err(t)
			if eb.Error.Code != tc.code {
				t.Errorf("code %q, want %q", eb.Error.Code, tc.code)
			}
			if tc.field == "" {
				return
			}
			for _, f := range eb.Error.Fields {
				if f.Field == tc.field {
					return
				}
			}
			t.Errorf("no problem at %s in %s", tc.field, r.body)
		})
	}
	// Nothing but the first dashboard was stored.
	list, err := e.svc.List(e.ctxOf(ed))
	if err != nil || len(list) != 1 {
		t.Fatalf("list after refusals: %+v, %v", list, err)
	}
}
