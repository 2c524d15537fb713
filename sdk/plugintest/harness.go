// Package plugintest is PUOD's plugin conformance kit: an in-process
// harness that serves a plugin over real gRPC (the same go-plugin transport
// the host uses, without starting a process) and suites that check a plugin
// keeps PUOD's contract. Plugin authors call them from go test.
package plugintest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/puod/puod/sdk"
)

// Serve starts p in-process and returns a connected client. Everything is
// torn down when the test ends.
func Serve[C any](t testing.TB, p sdk.Plugin[C]) *sdk.Client {
	t.Helper()
	if p.Logger == nil {
		p.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn, Output: testWriter{t}})
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
		HandshakeConfig:  sdk.Handshake,
		// A reattached test client dispenses from Plugins, not VersionedPlugins.
		Plugins:          sdk.ClientPluginSets()[sdk.ProtocolVersion],
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn, Output: testWriter{t}}),
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
	return raw.(*sdk.Client)
}

// testWriter sends log output to the test log, so it shows only for
// failing tests (or with -v).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
