package plugintest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// LoadManifest reads the manifest the plugin's Describe must agree with:
// the plugin.json at manifestPath, else the one in bundleDir, else (both
// empty) the embedded one. Comparing with the file on disk catches a
// binary built before plugin.json was last edited.
func LoadManifest(t testing.TB, bundleDir, manifestPath string, embedded []byte) *manifest.Manifest {
	t.Helper()
	data, where := embedded, "the embedded plugin.json (set BundleDir or ManifestPath to compare with the file on disk)"
	if manifestPath == "" && bundleDir != "" {
		manifestPath = filepath.Join(bundleDir, manifest.FileName)
	}
	if manifestPath != "" {
		var err error
		if data, err = os.ReadFile(manifestPath); err != nil {
			t.Fatalf("read the plugin's manifest: %v", err)
		}
		where = manifestPath
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatalf("%s is invalid: %v", where, err)
	}
	return m
}

// CheckDescribe asks the plugin to describe itself and checks that the
// answer agrees with want, field by field: the host refuses a plugin whose
// Describe disagrees with its plugin.json. It returns the description.
func CheckDescribe(t testing.TB, c *sdk.Client, want *manifest.Manifest) *sdk.Description {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	d, err := c.Describe(ctx, sdk.DescribeOptions{HostVersion: "0.0.0-conformance"})
	if err != nil {
		t.Fatalf("Describe failed: %v", err)
	}
	differs := func(field string, got, want any) {
		t.Helper()
		t.Errorf("Describe answers %s %v but plugin.json says %v: the binary embeds another plugin.json than the bundle's; rebuild the plugin after editing plugin.json", field, got, want)
	}
	if d.ID != want.ID {
		differs("id", d.ID, want.ID)
	}
	if d.Name != want.Name {
		differs("name", d.Name, want.Name)
	}
	if d.Version != want.Version {
		differs("version", d.Version, want.Version)
	}
	if !sameSet(d.Kinds, want.Kinds) {
		differs("kinds", d.Kinds, want.Kinds)
	}
	if d.Stability != want.Stability {
		differs("stability", d.Stability, want.Stability)
	}
	if !slices.Contains(want.Protocol, d.ProtocolVersion) {
		t.Errorf("Describe answers protocol %d but plugin.json lists protocols %v: list every protocol major the plugin speaks", d.ProtocolVersion, want.Protocol)
	}
	if len(want.Config) > 0 && !schema.Equal(d.ConfigSchema, want.Config) {
		differs("a config schema", string(d.ConfigSchema), string(want.Config))
	}
	checkCards(t, d.Cards, want.Cards)
	checkExports(t, d.Exports, want.Exports)
	return d
}

func checkCards(t testing.TB, got, want []manifest.Card) {
	t.Helper()
	byType := map[string]manifest.Card{}
	for _, c := range got {
		byType[c.Type] = c
	}
	for _, w := range want {
		g, ok := byType[w.Type]
		if !ok {
			t.Errorf("Describe lacks card type %q that plugin.json declares: rebuild the plugin after editing plugin.json", w.Type)
			continue
		}
		delete(byType, w.Type)
		if g.Title != w.Title || g.Description != w.Description || g.Visualization != w.Visualization ||
			!sameSize(g.DefaultSize, w.DefaultSize) || !sameSchema(g.Options, w.Options) {
			t.Errorf("Describe's card type %q differs from plugin.json's (title, description, visualization, default_size or options): rebuild the plugin after editing plugin.json", w.Type)
		}
	}
	for typ := range byType {
		t.Errorf("Describe answers card type %q that plugin.json does not declare: rebuild the plugin after editing plugin.json", typ)
	}
}

func checkExports(t testing.TB, got, want []manifest.ExportFormat) {
	t.Helper()
	byID := map[string]manifest.ExportFormat{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("Describe lacks export format %q that plugin.json declares: rebuild the plugin after editing plugin.json", w.ID)
			continue
		}
		delete(byID, w.ID)
		if g != w {
			t.Errorf("Describe's export format %q is %+v, plugin.json's is %+v: rebuild the plugin after editing plugin.json", w.ID, g, w)
		}
	}
	for id := range byID {
		t.Errorf("Describe answers export format %q that plugin.json does not declare: rebuild the plugin after editing plugin.json", id)
	}
}

// CheckConfigSchema checks the configuration schema a plugin describes:
// it compiles, and each key of secrets is a property marked "x-secret", so
// the host encrypts the value at rest and never shows it.
func CheckConfigSchema(t testing.TB, configSchema json.RawMessage, secrets map[string]string) {
	t.Helper()
	if len(configSchema) == 0 {
		t.Errorf("the plugin describes no config schema")
		return
	}
	if _, err := schema.Compile(configSchema); err != nil {
		t.Errorf("the config schema does not compile: %v", err)
	}
	marked := schema.SecretFields(configSchema)
	for _, k := range sortedKeys(secrets) {
		if !slices.Contains(marked, k) {
			t.Errorf("secret %q is not a property marked \"x-secret\": true in the config schema (secret properties: %v): tag the config field `secret:\"true\"`, or mark it in plugin.json's config", k, marked)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sameSize(a, b *manifest.Size) bool {
	if a == nil || b == nil {
		return (a == nil || *a == manifest.Size{}) && (b == nil || *b == manifest.Size{})
	}
	return *a == *b
}

func sameSchema(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return schema.Equal(a, b)
}

// defaultTimeout bounds one call to the plugin when the caller sets none.
const defaultTimeout = 30 * time.Second
