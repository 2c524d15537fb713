package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestAPITokens(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		admin := e.token("acme-admin")

		var created CreatedAPIToken
		e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: admin,
			body: map[string]any{"name": "ci", "role": "editor"}}).status(http.StatusCreated).decode(&created)
		if !strings.HasPrefix(created.Token, APITokenPrefix) || len(created.Token) < 40 || created.Role != identity.RoleEditor || !created.Active {
			t.Fatalf("created %+v", created)
		}

		// The token authenticates, in its profile, with its role.
		var me MeResponse
		e.get("/api/v1/auth/me", created.Token).status(http.StatusOK).decode(&me)
		if me.Via != "token" || me.Role != identity.RoleEditor || me.Profile.Name != "acme" || len(me.Memberships) != 1 {
			t.Fatalf("me via token = %+v", me)
		}
		e.get("/api/v1/users", created.Token).wantError(http.StatusForbidden)
		e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: created.Token, profile: "globex"}).wantError(http.StatusForbidden, "only in profile")
		e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: created.Token, profile: "acme"}).status(http.StatusOK)

		// The list never shows the secret.
		r := e.get("/api/v1/tokens", admin).status(http.StatusOK)
		if strings.Contains(r.Body.String(), created.Token) || strings.Contains(r.Body.String(), strings.TrimPrefix(created.Token, APITokenPrefix)) {
			t.Fatal("token list contains the secret")
		}
		var list struct {
			Tokens []APITokenJSON `json:"tokens"`
		}
		r.decode(&list)
		if len(list.Tokens) != 1 || list.Tokens[0].ID != created.ID || list.Tokens[0].LastUsedAt == nil {
			t.Fatalf("list = %+v", list.Tokens)
		}
		if len(e.auditEntries(e.acme, "token.create")) != 1 {
			t.Fatal("token creation not audited")
		}

		// Revoked → 401.
		e.do(req{method: http.MethodDelete, path: "/api/v1/tokens/" + created.ID, token: admin}).status(http.StatusNoContent)
		e.get("/api/v1/auth/me", created.Token).wantError(http.StatusUnauthorized, "revoked")
		e.do(req{method: http.MethodDelete, path: "/api/v1/tokens/no-such-id", token: admin}).wantError(http.StatusNotFound)

		t.Run("expired", func(t *testing.T) {
			secret := APITokenPrefix + "expired-token-secret-expired-token-secret"
			past := time.Now().Add(-time.Minute)
			ctx := identity.With(t.Context(), identity.Principal{UserID: e.users["acme-admin"].ID, Username: "acme-admin", ProfileID: e.acme.ID, Role: identity.RoleAdmin})
			if _, err := db.APITokens().Create(ctx, store.NewAPIToken{Name: "old", TokenHash: hashSecret(secret), Role: identity.RoleViewer, ExpiresAt: &past}); err != nil {
				t.Fatal(err)
			}
			e.get("/api/v1/auth/me", secret).wantError(http.StatusUnauthorized, "expired")
			e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: admin,
				body: map[string]any{"name": "x", "expires_at": past}}).wantError(http.StatusBadRequest, "in the past")
		})
		t.Run("role never exceeds the creator's", func(t *testing.T) {
			ed := e.addUser("acme-lead", e.acme, identity.RoleAdmin)
			var tok CreatedAPIToken
			e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: e.token("acme-lead"),
				body: map[string]any{"name": "deploy", "role": "admin"}}).status(http.StatusCreated).decode(&tok)
			e.get("/api/v1/users", tok.Token).status(http.StatusOK)
			// The creator is demoted: the token follows.
			e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + ed.ID, token: admin, body: map[string]any{"role": "viewer"}}).status(http.StatusOK)
			e.get("/api/v1/users", tok.Token).wantError(http.StatusForbidden, "admin")
			e.get("/api/v1/auth/me", tok.Token).status(http.StatusOK).decode(&me)
			if me.Role != identity.RoleViewer {
				t.Fatalf("demoted creator's admin token acts as %s", me.Role)
			}
			e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: admin,
				body: map[string]any{"name": "x", "role": "root"}}).wantError(http.StatusBadRequest, "unknown role")
		})
		t.Run("tokens cannot mint tokens", func(t *testing.T) {
			var tok CreatedAPIToken
			e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: admin,
				body: map[string]any{"name": "auto", "role": "admin"}}).status(http.StatusCreated).decode(&tok)
			e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: tok.Token,
				body: map[string]any{"name": "child"}}).wantError(http.StatusForbidden, "log in as a person")
		})
	})
}

