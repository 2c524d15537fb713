package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

func hasCard(cts []CardType, plugin, typ string) bool {
	for _, c := range cts {
		if c.PluginID == plugin && c.Type == typ {
			return true
		}
	}
	return false
}

// gathered returns the metric of family name with the given labels.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

func TestManager_hotAddReplaceRemove(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	m := startManager(t, testConfig(dir))
	dumpOnFailure(t, m)

	// Add: a bundle dropped into the running manager's directory starts.
	bundle := installBundle(t, dir, "version", bins.v1, versionManifest(t, "1.0.0"))
	st := waitState(t, m, "test.version", StateRunning)
	if st.Version != "1.0.0" || st.Generation != 1 || st.PID == 0 {
		t.Fatalf("after add: %+v", st)
	}
	if !hasCard(m.CardTypes(), "test.version", "version_info") {
		t.Fatalf("card type missing: %+v", m.CardTypes())
	}
	oldPID := st.PID

	m.SetInstance("test.version", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{}`)})
	h, err := m.Plugin("test.version")
	if err != nil {
		t.Fatal(err)
	}

	// Replace while a caller keeps calling: no call may fail.
	var (
		calls, failures atomic.Int64
		mu              sync.Mutex
		seen            = map[string]int{}
		firstErr        error
		stop            = make(chan struct{})
		done            = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ps, err := h.ListPipelines(ctx, "s1")
			cancel()
			calls.Add(1)
			mu.Lock()
			if err != nil {
				failures.Add(1)
				if firstErr == nil {
					firstErr = err
				}
			} else if len(ps) == 1 {
				seen[ps[0].Name]++
			}
			mu.Unlock()
		}
	}()
	waitFor(t, 10*time.Second, "calls to v1", func() bool { return calls.Load() > 20 })

	// Binary first, manifest second, as a careless copy would: in between
	// the bundle is refused (checksum mismatch) and v1 keeps serving.
	copyFile(t, bins.v2, filepath.Join(bundle, "test-version"))
	writeJSON(t, filepath.Join(bundle, manifest.FileName), versionManifest(t, "2.0.0"))
	if _, err := manifest.WriteChecksums(bundle); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "generation 2 serving 2.0.0", func() bool {
		st, _ := statusOf(m, "test.version")
		mu.Lock()
		defer mu.Unlock()
		return st.State == StateRunning && st.Version == "2.0.0" && st.Generation == 2 && seen["2.0.0"] > 10
	})
	waitFor(t, 30*time.Second, "old generation's process to exit", func() bool { return processGone(oldPID) })
	close(stop)
	<-done
	mu.Lock()
	t.Logf("calls: %d, by version: %v", calls.Load(), seen)
	if failures.Load() > 0 {
		t.Fatalf("%d of %d calls failed during the switch-over; first: %v", failures.Load(), calls.Load(), firstErr)
	}
	if seen["1.0.0"] == 0 || seen["2.0.0"] == 0 {
		t.Fatalf("calls did not see both versions: %v", seen)
	}
	mu.Unlock()
	st, _ = statusOf(m, "test.version")
	if st.LastError != "" {
		t.Errorf("LastError after a clean switch: %q", st.LastError)
	}
	newPID := st.PID

	// Remove: the plugin drains and stops.
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "removed plugin to stop", func() bool {
		st, ok := statusOf(m, "test.version")
		return !ok || st.State == StateStopped
	})
	waitFor(t, 10*time.Second, "removed plugin's process to exit", func() bool { return processGone(newPID) })
	if hasCard(m.CardTypes(), "test.version", "version_info") {
		t.Fatal("card type of a removed plugin still listed")
	}
	if _, err := m.Plugin("test.version"); err == nil {
		t.Fatal("Plugin returned a handle for a removed plugin")
	}
}

// TestManager_outOfTreePlugin builds a plugin as a third party would: its
// own module, importing only the SDK.
func TestManager_outOfTreePlugin(t *testing.T) {
	binaries(t) // warms the build cache with the SDK's dependencies
	root := repoRoot(t)
	mod := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/acme/outoftree\n\ngo 1.26\n\nrequire github.com/puod/puod v0.0.0\n\nreplace github.com/puod/puod => " + root + "\n",
		"main.go": `package main

import (
	"context"
	_ "embed"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

type Config struct {
	Name string ` + "`json:\"name\"`" + `
}

type conn struct{ name string }

func (c conn) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "x", Name: c.name}}, nil
}

func (conn) ListRuns(context.Context, string, func(sdk.RunBatch) error) error { return nil }

func (c conn) QueryCard(_ context.Context, q sdk.CardQuery) (*sdk.Frame, error) {
	return sdk.NewFrame(q.CardType, sdk.FrameCategories, sdk.StringField("name", c.name)), nil
}

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: func(_ context.Context, c Config, _ sdk.Env) (any, error) { return conn{name: c.Name}, nil }})
}
`,
		"plugin.json": `{
  "id": "ext.outoftree",
  "name": "Out-of-tree connector",
  "version": "0.3.1",
  "kinds": ["connector"],
  "protocol": [1],
  "host": ">=0.1.0",
  "executable": "ext-outoftree",
  "cards": [{"type": "ext_status", "title": "External status", "visualization": "table"}]
}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "ext-outoftree")
	cmd := exec.Command(goTool(), "build", "-o", exe, ".")
	cmd.Dir = mod
	// GOPROXY=off: everything comes from the module cache the repository's
	// own build filled, so the test never needs the network.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build out-of-tree plugin: %v\n%s", err, out)
	}
	var mf map[string]any
	if err := json.Unmarshal([]byte(files["plugin.json"]), &mf); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	m := startManager(t, testConfig(dir))
	dumpOnFailure(t, m)
	installBundle(t, dir, "outoftree", exe, mf)
	waitState(t, m, "ext.outoftree", StateRunning)
	if !hasCard(m.CardTypes(), "ext.outoftree", "ext_status") {
		t.Fatalf("card type missing: %+v", m.CardTypes())
	}
	m.SetInstance("ext.outoftree", sdk.InstanceConfig{ID: "a", Revision: 1, Config: json.RawMessage(`{"name":"acme"}`)})
	h, err := m.Plugin("ext.outoftree")
	if err != nil {
		t.Fatal(err)
	}
	f, err := h.QueryCard(context.Background(), "a", sdk.CardQuery{CardType: "ext_status"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "ext_status" {
		t.Fatalf("frame: %+v", f)
	}
}

func TestManager_restartsKilledPlugin(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))
	reg := prometheus.NewRegistry()
	m := startManager(t, testConfig(dir), WithRegisterer(reg))
	dumpOnFailure(t, m)
	events, unsubscribe := m.Subscribe()
	defer unsubscribe()

	st := waitState(t, m, "acme.hello", StateRunning)
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{"greeting":"hi"}`)})
	h, err := m.Plugin("acme.hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ListPipelines(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var after Status
	waitFor(t, 30*time.Second, "killed plugin back to running", func() bool {
		after, _ = statusOf(m, "acme.hello")
		return after.State == StateRunning && after.PID != 0 && after.PID != st.PID
	})
	if after.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", after.Restarts)
	}
	if !strings.Contains(after.LastError, "exited unexpectedly") {
		t.Errorf("LastError = %q", after.LastError)
	}
	// The new process does not hold the instance until the manager
	// configures it again: the call must still work.
	ps, err := h.ListPipelines(context.Background(), "s1")
	if err != nil || len(ps) != 1 || ps[0].Name != "hi" {
		t.Fatalf("after restart: %v %v", ps, err)
	}
	if got := gathered(t, reg, "puod_plugin_restarts_total", map[string]string{"plugin": "acme.hello"}); got == nil || got.GetCounter().GetValue() != 1 {
		t.Errorf("restarts metric = %v", got)
	}
	if got := gathered(t, reg, "puod_plugin_state", map[string]string{"plugin": "acme.hello", "state": StateRunning}); got == nil || got.GetGauge().GetValue() != 1 {
		t.Errorf("state metric = %v", got)
	}
	if got := gathered(t, reg, "puod_plugin_call_duration_seconds", map[string]string{"plugin": "acme.hello", "method": "ListPipelines", "outcome": "ok"}); got == nil || got.GetHistogram().GetSampleCount() < 2 {
		t.Errorf("call histogram = %v", got)
	}
	var states []string
	for len(events) > 0 {
		ev := <-events
		if ev.PluginID == "acme.hello" {
			states = append(states, ev.State)
		}
	}
	if !strings.Contains(strings.Join(states, ","), StateBackoff) {
		t.Errorf("events did not show the backoff: %v", states)
	}
}

