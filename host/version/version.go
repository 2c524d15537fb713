// Package version holds the host's version, set at build time with
// -ldflags "-X github.com/puod/puod/host/version.Version=...".
package version

import "github.com/Masterminds/semver/v3"

// Version is the host's version as built (a release "1.2.0", or a
// development build "0.1.0-dev+6db410f").
var Version = "0.1.0-dev"

// Semver returns Version as a semantic version plugins' host ranges can be
// checked against; anything else (a bare commit hash) counts as 0.1.0-dev.
func Semver() string {
	v, err := semver.NewVersion(Version)
	if err != nil {
		return "0.1.0-dev"
	}
	return v.String()
}
