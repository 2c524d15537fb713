package plugintest_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// fake is a connector with a switchable bug, to prove the suite catches
// each one (and that it passes the connector without a bug).
type fakeConfig struct {
	Runs  int    `json:"runs" jsonschema:"required,minimum=0"`
	Batch int    `json:"batch,omitempty" jsonschema:"minimum=2"`
	Token string `json:"token,omitempty" secret:"true"`
	Bug   string `json:"bug,omitempty"`
}

type fake struct{ cfg fakeConfig }

const fakeManifest = `{
  "id": "test.fake", "name": "Fake", "version": "1.2.3", "kinds": ["connector"],
  "protocol": [1], "host": ">=0.1.0", "executable": "fake"
}`

func newFake(_ context.Context, cfg fakeConfig, _ sdk.Env) (any, error) {
	switch cfg.Bug {
	case "untyped_configure":
		return nil, errors.New("could not log in")
	case "leak_error":
		return nil, sdk.AuthError("GET /login?token=%s answered 401", url.QueryEscape(cfg.Token))
	}
	if cfg.Batch == 0 {
		cfg.Batch = 10
	}
	return &fake{cfg: cfg}, nil
}

func (f *fake) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "p", Name: "Pipeline"}}, nil
}

func (f *fake) CheckHealth(context.Context) (sdk.Health, error) {
	h := sdk.Health{Status: sdk.HealthOK, Message: "reachable"}
	if f.cfg.Bug == "leak_health" {
		h.Message = "GET /api?token=" + url.QueryEscape(f.cfg.Token) + " answered 200"
	}
	return h, nil
}

func (f *fake) run(n int) sdk.Run {
	start := time.Date(2026, 1, 1, 0, n, 0, 0, time.UTC)
	r := sdk.Run{ExternalID: strconv.Itoa(n), PipelineExternalID: "p", State: sdk.StateSucceeded, StartedAt: start, EndedAt: start.Add(time.Second)}
	switch {
	case f.cfg.Bug == "invalid_state" && n == 3:
		r.State = "SUCCESS"
	case f.cfg.Bug == "ended_before_started" && n == 3:
		r.EndedAt = start.Add(-time.Hour)
	case f.cfg.Bug == "leak_run" && n == 3:
		r.State, r.ErrorMessage = sdk.StateFailed, "401 for Authorization: Bearer "+f.cfg.Token
	}
	return r
}

// ListRuns serves runs 1..Runs; the cursor is the number of runs sent.
func (f *fake) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	bug := f.cfg.Bug
	next := 0
	if cursor != "" && bug != "constant_cursor" {
		n, err := strconv.Atoi(cursor)
		if err != nil {
			return sdk.PermanentError("bad cursor %q", cursor)
		}
		next = n
		switch bug {
		case "overlap":
			next = max(n-1, 0)
		case "skip_on_resume":
			next = n + 1
		}
	}
	for next < f.cfg.Runs {
		end := min(next+f.cfg.Batch, f.cfg.Runs)
		b := sdk.RunBatch{NextCursor: strconv.Itoa(end)}
		for i := next; i < end; i++ {
			b.Runs = append(b.Runs, f.run(i+1))
		}
		switch bug {
		case "stuck_cursor":
			b.NextCursor = cursor
		case "constant_cursor":
			b.NextCursor = "x"
		}
		err := send(b)
		if bug == "block_on_cancel" && ctx.Err() != nil {
			time.Sleep(time.Second) // a request that ignores ctx
		}
		if err != nil && bug != "ignore_send_error" {
			return err
		}
		next = end
		if bug == "overlap" && end < f.cfg.Runs {
			next = end - 1
		}
	}
	return nil
}

func fakeSuite(config string) plugintest.ConnectorSuite[fakeConfig] {
	return plugintest.ConnectorSuite[fakeConfig]{
		Plugin:      sdk.Plugin[fakeConfig]{Manifest: []byte(fakeManifest), New: newFake},
		ValidConfig: []byte(config),
		Secrets:     map[string]string{"token": "s3cret/token+value"},
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "negative runs", Config: []byte(`{"runs": -1}`), Field: "/runs"},
		},
		MinRuns:     30,
		CancelBound: 200 * time.Millisecond,
	}
}

func TestRunConnectorSuite_passesACorrectConnector(t *testing.T) {
	failures := record(t, func(t testing.TB) {
		plugintest.RunConnectorSuite(t, fakeSuite(`{"runs": 35}`))
	})
	if len(failures) > 0 {
		t.Errorf("a correct connector fails the suite:\n%s", strings.Join(failures, "\n"))
	}
}

