package manifest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/puod/puod/sdk/manifest"
)

// base returns a valid manifest as a map, for tests to edit.
func base() map[string]any {
	return map[string]any{
		"id":          "acme.widget",
		"name":        "Widget",
		"description": "A test plugin.",
		"version":     "1.2.3",
		"kinds":       []any{"connector", "exporter"},
		"protocol":    []any{1},
		"host":        ">=0.1.0, <2.0.0",
		"stability":   "beta",
		"executable":  "widget",
		"config": map[string]any{
			"type":       "object",
			"properties": map[string]any{"token": map[string]any{"type": "string", "x-secret": true}},
		},
		"cards": []any{
			map[string]any{"type": "runs", "title": "Runs", "visualization": "table", "default_size": map[string]any{"w": 4, "h": 3}},
		},
		"exports": []any{
			map[string]any{"id": "csv", "title": "CSV", "mime_type": "text/csv", "extension": "csv"},
		},
	}
}

func encode(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want is an expected problem: its exact field and a fragment of its message.
type want struct{ field, message string }

func problemsOf(t *testing.T, err error) manifest.Problems {
	t.Helper()
	var probs manifest.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("error %v (%T) is not manifest.Problems", err, err)
	}
	return probs
}

func assertProblems(t *testing.T, probs manifest.Problems, wants ...want) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, p := range probs {
			found = found || (p.Field == w.field && strings.Contains(p.Message, w.message))
		}
		if !found {
			t.Errorf("no problem at %q containing %q; got:\n%s", w.field, w.message, strings.ReplaceAll(probs.Error(), "; ", "\n"))
		}
	}
}

