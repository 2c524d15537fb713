// Command puod-airflow is PUOD's Apache Airflow connector (plugin
// puod.airflow): it collects DAG runs and their task instances from
// Airflow 2 (REST API v1) and Airflow 3 (REST API v2) and answers the
// Airflow dashboard cards.
package main

import (
	_ "embed"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// pluginVersion is sent in the User-Agent; keep it equal to plugin.json's.
const pluginVersion = "0.1.0"

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: newConnector})
}
