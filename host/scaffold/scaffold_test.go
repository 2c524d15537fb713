package scaffold_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/puod/puod/host/scaffold"
	"github.com/puod/puod/sdk/manifest"
)

// repoRoot is the PUOD checkout the skeletons build against.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// TestWrite_skeletonsBuildAndPassTheirSuite scaffolds each kind outside the
// repository, against this checkout, and runs what its author would: go
// vet, go test (the kind's conformance suite), go build, then checksums
// and validates the bundle as `puod plugins checksum|validate` do.
func TestWrite_skeletonsBuildAndPassTheirSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three Go modules")
	}
	root := repoRoot(t)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range scaffold.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			id := "acme.test-" + kind
			dir := filepath.Join(t.TempDir(), id)
			if err := scaffold.Write(dir, id, kind, scaffold.Options{Replace: root}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
				t.Fatal(err)
			}
			bundle := filepath.Join(dir, "dist", id)
			exe := strings.ReplaceAll(id, ".", "-")
			goCmd(t, dir, "vet", "./...")
			goCmd(t, dir, "test", "-count=1", "./...")
			goCmd(t, dir, "build", "-o", filepath.Join(bundle, exe), ".")

			data, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bundle, manifest.FileName), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := manifest.WriteChecksums(bundle); err != nil {
				t.Fatalf("checksum the bundle: %v", err)
			}
			b, err := manifest.Load(bundle, true)
			if err != nil {
				t.Fatalf("the bundle does not validate: %v", err)
			}
			if b.Manifest.ID != id || !b.Manifest.HasKind(kind) {
				t.Errorf("manifest is %+v", b.Manifest)
			}
		})
	}
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s in the skeleton: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

func TestWrite_files(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugin")
	if err := scaffold.Write(dir, "acme.foo-bar", "connector", scaffold.Options{Replace: "/src/puod"}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), ".gitignore Makefile README.md go.mod main.go main_test.go plugin.json"; got != want {
		t.Errorf("files: %s, want %s", got, want)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	for _, want := range []string{"module acme.foo-bar\n", "go " + scaffold.GoVersion + "\n", "require github.com/puod/puod v", "replace github.com/puod/puod => /src/puod\n"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	m, err := manifest.Load(dir, false)
	var probs manifest.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			if p.Field != "/executable" { // not built yet
				t.Errorf("plugin.json: %v", p)
			}
		}
	}
	if m == nil || m.Manifest.Name != "Foo Bar" || m.Manifest.Executable.Path != "acme-foo-bar" {
		t.Errorf("manifest: %+v", m)
	}
	mk, _ := os.ReadFile(filepath.Join(dir, "Makefile"))
	if !strings.Contains(string(mk), "\tgo build -trimpath -o $(BUNDLE)/acme-foo-bar .\n") || !strings.Contains(string(mk), "plugins checksum $(BUNDLE)") {
		t.Errorf("Makefile:\n%s", mk)
	}
}

// TestWrite_goVersion keeps a skeleton's go directive equal to PUOD's.
func TestWrite_goVersion(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil || string(m[1]) != scaffold.GoVersion {
		t.Errorf("scaffold.GoVersion is %s, PUOD's go.mod says %q: update GoVersion", scaffold.GoVersion, m)
	}
}

func TestWrite_refuses(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, id, kind, want string
	}{
		{"upper-case id", t.TempDir(), "Acme.Foo", "connector", `plugin id "Acme.Foo" is invalid`},
		{"undotted id", t.TempDir(), "foo", "connector", `plugin id "foo" is invalid`},
		{"underscore", t.TempDir(), "acme.foo_bar", "connector", "is invalid: use lower-case words"},
		{"unknown kind", t.TempDir(), "acme.foo", "sink", `plugin kind "sink" is unknown: use one of connector, alertsink, exporter`},
		{"non-empty dir", full, "acme.foo", "connector", "never overwrites your files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scaffold.Write(tc.dir, tc.id, tc.kind, scaffold.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if tc.name == "non-empty dir" && !errors.Is(err, scaffold.ErrNotEmpty) {
				t.Errorf("want ErrNotEmpty, got %v", err)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(full, "main.go")); string(data) != "package main\n" {
		t.Errorf("Write changed a file in a non-empty folder")
	}
}
