// Command puod-databricks is PUOD's Databricks connector (plugin
// puod.databricks). It reads jobs and job runs from a workspace's Jobs API
// (2.2, or 2.1), incrementally, with personal access token or OAuth
// machine-to-machine authentication, turns job-notification webhooks into
// runs, and answers four dashboard card types.
//
// The files split the work by concern: config.go (the source's settings),
// client.go (HTTP and the API's shapes), states.go (the state mapping),
// runs.go (vendor run → PUOD run), cursor.go and sync.go (incremental
// sync), cards.go, webhook.go and health.go.
package main

import (
	_ "embed"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// version is the plugin's version; plugin.json says the same.
const version = "0.1.0"

// newPlugin declares the plugin with the given dependencies.
func newPlugin(d deps) sdk.Plugin[Config] {
	return sdk.Plugin[Config]{Manifest: manifest, New: d.newConnector}
}

func main() {
	sdk.Serve(newPlugin(deps{}))
}
