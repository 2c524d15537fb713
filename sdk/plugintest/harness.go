package plugintest

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/puod/puod/sdk"
)

// Harness is a plugin served in-process for one test.
type Harness struct {
	// Client is the host side of the connection: the same type the host
	// uses, so a test exercises the real wire.
	Client *sdk.Client

	mu        sync.Mutex
	instances map[string]any
}

// Instance returns the value the plugin's New function last built for
// instance id, or nil. Checks that must observe the plugin's own code
// without the wire in between use it (CheckCancellation).
func (h *Harness) Instance(id string) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.instances[id]
}

// Serve starts p in-process and returns a connected client. Everything is
// torn down when the test ends.
func Serve[C any](t testing.TB, p sdk.Plugin[C]) *sdk.Client {
	t.Helper()
	return Start(t, p).Client
}

// Start is Serve that also keeps the instances the plugin builds, for
// Harness.Instance.
func Start[C any](t testing.TB, p sdk.Plugin[C]) *Harness {
	t.Helper()
	h := &Harness{instances: map[string]any{}}
	if build := p.New; build != nil {
		p.New = func(ctx context.Context, cfg C, env sdk.Env) (any, error) {
			v, err := build(ctx, cfg, env)
			if err == nil {
				h.mu.Lock()
				h.instances[env.InstanceID] = v
				h.mu.Unlock()
			}
			return v, err
		}
	}
	// Registered first, so it runs last: after it, log lines from
	// goroutines still winding down are dropped instead of reaching a
	// finished test (which panics).
	out := &testWriter{t: t}
	t.Cleanup(func() { out.done.Store(true) })
	if p.Logger == nil {
		p.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn, Output: out})
	}
	cfg, err := p.ServeConfig()
	if err != nil {
		t.Fatalf("plugin is misdeclared: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)

	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("plugin did not start serving within 10s")
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		// A reattached test client dispenses from Plugins, not VersionedPlugins.
		Plugins:          sdk.ClientPluginSets()[sdk.ProtocolVersion],
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn, Output: out}),
	})
	t.Cleanup(func() {
		client.Kill()
		cancel()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
	})
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("connect to plugin: %v", err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense plugin: %v", err)
	}
	h.Client = raw.(*sdk.Client)
	return h
}

// testWriter sends log output to the test log, so it shows only for
// failing tests (or with -v).
type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	// go-plugin logs its listener closing at teardown as an error: noise.
	if !w.done.Load() && !bytes.Contains(p, []byte("use of closed network connection")) {
		w.t.Helper()
		w.t.Log(string(p))
	}
	return len(p), nil
}
