// Command puod is the PUOD host: the server, its maintenance commands and
// the plugin bundle tooling.
package main

import (
	"os"
	// Deadline rules name IANA time zones; the binary carries the zone
	// database so they work on hosts (and containers) without one.
	_ "time/tzdata"

	"github.com/puod/puod/host/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
