package sources_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/api/apitest"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// --- the hello example plugin -------------------------------------------
//
// sdk/examples/hello is package main, so it cannot be imported. This is its
// code, served with its own plugin.json: same config type (a required
// greeting, a secret token), same refusal of a revoked token.

type helloConfig struct {
	Greeting string `json:"greeting" jsonschema:"required,minLength=1,description=Text used as the pipeline name"`
	Runs     int    `json:"runs,omitempty" jsonschema:"minimum=0,maximum=100000,description=How many runs the source has"`
	Token    string `json:"token,omitempty" secret:"true" jsonschema:"description=An API token (kept secret)"`
}

type hello struct{ cfg helloConfig }

func (h *hello) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "hello", Name: h.cfg.Greeting}}, nil
}

func (h *hello) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	return ctx.Err()
}

func (h *hello) QueryCard(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	return sdk.NewFrame(q.CardType, sdk.FrameCategories,
		sdk.StringField("pipeline", h.cfg.Greeting), sdk.IntField("runs", int64(h.cfg.Runs))), nil
}

func newHello(_ context.Context, cfg helloConfig, _ sdk.Env) (any, error) {
	if cfg.Token == "revoked" || cfg.Token == "fail" {
		return nil, sdk.AuthError("token %s was refused", cfg.Token)
	}
	return &hello{cfg: cfg}, nil
}

func helloPlugin(t testing.TB) sdk.Plugin[helloConfig] {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join("..", "..", "sdk", "examples", "hello", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Plugin[helloConfig]{Manifest: manifest, New: newHello}
}

// --- a plugin manager over in-process harnesses ---------------------------

type testPlugin struct {
	client *sdk.Client
	desc   *sdk.Description
	state  string
}

// testPlugins implements sources.Plugins the way the host's manager does:
// by plugin id, over real gRPC clients, with the manager's sentinels.
type testPlugins struct {
	mu   sync.Mutex
	byID map[string]*testPlugin
}

var _ sources.Plugins = (*testPlugins)(nil)

func (m *testPlugins) add(t testing.TB, client *sdk.Client) string {
	t.Helper()
	d, err := client.Describe(t.Context(), sdk.DescribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = map[string]*testPlugin{}
	}
	m.byID[d.ID] = &testPlugin{client: client, desc: d, state: "running"}
	return d.ID
}

func (m *testPlugins) setState(id, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[id].state = state
}

func (m *testPlugins) get(id string) (*testPlugin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.byID[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w %q: no bundle with this id is in the plugin directory", sources.ErrUnknownPlugin, id)
	case p.state != "running":
		return nil, fmt.Errorf("%w: plugin %s is %s", sources.ErrPluginUnavailable, id, p.state)
	}
	return p, nil
}

func (m *testPlugins) Describe(id string) (*sdk.Description, error) {
	p, err := m.get(id)
	if err != nil {
		return nil, err
	}
	return p.desc, nil
}

func (m *testPlugins) ValidateConfig(ctx context.Context, id string, cfg json.RawMessage, sec map[string]string) ([]sdk.FieldError, error) {
	p, err := m.get(id)
	if err != nil {
		return nil, err
	}
	return p.client.ValidateConfig(ctx, cfg, sec)
}

func (m *testPlugins) SetInstance(ctx context.Context, id string, ic sdk.InstanceConfig) error {
	p, err := m.get(id)
	if err != nil {
		return err
	}
	return p.client.Configure(ctx, ic)
}

func (m *testPlugins) RemoveInstance(ctx context.Context, id, instanceID string) error {
	p, err := m.get(id)
	if err != nil {
		return err
	}
	return p.client.RemoveInstance(ctx, instanceID)
}

func (m *testPlugins) CheckHealth(ctx context.Context, id, instanceID string) (sdk.Health, error) {
	p, err := m.get(id)
	if err != nil {
		return sdk.Health{}, err
	}
	return p.client.CheckHealth(ctx, instanceID)
}

// --- authentication from a test header ------------------------------------

const principalHeader = "X-Test-Principal"

type fakeAuth struct {
	mu sync.Mutex
	m  map[string]identity.Principal
}

func (f *fakeAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[c.GetHeader(principalHeader)]
	if !ok {
		return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "no test principal")
	}
	return p, nil
}

// --- the environment --------------------------------------------------------

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

type env struct {
	t       *testing.T
	db      *store.DB
	key1    secrets.Key
	keys    *secrets.Keyring
	svc     *sources.Service
	srv     *api.Server
	plugins *testPlugins
	hello   *plugintest.Harness
	helloID string
	auth    *fakeAuth
	logs    *syncBuffer
	log     hclog.Logger

	mu        sync.Mutex
	responses [][]byte
}

func testKey(id string) secrets.Key {
	k := make([]byte, secrets.KeySize)
	_, _ = rand.Read(k)
	return secrets.Key{ID: id, Secret: k}
}

func testKeyring(t testing.TB, keys ...secrets.Key) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newEnv serves the sources API over db with the hello plugin running. logs
// may be nil.
func newEnv(t *testing.T, db *store.DB, logs *syncBuffer) *env {
	t.Helper()
	if logs == nil {
		logs = &syncBuffer{}
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "puod", Level: hclog.Trace, Output: logs})
	k1 := testKey("k1")
	e := &env{t: t, db: db, key1: k1, keys: testKeyring(t, k1), plugins: &testPlugins{}, auth: &fakeAuth{m: map[string]identity.Principal{}}, logs: logs, log: log}
	e.hello = plugintest.Start(t, helloPlugin(t))
	e.helloID = e.plugins.add(t, e.hello.Client)
	svc, err := sources.New(sources.Config{CallTimeout: 5 * time.Second}, log, db, e.keys, e.plugins, audit.New(db, log))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.srv = api.New(api.Options{}, log, e.auth)
	svc.Register(e.srv)
	return e
}

