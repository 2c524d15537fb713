// Package sdk is the PUOD plugin SDK.
//
// A plugin is a small program that PUOD's host starts as its own process and
// talks to over gRPC (HashiCorp go-plugin). A plugin author writes a
// plugin.json manifest, a configuration struct and a type implementing the
// capability interfaces of the plugin's kinds, then calls Serve from main:
//
//	//go:embed plugin.json
//	var manifest []byte
//
//	func main() {
//		sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: newConnector})
//	}
//
// Capabilities are small interfaces: Connector (pipelines and runs),
// CardQuerier (dashboard cards), WebhookHandler, AlertSink, Exporter,
// HealthChecker and Disposer. An instance implements only what it offers.
//
// The SDK manages one instance per configured source (rebuilt when the
// source's revision changes, disposed when it is removed), derives the
// configuration JSON Schema from the Go struct, validates configurations,
// carries typed errors across the wire (ConfigError, AuthError, ...), turns a
// panic into an error instead of a crash, redacts secret values from errors,
// and exits the process when the host goes away.
//
// The same package holds the host side of the wire (Client), so the host and
// the conformance kit (sdk/plugintest) use exactly what plugins use.
package sdk
