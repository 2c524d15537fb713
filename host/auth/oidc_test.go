package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

const oidcAudience = "puod-client"

// fakeIdP is an OpenID Connect provider: a discovery document and a JWKS
// with the RSA key it currently signs with. Rotate switches to a new key
// and kid, as real providers do.
type fakeIdP struct {
	t         *testing.T
	srv       *httptest.Server
	mu        sync.Mutex
	key       *rsa.PrivateKey
	kid       string
	gen       int
	jwksReads atomic.Int32
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	p := &fakeIdP{t: t}
	p.Rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/authorize",
			"token_endpoint":                        p.srv.URL + "/token",
			"jwks_uri":                              p.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksReads.Add(1)
		p.mu.Lock()
		pub, kid := p.key.PublicKey, p.kid
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// Rotate replaces the signing key; the JWKS then lists only the new one.
func (p *fakeIdP) Rotate() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.key, p.kid = key, "idp-key-"+string(rune('0'+p.gen))
}

func (p *fakeIdP) claims(sub string, extra ...any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": p.srv.URL, "sub": sub, "aud": oidcAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"preferred_username": sub + "@idp", "name": "User " + sub}
	return with(c, extra...)
}

// Sign signs claims with the provider's current key.
func (p *fakeIdP) Sign(c jwt.MapClaims) string {
	p.t.Helper()
	p.mu.Lock()
	key, kid := p.key, p.kid
	p.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func withOIDC(p *fakeIdP) envOption {
	return func(c *Config) {
		c.OIDC = OIDCConfig{Issuer: p.srv.URL, Audience: oidcAudience, HTTPClient: p.srv.Client()}
	}
}

func TestAuthenticator_oidc(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		idp := newFakeIdP(t)
		e := newEnv(t, db, withOIDC(idp))
		other := newFakeIdP(t) // a second provider PUOD does not trust

		t.Run("accepted, user and membership provisioned", func(t *testing.T) {
			tok := idp.Sign(idp.claims("alice", "puod_profile", "acme", "puod_role", "editor"))
			var me MeResponse
			e.get("/api/v1/auth/me", tok).status(http.StatusOK).decode(&me)
			if me.User.Username != "alice@idp" || me.User.DisplayName != "User alice" || me.Profile.Name != "acme" ||
				me.Role != identity.RoleEditor || me.Via != "oidc" {
				t.Fatalf("me = %+v", me)
			}
			// The provider's role is authoritative: a new role applies.
			tok = idp.Sign(idp.claims("alice", "puod_profile", "acme", "puod_role", "viewer"))
			e.get("/api/v1/auth/me", tok).status(http.StatusOK).decode(&me)
			if me.Role != identity.RoleViewer {
				t.Fatalf("role = %s after the provider changed it to viewer", me.Role)
			}
			// Viewer may not list users.
			e.get("/api/v1/users", tok).wantError(http.StatusForbidden, "admin")
			if n := len(e.auditEntries(e.acme, "")); n == 0 {
				t.Fatal("no audit entry in acme after provisioning")
			}
		})
		t.Run("username from email, then sub", func(t *testing.T) {
			tok := idp.Sign(idp.claims("bob", "preferred_username", nil, "email", "bob@example.com", "puod_profile", "globex", "puod_role", "admin"))
			var me MeResponse
			e.get("/api/v1/auth/me", tok).status(http.StatusOK).decode(&me)
			if me.User.Username != "bob@example.com" || me.Role != identity.RoleAdmin || me.Profile.Name != "globex" {
				t.Fatalf("me = %+v", me)
			}
			tok = idp.Sign(idp.claims("carol-sub", "preferred_username", nil, "puod_profile", "globex", "puod_role", "viewer"))
			e.get("/api/v1/auth/me", tok).status(http.StatusOK).decode(&me)
			if me.User.Username != "carol-sub" {
				t.Fatalf("username = %q, want the sub", me.User.Username)
			}
		})
		t.Run("the claimed profile is the default", func(t *testing.T) {
			var me MeResponse
			e.get("/api/v1/auth/me", idp.Sign(idp.claims("frank", "puod_profile", "globex", "puod_role", "viewer"))).status(http.StatusOK).decode(&me)
			// Now a member of globex (older) and acme: the claim decides.
			e.get("/api/v1/auth/me", idp.Sign(idp.claims("frank", "puod_profile", "acme", "puod_role", "editor"))).status(http.StatusOK).decode(&me)
			if me.Profile.Name != "acme" || me.Role != identity.RoleEditor || len(me.Memberships) != 2 {
				t.Fatalf("me = %+v", me)
			}
		})
		t.Run("provider key rotation", func(t *testing.T) {
			before := idp.jwksReads.Load()
			idp.Rotate()
			tok := idp.Sign(idp.claims("alice", "puod_profile", "acme", "puod_role", "viewer"))
			e.get("/api/v1/auth/me", tok).status(http.StatusOK)
			if idp.jwksReads.Load() == before {
				t.Fatal("the new kid did not make PUOD re-read the JWKS")
			}
			// Cached now: no further read for the same key.
			after := idp.jwksReads.Load()
			e.get("/api/v1/auth/me", tok).status(http.StatusOK)
			if idp.jwksReads.Load() != after {
				t.Fatal("JWKS re-read for a cached key")
			}
		})

		tests := []struct {
			name   string
			token  func() string
			status int
			msg    string
		}{
			{"wrong audience", func() string {
				return idp.Sign(idp.claims("alice", "aud", "someone-else", "puod_profile", "acme", "puod_role", "viewer"))
			}, http.StatusUnauthorized, "wrong audience"},
			{"untrusted issuer", func() string {
				return other.Sign(other.claims("alice", "puod_profile", "acme", "puod_role", "viewer"))
			}, http.StatusUnauthorized, "unknown token issuer"},
			{"trusted issuer name, foreign key", func() string {
				return other.Sign(other.claims("alice", "iss", idp.srv.URL, "puod_profile", "acme", "puod_role", "viewer"))
			}, http.StatusUnauthorized, "signature invalid"},
			{"expired", func() string {
				return idp.Sign(idp.claims("alice", "exp", time.Now().Add(-5*time.Minute).Unix(), "puod_profile", "acme", "puod_role", "viewer"))
			}, http.StatusUnauthorized, "token expired"},
			{"unknown profile", func() string {
				return idp.Sign(idp.claims("dave", "puod_profile", "initech", "puod_role", "viewer"))
			}, http.StatusForbidden, `"initech"`},
			{"bad role", func() string {
				return idp.Sign(idp.claims("dave", "puod_profile", "acme", "puod_role", "superuser"))
			}, http.StatusForbidden, `"superuser"`},
			{"missing role", func() string { return idp.Sign(idp.claims("dave", "puod_profile", "acme")) }, http.StatusForbidden, "no role"},
			{"no profile claim and no membership", func() string { return idp.Sign(idp.claims("erin")) }, http.StatusForbidden, "not a member of any profile"},
			{"username of a local account", func() string {
				return idp.Sign(idp.claims("mallory", "preferred_username", "acme-admin", "puod_profile", "acme", "puod_role", "admin"))
			}, http.StatusForbidden, "belongs to another PUOD account"},
			{"member, other profile requested", func() string {
				return idp.Sign(idp.claims("alice", "puod_profile", "acme", "puod_role", "viewer"))
			}, http.StatusForbidden, "not a member of profile"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := req{method: http.MethodGet, path: "/api/v1/auth/me", token: tc.token()}
				if tc.name == "member, other profile requested" {
					r.profile = "globex"
				}
				e.do(r).wantError(tc.status, tc.msg)
			})
		}
		t.Run("local admin keeps their account", func(t *testing.T) {
			var me MeResponse
			e.get("/api/v1/auth/me", e.token("acme-admin")).status(http.StatusOK).decode(&me)
			if me.Role != identity.RoleAdmin {
				t.Fatalf("me = %+v", me)
			}
		})
		t.Run("provider accounts have no password", func(t *testing.T) {
			e.do(req{method: http.MethodPost, path: "/api/v1/auth/login",
				body: map[string]string{"username": "alice@idp", "password": "oidc$whatever-it-is"}}).wantError(http.StatusUnauthorized, "wrong username or password")
		})
	})
}

func TestAuthenticator_oidcProviderDown(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	idp := newFakeIdP(t)
	tok := idp.Sign(idp.claims("alice", "puod_profile", "acme", "puod_role", "viewer"))
	idp.srv.Close()
	e := newEnv(t, db, withOIDC(idp))
	e.get("/api/v1/auth/me", tok).wantError(http.StatusServiceUnavailable, "identity provider cannot be reached")
	// Local logins are unaffected.
	e.get("/api/v1/auth/me", e.token("acme-viewer")).status(http.StatusOK)
}
