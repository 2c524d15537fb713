package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// sign makes an HS256 token with claims and header kid.
func sign(t *testing.T, key []byte, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsFor are valid claims for user u at now.
func claimsFor(u store.User, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": u.ID, "name": u.Username, "iss": DefaultIssuer, "aud": []string{DefaultAudience},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "test-jti",
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestAuthenticator_jwt(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		u := e.users["acme-editor"]
		now := e.clock.Now()
		good := claimsFor(u, now)

		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rs := jwt.NewWithClaims(jwt.SigningMethodRS256, good)
		rs.Header["kid"] = "k1"
		rsToken, err := rs.SignedString(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		none := jwt.NewWithClaims(jwt.SigningMethodNone, good)
		none.Header["kid"] = "k1"
		noneToken, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		// Flip the subject of a valid token to another user's, keeping the
		// signature.
		valid := sign(t, testKey, "k1", good)
		parts := strings.Split(valid, ".")
		payload, _ := json.Marshal(with(good, "sub", e.users["acme-admin"].ID))
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

		tests := []struct {
			name   string
			token  string
			status int
			msg    string
		}{
			{"valid", valid, http.StatusOK, ""},
			{"issued by login", e.token("acme-editor"), http.StatusOK, ""},
			{"alg none", noneToken, http.StatusUnauthorized, "token signature invalid"},
			{"wrong key", sign(t, []byte("another-key-another-key-another-key!"), "k1", good), http.StatusUnauthorized, "token signature invalid"},
			{"RS256", rsToken, http.StatusUnauthorized, "token signature invalid"},
			{"expired", sign(t, testKey, "k1", with(good, "exp", now.Add(-time.Minute).Unix())), http.StatusUnauthorized, "token expired: log in again or refresh"},
			{"expired within leeway", sign(t, testKey, "k1", with(good, "exp", now.Add(-10*time.Second).Unix())), http.StatusOK, ""},
			{"nbf in the future", sign(t, testKey, "k1", with(good, "nbf", now.Add(5*time.Minute).Unix())), http.StatusUnauthorized, "not valid yet"},
			{"wrong issuer", sign(t, testKey, "k1", with(good, "iss", "evil")), http.StatusUnauthorized, "unknown token issuer"},
			{"wrong audience", sign(t, testKey, "k1", with(good, "aud", "other-api")), http.StatusUnauthorized, "wrong audience"},
			{"tampered payload", tampered, http.StatusUnauthorized, "token signature invalid"},
			{"missing exp", sign(t, testKey, "k1", with(good, "exp", nil)), http.StatusUnauthorized, "no expiry"},
			{"unknown kid", sign(t, testKey, "k9", good), http.StatusUnauthorized, "key this server does not know"},
			{"no kid", sign(t, testKey, "", good), http.StatusUnauthorized, "key this server does not know"},
			{"garbage", "not-a-jwt", http.StatusUnauthorized, "malformed"},
			{"unknown user", sign(t, testKey, "k1", with(good, "sub", "nobody")), http.StatusUnauthorized, "no longer exists"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.get("/api/v1/auth/me", tc.token)
				if tc.status == http.StatusOK {
					r.status(http.StatusOK)
					var me MeResponse
					r.decode(&me)
					if me.User.ID != u.ID || me.Role != "editor" || me.Profile.Name != "acme" || me.Via != "password" {
						t.Fatalf("me = %+v", me)
					}
					return
				}
				r.wantError(tc.status, tc.msg)
				if got := r.Header().Get("WWW-Authenticate"); got != `Bearer realm="puod", error="invalid_token"` {
					t.Fatalf("WWW-Authenticate = %q", got)
				}
			})
		}

		t.Run("no credentials", func(t *testing.T) {
			r := e.get("/api/v1/auth/me", "")
			r.wantError(http.StatusUnauthorized, "Authorization: Bearer")
			if got := r.Header().Get("WWW-Authenticate"); got != `Bearer realm="puod"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
		})
		t.Run("basic scheme", func(t *testing.T) {
			hr, _ := http.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
			hr.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			r := e.doRaw(hr)
			r.wantError(http.StatusUnauthorized, "Bearer <token>")
		})
	})
}

func TestAuthenticator_keyRotation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		oldKey := testKey
		newKey := []byte("the-new-signing-key-the-new-signing-key")
		e := newEnv(t, db, func(c *Config) {
			c.SigningKey, c.KeyID = newKey, "k2"
			c.VerificationKeys = map[string][]byte{"k1": oldKey}
		})
		u := e.users["acme-viewer"]
		oldToken := sign(t, oldKey, "k1", claimsFor(u, e.clock.Now()))
		e.get("/api/v1/auth/me", oldToken).status(http.StatusOK)

		fresh := e.token("acme-viewer")
		tok, _, err := jwt.NewParser().ParseUnverified(fresh, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Header["kid"] != "k2" {
			t.Fatalf("new tokens signed with kid %v, want k2", tok.Header["kid"])
		}
		e.get("/api/v1/auth/me", fresh).status(http.StatusOK)
		// A key used under the wrong kid does not verify.
		e.get("/api/v1/auth/me", sign(t, oldKey, "k2", claimsFor(u, e.clock.Now()))).wantError(http.StatusUnauthorized, "signature invalid")

		// Once the old key is retired, its tokens are refused.
		retired := newEnvOnSameDB(t, e, func(c *Config) { c.SigningKey, c.KeyID, c.VerificationKeys = newKey, "k2", nil })
		retired.get("/api/v1/auth/me", oldToken).wantError(http.StatusUnauthorized, "rotated out")
		retired.get("/api/v1/auth/me", fresh).status(http.StatusOK)
	})
}

func TestNewService_rejectsBadConfig(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	tests := []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"short key", Config{SigningKey: []byte("short")}, "at least 32"},
		{"short verification key", Config{SigningKey: testKey, VerificationKeys: map[string][]byte{"old": []byte("x")}}, "verification key"},
		{"kid clash", Config{SigningKey: testKey, KeyID: "a", VerificationKeys: map[string][]byte{"a": testKey}}, "new id"},
		{"oidc without audience", Config{SigningKey: testKey, OIDC: OIDCConfig{Issuer: "https://idp.example"}}, "audience"},
		{"bad password params", Config{SigningKey: testKey, Password: PasswordParams{Memory: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, "memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewService(tc.cfg, db, newRecorder(t, db), nil)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.msg)
			}
		})
	}
}
