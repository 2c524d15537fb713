package auth

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func loginReq(user, password string) req {
	return req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]string{"username": user, "password": password}}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		disabled := e.addUser("acme-disabled", e.acme, "viewer")
		if err := db.System().Users().SetDisabled(t.Context(), disabled.ID, true); err != nil {
			t.Fatal(err)
		}
		orphan, err := db.System().Users().Create(t.Context(), store.NewUser{Username: "orphan", PasswordHash: mustHash(t, testPassword)})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("success", func(t *testing.T) {
			r := e.do(loginReq("acme-admin", testPassword)).status(http.StatusOK)
			var tr TokenResponse
			r.decode(&tr)
			if tr.AccessToken == "" || tr.RefreshToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != int(DefaultAccessTTL.Seconds()) {
				t.Fatalf("token response %+v", tr)
			}
			e.get("/api/v1/auth/me", tr.AccessToken).status(http.StatusOK)
			entries := e.auditEntries(e.acme, "auth.login")
			if len(entries) == 0 {
				t.Fatal("successful login not audited")
			}
			last := entries[0]
			if last.Outcome != audit.Success || last.Username != "acme-admin" || last.UserID != e.users["acme-admin"].ID || last.ClientAddr != "192.0.2.1" {
				t.Fatalf("audit entry %+v", last)
			}
		})
		t.Run("wrong password and unknown user look the same", func(t *testing.T) {
			before := e.auditCount()
			wrong := e.do(loginReq("acme-viewer", "not the password at all")).wantError(http.StatusUnauthorized)
			unknown := e.do(loginReq("no-such-user", "not the password at all")).wantError(http.StatusUnauthorized)
			if wrong.Message != unknown.Message || wrong.Code != unknown.Code {
				t.Fatalf("wrong password says %q, unknown user says %q", wrong.Message, unknown.Message)
			}
			if e.auditCount() != before+2 {
				t.Fatalf("audit entries %d, want %d: both failures must be audited", e.auditCount(), before+2)
			}
			var found bool
			for _, en := range e.auditEntries(e.acme, "auth.login") {
				if en.Outcome == audit.Failure && en.Username == "acme-viewer" && en.ClientAddr == "192.0.2.1" &&
					strings.Contains(string(en.Details), "wrong password") {
					found = true
				}
			}
			if !found {
				t.Fatal("failed login of a member not in the profile's audit log")
			}
		})
		t.Run("disabled account", func(t *testing.T) {
			e.do(loginReq("acme-disabled", testPassword)).wantError(http.StatusUnauthorized, "disabled")
			e.do(loginReq("acme-disabled", "wrong wrong wrong")).wantError(http.StatusUnauthorized, "wrong username or password")
		})
		t.Run("no profile", func(t *testing.T) {
			e.do(loginReq(orphan.Username, testPassword)).wantError(http.StatusForbidden, "not a member of any profile")
		})
		t.Run("bad requests", func(t *testing.T) {
			e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]string{"username": "x"}}).wantError(http.StatusBadRequest, "required")
			e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: `{"username":"x","password":"y","extra":1}`}).wantError(http.StatusBadRequest, "unknown field")
		})
		t.Run("profile chosen at login", func(t *testing.T) {
			e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", profile: "globex",
				body: map[string]string{"username": "acme-admin", "password": testPassword}}).wantError(http.StatusForbidden, "GET /api/v1/auth/me")
		})
	})
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := cheapParams.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLogin_rateLimit(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.Limits = LoginLimits{} }) // defaults: 5/min per user, 20/min per address

		t.Run("per username", func(t *testing.T) {
			for i := range 5 {
				// Different addresses: the per-user limit holds whatever the source.
				e.do(withAddr(loginReq("acme-viewer", "wrong password!!"), "198.51.100."+strconv.Itoa(i+1))).status(http.StatusUnauthorized)
			}
			r := e.do(withAddr(loginReq("acme-viewer", testPassword), "198.51.100.99"))
			r.wantError(http.StatusTooManyRequests, "too many login attempts for this username")
			if ra, err := strconv.Atoi(r.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Fatalf("Retry-After = %q", r.Header().Get("Retry-After"))
			}
			// Time heals: one attempt per 12 s.
			e.clock.Advance(13 * time.Second)
			e.do(withAddr(loginReq("acme-viewer", testPassword), "198.51.100.99")).status(http.StatusOK)
			// Other users are unaffected.
			e.do(withAddr(loginReq("acme-editor", testPassword), "198.51.100.1")).status(http.StatusOK)
		})
		t.Run("successful logins do not use up the user's budget", func(t *testing.T) {
			for range 10 {
				e.do(withAddr(loginReq("acme-admin", testPassword), "203.0.113.50")).status(http.StatusOK)
			}
		})
		t.Run("per address", func(t *testing.T) {
			addr := "203.0.113.7"
			for i := range 20 {
				e.do(withAddr(loginReq("sprayed-"+strconv.Itoa(i), "guess guess guess"), addr)).status(http.StatusUnauthorized)
			}
			r := e.do(withAddr(loginReq("acme-editor", testPassword), addr))
			r.wantError(http.StatusTooManyRequests, "from your address")
			if r.Header().Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			e.do(withAddr(loginReq("acme-editor", testPassword), "203.0.113.8")).status(http.StatusOK)
		})
	})
}

