// Package reference locates the vendor API reference (the shared/apis
// folder kept beside the repository, with the real REST formats and their
// fixtures) for the simulators' tests, which check that their embedded
// copies still match it.
package reference

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FixturesDir returns shared/apis/fixtures/<vendor>, found in the nearest
// folder, from the repository's own parent upwards, that holds it. When it
// is missing the test is skipped with a loud message, or fails under
// CI=true, where the reference must be present.
func FixturesDir(t testing.TB, vendor string) string {
	t.Helper()
	root := repoRoot()
	var tried []string
	for dir := filepath.Dir(root); root != "" && dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "apis", "fixtures", vendor)
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		tried = append(tried, cand)
	}
	bar := strings.Repeat("!", 78)
	msg := fmt.Sprintf("\n%s\n!!! the %s API reference was not found (looked in %s)\n%s", bar, vendor, strings.Join(tried, ", "), bar)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s\n!!! CI=true: the reference check is required", msg)
	}
	t.Skipf("%s\n!!! SKIPPING the check against the reference", msg)
	return ""
}

// repoRoot is the folder of the go.mod above the working directory ("" if
// none).
func repoRoot() string {
	for dir, _ := os.Getwd(); dir != "" && dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	return ""
}
