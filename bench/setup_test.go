package bench

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// binaries built once per `go test` run.
var bins struct {
	dir     string
	bare    string // bare go-plugin + gRPC baseline plugin
	sdkRuns string // the same plugin written with the SDK
}

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// `go test ./...` (make test) runs no benchmark: skip the builds.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "puod-bench-")
	if err != nil {
		panic(err)
	}
	bins.dir = dir
	bins.bare = filepath.Join(dir, "bare")
	bins.sdkRuns = filepath.Join(dir, "bench-runs")
	for out, pkg := range map[string]string{bins.bare: "./plugins/bare", bins.sdkRuns: "./plugins/sdkruns"} {
		// Built like `make build` builds bundles: stripped.
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			panic(fmt.Sprintf("build %s: %v", pkg, err))
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bundle writes a bundle of the SDK benchmark plugin under pluginDir with
// the given id.
func bundle(tb testing.TB, pluginDir, id string) {
	tb.Helper()
	dir := filepath.Join(pluginDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	src, err := os.ReadFile("plugins/sdkruns/plugin.json")
	if err != nil {
		tb.Fatal(err)
	}
	man := strings.Replace(string(src), `"bench.runs"`, fmt.Sprintf("%q", id), 1)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), []byte(man), 0o644); err != nil {
		tb.Fatal(err)
	}
	exe := bins.sdkRuns
	if id != "bench.runs" {
		// The manifest is embedded in the executable, so each id needs its
		// own build (the link is all that differs; the cache makes it quick).
		exe = filepath.Join(bins.dir, id)
		if _, err := os.Stat(exe); err != nil {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.pluginID="+id, "-o", exe, "./plugins/sdkruns")
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				tb.Fatalf("build %s: %v", id, err)
			}
		}
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-runs"), data, 0o755); err != nil {
		tb.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		tb.Fatal(err)
	}
}

// startManager starts a plugin manager over pluginDir and waits until n
// plugins are running.
func startManager(tb testing.TB, pluginDir string, n int) (*plugins.Manager, time.Duration) {
	tb.Helper()
	m, err := plugins.New(plugins.Config{Dir: pluginDir, HostVersion: "1.0.0"}, hclog.NewNullLogger())
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := m.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		running := 0
		for _, st := range m.Plugins() {
			if st.State == "running" {
				running++
			}
		}
		if running == n {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d plugins running after 60s: %+v", running, n, m.Plugins())
		}
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	tb.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, took
}

// startBare starts the bare baseline plugin with go-plugin and returns its
// gRPC client protocol, the way a host would without PUOD's layers.
func startBare(tb testing.TB) (*plugin.Client, plugin.ClientProtocol) {
	tb.Helper()
	c, rpc, err := launchBare(fileSum(tb, bins.bare))
	if err != nil {
		tb.Fatal(err)
	}
	return c, rpc
}

// launchBare is startBare for goroutines other than the benchmark's (which
// must not call Fatal).
func launchBare(sum []byte) (*plugin.Client, plugin.ClientProtocol, error) {
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          plugin.PluginSet{"puod": &rawPlugin{}},
		Cmd:              exec.Command(bins.bare),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, nil, err
	}
	return c, rpc, nil
}

func fileSum(tb testing.TB, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := sha256.Sum256(data)
	return s[:]
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }
