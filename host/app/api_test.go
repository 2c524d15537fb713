package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/puod/puod/host/auditapi"
)

// TestAPI_happyPaths walks the API as its users do — log in, look
// around, configure a source, hand out tokens, manage members and
// profiles, read the audit log — on a whole host, once on SQLite and once
// on PostgreSQL, with the same code.
func TestAPI_happyPaths(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, dialect)
			get := func(path, token string, status int) resp {
				t.Helper()
				return must(t, e.do(t, req{method: "GET", path: path, token: token}), status)
			}
			send := func(method, path, token string, body any, status int) resp {
				t.Helper()
				return must(t, e.do(t, req{method: method, path: path, token: token, body: body}), status)
			}

			// Probes and the reference.
			get("/healthz", "", http.StatusOK)
			if r := get("/readyz", "", http.StatusOK); !strings.Contains(string(r.body), `"database":"ok"`) {
				t.Errorf("readyz: %s", r)
			}
			if r := get("/metrics", "", http.StatusOK); !strings.Contains(string(r.body), "puod_http_requests_total") {
				t.Errorf("metrics lack the request counter")
			}
			var doc struct {
				OpenAPI string `json:"openapi"`
			}
			if get("/api/v1/openapi.json", "", http.StatusOK).json(t, &doc); doc.OpenAPI == "" {
				t.Error("openapi.json has no openapi version")
			}

			// Login, me, refresh rotation.
			var tr struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				ExpiresIn    int    `json:"expires_in"`
				TokenType    string `json:"token_type"`
			}
			send("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}, http.StatusOK).json(t, &tr)
			if tr.AccessToken == "" || tr.RefreshToken == "" || tr.ExpiresIn <= 0 || tr.TokenType != "Bearer" {
				t.Fatalf("login answer %+v", tr)
			}
			admin := tr.AccessToken
			var me struct {
				User        struct{ ID, Username string } `json:"user"`
				Profile     struct{ ID, Name string }     `json:"profile"`
				Role        string                        `json:"role"`
				Via         string                        `json:"via"`
				Memberships []struct {
					ProfileName string `json:"profile_name"`
				} `json:"memberships"`
			}
			get("/api/v1/auth/me", admin, http.StatusOK).json(t, &me)
			if me.User.Username != "admin" || me.Profile.Name != "default" || me.Role != "admin" || me.Via != "password" || len(me.Memberships) != 1 {
				t.Errorf("me = %+v", me)
			}
			adminID := me.User.ID
			oldRefresh := tr.RefreshToken
			send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": oldRefresh}, http.StatusOK).json(t, &tr)
			if tr.RefreshToken == oldRefresh {
				t.Error("refresh did not rotate the refresh token")
			}
			get("/api/v1/auth/me", tr.AccessToken, http.StatusOK)
			// The old one again: a stolen copy; the whole session ends.
			send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": oldRefresh}, http.StatusUnauthorized)
			send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tr.RefreshToken}, http.StatusUnauthorized)

			// Plugins and card types.
			var pl struct {
				Plugins []struct {
					ID, State string
					PID       int      `json:"pid"`
					Kinds     []string `json:"kinds"`
				} `json:"plugins"`
			}
			get("/api/v1/plugins", admin, http.StatusOK).json(t, &pl)
			if len(pl.Plugins) != 1 || pl.Plugins[0].ID != helloPluginID || pl.Plugins[0].State != "running" || pl.Plugins[0].PID <= 0 {
				t.Errorf("plugins = %+v", pl)
			}
			if r := get("/api/v1/card-types", admin, http.StatusOK); !strings.Contains(string(r.body), `"acme.hello/greeting_runs"`) {
				t.Errorf("card types lack the plugin's card: %s", r)
			}

			// Sources: secrets are masked in every answer and sealed at rest.
			type source struct {
				ID       string         `json:"id"`
				Name     string         `json:"name"`
				Revision int64          `json:"revision"`
				Config   map[string]any `json:"config"`
				Enabled  bool           `json:"enabled"`
			}
			const secret = "s3cr3t-token-value"
			var src source
			send("POST", "/api/v1/sources", admin, map[string]any{"plugin_id": helloPluginID, "name": "Hello",
				"config": map[string]any{"greeting": "hi", "runs": 5, "token": secret}}, http.StatusCreated).json(t, &src)
			if src.Config["token"] != "********" || src.Config["greeting"] != "hi" || !src.Enabled {
				t.Errorf("created source %+v", src)
			}
			var list struct {
				Sources []source `json:"sources"`
			}
			r := get("/api/v1/sources", admin, http.StatusOK)
			r.json(t, &list)
			if len(list.Sources) != 1 || list.Sources[0].ID != src.ID || strings.Contains(string(r.body), secret) {
				t.Errorf("source list %s", r)
			}
			r = get("/api/v1/sources/"+src.ID, admin, http.StatusOK)
			if strings.Contains(string(r.body), secret) {
				t.Errorf("source shows its secret: %s", r)
			}
			var upd source
			send("PUT", "/api/v1/sources/"+src.ID, admin, map[string]any{"name": "Hello again", "revision": src.Revision,
				"config": map[string]any{"greeting": "hello", "runs": 5, "token": "********"}}, http.StatusOK).json(t, &upd)
			if upd.Name != "Hello again" || upd.Revision != src.Revision+1 || upd.Config["token"] != "********" {
				t.Errorf("updated source %+v", upd)
			}
			send("PUT", "/api/v1/sources/"+src.ID, admin, map[string]any{"name": "stale", "revision": src.Revision}, http.StatusConflict)
			var test struct{ Status string }
			if send("POST", "/api/v1/sources/"+src.ID+"/test", admin, nil, http.StatusOK).json(t, &test); test.Status != "ok" {
				t.Errorf("source test = %+v", test)
			}
			checkSecretSealed(t, e, secret)
			send("DELETE", "/api/v1/sources/"+src.ID, admin, nil, http.StatusNoContent)
			get("/api/v1/sources/"+src.ID, admin, http.StatusNotFound)

			// API tokens: shown once, act with their role, revocable.
			var tok struct{ ID, Token, Role string }
			send("POST", "/api/v1/tokens", admin, map[string]any{"name": "ci", "role": "viewer"}, http.StatusCreated).json(t, &tok)
			if !strings.HasPrefix(tok.Token, "puod_") || tok.Role != "viewer" {
				t.Errorf("created token %+v", tok)
			}
			if r := get("/api/v1/tokens", admin, http.StatusOK); !strings.Contains(string(r.body), tok.ID) || strings.Contains(string(r.body), tok.Token) {
				t.Errorf("token list %s", r)
			}
			get("/api/v1/auth/me", tok.Token, http.StatusOK).json(t, &me)
			if me.Via != "token" || me.Role != "viewer" {
				t.Errorf("me with the API token = %+v", me)
			}
			get("/api/v1/sources", tok.Token, http.StatusOK)
			send("POST", "/api/v1/sources", tok.Token, map[string]any{"plugin_id": helloPluginID, "name": "x"}, http.StatusForbidden)
			send("POST", "/api/v1/tokens", tok.Token, map[string]any{"name": "child"}, http.StatusForbidden)
			send("DELETE", "/api/v1/tokens/"+tok.ID, admin, nil, http.StatusNoContent)
			get("/api/v1/auth/me", tok.Token, http.StatusUnauthorized)

			// Users: add, log in, change role, disable, remove.
			var u struct {
				ID, Username, Role string
				Disabled           bool
			}
			send("POST", "/api/v1/users", admin, map[string]any{"username": "carol", "password": "carol's long password", "role": "editor"},
				http.StatusCreated).json(t, &u)
			if u.Role != "editor" {
				t.Errorf("created user %+v", u)
			}
			if r := get("/api/v1/users", admin, http.StatusOK); !strings.Contains(string(r.body), `"carol"`) {
				t.Errorf("user list lacks carol: %s", r)
			}
			carol, carolRefresh := e.login(t, "carol", "carol's long password")
			get("/api/v1/auth/me", carol, http.StatusOK).json(t, &me)
			if me.Role != "editor" {
				t.Errorf("carol's role %q", me.Role)
			}
			send("PATCH", "/api/v1/users/"+u.ID, admin, map[string]any{"role": "viewer"}, http.StatusOK).json(t, &u)
			if get("/api/v1/auth/me", carol, http.StatusOK).json(t, &me); me.Role != "viewer" {
				t.Errorf("carol's role after the change %q (a role change applies at once)", me.Role)
			}
			send("PATCH", "/api/v1/users/"+u.ID, admin, map[string]any{"disabled": true}, http.StatusOK)
			get("/api/v1/auth/me", carol, http.StatusUnauthorized)
			send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": carolRefresh}, http.StatusUnauthorized)
			send("PATCH", "/api/v1/users/"+u.ID, admin, map[string]any{"disabled": false}, http.StatusOK)
			send("PATCH", "/api/v1/users/"+adminID, admin, map[string]any{"role": "viewer"}, http.StatusConflict)
			send("DELETE", "/api/v1/users/"+u.ID, admin, nil, http.StatusNoContent)
			if r := get("/api/v1/users", admin, http.StatusOK); strings.Contains(string(r.body), `"carol"`) {
				t.Errorf("carol still listed after removal: %s", r)
			}

			// Profiles: create, list, switch with the header; each sees its own.
			var prof struct{ ID, Name, Role string }
			send("POST", "/api/v1/profiles", admin, map[string]any{"name": "team-b"}, http.StatusCreated).json(t, &prof)
			if prof.Role != "admin" {
				t.Errorf("created profile %+v", prof)
			}
			var profs struct {
				Profiles []struct {
					Name    string `json:"name"`
					Current bool   `json:"current"`
				} `json:"profiles"`
			}
			get("/api/v1/profiles", admin, http.StatusOK).json(t, &profs)
			if len(profs.Profiles) != 2 || !profs.Profiles[0].Current || profs.Profiles[1].Name != "team-b" || profs.Profiles[1].Current {
				t.Errorf("profiles %+v", profs)
			}
			// A new profile starts with the dashboards-as-code, like every
			// profile that existed at start.
			d := must(t, e.do(t, req{method: "GET", path: "/api/v1/dashboards/pipelines-overview", token: admin, profile: prof.ID}), http.StatusOK)
			if !strings.Contains(string(d.body), `"provisioned":true`) {
				t.Errorf("team-b's default dashboard: %s", d)
			}
			inB := must(t, e.do(t, req{method: "GET", path: "/api/v1/auth/me", token: admin, profile: "team-b"}), http.StatusOK)
			if inB.json(t, &me); me.Profile.ID != prof.ID {
				t.Errorf("me in team-b = %+v", me)
			}
			send("POST", "/api/v1/sources", admin, map[string]any{"plugin_id": helloPluginID, "name": "in default",
				"config": map[string]any{"greeting": "a"}}, http.StatusCreated)
			r = must(t, e.do(t, req{method: "GET", path: "/api/v1/sources", token: admin, profile: prof.ID}), http.StatusOK)
			if r.json(t, &list); len(list.Sources) != 0 {
				t.Errorf("team-b sees the sources of default: %s", r)
			}

			// Audit: every change above is there, filterable, and chained.
			var audit struct {
				Entries []struct {
					Action  string `json:"action"`
					Outcome string `json:"outcome"`
				} `json:"entries"`
			}
			get("/api/v1/audit?limit=500", admin, http.StatusOK).json(t, &audit)
			var actions []string
			for _, en := range audit.Entries {
				actions = append(actions, en.Action)
			}
			for _, want := range []string{"auth.login", "source.create", "source.update", "source.test", "source.delete",
				"token.create", "token.revoke", "user.create", "user.update", "user.remove", "user.list", "profile.create"} {
				if !slices.Contains(actions, want) {
					t.Errorf("audit log lacks %s: %v", want, actions)
				}
			}
			get("/api/v1/audit?action=source.create", admin, http.StatusOK).json(t, &audit)
			if len(audit.Entries) != 2 {
				t.Errorf("audit filtered by source.create: %d entries, want 2", len(audit.Entries))
			}
			for _, en := range audit.Entries {
				if en.Action != "source.create" {
					t.Errorf("filter returned %s", en.Action)
				}
			}
			if _, err := auditapi.Verify(t.Context(), e.app.Store()); err != nil {
				t.Errorf("audit chain: %v", err)
			}

			// Logout ends the session: its refresh token stops working.
			_, refresh := e.login(t, "admin", adminPassword)
			send("POST", "/api/v1/auth/logout", admin, map[string]string{"refresh_token": refresh}, http.StatusNoContent)
			send("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}, http.StatusUnauthorized)
		})
	}
}

// checkSecretSealed asserts that no column of the sources table holds the
// secret in clear.
func checkSecretSealed(t *testing.T, e *testEnv, secret string) {
	t.Helper()
	rows, err := e.rawDB(t).Query(`SELECT * FROM sources`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case []byte:
				s = string(x)
			}
			if strings.Contains(s, secret) {
				t.Errorf("column %s of sources holds the secret in clear", cols[i])
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no source row to check")
	}
}
