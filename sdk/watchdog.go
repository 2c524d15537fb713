package sdk

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// startParent is the parent pid read when the process starts (package
// initialisation), not when Serve does: a host killed while the plugin was
// still initialising would otherwise already be gone, and the plugin would
// take its new parent for the host.
var startParent = os.Getppid()

// watchParent exits the plugin process when the host that started it is
// gone. go-plugin's host side kills plugins on a clean exit, but a host that
// is killed (kill -9, OOM) cannot: its plugins are re-parented and would run
// forever. Polling the parent pid is portable and costs nothing.
func watchParent(log hclog.Logger) {
	parent := startParent
	for {
		if os.Getppid() != parent {
			log.Warn("host process went away, exiting", "host_pid", parent)
			os.Exit(3)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