func TestParse_acceptsValidManifests(t *testing.T) {
	m, err := manifest.Parse(encode(t, base()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if m.ID != "acme.widget" || m.Version != "1.2.3" || m.Host != ">=0.1.0, <2.0.0" || m.Stability != "beta" {
		t.Errorf("decoded manifest = %+v", m)
	}
	if !m.HasKind(manifest.KindConnector) || !m.HasKind(manifest.KindExporter) || m.HasKind(manifest.KindAlertSink) {
		t.Errorf("HasKind wrong for kinds %v", m.Kinds)
	}
	if p, ok := m.Executable.For("plan9-mips"); !ok || p != "widget" {
		t.Errorf("a single executable path must serve every platform, got %q %v", p, ok)
	}
	if len(m.Cards) != 1 || m.Cards[0].DefaultSize == nil || m.Cards[0].DefaultSize.W != 4 || len(m.Exports) != 1 || m.Exports[0].MIMEType != "text/csv" {
		t.Errorf("cards/exports decoded wrong: %+v %+v", m.Cards, m.Exports)
	}

	// The example bundles shipped with the SDK must stay valid.
	examples, _ := filepath.Glob("../examples/*/plugin.json")
	if len(examples) == 0 {
		t.Fatal("no example plugin.json found")
	}
	for _, path := range examples {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.Parse(data); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestParse_reportsEachProblemAtItsPointer(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		wants []want
	}{
		{"missing id", func(m map[string]any) { delete(m, "id") }, []want{{"/id", "is required"}}},
		{"missing executable", func(m map[string]any) { delete(m, "executable") }, []want{{"/executable", "is required"}}},
		{"upper-case id", func(m map[string]any) { m["id"] = "Acme.Widget" }, []want{{"/id", "does not match pattern"}}},
		{"undotted id", func(m map[string]any) { m["id"] = "widget" }, []want{{"/id", "does not match pattern"}}},
		{"two-part version", func(m map[string]any) { m["version"] = "1.2" }, []want{{"/version", "does not match pattern"}}},
		{"word version", func(m map[string]any) { m["version"] = "latest" }, []want{{"/version", "semantic version"}}},
		{"bad host range", func(m map[string]any) { m["host"] = "not a range" }, []want{{"/host", "not a semver range"}}},
		{"empty host", func(m map[string]any) { m["host"] = "" }, []want{{"/host", "minLength"}}},
		{"unknown kind", func(m map[string]any) { m["kinds"] = []any{"connector", "scheduler"} }, []want{{"/kinds/1", "value must be one of"}}},
		{"no kind", func(m map[string]any) { m["kinds"] = []any{} }, []want{{"/kinds", "minItems"}}},
		{"duplicate kind", func(m map[string]any) { m["kinds"] = []any{"connector", "connector"} }, []want{{"/kinds", "are equal"}}},
		{"protocol zero", func(m map[string]any) { m["protocol"] = []any{0} }, []want{{"/protocol/0", "minimum"}}},
		{"unknown stability", func(m map[string]any) { m["stability"] = "gold" }, []want{{"/stability", "value must be one of"}}},
		{"unknown top-level field", func(m map[string]any) { m["extra"] = true }, []want{{"", "extra"}}},
		{
			"duplicate card type",
			func(m map[string]any) {
				m["cards"] = append(m["cards"].([]any), map[string]any{"type": "runs", "title": "Again", "visualization": "stat"})
			},
			[]want{{"/cards/1/type", `card type "runs" is declared twice`}},
		},
		{"cards without connector", func(m map[string]any) { m["kinds"] = []any{"exporter"} }, []want{{"/cards", "only connectors answer card queries"}}},
		{"exporter without exports", func(m map[string]any) { delete(m, "exports") }, []want{{"/exports", "at least one export format"}}},
		{"absolute executable", func(m map[string]any) { m["executable"] = "/usr/bin/widget" }, []want{{"/executable", "must be a path inside the bundle folder"}}},
		{"parent executable", func(m map[string]any) { m["executable"] = "../widget" }, []want{{"/executable", "inside the bundle"}}},
		{"dot-dot executable", func(m map[string]any) { m["executable"] = ".." }, []want{{"/executable", "inside the bundle"}}},
		{"escaping nested executable", func(m map[string]any) { m["executable"] = "bin/../../widget" }, []want{{"/executable", "inside the bundle"}}},
		{
			"escaping platform executable",
			func(m map[string]any) {
				m["executable"] = map[string]any{"linux-amd64": "widget", "darwin-arm64": "../widget"}
			},
			[]want{{"/executable", `"../widget" must be a path inside`}},
		},
		{"bad platform key", func(m map[string]any) { m["executable"] = map[string]any{"Linux_AMD64": "widget"} }, []want{{"/executable", ""}}},
		{"executable of wrong type", func(m map[string]any) { m["executable"] = 5 }, []want{{"/executable", ""}}},
		{"malformed sha256", func(m map[string]any) { m["sha256"] = map[string]any{"widget": "abc"} }, []want{{"/sha256/widget", "does not match pattern"}}},
		{"invalid config schema", func(m map[string]any) { m["config"] = map[string]any{"type": 5} }, []want{{"/config", "invalid JSON Schema"}}},
		{
			"invalid options schema",
			func(m map[string]any) {
				m["cards"].([]any)[0].(map[string]any)["options"] = map[string]any{"minimum": "one"}
			},
			[]want{{"/cards/0/options", "invalid JSON Schema"}},
		},
		{
			"remote options schema",
			func(m map[string]any) {
				m["cards"].([]any)[0].(map[string]any)["options"] = map[string]any{"$ref": "https://example.com/o.json"}
			},
			[]want{{"/cards/0/options", "not allowed"}},
		},
		{"card size out of grid", func(m map[string]any) {
			m["cards"].([]any)[0].(map[string]any)["default_size"] = map[string]any{"w": 13}
		}, []want{{"/cards/0/default_size/w", "maximum"}}},
		{"bad export extension", func(m map[string]any) { m["exports"].([]any)[0].(map[string]any)["extension"] = ".CSV" }, []want{{"/exports/0/extension", "does not match pattern"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.edit(m)
			_, err := manifest.Parse(encode(t, m))
			if err == nil {
				t.Fatal("Parse accepted the manifest")
			}
			assertProblems(t, problemsOf(t, err), c.wants...)
		})
	}
}

func TestParse_reportsAllProblemsAtOnce(t *testing.T) {
	m := base()
	delete(m, "name")
	m["id"] = "Bad Id"
	m["version"] = "one"
	m["host"] = ">= 1 <"
	m["kinds"] = []any{"exporter", "scheduler"}
	delete(m, "exports")
	m["executable"] = "/abs/widget"
	m["cards"] = []any{
		map[string]any{"type": "a", "title": "A", "visualization": "stat", "options": map[string]any{"type": 5}},
		map[string]any{"type": "a", "title": "A again", "visualization": "stat"},
	}
	mf, err := manifest.Parse(encode(t, m))
	if err == nil {
		t.Fatal("Parse accepted the manifest")
	}
	if mf == nil {
		t.Error("Parse must return the decoded manifest with its problems when the JSON decodes")
	}
	probs := problemsOf(t, err)
	assertProblems(t, probs,
		want{"/name", "is required"},
		want{"/id", "pattern"},
		want{"/version", "semantic version"},
		want{"/host", "semver range"},
		want{"/kinds/1", "one of"},
		want{"/exports", "at least one export format"},
		want{"/executable", "inside the bundle"},
		want{"/cards/0/options", "invalid JSON Schema"},
		want{"/cards/1/type", "declared twice"},
		want{"/cards", "only connectors"},
	)
	if !strings.Contains(err.Error(), "/name: is required") || strings.Count(err.Error(), "; ") != len(probs)-1 {
		t.Errorf("Problems.Error() = %q, want every problem joined by '; '", err)
	}
}

func TestParse_rejectsWhatIsNotAManifest(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"empty", ``, "not valid JSON"},
		{"truncated", `{"id": "acme.x"`, "not valid JSON"},
		{"array", `[]`, "object"},
		{"kinds of wrong type", `{"id": "acme.x", "kinds": "connector"}`, "array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := manifest.Parse([]byte(c.data))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if m != nil {
				t.Errorf("Parse returned a manifest %+v for undecodable content", m)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestExecutable_jsonForms(t *testing.T) {
	cases := []struct {
		name, json string
		paths      []string
		forLinux   string
		ok         bool
	}{
		{"single path", `"bin/widget"`, []string{"bin/widget"}, "bin/widget", true},
		{"per platform", `{"linux-amd64": "w-linux", "darwin-arm64": "w-mac"}`, []string{"w-linux", "w-mac"}, "w-linux", true},
		{"other platforms only", `{"darwin-arm64": "w-mac"}`, []string{"w-mac"}, "", false},
		{"empty path", `""`, nil, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e manifest.Executable
			if err := json.Unmarshal([]byte(c.json), &e); err != nil {
				t.Fatal(err)
			}
			if got := e.Paths(); !slices.Equal(got, c.paths) {
				t.Errorf("Paths() = %v, want %v", got, c.paths)
			}
			if got, ok := e.For("linux-amd64"); got != c.forLinux || ok != c.ok {
				t.Errorf("For(linux-amd64) = %q, %v, want %q, %v", got, ok, c.forLinux, c.ok)
			}
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			_ = json.Unmarshal(out, &a)
			_ = json.Unmarshal([]byte(c.json), &b)
			if !jsonEqual(a, b) {
				t.Errorf("marshal round trip: %s, want %s", out, c.json)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// bundle writes a bundle folder: plugin.json from m and the named files
// (content "exe:<name>", mode 0755 unless listed in modes).
func bundle(t *testing.T, m map[string]any, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		path := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("exe:"+f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if m != nil {
		if err := os.WriteFile(filepath.Join(dir, manifest.FileName), encode(t, m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestLoad_checksBundle(t *testing.T) {
	plat := manifest.Platform()
	withSum := func(files map[string]string) func(m map[string]any) {
		return func(m map[string]any) {
			sums := map[string]any{}
			for k, v := range files {
				sums[k] = v
			}
			m["sha256"] = sums
		}
	}
	cases := []struct {
		name            string
		noManifest      bool
		edit            func(m map[string]any)
		files           []string
		setup           func(t *testing.T, dir string)
		requireChecksum bool
		wants           []want // none: Load succeeds
	}{
		{name: "valid with checksum", edit: withSum(map[string]string{"widget": sum("exe:widget")}), files: []string{"widget"}, requireChecksum: true},
		{name: "no checksum, not required", files: []string{"widget"}},
		{name: "missing plugin.json", noManifest: true, files: []string{"widget"}, wants: []want{{"plugin.json", "no plugin.json in"}}},
		{name: "missing executable", wants: []want{{"/executable", "executable widget is missing"}}},
		{
			name: "not executable", files: []string{"widget"},
			setup: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "widget"), 0o644) },
			wants: []want{{"/executable", "widget is not an executable file: chmod +x it"}},
		},
		{
			name: "executable is a folder", edit: func(m map[string]any) { m["executable"] = "bin" }, files: []string{"bin/x"},
			wants: []want{{"/executable", "bin is not an executable file"}},
		},
		{name: "checksum required but missing", files: []string{"widget"}, requireChecksum: true, wants: []want{{"/sha256", "no sha256 for widget: run 'puod plugins checksum"}}},
		{
			name: "checksum mismatch", edit: withSum(map[string]string{"widget": sum("something else")}), files: []string{"widget"},
			wants: []want{{"/sha256", "checksum mismatch for widget"}, {"/sha256", "run 'puod plugins checksum"}, {"/sha256", "do not run it"}},
		},
		{
			name: "checksum mismatch even when not required", edit: withSum(map[string]string{"widget": sum("x")}), files: []string{"widget"},
			wants: []want{{"/sha256", "checksum mismatch"}},
		},
		{
			name: "malformed checksum", edit: withSum(map[string]string{"widget": "abc"}), files: []string{"widget"}, requireChecksum: true,
			wants: []want{{"/sha256/widget", "pattern"}},
		},
		{
			name: "checksum of uppercase hex", edit: withSum(map[string]string{"widget": strings.ToUpper(sum("exe:widget"))}), files: []string{"widget"},
			wants: []want{{"/sha256/widget", "pattern"}},
		},
		{
			name: "per-platform map without this platform",
			edit: func(m map[string]any) { m["executable"] = map[string]any{"plan9-mips": "widget-plan9"} }, files: []string{"widget-plan9"},
			wants: []want{{"/executable", "no executable for " + plat}},
		},
		{
			name: "per-platform map with this platform",
			edit: func(m map[string]any) {
				m["executable"] = map[string]any{"plan9-mips": "widget-plan9", plat: "bin/widget-here"}
				m["sha256"] = map[string]any{"bin/widget-here": sum("exe:bin/widget-here")}
			},
			files: []string{"bin/widget-here"}, requireChecksum: true,
		},
		{
			name: "manifest and executable problems together", edit: func(m map[string]any) { m["version"] = "x" },
			wants: []want{{"/version", "pattern"}, {"/executable", "is missing"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			if c.edit != nil {
				c.edit(m)
			}
			if c.noManifest {
				m = nil
			}
			dir := bundle(t, m, c.files...)
			if c.setup != nil {
				c.setup(t, dir)
			}
			b, err := manifest.Load(dir, c.requireChecksum)
			if len(c.wants) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				rel, _ := b.Manifest.Executable.For(plat)
				if want := filepath.Join(dir, rel); b.Executable != want || !filepath.IsAbs(b.Executable) || b.Dir != dir {
					t.Errorf("bundle = %+v, want executable %s", b, want)
				}
				return
			}
			if err == nil {
				t.Fatal("Load accepted the bundle")
			}
			assertProblems(t, problemsOf(t, err), c.wants...)
			if !c.noManifest && b == nil {
				t.Error("Load must return the bundle with its problems when plugin.json decodes")
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_unreadableManifestIsAProblem(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, manifest.FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.Load(dir, false)
	assertProblems(t, problemsOf(t, err), want{"plugin.json", ""})
}

func TestLoadDeclared_requiresButDoesNotHashChecksum(t *testing.T) {
	cases := []struct {
		name  string
		sum   string // "" : none declared
		wants []want
	}{
		{"right checksum", sum("exe:widget"), nil},
		{"wrong checksum is left to the launcher", sum("tampered"), nil},
		{"no checksum", "", []want{{"/sha256", "no sha256 for widget"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			if c.sum != "" {
				m["sha256"] = map[string]any{"widget": c.sum}
			}
			dir := bundle(t, m, "widget")
			b, err := manifest.LoadDeclared(dir)
			if len(c.wants) > 0 {
				assertProblems(t, problemsOf(t, err), c.wants...)
				return
			}
			if err != nil {
				t.Fatalf("LoadDeclared: %v", err)
			}
			if got, ok := b.ExpectedSHA256(); !ok || got != c.sum {
				t.Errorf("ExpectedSHA256 = %q, %v, want %q", got, ok, c.sum)
			}
		})
	}
}

func TestBundle_expectedSHA256(t *testing.T) {
	m := base()
	m["executable"] = map[string]any{manifest.Platform(): "here", "plan9-mips": "there"}
	m["sha256"] = map[string]any{"here": sum("exe:here")}
	b, err := manifest.Load(bundle(t, m, "here"), true)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := b.ExpectedSHA256(); !ok || got != sum("exe:here") {
		t.Errorf("ExpectedSHA256 = %q, %v", got, ok)
	}
	b.Manifest.SHA256 = nil
	if _, ok := b.ExpectedSHA256(); ok {
		t.Error("ExpectedSHA256 reports a checksum that is not declared")
	}
}

func TestFileSHA256_hashesContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := manifest.FileSHA256(path); err != nil || got != sum("hello") {
		t.Errorf("FileSHA256 = %q, %v, want %q", got, err, sum("hello"))
	}
	if _, err := manifest.FileSHA256(filepath.Join(dir, "missing")); err == nil {
		t.Error("FileSHA256 of a missing file succeeded")
	}
}

func TestWriteChecksums_fillsChecksums(t *testing.T) {
	plat := manifest.Platform()
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		files []string
		want  map[string]string
	}{
		{"single executable", nil, []string{"widget"}, map[string]string{"widget": sum("exe:widget")}},
		{
			"every platform's executable",
			func(m map[string]any) { m["executable"] = map[string]any{plat: "bin/here", "plan9-mips": "bin/there"} },
			[]string{"bin/here", "bin/there"},
			map[string]string{"bin/here": sum("exe:bin/here"), "bin/there": sum("exe:bin/there")},
		},
		{
			"stale checksum replaced, unknown path dropped",
			func(m map[string]any) { m["sha256"] = map[string]any{"widget": sum("old build"), "gone": sum("gone")} },
			[]string{"widget"},
			map[string]string{"widget": sum("exe:widget")},
		},
		{
			"malformed checksum replaced",
			func(m map[string]any) { m["sha256"] = map[string]any{"widget": "not-a-sum"} },
			[]string{"widget"},
			map[string]string{"widget": sum("exe:widget")},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			if c.edit != nil {
				c.edit(m)
			}
			dir := bundle(t, m, c.files...)
			got, err := manifest.WriteChecksums(dir)
			if err != nil {
				t.Fatalf("WriteChecksums: %v", err)
			}
			if !mapsEqual(got.SHA256, c.want) {
				t.Errorf("returned sha256 = %v, want %v", got.SHA256, c.want)
			}
			data, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(`">=0.1.0, <2.0.0"`)) {
				t.Errorf("plugin.json lost the readable host range:\n%s", data)
			}
			if !bytes.Contains(data, []byte("\n  \"id\"")) {
				t.Errorf("plugin.json is not indented:\n%s", data)
			}
			written, err := manifest.Parse(data)
			if err != nil {
				t.Fatalf("rewritten plugin.json does not parse: %v\n%s", err, data)
			}
			if !mapsEqual(written.SHA256, c.want) {
				t.Errorf("written sha256 = %v, want %v", written.SHA256, c.want)
			}
			// Everything else is kept.
			if written.ID != "acme.widget" || written.Description != "A test plugin." || len(written.Cards) != 1 || len(written.Exports) != 1 || len(written.Config) == 0 {
				t.Errorf("rewritten manifest lost content: %+v", written)
			}
			if _, err := manifest.Load(dir, true); err != nil {
				t.Errorf("Load after WriteChecksums: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, manifest.FileName+".tmp")); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
		})
	}
}

func TestWriteChecksums_refusesToFixWhatIsBroken(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		files []string
		want  string
	}{
		{"invalid id", func(m map[string]any) { m["id"] = "Not Valid" }, []string{"widget"}, "fix plugin.json first"},
		{"bad version and bad sum", func(m map[string]any) { m["version"] = "x"; m["sha256"] = map[string]any{"widget": "bad"} }, []string{"widget"}, "fix plugin.json first"},
		{"missing executable", nil, nil, "checksum widget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			if c.edit != nil {
				c.edit(m)
			}
			dir := bundle(t, m, c.files...)
			before, _ := os.ReadFile(filepath.Join(dir, manifest.FileName))
			_, err := manifest.WriteChecksums(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("WriteChecksums error = %v, want one containing %q", err, c.want)
			}
			after, _ := os.ReadFile(filepath.Join(dir, manifest.FileName))
			if !bytes.Equal(before, after) {
				t.Errorf("plugin.json was rewritten although WriteChecksums failed:\n%s", after)
			}
		})
	}
	if _, err := manifest.WriteChecksums(t.TempDir()); err == nil {
		t.Error("WriteChecksums of a folder without plugin.json succeeded")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestProblems_format(t *testing.T) {
	ps := manifest.Problems{{Field: "/id", Message: "is required"}, {Message: "plugin.json is not valid JSON"}}
	if got, want := ps.Error(), "/id: is required; plugin.json is not valid JSON"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSchemaJSON_isTheCompiledSchema(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(manifest.SchemaJSON, &doc); err != nil {
		t.Fatalf("plugin.schema.json is not JSON: %v", err)
	}
	if doc["$id"] != "https://puod.dev/schemas/plugin.schema.json" {
		t.Errorf("$id = %v", doc["$id"])
	}
}
