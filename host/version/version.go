// Package version holds the host's version, set at build time with
// -ldflags "-X github.com/puod/puod/host/version.Version=...".
package version

// Version is the host's semantic version.
var Version = "0.1.0-dev"

// Semver returns Version as a semver string plugins' host ranges can be
// checked against: a "dev" or git-describe build counts as 0.1.0-dev.
func Semver() string {
	v := Version
	if len(v) > 0 && v[0] == 'v' {
		v = v[1:]
	}
	if v == "" || !(v[0] >= '0' && v[0] <= '9') {
		return "0.1.0-dev"
	}
	return v
}
