package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	sdkmanifest "github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// plugin.json's config schema is the one derived from Config: the bundle
// describes the plugin without starting it, and both must agree.
func TestManifest_configIsTheStructs(t *testing.T) {
	m, err := sdkmanifest.Parse(manifest)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := schema.FromStruct(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(m.Config, derived) {
		t.Errorf("plugin.json config differs from the schema of Config:\n%s", derived)
	}
	if m.Version != version {
		t.Errorf("plugin.json version %s, the binary says %s", m.Version, version)
	}
	if m.Executable.Path != "puod-databricks" || m.ID != "puod.databricks" {
		t.Errorf("id %s, executable %v", m.ID, m.Executable)
	}
	want := map[string]string{cardRunsTable: "table", cardSuccessRate: "stat", cardDurationTrend: "timeseries", cardStatusGrid: "status-grid"}
	for _, c := range m.Cards {
		if want[c.Type] != c.Visualization || len(c.Options) == 0 || c.DefaultSize == nil {
			t.Errorf("card %s: visualization %s, options %s, size %v", c.Type, c.Visualization, c.Options, c.DefaultSize)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("cards missing from plugin.json: %v", want)
	}
}

// First-party plugins are honest examples for third parties: they import
// the SDK, never the host, directly or through another package of the
// module.
func TestImports_neverTheHost(t *testing.T) {
	const module = "github.com/puod/puod/"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(dir, from string)
	visit = func(dir, from string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s (imported by %s): %v", dir, from, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(path, module) {
					continue
				}
				rel := strings.TrimPrefix(path, module)
				if strings.HasPrefix(rel, "host/") || rel == "host" {
					t.Errorf("%s imports %s (via %s): plugins must not import the host", filepath.Join(dir, e.Name()), path, from)
				}
				visit(filepath.Join(root, filepath.FromSlash(rel)), path)
			}
		}
	}
	visit(".", "plugins/databricks")
}
