package sdk

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// watchParent exits the plugin process when the host that started it is
// gone. go-plugin's host side kills plugins on a clean exit, but a host that
// is killed (kill -9, OOM) cannot: its plugins are re-parented and would run
// forever. Polling the parent pid is portable and costs nothing.
func watchParent(log hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != parent {
			log.Warn("host process went away, exiting", "host_pid", parent)
			os.Exit(3)
		}
	}
}