func TestRunConnectorSuite_catchesBrokenConnectors(t *testing.T) {
	for _, tc := range []struct {
		bug  string
		want [][]string // each: parts of one expected failure
	}{
		{"overlap", [][]string{
			{"full_sync:", `run "10" is delivered twice in one sync`},
			{"contract:", "committed twice unchanged"},
		}},
		{"stuck_cursor", [][]string{{"cursor_advances:", "the cursor did not advance"}}},
		{"constant_cursor", [][]string{
			{"replay:", "delivers all 35 runs again"},
			{"contract: crashes:", "committed twice unchanged"},
		}},
		{"invalid_state", [][]string{{"full_sync:", `state "SUCCESS"`, "not a normalised state"}}},
		{"ended_before_started", [][]string{{"full_sync:", `run "3"`, "before it started"}}},
		{"skip_on_resume", [][]string{
			{"resume:", "loses runs [11]"},
			{"contract: transient_errors:", "runs lost"},
		}},
		{"leak_run", [][]string{{"no_secret_leak:", `secret "token" leaked (as is)`, "error_message"}}},
		{"leak_health", [][]string{{"no_secret_leak:", `secret "token" leaked (URL-query-escaped)`, "CheckHealth message"}}},
		{"block_on_cancel", [][]string{{"cancellation:", "did not return within 200ms"}}},
		{"ignore_send_error", [][]string{{"cancellation:", "called send 2 more times"}}},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			t.Parallel()
			failures := record(t, func(t testing.TB) {
				plugintest.RunConnectorSuite(t, fakeSuite(`{"runs": 35, "bug": "`+tc.bug+`"}`))
			})
			for _, parts := range tc.want {
				wantFailure(t, failures, parts...)
			}
			for _, f := range failures {
				if strings.Contains(f, "s3cret") || strings.Contains(f, "s3cret%2Ftoken") {
					t.Errorf("a failure message shows the secret: %s", f)
				}
			}
		})
	}
}

func TestRunConnectorSuite_catchesConfigProblems(t *testing.T) {
	dir := t.TempDir()
	stale := strings.Replace(fakeManifest, `"1.2.3"`, `"1.2.4"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	s := fakeSuite(`{"runs": 35}`)
	s.BundleDir = dir
	s.Secrets = map[string]string{"token": "s3cret/token+value", "bug": "not-a-secret-field"}
	s.InvalidConfigs = []plugintest.InvalidConfig{
		{Name: "wrong field", Config: []byte(`{"runs": -1}`), Field: "/batch"},
		{Name: "accepted", Config: []byte(`{"runs": 1, "batch": 5}`), Field: "/batch"},
	}
	s.RejectedConfigs = []plugintest.RejectedConfig{
		{Name: "untyped", Config: []byte(`{"runs": 1, "bug": "untyped_configure"}`), Kind: sdk.KindAuth},
	}
	failures := record(t, func(t testing.TB) { plugintest.RunConnectorSuite(t, s) })
	wantFailure(t, failures, "describe:", "version 1.2.3 but plugin.json says 1.2.4")
	wantFailure(t, failures, "config_schema:", `secret "bug" is not a property marked "x-secret"`)
	wantFailure(t, failures, "invalid_config: wrong field:", `want a problem at field "/batch"`)
	wantFailure(t, failures, "invalid_config: accepted:", "ValidateConfig accepts")
	wantFailure(t, failures, "invalid_config: accepted:", "Configure accepts")
	wantFailure(t, failures, "rejected_config: untyped:", "fails with kind INTERNAL", "want AUTH")
}

func TestRunConnectorSuite_catchesASecretInAnError(t *testing.T) {
	s := fakeSuite(`{"runs": 35}`)
	s.RejectedConfigs = []plugintest.RejectedConfig{{
		Name:    "refused token",
		Config:  []byte(`{"runs": 1, "bug": "leak_error"}`),
		Secrets: map[string]string{"token": "other/secret+value"},
		Kind:    sdk.KindAuth,
	}}
	failures := record(t, func(t testing.TB) { plugintest.RunConnectorSuite(t, s) })
	wantFailure(t, failures, "no_secret_leak:", "leaked (URL-query-escaped) in Configure error", "token=<secret token")
	if len(failures) != 1 {
		t.Errorf("want only the leak reported, got %q", failures)
	}
}
