// Package apitest holds what HTTP tests of the API packages share: an
// authenticator that maps tokens to principals of real store profiles, a
// bus that records what it was given, and request building.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// Auth authenticates "Bearer <token>" with the principals Member made.
type Auth struct {
	mu sync.Mutex
	m  map[string]identity.Principal
}

// NewAuth returns an authenticator that knows no token yet.
func NewAuth() *Auth { return &Auth{m: map[string]identity.Principal{}} }

// Authenticate implements api.Authenticator.
func (a *Auth) Authenticate(c *gin.Context) (identity.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.m[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]; ok {
		return p, nil
	}
	return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
}

// Member makes a member of profile with role in db and returns its token,
// "<profile>-<role>".
func (a *Auth) Member(t testing.TB, db *store.DB, profile string, role identity.Role) string {
	t.Helper()
	p, _ := identity.From(storetest.Tenant(t, db, profile, role))
	tok := profile + "-" + string(role)
	a.mu.Lock()
	a.m[tok] = p
	a.mu.Unlock()
	return tok
}

// Context is a context carrying the principal of tok.
func (a *Auth) Context(t testing.TB, tok string) context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	return identity.With(context.Background(), a.m[tok])
}

// Bus records the events published to it.
type Bus struct {
	mu     sync.Mutex
	events []bus.Event
}

// Publish records ev.
func (b *Bus) Publish(_ context.Context, ev bus.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
	return nil
}

// Payloads decodes the payloads published so far, which must all be of
// topic.
func Payloads[T any](t testing.TB, b *Bus, topic string) []T {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []T
	for _, ev := range b.events {
		if ev.Topic != topic {
			t.Fatalf("unexpected topic %q (want %q)", ev.Topic, topic)
		}
		var v T
		if err := ev.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// Serve sends a request to h: body nil (none), a string (sent as is) or
// anything else (sent as JSON); tok "" sends no Authorization.
func Serve(t testing.TB, h http.Handler, tok, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	req := NewRequest(t, method, path, body)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// NewRequest builds a test request: body nil (none), a string (sent as
// is) or anything else (sent as JSON, with its Content-Type).
func NewRequest(t testing.TB, method, path string, body any) *http.Request {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}
