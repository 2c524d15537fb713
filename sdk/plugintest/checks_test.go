package plugintest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestValidateRun_problems(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := sdk.Run{ExternalID: "1", PipelineExternalID: "p", State: sdk.StateRunning, QueuedAt: t0, StartedAt: t0.Add(time.Second)}
	for _, tc := range []struct {
		name string
		edit func(r *sdk.Run)
		want string // "" means valid
	}{
		{"valid", func(*sdk.Run) {}, ""},
		{"only started", func(r *sdk.Run) { r.QueuedAt = time.Time{} }, ""},
		{"no id", func(r *sdk.Run) { r.ExternalID = "" }, "empty external id"},
		{"no pipeline", func(r *sdk.Run) { r.PipelineExternalID = "" }, "empty pipeline external id"},
		{"vendor state", func(r *sdk.Run) { r.State = "RUNNING" }, `state "RUNNING" is not one of`},
		{"ended before started", func(r *sdk.Run) { r.EndedAt = t0 }, "ended at 2026-01-01T00:00:00Z, before it started"},
		{"started before queued", func(r *sdk.Run) { r.StartedAt = t0.Add(-time.Second) }, "before it was queued"},
		{"negative duration", func(r *sdk.Run) { r.Duration = -time.Second }, "negative duration"},
		{"task state", func(r *sdk.Run) { r.Tasks = []sdk.TaskRun{{ExternalID: "t", State: "OK"}} }, `task "t" has state "OK"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := plugintest.ValidateRun(r)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestCheckCursorAdvances_backwards(t *testing.T) {
	run := func(id string) []sdk.Run { return []sdk.Run{{ExternalID: id}} }
	s := &plugintest.Sync{Batches: []sdk.RunBatch{
		{Runs: run("1"), NextCursor: "a"},
		{Runs: run("2"), NextCursor: "a"}, // a split batch keeps its cursor: fine
		{Runs: run("3"), NextCursor: "b"},
		{Runs: run("4"), NextCursor: "a"},
	}}
	failures := record(t, func(t testing.TB) { plugintest.CheckCursorAdvances(t, s) })
	wantFailure(t, failures, `batch 3 moves the cursor back to "a"`)
	if len(failures) != 1 {
		t.Errorf("want one failure, got %q", failures)
	}
}

func TestCheckNoSecrets_forms(t *testing.T) {
	secrets := map[string]string{"token": "tok/en+1", "pin": "123"}
	entries := []plugintest.Entry{
		{Where: "a", Text: "clean"},
		{Where: "b", Text: "Basic " + base64.StdEncoding.EncodeToString([]byte("tok/en+1"))},
		{Where: "c", Text: "path /x/tok%2Fen+1"},
		{Where: "c", Text: "path /x/tok%2Fen+1"}, // reported once
		{Where: "d", Text: "pin 123 is short: not scanned"},
	}
	failures := record(t, func(t testing.TB) { plugintest.CheckNoSecrets(t, secrets, entries) })
	wantFailure(t, failures, `secret "token" leaked (base64) in b`)
	wantFailure(t, failures, `secret "token" leaked (URL-path-escaped) in c: "path /x/<secret token>"`)
	if len(failures) != 2 {
		t.Errorf("want 2 failures, got %d: %q", len(failures), failures)
	}
}

// fakeSink delivers everything; with Bug "leak" it refuses everything
// permanently, quoting its token in base64.
type sinkConfig struct {
	Token string `json:"token,omitempty" secret:"true"`
	Bug   string `json:"bug,omitempty"`
}

type fakeSink struct{ cfg sinkConfig }

func (s *fakeSink) Notify(context.Context, sdk.Notification) error {
	if s.cfg.Bug == "leak" {
		return sdk.PermanentError("receiver refused Basic %s", base64.StdEncoding.EncodeToString([]byte(s.cfg.Token)))
	}
	return nil
}

const sinkManifest = `{"id": "test.sink", "name": "Sink", "version": "1.0.0", "kinds": ["alertsink"], "protocol": [1], "host": ">=0.1.0", "executable": "sink"}`

func TestRunAlertSinkSuite_catchesBrokenSinks(t *testing.T) {
	suite := func(config string) plugintest.AlertSinkSuite[sinkConfig] {
		dead := plugintest.SampleNotifications()[0]
		dead.ID = "dead"
		return plugintest.AlertSinkSuite[sinkConfig]{
			Plugin: sdk.Plugin[sinkConfig]{Manifest: []byte(sinkManifest), New: func(_ context.Context, cfg sinkConfig, _ sdk.Env) (any, error) {
				return &fakeSink{cfg: cfg}, nil
			}},
			ValidConfig: []byte(config),
			Secrets:     map[string]string{"token": "sink-secret"},
			Permanent:   []sdk.Notification{dead},
		}
	}
	failures := record(t, func(t testing.TB) { plugintest.RunAlertSinkSuite(t, suite(`{}`)) })
	wantFailure(t, failures, "permanent: dead:", "outcome is delivered", "want permanent")

	failures = record(t, func(t testing.TB) { plugintest.RunAlertSinkSuite(t, suite(`{"bug": "leak"}`)) })
	wantFailure(t, failures, "notify: conformance-1:", "outcome is permanent", "want delivered")
	wantFailure(t, failures, "no_secret_leak:", `secret "token" leaked (base64) in Notify reason`)
}

type silentExporter struct{}

func (silentExporter) Export(context.Context, sdk.ExportHeader, sdk.FrameReader, io.Writer) error {
	return nil
}

func TestRunExporterSuite_catchesAnEmptyFile(t *testing.T) {
	manifest := `{"id": "test.exp", "name": "Exp", "version": "1.0.0", "kinds": ["exporter"], "protocol": [1], "host": ">=0.1.0", "executable": "exp",
	  "exports": [{"id": "txt", "mime_type": "text/plain", "extension": "txt"}]}`
	failures := record(t, func(t testing.TB) {
		plugintest.RunExporterSuite(t, plugintest.ExporterSuite[struct{}]{
			Plugin: sdk.Plugin[struct{}]{Manifest: []byte(manifest), New: func(context.Context, struct{}, sdk.Env) (any, error) {
				return silentExporter{}, nil
			}},
			ValidConfig: []byte(`{}`),
		})
	})
	wantFailure(t, failures, "export: txt:", "Export(txt) of 2 frames wrote an empty file")
	if len(failures) != 1 {
		t.Errorf("want one failure, got %q", failures)
	}
}

// ValidateRun is what the checks apply to every run: the host stores only
// normalised states, and keeps the vendor's in RawState.
func ExampleValidateRun() {
	err := plugintest.ValidateRun(sdk.Run{ExternalID: "7", PipelineExternalID: "etl", State: "SUCCESS"})
	fmt.Println(err)
	// Output: state "SUCCESS" is not one of [queued running succeeded failed cancelled skipped timed_out] (keep the vendor's value in RawState)
}

// The example's connector passes the suite it illustrates.
func TestExampleCounter_passes(t *testing.T) {
	plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[counterConfig]{
		Plugin:         sdk.Plugin[counterConfig]{Manifest: counterManifest, New: newCounter},
		ValidConfig:    []byte(`{"runs": 42}`),
		Secrets:        map[string]string{"token": "test-token"},
		InvalidConfigs: []plugintest.InvalidConfig{{Name: "negative runs", Config: []byte(`{"runs": -1}`), Field: "/runs"}},
		MinRuns:        42,
	})
}
