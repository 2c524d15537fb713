package dashboards_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/api/apitest"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/dashboards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// recordingBus records what the service publishes.
type recordingBus struct{ apitest.Bus }

// changes returns the dashboard.changed payloads published so far.
func (b *recordingBus) changes(t testing.TB) []dashboards.Changed {
	t.Helper()
	return apitest.Payloads[dashboards.Changed](t, &b.Bus, bus.TopicDashboardChanged)
}

type env struct {
	t    *testing.T
	db   *store.DB
	srv  *api.Server
	auth *apitest.Auth
	bus  *recordingBus
	svc  *dashboards.Service
}

func newEnv(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, auth: apitest.NewAuth(), bus: &recordingBus{}}
	log := hclog.NewNullLogger()
	e.srv = api.New(api.Options{}, log, e.auth)
	svc, err := dashboards.New(log, db, e.bus)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	dashboards.Register(e.srv, svc, audit.New(db, log))
	return e
}

// member makes a member of profile with role and returns its token.
func (e *env) member(profile string, role identity.Role) string {
	return e.auth.Member(e.t, e.db, profile, role)
}

func (e *env) ctxOf(tok string) context.Context { return e.auth.Context(e.t, tok) }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return http.StatusText(r.status) + ": " + string(r.body) }

func (e *env) do(tok, method, path string, body any) response {
	e.t.Helper()
	rec := apitest.Serve(e.t, e.srv.Handler(), tok, method, path, body)
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
	Current *dashboards.Dashboard `json:"current"`
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

// board is a valid create body.
func board(slug, title string) map[string]any {
	return map[string]any{
		"slug": slug, "title": title, "description": "for tests",
		"time_range": map[string]any{"from": "now-6h", "to": "now"},
		"cards": []any{
			map[string]any{"id": "rate", "type": "puod.success_rate", "x": 0, "y": 0, "w": 3, "h": 2},
			map[string]any{"id": "trend", "type": "puod.duration_trend", "options": map[string]any{"top": 3},
				"time_range": map[string]any{"from": "now-7d", "to": "now"}, "x": 3, "y": 0, "w": 9, "h": 3},
		},
	}
}
