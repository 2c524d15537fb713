package plugins

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
	"github.com/puod/puod/sdk/schema"
)

// checkDescription refuses a plugin whose Describe answer disagrees with
// the plugin.json the host verified: the host decides from the manifest
// (card catalogue, kinds) before it ever runs the binary, so the two must
// be the same plugin.
func checkDescription(b *manifest.Bundle, d *sdk.Description, negotiated int) error {
	mf := b.Manifest
	var diffs []string
	differ := func(field, inManifest, inPlugin string) {
		diffs = append(diffs, fmt.Sprintf("%s: plugin.json says %s, the executable says %s", field, inManifest, inPlugin))
	}
	if mf.ID != d.ID {
		differ("id", quote(mf.ID), quote(d.ID))
	}
	if mf.Version != d.Version {
		differ("version", quote(mf.Version), quote(d.Version))
	}
	if a, b := sortedCopy(mf.Kinds), sortedCopy(d.Kinds); !slices.Equal(a, b) {
		differ("kinds", fmt.Sprint(a), fmt.Sprint(b))
	}
	if !slices.Contains(mf.Protocol, d.ProtocolVersion) {
		differ("protocol", fmt.Sprint(mf.Protocol), fmt.Sprint(d.ProtocolVersion))
	}
	if negotiated != 0 && d.ProtocolVersion != negotiated {
		diffs = append(diffs, fmt.Sprintf("protocol: negotiated %d, but Describe says %d", negotiated, d.ProtocolVersion))
	}
	if len(mf.Config) > 0 && !schema.Equal(mf.Config, d.ConfigSchema) {
		differ("config", "one schema", "another")
	}
	if diff := diffCards(mf.Cards, d.Cards); diff != "" {
		diffs = append(diffs, "cards: "+diff)
	}
	if diff := diffExports(mf.Exports, d.Exports); diff != "" {
		diffs = append(diffs, "exports: "+diff)
	}
	if len(diffs) == 0 {
		return nil
	}
	return refused("the executable does not match its plugin.json (%s): the bundle mixes two builds; rebuild the plugin, copy its plugin.json and executable together and run 'puod plugins checksum %s'",
		strings.Join(diffs, "; "), b.Dir)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// diffCards compares card types by type; options schemas semantically, a
// missing default size the same as a zero one.
func diffCards(inManifest, inPlugin []manifest.Card) string {
	byType := map[string]manifest.Card{}
	for _, c := range inPlugin {
		byType[c.Type] = c
	}
	var diffs []string
	for _, want := range inManifest {
		got, ok := byType[want.Type]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%q only in plugin.json", want.Type))
			continue
		}
		delete(byType, want.Type)
		var fields []string
		if want.Title != got.Title {
			fields = append(fields, "title")
		}
		if want.Description != got.Description {
			fields = append(fields, "description")
		}
		if want.Visualization != got.Visualization {
			fields = append(fields, fmt.Sprintf("visualization %q vs %q", want.Visualization, got.Visualization))
		}
		if !sameJSON(want.Options, got.Options) {
			fields = append(fields, "options")
		}
		if size(want.DefaultSize) != size(got.DefaultSize) {
			fields = append(fields, "default_size")
		}
		if len(fields) > 0 {
			diffs = append(diffs, fmt.Sprintf("%q differs in %s", want.Type, strings.Join(fields, ", ")))
		}
	}
	var extra []string
	for t := range byType {
		extra = append(extra, t)
	}
	sort.Strings(extra)
	for _, t := range extra {
		diffs = append(diffs, fmt.Sprintf("%q only in the executable", t))
	}
	return strings.Join(diffs, ", ")
}

func diffExports(inManifest, inPlugin []manifest.ExportFormat) string {
	key := func(es []manifest.ExportFormat) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = fmt.Sprintf("%s (%s, .%s, %q)", e.ID, e.MIMEType, e.Extension, e.Title)
		}
		sort.Strings(out)
		return out
	}
	a, b := key(inManifest), key(inPlugin)
	if slices.Equal(a, b) {
		return ""
	}
	return fmt.Sprintf("plugin.json says %v, the executable says %v", a, b)
}

func size(s *manifest.Size) manifest.Size {
	if s == nil {
		return manifest.Size{}
	}
	return *s
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return schema.Equal(a, b)
}