func TestProfiles_switching(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// acme-editor is also a viewer of globex.
		if err := db.System().Memberships().Add(t.Context(), e.globex.ID, e.users["acme-editor"].ID, identity.RoleViewer); err != nil {
			t.Fatal(err)
		}
		tok := e.token("acme-editor")
		tests := []struct {
			name    string
			profile string
			status  int
			want    string
			role    identity.Role
		}{
			{"default is the oldest membership", "", http.StatusOK, "acme", identity.RoleEditor},
			{"by name", "globex", http.StatusOK, "globex", identity.RoleViewer},
			{"by id", e.globex.ID, http.StatusOK, "globex", identity.RoleViewer},
			{"unknown profile", "initech", http.StatusForbidden, "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: tok, profile: tc.profile})
				if tc.status != http.StatusOK {
					r.wantError(tc.status, "GET /api/v1/auth/me")
					return
				}
				var me MeResponse
				r.status(http.StatusOK).decode(&me)
				if me.Profile.Name != tc.want || me.Role != tc.role || len(me.Memberships) != 2 {
					t.Fatalf("me = %+v", me)
				}
			})
		}
		t.Run("non-member", func(t *testing.T) {
			e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: e.token("acme-viewer"), profile: "globex"}).
				wantError(http.StatusForbidden, "not a member of profile")
		})
		t.Run("list and create profiles", func(t *testing.T) {
			var list struct {
				Profiles []ProfileJSON `json:"profiles"`
			}
			e.do(req{method: http.MethodGet, path: "/api/v1/profiles", token: tok, profile: "globex"}).status(http.StatusOK).decode(&list)
			if len(list.Profiles) != 2 || list.Profiles[0].Name != "acme" || list.Profiles[0].Current || !list.Profiles[1].Current {
				t.Fatalf("profiles = %+v", list.Profiles)
			}
			// An editor everywhere may not create profiles.
			e.do(req{method: http.MethodPost, path: "/api/v1/profiles", token: tok, body: map[string]string{"name": "new"}}).wantError(http.StatusForbidden, "admin")
			// An admin may, becomes its admin, and can switch to it.
			admin := e.token("globex-admin")
			var created ProfileJSON
			e.do(req{method: http.MethodPost, path: "/api/v1/profiles", token: admin, body: map[string]string{"name": "umbrella"}}).
				status(http.StatusCreated).decode(&created)
			var me MeResponse
			e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: admin, profile: "umbrella"}).status(http.StatusOK).decode(&me)
			if me.Profile.ID != created.ID || me.Role != identity.RoleAdmin {
				t.Fatalf("me in the new profile = %+v", me)
			}
			e.do(req{method: http.MethodPost, path: "/api/v1/profiles", token: admin, body: map[string]string{"name": "umbrella"}}).wantError(http.StatusConflict, "exists")
			e.do(req{method: http.MethodPost, path: "/api/v1/profiles", token: admin, body: map[string]string{"name": " padded"}}).wantError(http.StatusBadRequest)
			if len(e.auditEntries(e.globex, "profile.create")) != 1 || len(e.auditEntries(store.Profile{ID: created.ID}, "profile.create")) != 1 {
				t.Fatal("profile creation not audited in both profiles")
			}
		})
	})
}

