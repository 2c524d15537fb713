package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/puod/puod/sdk/manifest"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestPlugins_validateAndChecksum drives the bundle tooling as a plugin
// author would: validate explains every problem at once, checksum fills in
// the sha256, and validate then accepts the bundle.
func TestPlugins_validateAndChecksum(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "acme-hello"), "../../sdk/examples/hello")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../../sdk/examples/hello/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), `"version": "1.0.0"`, `"version": "one"`, 1)
	bad = strings.Replace(bad, `"protocol": [1]`, `"protocol": []`, 1)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "plugins", "validate", dir)
	if code == 0 {
		t.Fatal("validate accepted a broken bundle")
	}
	for _, want := range []string{"/version", "/protocol", "/sha256", "puod plugins checksum"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stderr)
		}
	}
	if code, _, _ := run(t, "plugins", "checksum", dir); code == 0 {
		t.Fatal("checksum must refuse to fix a manifest with other problems")
	}

	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "plugins", "checksum", dir)
	if code != 0 || !strings.Contains(stdout, "acme-hello") {
		t.Fatalf("checksum: %d %s %s", code, stdout, stderr)
	}
	sum, _ := manifest.FileSHA256(filepath.Join(dir, "acme-hello"))
	if !strings.HasPrefix(stdout, sum) {
		t.Fatalf("checksum printed %q, want the file's sha256 %s", stdout, sum)
	}
	if code, stdout, stderr := run(t, "plugins", "validate", dir); code != 0 || !strings.Contains(stdout, "ok (acme.hello 1.0.0") {
		t.Fatalf("validate after checksum: %d %s %s", code, stdout, stderr)
	}
}

func TestPlugins_list(t *testing.T) {
	pluginDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pluginDir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "plugins", "list", "--plugin-dir", pluginDir)
	if code != 0 || !strings.Contains(stdout, "broken") || !strings.Contains(stdout, "invalid: plugin.json: no plugin.json") {
		t.Fatalf("list: %d %q %q", code, stdout, stderr)
	}
}

func TestConfigPrint_masksSecrets(t *testing.T) {
	t.Setenv("PUOD_DATABASE_URL", "postgres://puod:s3cret-pass@db:5432/puod")
	t.Setenv("PUOD_ADMIN_PASSWORD", "hunter2-admin-pass")
	code, stdout, stderr := run(t, "config", "print", "--listen", "0.0.0.0:9999")
	if code != 0 {
		t.Fatalf("%d %s", code, stderr)
	}
	if strings.Contains(stdout, "s3cret-pass") || strings.Contains(stdout, "hunter2-admin-pass") {
		t.Fatalf("secrets shown:\n%s", stdout)
	}
	if !strings.Contains(stdout, "listen: 0.0.0.0:9999") || !strings.Contains(stdout, "db:5432") {
		t.Fatalf("flag or non-secret setting missing:\n%s", stdout)
	}
}

func TestExecute_unknownCommand(t *testing.T) {
	if code, _, stderr := run(t, "frobnicate"); code == 0 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("%d %s", code, stderr)
	}
}
