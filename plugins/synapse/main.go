// Command puod-synapse is PUOD's Azure Synapse connector (puod.synapse): it
// collects pipeline runs and their activity runs from a Synapse
// workspace's data plane (api-version 2020-12-01) with Microsoft Entra ID
// client credentials, and answers the plugin's dashboard cards.
//
// The files split by concern: config.go (settings and their checks),
// client.go (the REST calls and wire types), states.go (status mapping),
// cursor.go (the incremental-sync cursor), sync.go (ListRuns),
// connector.go (the instance, pipelines, health), cards.go (QueryCard).
package main

import (
	_ "embed"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

func main() {
	sdk.Serve(newPlugin(options{}))
}
