// Command acme-echo-sink is an example third-party PUOD alert sink: it
// writes each notification to its log, and refuses permanently the ones
// for a configured channel, to try the host's handling of dead letters.
package main

import (
	"context"
	_ "embed"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// Config is one sink's configuration.
type Config struct {
	FailChannel string `json:"fail_channel,omitempty" jsonschema:"pattern=^[a-z0-9-]*$,description=Notifications whose channel label is this fail permanently"`
}

type echo struct {
	cfg Config
	log hclog.Logger
}

func newEcho(_ context.Context, cfg Config, env sdk.Env) (any, error) {
	return &echo{cfg: cfg, log: env.Logger}, nil
}

func (e *echo) Notify(_ context.Context, n sdk.Notification) error {
	channel := n.Labels["channel"]
	if channel != "" && channel == e.cfg.FailChannel {
		return sdk.PermanentError("channel %q does not accept notifications", channel)
	}
	e.log.Info("notification", "id", n.ID, "status", n.Status, "severity", n.Severity, "title", n.Title, "channel", channel)
	return nil
}

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: newEcho})
}
