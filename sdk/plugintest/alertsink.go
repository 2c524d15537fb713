package plugintest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// AlertSinkSuite configures RunAlertSinkSuite.
type AlertSinkSuite[C any] struct {
	Plugin sdk.Plugin[C]
	// ValidConfig is a configuration the plugin accepts, pointing at a
	// receiver (usually a test server) that accepts notifications.
	ValidConfig     json.RawMessage
	Secrets         map[string]string
	InvalidConfigs  []InvalidConfig
	RejectedConfigs []RejectedConfig
	BundleDir       string
	ManifestPath    string
	// Notifications must each be delivered (default SampleNotifications).
	Notifications []sdk.Notification
	// Permanent are notifications the sink must refuse permanently (e.g.
	// to a channel that does not exist), with a reason.
	Permanent []sdk.Notification
	// Timeout bounds each call to the plugin (default 30 s).
	Timeout time.Duration
	// Faults is reserved for fault injection hooks.
	Faults Faults
}

// RunAlertSinkSuite checks that an alert sink keeps PUOD's contract, each
// check a subtest: describe, config_schema, valid_config, invalid_config/*,
// rejected_config/*, health, notify/* (delivered, and delivered again when
// retried with the same id), permanent/* and no_secret_leak.
func RunAlertSinkSuite[C any](t testing.TB, s AlertSinkSuite[C]) {
	t.Helper()
	want := LoadManifest(t, s.BundleDir, s.ManifestPath, s.Plugin.Manifest)
	if !want.HasKind(manifest.KindAlertSink) {
		t.Fatalf("plugin.json kinds are %v: RunAlertSinkSuite tests alert sinks", want.Kinds)
	}
	h := Start(t, s.Plugin)
	tr := &Transcript{}
	cases := checkConfigs(t, h.Client, want, s.ValidConfig, s.Secrets, s.InvalidConfigs, s.RejectedConfigs, tr)
	in := Configure(t, h.Client, sdk.InstanceConfig{ID: "conformance", Revision: 1, Config: s.ValidConfig, Secrets: s.Secrets})
	in.Timeout, in.Transcript = s.Timeout, tr
	run(t, "health", func(t testing.TB) { CheckHealth(t, in) })
	notes := s.Notifications
	if len(notes) == 0 {
		notes = SampleNotifications()
	}
	run(t, "notify", func(t testing.TB) {
		for _, n := range notes {
			run(t, n.ID, func(t testing.TB) {
				CheckNotify(t, in, n, sdk.Delivered)
				// The host retries with the same id when it could not
				// record the outcome: a second delivery must work too.
				CheckNotify(t, in, n, sdk.Delivered)
			})
		}
	})
	if len(s.Permanent) > 0 {
		run(t, "permanent", func(t testing.TB) {
			for _, n := range s.Permanent {
				run(t, n.ID, func(t testing.TB) { CheckNotify(t, in, n, sdk.Permanent) })
			}
		})
	}
	run(t, "no_secret_leak", func(t testing.TB) {
		CheckNoSecrets(t, allSecrets(append([]map[string]string{s.Secrets}, cases...)...), tr.Entries())
	})
}

// CheckNotify sends n through the instance and checks the outcome is want;
// a refusal must give a reason.
func CheckNotify(t testing.TB, in *Instance, n sdk.Notification, want sdk.NotifyOutcome) sdk.NotifyResult {
	t.Helper()
	ctx, cancel := in.context()
	defer cancel()
	res, err := in.Client.Notify(ctx, in.ID(), n)
	in.Transcript.RecordError("Notify", err)
	in.Transcript.Record("Notify reason", res.Reason)
	if err != nil {
		checkTyped(t, "Notify", err)
		t.Fatalf("Notify(%s) failed: %v", n.ID, err)
	}
	if res.Outcome != want {
		t.Errorf("Notify(%s) outcome is %s (%s), want %s", n.ID, res.Outcome, res.Reason, want)
	}
	if res.Outcome != sdk.Delivered && res.Reason == "" {
		t.Errorf("Notify(%s) is %s without a reason: say why, it is shown to the user", n.ID, res.Outcome)
	}
	return res
}