func TestAdminRoutes_rbac(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		target := e.users["acme-viewer"].ID
		routes := []req{
			{method: http.MethodGet, path: "/api/v1/users"},
			{method: http.MethodPost, path: "/api/v1/users", body: map[string]string{"username": "x", "password": testPassword}},
			{method: http.MethodPatch, path: "/api/v1/users/" + target, body: map[string]any{"role": "admin"}},
			{method: http.MethodDelete, path: "/api/v1/users/" + target},
			{method: http.MethodGet, path: "/api/v1/tokens"},
			{method: http.MethodPost, path: "/api/v1/tokens", body: map[string]string{"name": "x"}},
			{method: http.MethodDelete, path: "/api/v1/tokens/whatever"},
		}
		for _, who := range []string{"acme-viewer", "acme-editor"} {
			tok := e.token(who)
			for _, r := range routes {
				t.Run(who+" "+r.method+" "+r.path, func(t *testing.T) {
					r.token = tok
					e.do(r).wantError(http.StatusForbidden, "needs the admin role")
				})
			}
		}
		// An admin of globex is no admin of acme.
		for _, r := range routes[:1] {
			r.token = e.token("globex-admin")
			r.profile = "acme"
			e.do(r).wantError(http.StatusForbidden, "not a member")
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		admin := e.token("acme-admin")

		// Create a new account in acme.
		var nu UserJSON
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "newbie", "password": "a long enough password", "display_name": "New Bie", "role": "editor"}}).
			status(http.StatusCreated).decode(&nu)
		if nu.Username != "newbie" || nu.Role != identity.RoleEditor || nu.DisplayName != "New Bie" {
			t.Fatalf("created %+v", nu)
		}
		newbieLogin := func() string {
			var tr TokenResponse
			e.do(loginReq("newbie", "a long enough password")).status(http.StatusOK).decode(&tr)
			return tr.AccessToken
		}
		newbie := newbieLogin()
		e.get("/api/v1/auth/me", newbie).status(http.StatusOK)

		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "shorty", "password": "short"}}).wantError(http.StatusBadRequest, "at least 12")
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "newbie", "password": "another long password"}}).wantError(http.StatusConflict, "taken")
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "x", "password": testPassword, "role": "owner"}}).wantError(http.StatusBadRequest, "unknown role")
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "ghost"}}).wantError(http.StatusNotFound, "give a password")

		// Add an existing account (globex-admin) to acme, without a password.
		var added UserJSON
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "globex-admin", "role": "viewer"}}).status(http.StatusCreated).decode(&added)
		e.do(req{method: http.MethodGet, path: "/api/v1/auth/me", token: e.token("globex-admin"), profile: "acme"}).status(http.StatusOK)
		e.do(req{method: http.MethodPost, path: "/api/v1/users", token: admin,
			body: map[string]string{"username": "globex-admin"}}).wantError(http.StatusConflict, "already a member")

		// List: members of acme only, audited.
		var list struct {
			Users []UserJSON `json:"users"`
		}
		e.get("/api/v1/users", admin).status(http.StatusOK).decode(&list)
		var names []string
		for _, u := range list.Users {
			names = append(names, u.Username+":"+string(u.Role))
		}
		if got := strings.Join(names, ","); got != "acme-admin:admin,acme-editor:editor,acme-viewer:viewer,globex-admin:viewer,newbie:editor" {
			t.Fatalf("users = %s", got)
		}
		if len(e.auditEntries(e.acme, "user.list")) != 1 || len(e.auditEntries(e.acme, "user.create")) != 2 {
			t.Fatal("user list or creation not audited")
		}
		var page struct {
			Users      []UserJSON `json:"users"`
			NextCursor string     `json:"next_cursor"`
		}
		e.get("/api/v1/users?limit=2", admin).status(http.StatusOK).decode(&page)
		if len(page.Users) != 2 || page.NextCursor == "" {
			t.Fatalf("page = %+v", page)
		}
		e.get("/api/v1/users?limit=2&cursor="+page.NextCursor, admin).status(http.StatusOK).decode(&page)
		if page.Users[0].Username != "acme-viewer" {
			t.Fatalf("second page starts at %s", page.Users[0].Username)
		}

		// Patch role and disable.
		var upd UserJSON
		e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + nu.ID, token: admin, body: map[string]any{"role": "viewer"}}).status(http.StatusOK).decode(&upd)
		if upd.Role != identity.RoleViewer {
			t.Fatalf("updated %+v", upd)
		}
		e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + nu.ID, token: admin, body: map[string]any{"disabled": true}}).status(http.StatusOK).decode(&upd)
		if !upd.Disabled {
			t.Fatalf("updated %+v", upd)
		}
		e.get("/api/v1/auth/me", newbie).wantError(http.StatusUnauthorized, "disabled")
		e.do(loginReq("newbie", "a long enough password")).wantError(http.StatusUnauthorized, "disabled")
		e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + nu.ID, token: admin, body: map[string]any{"disabled": false}}).status(http.StatusOK)
		e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + nu.ID, token: admin, body: map[string]any{}}).wantError(http.StatusBadRequest, "nothing to change")
		e.do(req{method: http.MethodPatch, path: "/api/v1/users/" + e.users["acme-admin"].ID, token: admin, body: map[string]any{"role": "viewer"}}).wantError(http.StatusConflict, "another admin")

		// Remove from the profile: the account stays, its acme access goes.
		newbie = newbieLogin()
		e.do(req{method: http.MethodDelete, path: "/api/v1/users/" + nu.ID, token: admin}).status(http.StatusNoContent)
		e.get("/api/v1/auth/me", newbie).wantError(http.StatusForbidden, "not a member of any profile")
		e.do(req{method: http.MethodDelete, path: "/api/v1/users/" + nu.ID, token: admin}).wantError(http.StatusNotFound)
		e.do(req{method: http.MethodDelete, path: "/api/v1/users/" + e.users["acme-admin"].ID, token: admin}).wantError(http.StatusConflict)
		if len(e.auditEntries(e.acme, "user.update")) != 3 || len(e.auditEntries(e.acme, "user.remove")) != 1 {
			t.Fatal("user changes not audited")
		}
	})
}

