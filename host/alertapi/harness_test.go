package alertapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

type fakeAuth struct {
	mu sync.Mutex
	m  map[string]identity.Principal
}

func (f *fakeAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.m[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]; ok {
		return p, nil
	}
	return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
}

// recordingBus is a Publisher that keeps what it was given.
type recordingBus struct {
	mu     sync.Mutex
	events []bus.Event
}

func (b *recordingBus) Publish(_ context.Context, ev bus.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
	return nil
}

// changes returns the alert.changed payloads published so far.
func (b *recordingBus) changes(t testing.TB) []alertapi.Changed {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []alertapi.Changed
	for _, ev := range b.events {
		if ev.Topic != bus.TopicAlertChanged {
			t.Fatalf("unexpected topic %q", ev.Topic)
		}
		var c alertapi.Changed
		if err := ev.Decode(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

type env struct {
	t    *testing.T
	db   *store.DB
	srv  *api.Server
	auth *fakeAuth
	bus  *recordingBus
	svc  *alertapi.Service
	now  time.Time
}

func newEnv(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, auth: &fakeAuth{m: map[string]identity.Principal{}}, bus: &recordingBus{}, now: time.Now().UTC().Truncate(time.Second)}
	log := hclog.NewNullLogger()
	e.srv = api.New(api.Options{}, log, e.auth)
	svc, err := alertapi.New(log, db, e.bus, alertapi.WithClock(func() time.Time { return e.now }))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	alertapi.Register(e.srv, svc, audit.New(db, log))
	return e
}

// member makes a member of profile with role and returns its token.
func (e *env) member(profile string, role identity.Role) string {
	ctx := storetest.Tenant(e.t, e.db, profile, role)
	p, _ := identity.From(ctx)
	tok := profile + "-" + string(role)
	e.auth.mu.Lock()
	e.auth.m[tok] = p
	e.auth.mu.Unlock()
	return tok
}

func (e *env) ctxOf(tok string) context.Context {
	e.auth.mu.Lock()
	defer e.auth.mu.Unlock()
	return identity.With(e.t.Context(), e.auth.m[tok])
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return http.StatusText(r.status) + ": " + string(r.body) }

func (e *env) do(tok, method, path string, body any) response {
	e.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) must(r response, want int) response {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

type errBody struct {
	Error struct {
		Code    string             `json:"code"`
		Message string             `json:"message"`
		Fields  []api.FieldProblem `json:"fields"`
	} `json:"error"`
	Current *alertapi.Rule `json:"current"`
}

func (r response) err(t testing.TB) errBody {
	t.Helper()
	var eb errBody
	r.decode(t, &eb)
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body: %s", r.body)
	}
	return eb
}
