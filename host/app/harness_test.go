package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk/manifest"
)

// dialects are the databases every app-level suite runs on.
var dialects = []string{store.DialectSQLite, store.DialectPostgres}

const (
	helloPluginID = "acme.hello"
	adminPassword = "admin password for tests"
)

// buildDir holds binaries built once per test binary (removed by TestMain).
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "puod-app-test-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds pkg into buildDir once per test binary and returns the
// executable's path.
func goBuild(t testing.TB, pkg, name string) string {
	t.Helper()
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &build{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		b.path = filepath.Join(buildDir, name)
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

type build struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// installHello puts the example connector sdk/examples/hello into
// pluginDir as a checksummed bundle, the way `make build` lays out
// bin/plugins.
func installHello(t testing.TB, pluginDir string) {
	t.Helper()
	exe := goBuild(t, "github.com/puod/puod/sdk/examples/hello", "acme-hello")
	dir := filepath.Join(pluginDir, helloPluginID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	man, err := os.ReadFile(filepath.Join("..", "..", "sdk", "examples", "hello", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), man, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme-hello"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}
}

// testEnv is a whole host built with app.New, its plugins running, served
// over real TCP by httptest.
type testEnv struct {
	dialect string
	cfg     config.Config
	app     *app.App
	srv     *httptest.Server
	client  *http.Client
	// signingKey and keyID are what the host signs access tokens with,
	// derived from the same data directory, so tests can forge tokens that
	// differ from a genuine one in exactly one respect.
	signingKey []byte
	keyID      string
}

// newTestEnv builds a host on a fresh database of the dialect (a
// throw-away PostgreSQL database, or SQLite in a temp dir) with the hello
// plugin installed, and waits until the plugin runs.
func newTestEnv(t *testing.T, dialect string) *testEnv {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.PluginDir = t.TempDir()
	cfg.AdminPassword = adminPassword
	cfg.Listen = "127.0.0.1:0"
	if dialect == store.DialectPostgres {
		cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
	}
	installHello(t, cfg.PluginDir)

	log := hclog.New(&hclog.LoggerOptions{Name: "puod", Level: hclog.Warn, Output: newTestWriter(t)})
	ctx := context.Background()
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Plugins().Start(ctx); err != nil {
		t.Fatalf("start plugins: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Plugins().Close(cctx); err != nil {
			t.Logf("close plugins: %v", err)
		}
		_ = a.Store().Close()
	})
	keys, err := secrets.New(secrets.Config{Keys: cfg.SecretKey, DataDir: cfg.DataDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, kid := keys.Derive("jwt-signing")
	e := &testEnv{dialect: dialect, cfg: cfg, app: a, srv: srv, client: srv.Client(), signingKey: key, keyID: kid}
	e.waitPlugin(t, helloPluginID)
	return e
}

func (e *testEnv) waitPlugin(t testing.TB, id string) plugins.Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, st := range e.app.Plugins().Plugins() {
			if st.ID == id && st.State == plugins.StateRunning {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s not running after 60s: %+v", id, e.app.Plugins().Plugins())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testWriter sends the host's log to the test's log while the test runs
// and drops what background goroutines write after it ended.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// --- requests ---------------------------------------------------------------

// req describes one request. body is sent as JSON unless it is a string or
// []byte (sent as is).
type req struct {
	method, path string
	token        string
	profile      string
	body         any
	header       map[string]string
	// chunked sends the body without Content-Length.
	chunked bool
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string {
	b := r.body
	if len(b) > 600 {
		b = append(b[:600:600], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

// errorBody is the error shape every failed request must answer with:
// {"error":{"code":"…","message":"…"}}.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fields  []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"fields"`
}

// do sends r and checks what holds for every answer of the API: no 5xx,
// and every error is JSON of the error shape with a code and a message.
func (e *testEnv) do(t testing.TB, r req) resp {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	if r.chunked && body != nil {
		body = io.MultiReader(body) // hides the length from NewRequest
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.profile != "" {
		hr.Header.Set("X-PUOD-Profile", r.profile)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := e.client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", r.method, r.path, err)
	}
	out := resp{status: res.StatusCode, header: res.Header, body: data}
	if out.status >= 500 {
		t.Errorf("%s %s: server error %s", r.method, r.path, out)
	}
	if out.status >= 400 {
		checkErrorShape(t, r.method+" "+r.path, out)
	}
	return out
}

// checkErrorShape asserts that r is JSON of the error shape with a code
// and a message, and returns the error (zero when it is not).
func checkErrorShape(t testing.TB, what string, r resp) errorBody {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error answer has Content-Type %q, want application/json: %s", what, ct, r)
		return errorBody{}
	}
	var e struct {
		Error *errorBody `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
		t.Errorf("%s: error answer is not {\"error\":{…}}: %s (%v)", what, r, err)
		return errorBody{}
	}
	if e.Error.Code == "" || strings.TrimSpace(e.Error.Message) == "" {
		t.Errorf("%s: error answer lacks a code or a message: %s", what, r)
	}
	return *e.Error
}

// expect asserts the status of an answer.
func expect(t testing.TB, what string, r resp, status int) bool {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: got %s, want %d", what, r, status)
		return false
	}
	return true
}

// login logs in over HTTP and returns the access and refresh tokens.
func (e *testEnv) login(t testing.TB, username, password string) (access, refresh string) {
	t.Helper()
	r := e.do(t, req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"username": username, "password": password}})
	if r.status != http.StatusOK {
		t.Fatalf("login %s: %s", username, r)
	}
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	r.json(t, &tr)
	return tr.AccessToken, tr.RefreshToken
}

// mint signs an access token with claims the way the host does, using
// method and key (nil key: the host's own key).
func (e *testEnv) mint(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	if key == nil {
		key = e.signingKey
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsFor are the claims of a genuine access token of userID.
func claimsFor(userID string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "puod", "aud": []string{"puod-api"}, "sub": userID, "name": "forged",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": fmt.Sprint(now.UnixNano()),
	}
}

// --- the database behind the app ---------------------------------------

// rawDB opens a second connection to the app's database, for checks the
// API cannot make (do the tables still exist?).
func (e *testEnv) rawDB(t testing.TB) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if e.dialect == store.DialectPostgres {
		db, err = sql.Open("pgx", e.cfg.DatabaseURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(e.cfg.DataDir, "puod.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// tableCounts returns every table of the app's database with its row count.
func (e *testEnv) tableCounts(t testing.TB) map[string]int {
	t.Helper()
	db := e.rawDB(t)
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if e.dialect == store.DialectPostgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, n := range names {
		var c int
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + n + `"`).Scan(&c); err != nil {
			t.Fatalf("count %s: %v", n, err)
		}
		out[n] = c
	}
	return out
}
