package alertapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/api/apitest"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// recordingBus records what the service publishes.
type recordingBus struct{ apitest.Bus }

// changes returns the alert.changed payloads published so far.
func (b *recordingBus) changes(t testing.TB) []alertapi.Changed {
	t.Helper()
	return apitest.Payloads[alertapi.Changed](t, &b.Bus, bus.TopicAlertChanged)
}

type env struct {
	t    *testing.T
	db   *store.DB
	srv  *api.Server
	auth *apitest.Auth
	bus  *recordingBus
	svc  *alertapi.Service
	now  time.Time
}

func newEnv(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, auth: apitest.NewAuth(), bus: &recordingBus{}, now: time.Now().UTC().Truncate(time.Second)}
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