func TestManager_crashLoopOpensCircuit(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))
	installBundle(t, dir, "crashy", bins.crashy, map[string]any{
		"id": "test.crashy", "name": "Crashy", "version": "1.0.0", "kinds": []string{"connector"},
		"protocol": []int{1}, "host": ">=0.1.0", "executable": "test-crashy",
	})
	m := startManager(t, testConfig(dir), WithBackoff(func(int) time.Duration { return 20 * time.Millisecond }))
	dumpOnFailure(t, m)
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{"greeting":"hi"}`)})

	waitState(t, m, "acme.hello", StateRunning)
	// The healthy plugin serves while the other one crash-loops.
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h, err := m.Plugin("acme.hello")
			if err == nil {
				_, err = h.ListPipelines(context.Background(), "s1")
			}
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	st := waitState(t, m, "test.crashy", StateFailed)
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("healthy plugin failed while the other crash-looped: %v", err)
	}
	for _, want := range []string{"crashed 5 times", "circuit open", "database is on fire"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("LastError %q does not contain %q", st.LastError, want)
		}
	}
	if st.Restarts != 4 {
		t.Errorf("restarts = %d, want 4 (5 crashes)", st.Restarts)
	}
	if !strings.Contains(strings.Join(st.LogTail, "\n"), "database is on fire") {
		t.Errorf("log tail misses the plugin's stderr: %q", st.LogTail)
	}
	if _, err := m.Plugin("test.crashy"); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "failed") {
		t.Errorf("Plugin(crashy) = %v", err)
	}
}

func TestManager_hungPluginTimesOutAndRestarts(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))
	hangDir := installBundle(t, dir, "hang", bins.hang, manifestFrom(t, "host/plugins/testdata/hang/plugin.json", nil))
	cfg := testConfig(dir)
	cfg.CallTimeout = 500 * time.Millisecond
	cfg.HealthInterval = 200 * time.Millisecond
	cfg.HealthTimeout = 200 * time.Millisecond
	m := startManager(t, cfg)
	dumpOnFailure(t, m)
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{"greeting":"hi"}`)})
	m.SetInstance("test.hang", sdk.InstanceConfig{ID: "h1", Revision: 1, Config: json.RawMessage(`{}`)})
	waitState(t, m, "acme.hello", StateRunning)
	before := waitState(t, m, "test.hang", StateRunning)
	hang, err := m.Plugin("test.hang")
	if err != nil {
		t.Fatal(err)
	}
	hello, err := m.Plugin("acme.hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hang.ListPipelines(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}

	flag := filepath.Join(hangDir, "hang.flag")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the plugin to freeze", func() bool {
		_, err := os.Stat(flag)
		return errors.Is(err, os.ErrNotExist)
	})
	time.Sleep(50 * time.Millisecond) // between removing the flag and stopping itself

	start := time.Now()
	_, err = hang.ListPipelines(context.Background(), "h1")
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a hung plugin: want a deadline error, got %v", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("call to a hung plugin took %s", elapsed)
	}
	// Other plugins answer promptly meanwhile.
	for i := 0; i < 5; i++ {
		start := time.Now()
		if _, err := hello.ListPipelines(context.Background(), "s1"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("healthy plugin took %s while another hung", d)
		}
	}
	var after Status
	waitFor(t, 30*time.Second, "hung plugin restarted", func() bool {
		after, _ = statusOf(m, "test.hang")
		return after.State == StateRunning && after.Restarts >= 1 && after.PID != before.PID
	})
	if !strings.Contains(after.LastError, "missed 3 health checks") {
		t.Errorf("LastError = %q", after.LastError)
	}
	waitFor(t, 10*time.Second, "frozen process to be gone", func() bool { return processGone(before.PID) })
	if _, err := hang.ListPipelines(context.Background(), "h1"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestManager_refusesBadBundles(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))

	bad := []struct {
		name, id string
		setup    func(dir string)
		want     []string
	}{
		{
			name: "checksum", id: "bad.checksum",
			setup: func(d string) {
				writeBundle(t, d, bins.hello, helloManifest(t, func(m map[string]any) { m["id"] = "bad.checksum" }))
				var mf map[string]any
				data, _ := os.ReadFile(filepath.Join(d, manifest.FileName))
				_ = json.Unmarshal(data, &mf)
				mf["sha256"] = map[string]string{"acme-hello": strings.Repeat("0", 64)}
				writeJSON(t, filepath.Join(d, manifest.FileName), mf)
			},
			want: []string{"checksum mismatch for acme-hello", "puod plugins checksum"},
		},
		{
			name: "malformed", id: "malformed",
			setup: func(d string) {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, manifest.FileName), []byte(`{"id": "bad.malformed", `), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"JSON"},
		},
		{
			name: "protocol", id: "bad.protocol",
			setup: func(d string) {
				writeBundle(t, d, bins.hello, helloManifest(t, func(m map[string]any) { m["id"] = "bad.protocol"; m["protocol"] = []int{7} }))
			},
			want: []string{"plugin speaks protocol 7, host speaks 1: upgrade the host or rebuild the plugin against an SDK speaking 1"},
		},
		{
			name: "hostrange", id: "bad.hostrange",
			setup: func(d string) {
				writeBundle(t, d, bins.hello, helloManifest(t, func(m map[string]any) { m["id"] = "bad.hostrange"; m["host"] = ">=9.0.0" }))
			},
			want: []string{`needs a host matching ">=9.0.0", this host is 0.1.0`},
		},
		{
			name: "missing", id: "bad.missing",
			setup: func(d string) {
				writeBundle(t, d, "", helloManifest(t, func(m map[string]any) {
					m["id"] = "bad.missing"
					m["sha256"] = map[string]string{"acme-hello": strings.Repeat("0", 64)}
				}))
			},
			want: []string{"executable acme-hello is missing"},
		},
		{
			name: "describe", id: "test.version",
			setup: func(d string) {
				// A v2 executable with a v1 plugin.json: Describe disagrees.
				writeBundle(t, d, bins.v2, versionManifest(t, "1.0.0"))
			},
			want: []string{`version: plugin.json says "1.0.0", the executable says "2.0.0"`},
		},
		{
			name: "zz-duplicate", id: "acme.hello",
			setup: func(d string) { writeBundle(t, d, bins.hello, helloManifest(t, nil)) },
			want:  []string{"plugin id acme.hello is already served from"},
		},
	}
	for _, b := range bad {
		b.setup(filepath.Join(dir, b.name))
	}
	m := startManager(t, testConfig(dir))
	dumpOnFailure(t, m)
	waitState(t, m, "acme.hello", StateRunning)
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{"greeting":"hi"}`)})
	h, err := m.Plugin("acme.hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ListPipelines(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			var st Status
			waitFor(t, 30*time.Second, b.name+" refused", func() bool {
				for _, s := range m.Plugins() {
					if s.Dir == filepath.Join(dir, b.name) && s.State == StateFailed {
						st = s
						return true
					}
				}
				return false
			})
			if st.ID != b.id {
				t.Errorf("ID = %q, want %q", st.ID, b.id)
			}
			for _, want := range b.want {
				if !strings.Contains(st.LastError, want) {
					t.Errorf("reason %q does not contain %q", st.LastError, want)
				}
			}
			t.Logf("refused: %s", st.LastError)
		})
	}
	if _, err := m.Plugin("bad.protocol"); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "protocol 7") {
		t.Errorf("Plugin(bad.protocol) = %v", err)
	}
	if _, err := m.Plugin("no.such"); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("Plugin(no.such) = %v", err)
	}
}

type noFrames struct{}

func (noFrames) Next() (*sdk.Frame, error) { return nil, io.EOF }

func TestHandle_reconfiguresInstances(t *testing.T) {
	bins := binaries(t)
	dir := t.TempDir()
	installBundle(t, dir, "hello", bins.hello, helloManifest(t, nil))
	m := startManager(t, testConfig(dir))
	dumpOnFailure(t, m)
	waitState(t, m, "acme.hello", StateRunning)
	h, err := m.Plugin("acme.hello")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := func() string {
		t.Helper()
		ps, err := h.ListPipelines(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0].Name
	}

	// Registered after the start: configured before the first call.
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 1, Config: json.RawMessage(`{"greeting":"one"}`)})
	if got := name(); got != "one" {
		t.Fatalf("name = %q", got)
	}
	// A new revision is configured before the next call.
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 2, Config: json.RawMessage(`{"greeting":"two"}`)})
	if got := name(); got != "two" {
		t.Fatalf("name after revision 2 = %q", got)
	}
	// The process lost the instance behind the manager's back: the call
	// comes back unconfigured, is configured again and retried.
	p, err := h.s.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rpc.RemoveInstance(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	p.inflight.Done()
	if got := name(); got != "two" {
		t.Fatalf("name after the process forgot the instance = %q", got)
	}
	// The same for a stream, before any batch arrived.
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "r", Revision: 1, Config: json.RawMessage(`{"greeting":"runs","runs":250}`)})
	if _, err := h.ListPipelines(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if p, err = h.s.acquire(); err != nil {
		t.Fatal(err)
	}
	if err := p.rpc.RemoveInstance(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	p.inflight.Done()
	runs := 0
	if err := h.ListRuns(ctx, "r", "", 0, func(b sdk.RunBatch) error { runs += len(b.Runs); return nil }); err != nil || runs != 250 {
		t.Fatalf("ListRuns after the process forgot the instance: %d runs, %v", runs, err)
	}
	// A capability the plugin lacks is the plugin's typed answer.
	if _, err := h.Export(ctx, "r", sdk.ExportHeader{Format: "csv"}, noFrames{}, io.Discard); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("Export on a connector: %v", err)
	}
	// Configuration errors reach the caller as the plugin's typed errors.
	m.SetInstance("acme.hello", sdk.InstanceConfig{ID: "s1", Revision: 3, Config: json.RawMessage(`{"greeting":""}`)})
	if _, err := h.ListPipelines(ctx, "s1"); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("want a config error, got %v", err)
	}
	// An instance nobody registered: the plugin's answer, with a hint.
	if _, err := h.ListPipelines(ctx, "nope"); !errors.Is(err, sdk.ErrUnconfigured) || !strings.Contains(err.Error(), "never registered") {
		t.Fatalf("unknown instance: %v", err)
	}
	m.RemoveInstance("acme.hello", "s1")
	if _, err := h.ListPipelines(ctx, "s1"); err == nil {
		// RemoveInstance disposes in the background: wait for it.
		waitFor(t, 10*time.Second, "instance removed", func() bool {
			_, err := h.ListPipelines(ctx, "s1")
			return errors.Is(err, sdk.ErrUnconfigured)
		})
	}
	if d := h.Describe(); d == nil || d.ID != "acme.hello" || len(d.Cards) != 1 {
		t.Fatalf("Describe = %+v", d)
	}
}
