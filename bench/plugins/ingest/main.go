// Command ingest is the ingest benchmark's connector, written with the SDK:
// a source holds a history of Config.Runs synthetic runs (runset), which
// ListRuns streams in batches of 500 from the cursor on. The cursor is the
// number of runs already delivered ("" is 0), so a poll cut short resumes
// where its last stored batch ended, and the final cursor is the total.
package main

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"

	"github.com/puod/puod/bench/plugins/ingest/runset"
	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// Config is one source: how many runs its history holds.
type Config struct {
	Runs int `json:"runs,omitempty" jsonschema:"minimum=1,maximum=100000000,description=Runs in the source's history (default 1000000)"`
}

type source struct{ total int }

func (s source) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return runset.PipelineList(), nil
}

func (s source) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	next := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return sdk.PermanentError("cursor %q is not a run count", cursor)
		}
		next = n
	}
	buf := make([]sdk.Run, 0, runset.Batch)
	for next < s.total {
		end := min(next+runset.Batch, s.total)
		buf = runset.Fill(buf, next, end)
		if err := send(sdk.RunBatch{Runs: buf, NextCursor: strconv.Itoa(end)}); err != nil {
			return err
		}
		next = end
	}
	return ctx.Err()
}

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: func(_ context.Context, cfg Config, _ sdk.Env) (any, error) {
		if cfg.Runs < 0 {
			return nil, fmt.Errorf("runs must be positive")
		}
		if cfg.Runs == 0 {
			cfg.Runs = runset.Total
		}
		return source{total: cfg.Runs}, nil
	}})
}