func withAddr(r req, addr string) req {
	r.addr = addr
	return r
}

func TestRefresh_rotationAndReuse(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		refresh := func(tok string) resp {
			return e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": tok}})
		}
		first := e.login("acme-editor")
		var second TokenResponse
		refresh(first.RefreshToken).status(http.StatusOK).decode(&second)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.TokenType != "Bearer" {
			t.Fatalf("refresh answered %+v", second)
		}
		e.get("/api/v1/auth/me", second.AccessToken).status(http.StatusOK)
		var third TokenResponse
		refresh(second.RefreshToken).status(http.StatusOK).decode(&third)

		// Replaying a rotated token revokes the family, the newest included.
		refresh(first.RefreshToken).wantError(http.StatusUnauthorized, "revoked for safety")
		refresh(third.RefreshToken).wantError(http.StatusUnauthorized, "log in again")
		denied := false
		for _, en := range e.auditEntries(e.acme, "auth.refresh") {
			denied = denied || (en.Outcome == audit.Denied && en.UserID == e.users["acme-editor"].ID)
		}
		if !denied {
			t.Fatal("refresh-token reuse not audited")
		}

		refresh("made-up").wantError(http.StatusUnauthorized, "invalid, expired or revoked")
		refresh("").wantError(http.StatusBadRequest, "required")

		t.Run("disabled user cannot refresh", func(t *testing.T) {
			s := e.login("acme-viewer")
			if err := db.System().Users().SetDisabled(t.Context(), e.users["acme-viewer"].ID, true); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.System().Users().SetDisabled(t.Context(), e.users["acme-viewer"].ID, false) })
			refresh(s.RefreshToken).wantError(http.StatusUnauthorized)
			e.get("/api/v1/auth/me", s.AccessToken).wantError(http.StatusUnauthorized, "disabled")
		})
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		refresh := func(tok string) resp {
			return e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": tok}})
		}
		a, b := e.login("acme-admin"), e.login("acme-admin")

		e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout", token: a.AccessToken,
			body: map[string]string{"refresh_token": a.RefreshToken}}).status(http.StatusNoContent)
		refresh(a.RefreshToken).wantError(http.StatusUnauthorized)
		// The other session lives on.
		var b2 TokenResponse
		refresh(b.RefreshToken).status(http.StatusOK).decode(&b2)

		// Someone else's refresh token cannot be revoked through logout.
		other := e.login("acme-viewer")
		e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout", token: b2.AccessToken,
			body: map[string]string{"refresh_token": other.RefreshToken}}).wantError(http.StatusNotFound)
		refresh(other.RefreshToken).status(http.StatusOK)

		// Without a body: every session of the caller ends.
		e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout", token: b2.AccessToken}).status(http.StatusNoContent)
		refresh(b2.RefreshToken).wantError(http.StatusUnauthorized)
		if len(e.auditEntries(e.acme, "auth.logout")) != 2 {
			t.Fatal("logouts not audited")
		}
		e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout"}).wantError(http.StatusUnauthorized)
	})
}
