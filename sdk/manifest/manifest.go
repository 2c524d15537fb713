// Package manifest reads, validates and checksums plugin bundles: a folder
// holding plugin.json and the plugin's executable(s). The host reads the
// manifest without starting the process; `puod plugins validate` and
// `puod plugins checksum` use the same code.
package manifest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"

	"github.com/puod/puod/sdk/schema"
)

// FileName is the manifest's file name inside a bundle.
const FileName = "plugin.json"

// SchemaJSON is the JSON Schema of plugin.json.
//
//go:embed plugin.schema.json
var SchemaJSON []byte

// manifestSchema is compiled on first use: a plugin process only decodes
// its embedded manifest and never pays for the compilation.
var manifestSchema = sync.OnceValue(func() *schema.Schema { return schema.MustCompile(SchemaJSON) })

// Kinds of plugins.
const (
	KindConnector = "connector"
	KindAlertSink = "alertsink"
	KindExporter  = "exporter"
)

// Manifest is plugin.json.
type Manifest struct {
	Schema      string            `json:"$schema,omitempty"`
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Version     string            `json:"version"`
	Kinds       []string          `json:"kinds"`
	Protocol    []int             `json:"protocol"`
	Host        string            `json:"host"`
	Stability   string            `json:"stability,omitempty"`
	Executable  Executable        `json:"executable"`
	SHA256      map[string]string `json:"sha256,omitempty"`
	Config      json.RawMessage   `json:"config,omitempty"`
	Cards       []Card            `json:"cards,omitempty"`
	Exports     []ExportFormat    `json:"exports,omitempty"`
}

// Card is a card type a plugin contributes.
type Card struct {
	Type          string          `json:"type"`
	Title         string          `json:"title"`
	Description   string          `json:"description,omitempty"`
	Visualization string          `json:"visualization"`
	Options       json.RawMessage `json:"options,omitempty"`
	DefaultSize   *Size           `json:"default_size,omitempty"`
}

// Size is a card size on the 12-column grid.
type Size struct {
	W int `json:"w,omitempty"`
	H int `json:"h,omitempty"`
}

// ExportFormat is a file format an exporter writes.
type ExportFormat struct {
	ID        string `json:"id"`
	Title     string `json:"title,omitempty"`
	MIMEType  string `json:"mime_type"`
	Extension string `json:"extension"`
}

// Executable is either one path or one path per GOOS-GOARCH.
type Executable struct {
	Path     string
	Platform map[string]string
}

func (e Executable) MarshalJSON() ([]byte, error) {
	if e.Platform != nil {
		return json.Marshal(e.Platform)
	}
	return json.Marshal(e.Path)
}

func (e *Executable) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Path)
	}
	return json.Unmarshal(b, &e.Platform)
}

// For returns the executable path for a platform ("linux-amd64").
func (e Executable) For(platform string) (string, bool) {
	if e.Platform == nil {
		return e.Path, e.Path != ""
	}
	p, ok := e.Platform[platform]
	return p, ok
}

