package app_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk/manifest"
)

// installFirstParty lays out a first-party connector as `make build` does.
func installFirstParty(t *testing.T, pluginDir, name, id, exe string) {
	t.Helper()
	bin := goBuild(t, "github.com/puod/puod/plugins/"+name, exe)
	dir := filepath.Join(pluginDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	man, err := os.ReadFile(filepath.Join("..", "..", "plugins", name, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), man, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, exe), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.WriteChecksums(dir); err != nil {
		t.Fatal(err)
	}
}

// TestServe_demo is what `make run` shows a newcomer: with --demo the host
// starts the three vendor simulators, creates one source per simulator in
// the default profile, and their runs reach the store within seconds,
// collected by the real connector plugins over the vendors' REST formats.
func TestServe_demo(t *testing.T) {
	pluginDir := t.TempDir()
	installFirstParty(t, pluginDir, "databricks", "puod.databricks", "puod-databricks")
	installFirstParty(t, pluginDir, "synapse", "puod.synapse", "puod-synapse")
	installFirstParty(t, pluginDir, "airflow", "puod.airflow", "puod-airflow")

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.PluginDir = pluginDir
	cfg.AdminPassword = "demo password 1234"
	cfg.Demo = true
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, hclog.NewNullLogger(), io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("host did not stop within 20s")
		}
	})

	db := a.Store()
	prof, err := db.System().Profiles().ByName(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	tenant := identity.With(context.Background(), identity.Principal{UserID: "test", ProfileID: prof.ID, Role: identity.RoleViewer})
	want := map[string]bool{"puod.databricks": false, "puod.synapse": false, "puod.airflow": false}
	deadline := time.Now().Add(90 * time.Second)
	for {
		srcs, _, err := db.Sources().List(tenant, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			if _, ok := want[s.PluginID]; !ok || s.Health.Status != store.HealthOK {
				continue
			}
			runs, _, err := db.Runs().List(tenant, store.RunFilter{SourceID: s.ID}, store.Page{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			want[s.PluginID] = len(runs) > 0
		}
		if want["puod.databricks"] && want["puod.synapse"] && want["puod.airflow"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90s, sources with runs: %v (sources: %+v)", want, srcs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// ETL_Vendas is part of every simulator's scenario.
	pipes, _, err := db.Pipelines().List(tenant, store.PipelineFilter{Text: "ETL_Vendas"}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pipes) == 0 {
		t.Fatal("no ETL_Vendas pipeline collected from the demo")
	}
}
