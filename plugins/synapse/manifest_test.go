package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	pluginmanifest "github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// TestManifest_configIsTheStructs: plugin.json's config schema (what the
// host shows before the plugin runs) is exactly the one derived from
// Config, so the two cannot drift.
func TestManifest_configIsTheStructs(t *testing.T) {
	m, err := pluginmanifest.Parse(manifest)
	if err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	derived, err := schema.FromStruct(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(m.Config, derived) {
		var v any
		_ = json.Unmarshal(derived, &v)
		b, _ := json.MarshalIndent(v, "  ", "  ")
		t.Errorf("plugin.json's config differs from the schema derived from Config; replace it with:\n  %s", b)
	}
	if m.ID != "puod.synapse" {
		t.Errorf("id %s", m.ID)
	}
	if p, _ := m.Executable.For(pluginmanifest.Platform()); p != "puod-synapse" {
		t.Errorf("executable %q, want puod-synapse", p)
	}
	want := map[string]string{cardRunsTable: "table", cardSuccessRate: "stat", cardDurationTrend: "timeseries", cardStatusGrid: "status-grid"}
	for _, c := range m.Cards {
		if want[c.Type] != c.Visualization {
			t.Errorf("card %s has visualization %s, want %s", c.Type, c.Visualization, want[c.Type])
		}
		if c.DefaultSize == nil || len(c.Options) == 0 {
			t.Errorf("card %s needs options and a default size", c.Type)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("cards missing: %v", want)
	}
}

// TestImports_onlySDK: a first-party plugin imports the SDK, never the host
// (it is an honest example for third parties), and the simulator only in
// tests.
func TestImports_onlySDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/puod/puod/plugins/synapse").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if !strings.HasPrefix(dep, "github.com/puod/puod/") {
			continue
		}
		if !strings.HasPrefix(dep, "github.com/puod/puod/sdk") && !strings.HasPrefix(dep, "github.com/puod/puod/proto/") && dep != "github.com/puod/puod/plugins/synapse" {
			t.Errorf("puod-synapse depends on %s: import only github.com/puod/puod/sdk/... and the generated proto", dep)
		}
	}
}