// SampleNotifications returns a firing and a resolved notification with
// every field set, and a group message carrying both (a sink must deliver
// a group as one message listing its alerts).
func SampleNotifications() []sdk.Notification {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	firing := sdk.Notification{
		ID: "conformance-1", Status: sdk.NotificationFiring, RuleID: "rule-1", RuleName: "ETL_Vendas too slow",
		Severity: "critical", Title: "ETL_Vendas took 7m12s", Summary: "Run 42 of ETL_Vendas took longer than 5m.",
		Labels: map[string]string{"team": "data"}, Annotations: map[string]string{"runbook": "https://example.com/runbook"},
		PipelineName: "ETL_Vendas", RunExternalID: "42", Value: "7m12s", Threshold: "5m", StartsAt: start,
		Links: []sdk.Link{{Title: "Run", URL: "https://example.com/runs/42"}}, GroupKey: "rule-1/ETL_Vendas",
	}
	resolved := firing
	resolved.ID, resolved.Status, resolved.EndsAt = "conformance-2", sdk.NotificationResolved, start.Add(10*time.Minute)
	resolved.Title = fmt.Sprintf("Resolved: %s", firing.Title)
	other := firing
	other.ID, other.PipelineName, other.RunExternalID, other.Labels = "conformance-3", "ETL_Compras", "43", map[string]string{"team": "data", "pipeline": "ETL_Compras"}
	group := sdk.Notification{
		ID: "conformance-group-1", Status: sdk.NotificationFiring, RuleID: "rule-1", RuleName: "ETL_Vendas too slow",
		Severity: "critical", Title: "1 firing, 1 resolved: ETL_Vendas too slow", Summary: "firing: ETL_Compras\nresolved: ETL_Vendas",
		Labels: map[string]string{"team": "data"}, StartsAt: start, GroupKey: "rule-1",
		Alerts: []sdk.Notification{other, resolved},
	}
	return []sdk.Notification{firing, resolved, group}
}

// ReferenceAlert returns the reference scenario's alert — ETL_Vendas took
// 7m12s against a 5m threshold, with a Databricks run and a PUOD link —
// firing and resolved, with every field a sink shows set: what a sink's
// golden tests render.
func ReferenceAlert() (firing, resolved sdk.Notification) {
	start := time.Date(2026, 11, 17, 3, 32, 49, 0, time.UTC)
	firing = sdk.Notification{
		ID: "ntf_01", Status: sdk.NotificationFiring, RuleID: "rule-etl-vendas", RuleName: "ETL_Vendas slower than 5m",
		Severity: "critical", Title: "ETL_Vendas took 7m12s", Summary: "Run 1102044718239904 of ETL_Vendas took 7m12s, over the 5m threshold.",
		Labels:       map[string]string{"team": "dados"},
		Annotations:  map[string]string{"runbook": "https://wiki.example.com/runbooks/etl-vendas", "owner": "squad <vendas> & co"},
		PipelineName: "ETL_Vendas", RunExternalID: "1102044718239904", Value: "7m12s", Threshold: "5m", StartsAt: start,
		Links: []sdk.Link{
			{Title: "Open run in Databricks", URL: "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904"},
			{Title: "Open in PUOD", URL: "http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904"},
		},
		GroupKey: "rule-etl-vendas/ETL_Vendas",
	}
	resolved = firing
	resolved.ID, resolved.Status, resolved.Title = "ntf_02", sdk.NotificationResolved, "Resolved: ETL_Vendas took 7m12s"
	resolved.Summary = "ETL_Vendas run 1102044718239999 finished in 3m05s."
	resolved.EndsAt = resolved.StartsAt.Add(42 * time.Minute)
	return firing, resolved
}
