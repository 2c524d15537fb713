package plugintest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// Faults will hold hooks through which a suite injects faults into the
// plugin's downstream (e.g. a test server answering 429) and checks the
// plugin's reaction. None are defined yet; the zero value injects nothing.
type Faults struct{}

// ConnectorSuite configures RunConnectorSuite.
type ConnectorSuite[C any] struct {
	// Plugin is the plugin as main serves it.
	Plugin sdk.Plugin[C]
	// ValidConfig is a configuration the plugin accepts, pointing at a
	// source (usually a test server) with at least MinRuns runs that does
	// not change during the test. Ideally enough runs for several batches,
	// so resuming from intermediate cursors is exercised.
	ValidConfig json.RawMessage
	// Secrets are the secret fields of ValidConfig, passed as the host
	// does. The suite checks they are marked secret in the config schema
	// and that no value ever comes back in a message.
	Secrets map[string]string
	// InvalidConfigs must each be rejected at their Field.
	InvalidConfigs []InvalidConfig
	// RejectedConfigs must each make Configure fail with their Kind.
	RejectedConfigs []RejectedConfig
	// BundleDir or ManifestPath locate the plugin.json on disk that
	// Describe must agree with. Both empty: the embedded Plugin.Manifest.
	BundleDir    string
	ManifestPath string
	// MinRuns is the least number of runs a full sync must deliver
	// (default 1).
	MinRuns int
	// MaxBatch is passed to ListRuns as the host's batch size limit (0:
	// none).
	MaxBatch int
	// Timeout bounds each call to the plugin (default 30 s).
	Timeout time.Duration
	// CancelBound bounds how long ListRuns may run on after cancellation
	// (default DefaultCancelBound).
	CancelBound time.Duration
	// Contract configures the contract checker (seed, scenarios).
	Contract ContractParams
	// Faults is reserved for fault injection hooks.
	Faults Faults
}

// RunConnectorSuite checks that a connector keeps PUOD's contract, each
// check a subtest: describe (Describe agrees with plugin.json),
// config_schema, valid_config, invalid_config/*, rejected_config/*, health,
// pipelines, full_sync, cursor_advances, replay, resume, cancellation,
// contract/* (CheckConsumeContract), cards, and no_secret_leak (every
// message the suite saw, scanned for the secrets' values).
func RunConnectorSuite[C any](t testing.TB, s ConnectorSuite[C]) {
	t.Helper()
	want := LoadManifest(t, s.BundleDir, s.ManifestPath, s.Plugin.Manifest)
	if !want.HasKind(manifest.KindConnector) {
		t.Fatalf("plugin.json kinds are %v: RunConnectorSuite tests connectors", want.Kinds)
	}
	h := Start(t, s.Plugin)
	tr := &Transcript{}
	cases := checkConfigs(t, h.Client, want, s.ValidConfig, s.Secrets, s.InvalidConfigs, s.RejectedConfigs, tr)

	in := Configure(t, h.Client, sdk.InstanceConfig{ID: "conformance", Revision: 1, Config: s.ValidConfig, Secrets: s.Secrets})
	in.MaxBatch, in.Timeout, in.Transcript = s.MaxBatch, s.Timeout, tr
	run(t, "health", func(t testing.TB) { CheckHealth(t, in) })
	run(t, "pipelines", func(t testing.TB) { CheckPipelines(t, in) })
	var full *Sync
	run(t, "full_sync", func(t testing.TB) { full = CheckFullSync(t, in, max(s.MinRuns, 1)) })
	if full != nil {
		run(t, "cursor_advances", func(t testing.TB) { CheckCursorAdvances(t, full) })
		run(t, "replay", func(t testing.TB) { CheckReplay(t, in, full) })
		run(t, "resume", func(t testing.TB) { CheckResume(t, in, full) })
		run(t, "cancellation", func(t testing.TB) {
			conn, ok := h.Instance(in.ID()).(sdk.Connector)
			if !ok {
				t.Fatalf("the instance built for %q is not an sdk.Connector", in.ID())
			}
			CheckCancellation(t, conn, s.CancelBound)
		})
		run(t, "contract", func(t testing.TB) { CheckConsumeContract(t, in, full, s.Contract) })
	}
	if len(want.Cards) > 0 {
		run(t, "cards", func(t testing.TB) { CheckCards(t, in, want.Cards) })
	}
	run(t, "no_secret_leak", func(t testing.TB) {
		CheckNoSecrets(t, allSecrets(append([]map[string]string{s.Secrets}, cases...)...), tr.Entries())
	})
}

// checkConfigs runs the steps every kind shares, up to configuring: it
// returns the secrets of the invalid and rejected cases, for the leak scan.
func checkConfigs(t testing.TB, c *sdk.Client, want *manifest.Manifest, valid json.RawMessage, secrets map[string]string, invalid []InvalidConfig, rejected []RejectedConfig, tr *Transcript) []map[string]string {
	t.Helper()
	var desc *sdk.Description
	run(t, "describe", func(t testing.TB) { desc = CheckDescribe(t, c, want) })
	if desc != nil {
		run(t, "config_schema", func(t testing.TB) { CheckConfigSchema(t, desc.ConfigSchema, secrets) })
	}
	run(t, "valid_config", func(t testing.TB) { CheckValidConfig(t, c, valid, secrets, tr) })
	var caseSecrets []map[string]string
	if len(invalid) > 0 {
		run(t, "invalid_config", func(t testing.TB) {
			for i, ic := range invalid {
				if ic.Secrets == nil {
					ic.Secrets = secrets
				}
				caseSecrets = append(caseSecrets, ic.Secrets)
				run(t, subtestName(ic.Name, i), func(t testing.TB) { CheckInvalidConfig(t, c, ic, tr) })
			}
		})
	}
	if len(rejected) > 0 {
		run(t, "rejected_config", func(t testing.TB) {
			for i, rc := range rejected {
				caseSecrets = append(caseSecrets, rc.Secrets)
				run(t, subtestName(rc.Name, i), func(t testing.TB) { CheckRejectedConfig(t, c, rc, tr) })
			}
		})
	}
	return caseSecrets
}

func subtestName(name string, i int) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("case_%d", i)
}
