package version

import "testing"

func TestSemver(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	for in, want := range map[string]string{
		"1.2.3":             "1.2.3",
		"v1.2.3":            "1.2.3",
		"0.1.0-dev+6db410f": "0.1.0-dev+6db410f",
		"6db410f-dirty":     "0.1.0-dev",
		"":                  "0.1.0-dev",
	} {
		Version = in
		if got := Semver(); got != want {
			t.Errorf("Semver(%q) = %q, want %q", in, got, want)
		}
	}
}
