package plugintest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// counterConfig is the example connector's configuration.
type counterConfig struct {
	Runs  int    `json:"runs" jsonschema:"required,minimum=0"`
	Token string `json:"token,omitempty" secret:"true"`
}

var counterManifest = []byte(`{"id": "acme.counter", "name": "Counter", "version": "1.0.0", "kinds": ["connector"],
	"protocol": [1], "host": ">=0.1.0", "executable": "acme-counter"}`)

func newCounter(_ context.Context, cfg counterConfig, _ sdk.Env) (any, error) {
	return counter(cfg.Runs), nil
}

// counter is a connector with runs 1..n, ten per batch; the cursor is the
// number of runs sent.
type counter int

func (c counter) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "count", Name: "Count"}}, nil
}

func (c counter) ListRuns(_ context.Context, cursor string, send func(sdk.RunBatch) error) error {
	next, _ := strconv.Atoi(cursor)
	for next < int(c) {
		b := sdk.RunBatch{}
		for ; next < int(c) && len(b.Runs) < 10; next++ {
			at := time.Unix(int64(next)*60, 0).UTC()
			b.Runs = append(b.Runs, sdk.Run{ExternalID: strconv.Itoa(next + 1), PipelineExternalID: "count",
				State: sdk.StateSucceeded, StartedAt: at, EndedAt: at.Add(time.Second)})
		}
		b.NextCursor = strconv.Itoa(next)
		if err := send(b); err != nil {
			return err // send fails once the host cancelled the poll
		}
	}
	return nil
}

// A connector's conformance test is one call, in its main_test.go. The
// suite serves the plugin in-process over the real wire and runs each check
// as a subtest of t.
func ExampleRunConnectorSuite() {
	var t *testing.T // func TestConformance(t *testing.T) { ... }
	plugintest.RunConnectorSuite(t, plugintest.ConnectorSuite[counterConfig]{
		Plugin:      sdk.Plugin[counterConfig]{Manifest: counterManifest, New: newCounter},
		BundleDir:   ".", // Describe must match ./plugin.json
		ValidConfig: []byte(`{"runs": 42}`),
		Secrets:     map[string]string{"token": "test-token"},
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "negative runs", Config: []byte(`{"runs": -1}`), Field: "/runs"},
		},
		MinRuns: 42,
	})
}
