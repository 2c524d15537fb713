package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// testPassword is every seeded user's password.
const testPassword = "correct horse battery staple"

// cheapParams keep tests fast; production cost is tested separately.
var cheapParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-signing-key")

// clock is a settable clock starting at the real time (the store stamps
// rows with the real time, so tests stay near it).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running API with the auth routes over one database, seeded with
// two profiles: "acme" (users acme-admin, acme-editor, acme-viewer) and
// "globex" (globex-admin).
type env struct {
	t     *testing.T
	db    *store.DB
	svc   *Service
	srv   *api.Server
	clock *clock
	cfg   Config

	acme, globex store.Profile
	users        map[string]store.User
}

type envOption func(*Config)

func newEnv(t *testing.T, db *store.DB, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: newClock(), users: map[string]store.User{}}
	e.cfg = Config{SigningKey: testKey, KeyID: "k1", Password: cheapParams, Now: e.clock.Now,
		Limits: LoginLimits{UserPerMinute: 1000, UserBurst: 1000, AddrPerMinute: 1000, AddrBurst: 1000}}
	for _, o := range opts {
		o(&e.cfg)
	}
	log := hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Warn})
	svc, err := NewService(e.cfg, db, audit.New(db, log), log)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	e.svc = svc
	e.srv = api.New(api.Options{}, log, svc.Authenticator())
	Register(e.srv, svc)

	ctx := t.Context()
	sys := db.System()
	mk := func(name string) store.Profile {
		p, err := sys.Profiles().Create(ctx, name)
		if err != nil {
			t.Fatalf("create profile: %v", err)
		}
		return p
	}
	e.acme, e.globex = mk("acme"), mk("globex")
	e.addUser("acme-admin", e.acme, identity.RoleAdmin)
	e.addUser("acme-editor", e.acme, identity.RoleEditor)
	e.addUser("acme-viewer", e.acme, identity.RoleViewer)
	e.addUser("globex-admin", e.globex, identity.RoleAdmin)
	return e
}

func (e *env) addUser(name string, p store.Profile, role identity.Role) store.User {
	e.t.Helper()
	hash, err := cheapParams.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	sys := e.db.System()
	u, err := sys.Users().Create(e.t.Context(), store.NewUser{Username: name, PasswordHash: hash, DisplayName: strings.ToUpper(name)})
	if err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
	if err := sys.Memberships().Add(e.t.Context(), p.ID, u.ID, role); err != nil {
		e.t.Fatalf("add membership: %v", err)
	}
	e.users[name] = u
	return u
}

// req describes one HTTP request to the env.
type req struct {
	method, path string
	token        string
	body         any
	profile      string
	addr         string
}

type resp struct {
	*httptest.ResponseRecorder
	t *testing.T
}

func (e *env) do(r req) resp {
	e.t.Helper()
	var body *bytes.Reader
	switch b := r.body.(type) {
	case nil:
		body = bytes.NewReader(nil)
	case string:
		body = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.profile != "" {
		hr.Header.Set(ProfileHeader, r.profile)
	}
	hr.RemoteAddr = "192.0.2.1:4321"
	if r.addr != "" {
		hr.RemoteAddr = r.addr + ":4321"
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, hr)
	return resp{ResponseRecorder: w, t: e.t}
}

// get is a GET with a token.
func (e *env) get(path, token string) resp {
	return e.do(req{method: http.MethodGet, path: path, token: token})
}

// login logs name in and returns the tokens.
func (e *env) login(name string) TokenResponse {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]string{"username": name, "password": testPassword}})
	r.status(http.StatusOK)
	var tr TokenResponse
	r.decode(&tr)
	return tr
}

// token logs name in and returns the access token.
func (e *env) token(name string) string { return e.login(name).AccessToken }

func (r resp) status(want int) resp {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; body %s", r.Code, want, r.Body.String())
	}
	return r
}

func (r resp) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body.String(), err)
	}
}

// apiError decodes the {"error":{...}} shape, failing when it is not one.
func (r resp) apiError() api.Error {
	r.t.Helper()
	var body struct {
		Error *api.Error `json:"error"`
	}
	r.decode(&body)
	if body.Error == nil || body.Error.Code == "" || body.Error.Message == "" {
		r.t.Fatalf("not an error body: %s", r.Body.String())
	}
	return *body.Error
}

// wantError checks status, the JSON error shape and that the message
// contains each of contains.
func (r resp) wantError(status int, contains ...string) api.Error {
	r.t.Helper()
	r.status(status)
	e := r.apiError()
	for _, c := range contains {
		if !strings.Contains(e.Message, c) {
			r.t.Fatalf("error message %q does not contain %q", e.Message, c)
		}
	}
	return e
}

// auditEntries lists the audit log of profile p (as its first admin sees
// it) filtered by action.
func (e *env) auditEntries(p store.Profile, action string) []store.AuditEntry {
	e.t.Helper()
	ctx := identity.With(e.t.Context(), identity.Principal{UserID: "test", Username: "test", ProfileID: p.ID, Role: identity.RoleAdmin})
	entries, _, err := e.db.Audit().List(ctx, store.AuditFilter{Action: action}, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		e.t.Fatalf("list audit: %v", err)
	}
	return entries
}

// auditCount is the number of entries in the whole log.
func (e *env) auditCount() int {
	e.t.Helper()
	res, err := e.db.System().Audit().Verify(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	if !res.OK() {
		e.t.Fatalf("audit chain broken: %v", res.Err())
	}
	return res.Entries
}

// doRaw serves a prepared request.
func (e *env) doRaw(hr *http.Request) resp {
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, hr)
	return resp{ResponseRecorder: w, t: e.t}
}

// newEnvOnSameDB builds a second service over e's database and seed, as a
// restarted host with another configuration would be.
func newEnvOnSameDB(t *testing.T, e *env, opts ...envOption) *env {
	t.Helper()
	e2 := *e
	e2.t = t
	cfg := e.cfg
	for _, o := range opts {
		o(&cfg)
	}
	log := hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Warn})
	svc, err := NewService(cfg, e.db, audit.New(e.db, log), log)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	e2.cfg, e2.svc = cfg, svc
	e2.srv = api.New(api.Options{}, log, svc.Authenticator())
	Register(e2.srv, svc)
	return &e2
}

func newRecorder(t *testing.T, db *store.DB) *audit.Recorder {
	return audit.New(db, hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Warn}))
}

// newEnvOnDB serves the auth routes over db without seeding anything.
func newEnvOnDB(t *testing.T, db *store.DB) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: newClock(), users: map[string]store.User{}}
	e.cfg = Config{SigningKey: testKey, Password: cheapParams, Now: e.clock.Now}
	log := hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Warn})
	svc, err := NewService(e.cfg, db, audit.New(db, log), log)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	e.svc = svc
	e.srv = api.New(api.Options{}, log, svc.Authenticator())
	Register(e.srv, svc)
	return e
}