// Paths lists every executable path the manifest names.
func (e Executable) Paths() []string {
	if e.Platform == nil {
		if e.Path == "" {
			return nil
		}
		return []string{e.Path}
	}
	var out []string
	for _, p := range e.Platform {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Platform is this process's GOOS-GOARCH.
func Platform() string { return runtime.GOOS + "-" + runtime.GOARCH }

// HasKind reports whether the manifest declares kind.
func (m *Manifest) HasKind(kind string) bool {
	for _, k := range m.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Problem is one thing wrong with a bundle, with the remedy when known.
type Problem struct {
	// Field is the JSON pointer in plugin.json, or a file name.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Problems is every problem found in one bundle.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Parse decodes and validates plugin.json content. It returns every problem
// it finds at once, so an author fixes them in one round.
func Parse(data []byte) (*Manifest, error) {
	var probs Problems
	for _, p := range manifestSchema().ValidateJSON(data) {
		probs = append(probs, Problem{Field: p.Pointer, Message: p.Message})
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		if len(probs) == 0 {
			probs = append(probs, Problem{Message: "plugin.json is not valid JSON: " + err.Error()})
		}
		return nil, probs
	}
	probs = append(probs, m.check()...)
	if len(probs) > 0 {
		return &m, probs
	}
	return &m, nil
}

// Decode reads plugin.json content without validating it against the
// manifest schema: for a plugin process decoding its own embedded manifest,
// which the host validated before starting it. It still refuses a document
// that is not a manifest at all.
func Decode(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, Problems{{Message: "plugin.json is not valid JSON: " + err.Error()}}
	}
	var probs Problems
	if m.ID == "" {
		probs = append(probs, Problem{Field: "/id", Message: "is required"})
	}
	if m.Version == "" {
		probs = append(probs, Problem{Field: "/version", Message: "is required"})
	}
	if len(m.Kinds) == 0 {
		probs = append(probs, Problem{Field: "/kinds", Message: "is required"})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return &m, nil
}

// check covers what the JSON Schema cannot express.
func (m *Manifest) check() Problems {
	var probs Problems
	if m.Version != "" {
		if _, err := semver.NewVersion(m.Version); err != nil {
			probs = append(probs, Problem{Field: "/version", Message: fmt.Sprintf("%q is not a semantic version (e.g. 1.2.3)", m.Version)})
		}
	}
	if m.Host != "" {
		if _, err := semver.NewConstraint(m.Host); err != nil {
			probs = append(probs, Problem{Field: "/host", Message: fmt.Sprintf("%q is not a semver range (e.g. \">=0.1.0, <2.0.0\"): %v", m.Host, err)})
		}
	}
	if len(m.Config) > 0 {
		if _, err := schema.Compile(m.Config); err != nil {
			probs = append(probs, Problem{Field: "/config", Message: err.Error()})
		}
	}
	seen := map[string]bool{}
	for i, c := range m.Cards {
		if seen[c.Type] {
			probs = append(probs, Problem{Field: fmt.Sprintf("/cards/%d/type", i), Message: fmt.Sprintf("card type %q is declared twice", c.Type)})
		}
		seen[c.Type] = true
		if len(c.Options) > 0 {
			if _, err := schema.Compile(c.Options); err != nil {
				probs = append(probs, Problem{Field: fmt.Sprintf("/cards/%d/options", i), Message: err.Error()})
			}
		}
	}
	if len(m.Cards) > 0 && !m.HasKind(KindConnector) {
		probs = append(probs, Problem{Field: "/cards", Message: "only connectors answer card queries: add \"connector\" to kinds or remove the cards"})
	}
	if m.HasKind(KindExporter) && len(m.Exports) == 0 {
		probs = append(probs, Problem{Field: "/exports", Message: "an exporter must declare at least one export format"})
	}
	for _, p := range m.Executable.Paths() {
		if filepath.IsAbs(p) || strings.Contains(filepath.ToSlash(p), "../") || p == ".." {
			probs = append(probs, Problem{Field: "/executable", Message: fmt.Sprintf("%q must be a path inside the bundle folder", p)})
		}
	}
	return probs
}

// Bundle is a plugin folder whose manifest parsed.
type Bundle struct {
	Dir      string
	Manifest *Manifest
	// Executable is the absolute path of this platform's executable.
	Executable string
}

// Load reads a bundle folder and checks it for this platform: manifest,
// executable present and executable, checksum when declared. requireChecksum
// makes a missing sha256 a problem (the host requires one; authoring tools
// don't).
func Load(dir string, requireChecksum bool) (*Bundle, error) {
	return load(dir, requireChecksum, true)
}

// LoadDeclared is Load for a launcher that verifies the checksum itself
// when it starts the executable (go-plugin's SecureConfig): the sha256 must
// be declared, but the file is not hashed here, so a large executable is
// read once per start instead of twice.
func LoadDeclared(dir string) (*Bundle, error) {
	return load(dir, true, false)
}

// ExpectedSHA256 returns the declared checksum of the bundle's executable.
func (b *Bundle) ExpectedSHA256() (string, bool) {
	rel, ok := b.Manifest.Executable.For(Platform())
	if !ok {
		return "", false
	}
	sum, ok := b.Manifest.SHA256[rel]
	return sum, ok
}

func load(dir string, requireChecksum, verify bool) (*Bundle, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Problems{{Field: FileName, Message: "no plugin.json in " + dir + ": a bundle is a folder holding plugin.json and the executable"}}
		}
		return nil, Problems{{Field: FileName, Message: err.Error()}}
	}
	m, err := Parse(data)
	var probs Problems
	if err != nil {
		if !errors.As(err, &probs) {
			return nil, err
		}
		if m == nil {
			return nil, probs
		}
	}
	b := &Bundle{Dir: dir, Manifest: m}
	rel, ok := m.Executable.For(Platform())
	if !ok {
		probs = append(probs, Problem{Field: "/executable", Message: fmt.Sprintf("no executable for %s: build the plugin for this platform and add it to executable", Platform())})
		return b, probs
	}
	b.Executable, _ = filepath.Abs(filepath.Join(dir, rel))
	st, err := os.Stat(b.Executable)
	switch {
	case err != nil:
		probs = append(probs, Problem{Field: "/executable", Message: fmt.Sprintf("executable %s is missing: build the plugin into the bundle folder", rel)})
	case st.IsDir() || st.Mode()&0o111 == 0:
		probs = append(probs, Problem{Field: "/executable", Message: fmt.Sprintf("%s is not an executable file: chmod +x it", rel)})
	default:
		want, declared := m.SHA256[rel]
		switch {
		case !declared && requireChecksum:
			probs = append(probs, Problem{Field: "/sha256", Message: fmt.Sprintf("no sha256 for %s: run 'puod plugins checksum %s'", rel, dir)})
		case declared && verify:
			got, err := FileSHA256(b.Executable)
			if err != nil {
				probs = append(probs, Problem{Field: "/sha256", Message: err.Error()})
			} else if got != want {
				probs = append(probs, Problem{Field: "/sha256", Message: fmt.Sprintf("checksum mismatch for %s: manifest says %s…, file is %s…; if you rebuilt the plugin run 'puod plugins checksum %s', otherwise the file was altered: do not run it", rel, abbrev(want), abbrev(got), dir)})
			}
		}
	}
	if len(probs) > 0 {
		return b, probs
	}
	return b, nil
}

// abbrev shortens a hex checksum for messages. A malformed declared sum
// may be shorter than the abbreviation (the schema reports it).
func abbrev(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteChecksums fills in the sha256 of every executable the manifest of
// dir names, and rewrites plugin.json (indented). It returns the manifest.
func WriteChecksums(dir string) (*Manifest, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Keep unknown content out: decode into the typed manifest only after
	// it validates, so checksum never "fixes" a broken manifest silently.
	m, err := Parse(data)
	if err != nil {
		var probs Problems
		if !errors.As(err, &probs) || m == nil {
			return nil, err
		}
		for _, p := range probs {
			if p.Field != "/sha256" && !strings.HasPrefix(p.Field, "/sha256/") {
				return nil, fmt.Errorf("fix plugin.json first: %w", probs)
			}
		}
	}
	sums := map[string]string{}
	for _, rel := range m.Executable.Paths() {
		sum, err := FileSHA256(filepath.Join(dir, rel))
		if err != nil {
			return nil, fmt.Errorf("checksum %s: %w", rel, err)
		}
		sums[rel] = sum
	}
	m.SHA256 = sums
	// An encoder without HTML escaping keeps ">=" in host ranges readable.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return m, os.Rename(tmp, path)
}
