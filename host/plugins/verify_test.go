package plugins

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

func TestCheckDescription_refusesDisagreements(t *testing.T) {
	card := manifest.Card{Type: "runs", Title: "Runs", Visualization: "bar", Options: json.RawMessage(`{"type":"object"}`)}
	base := func() (*manifest.Manifest, *sdk.Description) {
		mf := &manifest.Manifest{
			ID: "acme.x", Name: "X", Version: "1.2.3", Kinds: []string{"connector", "exporter"}, Protocol: []int{1},
			Config:  json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`),
			Cards:   []manifest.Card{card},
			Exports: []manifest.ExportFormat{{ID: "csv", MIMEType: "text/csv", Extension: "csv"}},
		}
		d := &sdk.Description{
			ID: "acme.x", Name: "X", Version: "1.2.3", Kinds: []string{"exporter", "connector"}, ProtocolVersion: 1,
			// Same schema, other key order and spacing.
			ConfigSchema: json.RawMessage(`{ "properties": {"a": {"type": "string"}}, "type": "object" }`),
			Cards:        []manifest.Card{{Type: "runs", Title: "Runs", Visualization: "bar", Options: json.RawMessage(`{ "type" : "object" }`), DefaultSize: &manifest.Size{}}},
			Exports:      []manifest.ExportFormat{{ID: "csv", MIMEType: "text/csv", Extension: "csv"}},
		}
		return mf, d
	}
	tests := []struct {
		name string
		edit func(*manifest.Manifest, *sdk.Description)
		want []string // empty: accepted
	}{
		{"agree", func(*manifest.Manifest, *sdk.Description) {}, nil},
		{"id", func(_ *manifest.Manifest, d *sdk.Description) { d.ID = "acme.y" }, []string{`id: plugin.json says "acme.x", the executable says "acme.y"`}},
		{"version", func(_ *manifest.Manifest, d *sdk.Description) { d.Version = "2.0.0" }, []string{`version: plugin.json says "1.2.3", the executable says "2.0.0"`}},
		{"kinds", func(_ *manifest.Manifest, d *sdk.Description) { d.Kinds = []string{"connector"} }, []string{"kinds: plugin.json says [connector exporter], the executable says [connector]"}},
		{"protocol", func(_ *manifest.Manifest, d *sdk.Description) { d.ProtocolVersion = 2 }, []string{"protocol: plugin.json says [1], the executable says 2"}},
		{"config", func(_ *manifest.Manifest, d *sdk.Description) { d.ConfigSchema = json.RawMessage(`{"type":"object"}`) }, []string{"config:"}},
		{"no config in manifest", func(m *manifest.Manifest, d *sdk.Description) {
			m.Config = nil
			d.ConfigSchema = json.RawMessage(`{"type":"object"}`)
		}, nil},
		{"card visualization", func(_ *manifest.Manifest, d *sdk.Description) { d.Cards[0].Visualization = "table" }, []string{`cards: "runs" differs in visualization "bar" vs "table"`}},
		{"card options", func(_ *manifest.Manifest, d *sdk.Description) { d.Cards[0].Options = nil }, []string{`"runs" differs in options`}},
		{"extra card", func(_ *manifest.Manifest, d *sdk.Description) {
			d.Cards = append(d.Cards, manifest.Card{Type: "new", Title: "New", Visualization: "stat"})
		}, []string{`"new" only in the executable`}},
		{"missing card", func(_ *manifest.Manifest, d *sdk.Description) { d.Cards = nil }, []string{`"runs" only in plugin.json`}},
		{"exports", func(_ *manifest.Manifest, d *sdk.Description) { d.Exports[0].Extension = "txt" }, []string{"exports: plugin.json says"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf, d := base()
			tt.edit(mf, d)
			err := checkDescription(&manifest.Bundle{Dir: "/plugins/x", Manifest: mf}, d, 1)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ref *refusal
			if !errors.As(err, &ref) {
				t.Fatalf("want a refusal, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "puod plugins checksum /plugins/x") {
				t.Errorf("no remedy in %q", err)
			}
		})
	}
}

func TestCompatible_protocolAndHostRange(t *testing.T) {
	m := &Manager{protocols: []int{2, 3}}
	tests := []struct {
		name     string
		host     string
		protocol []int
		hostVer  string
		want     string
	}{
		{"ok", ">=0.1.0", []int{3}, "0.4.0", ""},
		{"newer plugin", ">=0.1.0", []int{7}, "0.4.0", "plugin speaks protocol 7, host speaks 2-3: upgrade the host or rebuild the plugin against an SDK speaking 2-3"},
		{"older plugin", ">=0.1.0", []int{1}, "0.4.0", "plugin speaks protocol 1, host speaks 2-3: upgrade the plugin to a version built against an SDK speaking 2-3"},
		{"host too old", ">=1.0.0, <2.0.0", []int{2}, "0.4.0", `needs a host matching ">=1.0.0, <2.0.0", this host is 0.4.0`},
		{"pre-release host counts as its release", ">=0.4.0", []int{2}, "0.4.0-rc.1", ""},
		{"dev host skips the range", ">=9.0.0", []int{2}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.hostVersion = nil
			if tt.hostVer != "" {
				mm, err := New(Config{Dir: "x", HostVersion: tt.hostVer}, nil)
				if err != nil {
					t.Fatal(err)
				}
				m.hostVersion = mm.hostVersion
			}
			b := &manifest.Bundle{Manifest: &manifest.Manifest{ID: "acme.x", Version: "1.0.0", Protocol: tt.protocol, Host: tt.host}}
			err := m.compatible(b)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFormatMajors(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "2,3": "2-3", "1,3": "1, 3", "": "none"} {
		var vs []int
		for _, f := range strings.Split(in, ",") {
			if f != "" {
				vs = append(vs, int(f[0]-'0'))
			}
		}
		if got := formatMajors(vs); got != want {
			t.Errorf("formatMajors(%v) = %q, want %q", vs, got, want)
		}
	}
}
