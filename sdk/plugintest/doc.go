// Package plugintest is PUOD's plugin conformance kit. Plugin authors call
// it from go test; PUOD's own plugins use it the same way.
//
// It has three layers, use whichever fits:
//
//   - A harness: Serve and Start run a plugin in-process over the real
//     go-plugin gRPC transport (no process is started) and return the
//     host-side *sdk.Client, so a test talks to the plugin exactly as the
//     host does.
//   - Suites: RunConnectorSuite, RunAlertSinkSuite and RunExporterSuite
//     check, each as a subtest with a failure message that says what to fix,
//     that a plugin keeps PUOD's contract: its binary agrees with its
//     plugin.json, invalid configurations are rejected at the right field,
//     errors are typed and never carry a secret, and for connectors that
//     cursors neither lose nor double a run, even when the host fails or
//     restarts between batches (CheckConsumeContract, shaped after the
//     OpenTelemetry Collector's receivertest contract checker).
//   - Checks: every suite step is an exported function (CheckDescribe,
//     CheckFullSync, CheckReplay, CheckResume, CheckCancellation, ...) that
//     takes a testing.TB, for tests that need only some of them or drive a
//     plugin in a state the suites don't set up.
//
// A typical connector test is one call:
//
//	func TestConformance(t *testing.T) {
//		plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[Config]{
//			Plugin:      sdk.Plugin[Config]{Manifest: manifest, New: newConnector},
//			BundleDir:   ".",
//			ValidConfig: []byte(`{"url": "` + testServer.URL + `"}`),
//			Secrets:     map[string]string{"token": "test-token"},
//			InvalidConfigs: []plugintest.InvalidConfig{
//				{Name: "no url", Config: []byte(`{}`), Field: "/url"},
//			},
//			MinRuns: 10,
//		})
//	}
package plugintest