// principal creates a member of profile with role and returns the header
// value that authenticates as them.
func (e *env) principal(profile string, role identity.Role) string {
	e.t.Helper()
	ctx := storetest.Tenant(e.t, e.db, profile, role)
	p, _ := identity.From(ctx)
	key := profile + "/" + string(role)
	e.auth.mu.Lock()
	e.auth.m[key] = p
	e.auth.mu.Unlock()
	return key
}

// ctxOf returns a context acting as a principal registered by principal().
func (e *env) ctxOf(who string) context.Context {
	e.auth.mu.Lock()
	defer e.auth.mu.Unlock()
	return identity.With(e.t.Context(), e.auth.m[who])
}

type response struct {
	status int
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// fields returns the error's field pointers and messages.
func (r response) fields(t testing.TB) map[string]string {
	t.Helper()
	var out struct {
		Error api.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not an error body: %s", r.body)
	}
	m := map[string]string{}
	for _, f := range out.Error.Fields {
		m[f.Field] = f.Message
	}
	return m
}

func (r response) errCode(t testing.TB) (code, message string) {
	t.Helper()
	var out struct {
		Error api.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not an error body: %s", r.body)
	}
	return out.Error.Code, out.Error.Message
}

func (e *env) do(who, method, path string, body any) response {
	e.t.Helper()
	req := apitest.NewRequest(e.t, method, path, body)
	req.Header.Set(principalHeader, who)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	e.mu.Lock()
	e.responses = append(e.responses, rec.Body.Bytes())
	e.mu.Unlock()
	return response{status: rec.Code, body: rec.Body.Bytes()}
}

func (e *env) mustStatus(r response, want int) {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

// create makes a hello source and returns its id and revision.
func (e *env) create(who, name string, config map[string]any) (string, int64) {
	e.t.Helper()
	r := e.do(who, http.MethodPost, "/api/v1/sources", map[string]any{"plugin_id": e.helloID, "name": name, "config": config})
	e.mustStatus(r, http.StatusCreated)
	m := r.json(e.t)
	return m["id"].(string), int64(m["revision"].(float64))
}

// instanceToken is the token the hello instance of a source holds in the
// plugin process, or "" when the plugin has not built it.
func (e *env) instanceToken(id string) string {
	h, _ := e.hello.Instance(id).(*hello)
	if h == nil {
		return ""
	}
	return h.cfg.Token
}

// --- raw database access ------------------------------------------------------

// rawDB is a fresh migrated store plus a raw connection to the same
// database, to look at what is stored the way someone holding the database
// files would.
type rawDB struct {
	db      *store.DB
	raw     *sql.DB
	dialect string
	dir     string // SQLite data directory
}

func forEachRawDialect(t *testing.T, logs func() *syncBuffer, fn func(t *testing.T, r rawDB, logs *syncBuffer)) {
	t.Run(store.DialectSQLite, func(t *testing.T) {
		l := logs()
		dir := t.TempDir()
		db, err := store.Open(t.Context(), store.Config{DataDir: dir}, hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Trace}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("sqlite", filepath.Join(dir, "puod.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = raw.Close() })
		fn(t, rawDB{db: db, raw: raw, dialect: store.DialectSQLite, dir: dir}, l)
	})
	t.Run(store.DialectPostgres, func(t *testing.T) {
		l := logs()
		// A fresh database; skipped, or failed under CI=true, when
		// PostgreSQL is unreachable.
		dbURL := storetest.NewPostgresDatabase(t)
		db, err := store.Open(t.Context(), store.Config{URL: dbURL}, hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Trace}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if _, err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("pgx", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = raw.Close() })
		fn(t, rawDB{db: db, raw: raw, dialect: store.DialectPostgres}, l)
	})
}

// storedBytes is everything the database holds that a secret could leak
// into: on SQLite every file of the data directory (database, WAL, shared
// memory), on PostgreSQL every row of sources and audit_log as text.
func (r rawDB) storedBytes(t *testing.T) []byte {
	t.Helper()
	var out []byte
	if r.dialect == store.DialectSQLite {
		entries, err := os.ReadDir(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	for _, table := range []string{"sources", "audit_log"} {
		rows, err := r.raw.QueryContext(t.Context(), "SELECT row_to_json(t)::text FROM "+table+" t")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s...)
			n++
		}
		rows.Close()
		if table == "sources" && n == 0 {
			t.Fatal("no source rows to check")
		}
	}
	return out
}

// swapSecrets copies the sealed secrets of one source row onto another.
func (r rawDB) swapSecrets(t *testing.T, from, to string) {
	t.Helper()
	q := "UPDATE sources SET secrets_enc = (SELECT secrets_enc FROM sources WHERE id = '" + from + "'), " +
		"key_id = (SELECT key_id FROM sources WHERE id = '" + from + "') WHERE id = '" + to + "'"
	res, err := r.raw.ExecContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("swap touched %d rows", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
