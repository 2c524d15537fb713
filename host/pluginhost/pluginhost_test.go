package pluginhost_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/pluginhost"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// TestHostServices_stateThroughTheBroker runs a real plugin process that
// keeps a counter in the host's plugin state, and checks that a plugin
// cannot read the state of another plugin's instance.
func TestHostServices_stateThroughTheBroker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "test.stateful")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "stateful"), "./testdata/stateful")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build test plugin: %v\n%s", err, out)
	}
	data, _ := os.ReadFile("testdata/stateful/plugin.json")
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}

	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "team-a", identity.RoleAdmin)
		mine, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "test.stateful", Name: "mine", Config: []byte(`{}`), Enabled: true, PollIntervalSeconds: 60})
		if err != nil {
			t.Fatal(err)
		}
		other, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "acme.other", Name: "other", Config: []byte(`{}`), Enabled: true, PollIntervalSeconds: 60})
		if err != nil {
			t.Fatal(err)
		}
		svc := pluginhost.New(db, hclog.NewNullLogger(), nil, nil)
		m, err := plugins.New(plugins.Config{Dir: filepath.Dir(dir), HostVersion: "1.0.0"}, hclog.NewNullLogger(), plugins.WithHostServices(svc.For))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		m.SetInstance("test.stateful", sdk.InstanceConfig{ID: mine.ID, Revision: 1, Config: []byte(`{}`)})
		m.SetInstance("test.stateful", sdk.InstanceConfig{ID: "peeker", Revision: 1, Config: []byte(`{"peek":"` + other.ID + `"}`)})

		var h *plugins.Handle
		deadline := time.Now().Add(30 * time.Second)
		for h == nil {
			if h, err = m.Plugin("test.stateful"); err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("plugin not running: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		for want := 1; want <= 3; want++ {
			health, err := h.CheckHealth(context.Background(), mine.ID)
			if err != nil {
				t.Fatal(err)
			}
			if health.Message != "count="+string(rune('0'+want)) {
				t.Fatalf("health = %q, want count=%d", health.Message, want)
			}
		}
		stored, ok, err := db.System().PluginState().Get(context.Background(), mine, "count")
		if err != nil || !ok || string(stored) != "3" {
			t.Fatalf("stored state = %q %v %v, want 3", stored, ok, err)
		}
		health, err := h.CheckHealth(context.Background(), "peeker")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(health.Message, "is not an instance of plugin test.stateful") {
			t.Fatalf("reading another plugin's instance must be refused, got %q", health.Message)
		}
	})
}
