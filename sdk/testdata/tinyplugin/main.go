// Command tinyplugin is the smallest SDK plugin, built by the sdk tests to
// check Serve as a real process (magic cookie, parent watchdog).
//
// TINYPLUGIN_SLEEP (a Go duration) delays Serve, like a plugin that does
// work before serving; TINYPLUGIN_BROKEN serves an invalid manifest.
package main

import (
	"context"
	"os"
	"time"

	"github.com/puod/puod/sdk"
)

const manifest = `{
  "id": "test.tiny", "name": "Tiny", "version": "0.0.1", "kinds": ["alertsink"],
  "protocol": [1], "host": ">=0.1.0", "executable": "tinyplugin"
}`

type sink struct{}

func (sink) Notify(context.Context, sdk.Notification) error { return nil }

func main() {
	if d, err := time.ParseDuration(os.Getenv("TINYPLUGIN_SLEEP")); err == nil {
		time.Sleep(d)
	}
	m := manifest
	if os.Getenv("TINYPLUGIN_BROKEN") != "" {
		m = `{"id": "Not Valid"}`
	}
	sdk.Serve(sdk.Plugin[struct{}]{
		Manifest: []byte(m),
		New:      func(context.Context, struct{}, sdk.Env) (any, error) { return sink{}, nil },
	})
}
