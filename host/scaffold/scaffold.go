// Package scaffold writes the skeleton of a new PUOD plugin: a Go module of
// its own, outside PUOD's repository, that builds, passes the conformance
// suite of its kind and bundles with one make command. `puod plugins init`
// uses it.
package scaffold

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// Kinds are the plugin kinds Write can scaffold.
var Kinds = []string{manifest.KindConnector, manifest.KindAlertSink, manifest.KindExporter}

// ErrNotEmpty is returned when the target folder already holds files.
var ErrNotEmpty = errors.New("folder is not empty")

// GoVersion is the go directive of a skeleton's go.mod: the same as PUOD's
// own module, which the skeleton requires.
const GoVersion = "1.26.8"

// Options tune a skeleton. The zero value is a skeleton that builds against
// a released PUOD.
type Options struct {
	// Name is the display name (default: from the id's last part,
	// "acme.foo-bar" gives "Foo Bar").
	Name string
	// Module is the Go module path (default: the id).
	Module string
	// Replace, when set, adds `replace github.com/puod/puod => Replace` to
	// go.mod: build against a local PUOD checkout (plugin development
	// against an unreleased SDK, and PUOD's own tests). A relative path is
	// taken from the current directory.
	Replace string
	// SDKVersion is the version of github.com/puod/puod to require
	// (default: this SDK's, "v" + sdk.Version).
	SDKVersion string
}

//go:embed templates
var templates embed.FS

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$`)

// data is what the templates see.
type data struct {
	ID, Name, Module, Exe, Kind string
	GoVersion, SDKVersion       string
	Replace                     string
}

// Write writes a plugin skeleton of kind (connector, alertsink or
// exporter) with the given id into dir, which must be empty or absent:
// go.mod, main.go, main_test.go (the kind's conformance suite),
// plugin.json, Makefile (build a bundle, checksum it), README.md and
// .gitignore.
func Write(dir, id, kind string, opts Options) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("plugin id %q is invalid: use lower-case words (letters, digits, dashes) separated by dots, your organisation first, e.g. \"acme.airflow\"", id)
	}
	if !isKind(kind) {
		return fmt.Errorf("plugin kind %q is unknown: use one of %s", kind, strings.Join(Kinds, ", "))
	}
	if err := checkEmpty(dir); err != nil {
		return err
	}
	d := data{ID: id, Name: opts.Name, Module: opts.Module, Exe: strings.ReplaceAll(id, ".", "-"), Kind: kind,
		GoVersion: GoVersion, SDKVersion: opts.SDKVersion}
	if d.Name == "" {
		d.Name = displayName(id)
	}
	if d.Module == "" {
		d.Module = id
	}
	if d.SDKVersion == "" {
		d.SDKVersion = "v" + sdk.Version
	}
	if opts.Replace != "" {
		abs, err := filepath.Abs(opts.Replace)
		if err != nil {
			return fmt.Errorf("replace path: %w", err)
		}
		d.Replace = abs
		if strings.ContainsAny(abs, " \t\"") {
			d.Replace = strconv.Quote(abs)
		}
	}

	files, err := render(d)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, name := range sortedNames(files) {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// render produces every file in memory, so a template or manifest problem
// leaves nothing half-written.
func render(d data) (map[string][]byte, error) {
	files := map[string][]byte{}
	// [[ ]] delimiters: Go composite literals are full of {{ }}.
	tmpl, err := template.New("").Delims("[[", "]]").ParseFS(templates, "templates/*.tmpl", "templates/"+d.Kind+"/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("scaffold templates: %w", err)
	}
	for _, t := range tmpl.Templates() {
		if t.Name() == "" {
			continue
		}
		name := strings.TrimSuffix(t.Name(), ".tmpl")
		if name == "gitignore" {
			name = ".gitignore" // embed leaves out dot files
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		out := buf.Bytes()
		if strings.HasSuffix(name, ".go") {
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("render %s: %w", name, err)
			}
		}
		files[name] = out
	}
	m, err := skeletonManifest(d)
	if err != nil {
		return nil, err
	}
	files[manifest.FileName] = m
	return files, nil
}

// skeletonManifest is plugin.json, checked against the manifest schema.
func skeletonManifest(d data) ([]byte, error) {
	m := manifest.Manifest{
		ID: d.ID, Name: d.Name, Description: "TODO: what this plugin does, in one sentence.",
		Version: "0.1.0", Kinds: []string{d.Kind}, Protocol: []int{sdk.ProtocolVersion},
		Host: ">=" + sdk.Version, Stability: "alpha", Executable: manifest.Executable{Path: d.Exe},
	}
	if d.Kind == manifest.KindExporter {
		m.Exports = []manifest.ExportFormat{{ID: "txt", Title: "Plain text", MIMEType: "text/plain", Extension: "txt"}}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep ">=" readable in "host"
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if _, err := manifest.Parse(out.Bytes()); err != nil {
		return nil, fmt.Errorf("scaffold wrote an invalid plugin.json (a bug in scaffold): %w", err)
	}
	return out.Bytes(), nil
}

func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s: %w: scaffold writes only into a new or empty folder, so it never overwrites your files; choose another folder", dir, ErrNotEmpty)
	}
	return nil
}

func isKind(kind string) bool {
	return slices.Contains(Kinds, kind)
}

// displayName turns "acme.foo-bar" into "Foo Bar".
func displayName(id string) string {
	last := id[strings.LastIndex(id, ".")+1:]
	words := strings.Split(last, "-")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
