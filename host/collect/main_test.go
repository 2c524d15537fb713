package collect_test

import (
	"bytes"
	"context"
	"crypto/rand"
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

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/runs"
	"github.com/puod/puod/host/secrets"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// --- plugin binaries, built once per test binary --------------------------

var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// pluginBinary returns the path of a test plugin executable: "hello"
// (sdk/examples/hello) or "slowhello" (testdata/slowhello).
func pluginBinary(t testing.TB, name string) string {
	t.Helper()
	root := repoRoot(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "puod-collect-test-")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		cmd := exec.Command(goTool, "build", "-o", binDir+string(filepath.Separator), "./sdk/examples/hello", "./host/collect/testdata/slowhello")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build test plugins: %v", buildErr)
	}
	return filepath.Join(binDir, name)
}

// --- the environment ---------------------------------------------------------

// testLogger logs to the test log and goes quiet when the test ends
// (plugins and goroutines may log late).
func testLogger(t *testing.T) hclog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.stop)
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Info, Output: w})
}

type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// fakeAuth authenticates "Authorization: Bearer <token>" with a table of
// tokens, the way the host's authenticator does with API tokens.
type fakeAuth struct {
	mu     sync.Mutex
	tokens map[string]identity.Principal
}

func (f *fakeAuth) Authenticate(c *gin.Context) (identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if p, known := f.tokens[tok]; ok && known {
		return p, nil
	}
	return identity.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required")
}

type env struct {
	t    *testing.T
	db   *store.DB
	bus  *bus.Memory
	col  *collect.Collector
	srv  *api.Server
	auth *fakeAuth
}

type envOptions struct {
	cfg   collect.Config
	conns collect.Connectors
}

func newEnv(t *testing.T, db *store.DB, opts envOptions) *env {
	t.Helper()
	log := testLogger(t)
	b, err := bus.NewMemory(bus.MemoryConfig{Buffer: 100000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Secret: key})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, bus: b, auth: &fakeAuth{tokens: map[string]identity.Principal{}}}
	if opts.conns == nil {
		opts.conns = noConnectors{}
	}
	e.col, err = collect.New(opts.cfg, log, collect.Deps{DB: db, Connectors: opts.conns, Bus: b, Keys: keys, Auth: e.auth})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = api.New(api.Options{}, log, e.auth)
	e.col.Register(e.srv)
	runs.Register(e.srv, db)
	return e
}

// run starts the collector's scheduler until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.col.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("collector Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.t.Error("collector did not stop within 30s")
		}
	})
}

// member creates a user of profile with role, and a token for them.
func (e *env) member(profile string, role identity.Role) (context.Context, string) {
	e.t.Helper()
	ctx := storetest.Tenant(e.t, e.db, profile, role)
	p, _ := identity.From(ctx)
	tok := "tok-" + profile + "-" + string(role)
	e.auth.mu.Lock()
	e.auth.tokens[tok] = p
	e.auth.mu.Unlock()
	return ctx, tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiError is the error body of a failed request.
type apiError struct {
	Error struct {
		Code    string             `json:"code"`
		Message string             `json:"message"`
		Fields  []api.FieldProblem `json:"fields"`
	} `json:"error"`
}

func (e *env) do(method, path, token string, body any, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// events collects the run.changed events published from now on.
type events struct {
	mu   sync.Mutex
	list []bus.RunChanged
	ch   <-chan bus.Event
}

func (e *env) subscribe() *events {
	ch, cancel := e.bus.Subscribe(bus.TopicRunChanged)
	ev := &events{ch: ch}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			var p bus.RunChanged
			if err := m.Decode(&p); err == nil {
				ev.mu.Lock()
				ev.list = append(ev.list, p)
				ev.mu.Unlock()
			}
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	return ev
}

func (ev *events) snapshot() []bus.RunChanged {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]bus.RunChanged(nil), ev.list...)
}

// waitFor polls cond until it holds; the timeout catches hangs, it does
// not measure speed.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noConnectors has no plugin at all.
type noConnectors struct{}

func (noConnectors) ListRuns(context.Context, string, string, string, int, func(*pb.RunBatch) error) error {
	return collect.ErrPluginUnavailable
}

func (noConnectors) ListPipelines(context.Context, string, string) ([]sdk.Pipeline, error) {
	return nil, collect.ErrPluginUnavailable
}

func (noConnectors) HandleWebhook(context.Context, string, string, sdk.Webhook) ([]sdk.Run, error) {
	return nil, collect.ErrPluginUnavailable
}