func TestCrossProfileIDs_notFound(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		acmeAdmin, globexAdmin := e.token("acme-admin"), e.token("globex-admin")
		var globexToken CreatedAPIToken
		e.do(req{method: http.MethodPost, path: "/api/v1/tokens", token: globexAdmin, body: map[string]string{"name": "g"}}).
			status(http.StatusCreated).decode(&globexToken)
		globexUser := e.users["globex-admin"].ID

		for _, r := range []req{
			{method: http.MethodDelete, path: "/api/v1/tokens/" + globexToken.ID},
			{method: http.MethodPatch, path: "/api/v1/users/" + globexUser, body: map[string]any{"role": "viewer"}},
			{method: http.MethodPatch, path: "/api/v1/users/" + globexUser, body: map[string]any{"disabled": true}},
			{method: http.MethodDelete, path: "/api/v1/users/" + globexUser},
		} {
			r.token = acmeAdmin
			e.do(r).wantError(http.StatusNotFound)
		}
		// Nothing changed in globex.
		e.get("/api/v1/auth/me", globexToken.Token).status(http.StatusOK)
		var me MeResponse
		e.get("/api/v1/auth/me", globexAdmin).status(http.StatusOK).decode(&me)
		if me.Role != identity.RoleAdmin {
			t.Fatalf("globex admin is now %s", me.Role)
		}
		var list struct {
			Tokens []APITokenJSON `json:"tokens"`
		}
		e.get("/api/v1/tokens", acmeAdmin).status(http.StatusOK).decode(&list)
		if len(list.Tokens) != 0 {
			t.Fatalf("acme sees globex's tokens: %+v", list.Tokens)
		}
	})
}
