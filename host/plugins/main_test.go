package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk/manifest"
)

// TestMain lets the test binary double as the host process of the orphan
// test (see runHelper).
func TestMain(m *testing.M) {
	if os.Getenv(helperDirEnv) != "" {
		os.Exit(runHelper())
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// Plugin binaries built once per test binary (the Go build cache makes
// later runs fast).
var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
)

type testBinaries struct {
	hello, crashy, hang, v1, v2 string
}

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

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func binaries(t testing.TB) testBinaries {
	t.Helper()
	root := repoRoot(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "puod-plugins-test-")
		if buildErr != nil {
			return
		}
		run := func(args ...string) error {
			cmd := exec.Command(goTool(), args...)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return nil
		}
		buildErr = run("build", "-o", binDir+string(filepath.Separator),
			"./sdk/examples/hello", "./host/plugins/testdata/crashy", "./host/plugins/testdata/hang", "./host/plugins/testdata/version")
		if buildErr == nil {
			buildErr = run("build", "-ldflags", "-X main.version=2.0.0", "-o", filepath.Join(binDir, "version2"), "./host/plugins/testdata/version")
		}
	})
	if buildErr != nil {
		t.Fatalf("build test plugins: %v", buildErr)
	}
	return testBinaries{
		hello:  filepath.Join(binDir, "hello"),
		crashy: filepath.Join(binDir, "crashy"),
		hang:   filepath.Join(binDir, "hang"),
		v1:     filepath.Join(binDir, "version"),
		v2:     filepath.Join(binDir, "version2"),
	}
}

// manifestFrom reads a plugin.json from the repository and applies edits.
func manifestFrom(t testing.TB, rel string, edit func(map[string]any)) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func helloManifest(t testing.TB, edit func(map[string]any)) map[string]any {
	return manifestFrom(t, "sdk/examples/hello/plugin.json", edit)
}

func versionManifest(t testing.TB, version string) map[string]any {
	return manifestFrom(t, "host/plugins/testdata/version/plugin.json", func(m map[string]any) { m["version"] = version })
}

// writeBundle writes a bundle folder: the executable under the name the
// manifest gives and plugin.json with its checksum filled in.
func writeBundle(t testing.TB, dir, exe string, mf map[string]any) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name, _ := mf["executable"].(string)
	if exe != "" && name != "" {
		copyFile(t, exe, filepath.Join(dir, name))
	}
	writeJSON(t, filepath.Join(dir, manifest.FileName), mf)
	if exe != "" {
		if _, err := manifest.WriteChecksums(dir); err != nil {
			t.Fatalf("checksum %s: %v", dir, err)
		}
	}
}

// installBundle builds a bundle in a hidden staging folder of the plugin
// directory and renames it into place, as an installer should.
func installBundle(t testing.TB, pluginDir, name, exe string, mf map[string]any) string {
	t.Helper()
	stage := filepath.Join(pluginDir, ".stage-"+name)
	writeBundle(t, stage, exe, mf)
	dst := filepath.Join(pluginDir, name)
	if err := os.Rename(stage, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyFile copies through a temporary name and a rename: a running
// executable is never written in place.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testConfig is a configuration with short intervals for tests.
func testConfig(dir string) Config {
	return Config{
		Dir:            dir,
		HostVersion:    "0.1.0",
		RescanInterval: 2 * time.Second,
		HealthInterval: 500 * time.Millisecond,
		HealthTimeout:  500 * time.Millisecond,
		CallTimeout:    5 * time.Second,
		StartTimeout:   20 * time.Second,
		DrainTimeout:   5 * time.Second,
		BackoffInitial: 100 * time.Millisecond,
		BackoffMax:     time.Second,
	}
}

// startManager starts a manager and stops it (and checks that none of
// its processes is left) when the test ends.
func startManager(t *testing.T, cfg Config, opts ...Option) *Manager {
	t.Helper()
	m, err := New(cfg, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pids := m.pids()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if left := m.pids(); len(left) > 0 {
			t.Errorf("processes still tracked after Close: %v", left)
		}
		for _, pid := range pids {
			if !processGone(pid) {
				t.Errorf("plugin process %d still alive after Close", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return m
}

// testLogger logs to the test log (shown for failures and -v) and goes
// quiet once the test is over, since go-plugin may log late.
func testLogger(t *testing.T) hclog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.stop)
	return hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: w})
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

func statusOf(m *Manager, id string) (Status, bool) {
	for _, st := range m.Plugins() {
		if st.ID == id {
			return st, true
		}
	}
	return Status{}, false
}

// waitFor polls cond until it holds, failing the test after timeout. The
// timeouts are generous: they catch a hang, they do not measure speed.
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

func waitState(t *testing.T, m *Manager, id, state string) Status {
	t.Helper()
	var st Status
	waitFor(t, 60*time.Second, id+" "+state, func() bool {
		var ok bool
		st, ok = statusOf(m, id)
		return ok && st.State == state
	})
	return st
}

// dumpOnFailure logs every plugin's status when the test fails.
func dumpOnFailure(t *testing.T, m *Manager) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, st := range m.Plugins() {
			t.Logf("plugin %s: state=%s gen=%d pid=%d restarts=%d err=%q", st.ID, st.State, st.Generation, st.PID, st.Restarts, st.LastError)
			for _, l := range st.LogTail {
				t.Logf("  | %s", l)
			}
		}
	})
}

// processGone reports whether pid no longer runs (a zombie waiting for a
// parent that does not reap counts as gone).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && (data[i+2] == 'Z' || data[i+2] == 'X')
}
