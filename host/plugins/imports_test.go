package plugins

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/puod/puod"

// TestImports_pluginsNeverImportHost keeps first-party plugins and the SDK
// examples honest examples for third parties: nothing under plugins/ or
// sdk/examples/ may import the host, directly or through another package
// of this module.
func TestImports_pluginsNeverImportHost(t *testing.T) {
	violations, roots := hostImports(t, repoRoot(t))
	found := false
	for _, r := range roots {
		found = found || strings.HasSuffix(filepath.ToSlash(r), "sdk/examples/hello")
	}
	if !found {
		t.Fatalf("sdk/examples/hello not among the packages checked (%v): the test looks in the wrong place", roots)
	}
	for _, v := range violations {
		t.Errorf("%s: plugins and SDK examples may use only the SDK (and proto), never the host", v)
	}
}

// TestImports_checkCatchesViolations runs the check on a made-up tree, so
// a check that silently finds nothing cannot pass for a clean repository.
func TestImports_checkCatchesViolations(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sdk/examples/hello/main.go", "package main\nimport _ \""+modulePath+"/sdk\"\n")
	write("sdk/sdk.go", "package sdk\n")
	write("plugins/direct/main.go", "package main\nimport _ \""+modulePath+"/host/store\"\n")
	write("plugins/indirect/main.go", "package main\nimport _ \""+modulePath+"/lib\"\n")
	write("plugins/testonly/main_test.go", "package main\nimport _ \""+modulePath+"/host/api\"\n")
	write("plugins/direct/testdata/x/main.go", "package main\nimport _ \""+modulePath+"/host/ignored\"\n")
	write("lib/lib.go", "package lib\nimport _ \""+modulePath+"/host/config\"\n")
	violations, _ := hostImports(t, root)
	got := strings.Join(violations, "\n")
	for _, want := range []string{
		modulePath + "/plugins/direct imports " + modulePath + "/host/store",
		modulePath + "/plugins/indirect → " + modulePath + "/lib imports " + modulePath + "/host/config",
		modulePath + "/plugins/testonly imports " + modulePath + "/host/api",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violation %q not reported; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ignored") || strings.Contains(got, "examples") {
		t.Errorf("false positive:\n%s", got)
	}
}

// hostImports walks the module-internal import graph from every package
// under plugins/ and sdk/examples/ of root (their tests included) and
// returns each path that reaches the host, plus the packages it started
// from.
func hostImports(t *testing.T, root string) (violations, roots []string) {
	t.Helper()
	host := modulePath + "/host"
	imports := func(dir string, withTests bool) []string {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			return nil // not in this module's tree; the compiler says so
		}
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || (!withTests && strings.HasSuffix(name, "_test.go")) {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				out = append(out, p)
			}
		}
		return out
	}
	for _, top := range []string{"plugins", "sdk/examples"} {
		base := filepath.Join(root, top)
		err := filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == base {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() && path != base && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") {
				if dir := filepath.Dir(path); len(roots) == 0 || roots[len(roots)-1] != dir {
					roots = append(roots, dir)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	type item struct {
		dir   string
		chain []string
	}
	var queue []item
	for _, r := range roots {
		rel, _ := filepath.Rel(root, r)
		queue = append(queue, item{dir: r, chain: []string{modulePath + "/" + filepath.ToSlash(rel)}})
	}
	visited := map[string]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if visited[it.dir] {
			continue
		}
		visited[it.dir] = true
		for _, p := range imports(it.dir, len(it.chain) == 1) {
			if p == host || strings.HasPrefix(p, host+"/") {
				violations = append(violations, strings.Join(it.chain, " → ")+" imports "+p)
				continue
			}
			if strings.HasPrefix(p, modulePath+"/") {
				next := append(append([]string(nil), it.chain...), p)
				queue = append(queue, item{dir: filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, modulePath+"/"))), chain: next})
			}
		}
	}
	return violations, roots
}
