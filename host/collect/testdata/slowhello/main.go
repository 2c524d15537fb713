// Command slowhello is sdk/examples/hello with a pause before every batch
// but the first: the collector tests kill it in the middle of a sync.
package main

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

type config struct {
	Greeting string `json:"greeting" jsonschema:"required,minLength=1"`
	Runs     int    `json:"runs,omitempty" jsonschema:"minimum=0"`
	DelayMS  int    `json:"delay_ms,omitempty" jsonschema:"minimum=0"`
}

type hello struct{ cfg config }

func (h *hello) ListPipelines(context.Context) ([]sdk.Pipeline, error) {
	return []sdk.Pipeline{{ExternalID: "hello", Name: h.cfg.Greeting}}, nil
}

func (h *hello) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	last, _ := strconv.Atoi(cursor)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for first := true; last < h.cfg.Runs; first = false {
		if !first {
			select {
			case <-time.After(time.Duration(h.cfg.DelayMS) * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var b sdk.RunBatch
		for ; last < h.cfg.Runs && len(b.Runs) < 100; last++ {
			start := base.Add(time.Duration(last) * time.Minute)
			b.Runs = append(b.Runs, sdk.Run{
				ExternalID: strconv.Itoa(last + 1), PipelineExternalID: "hello", PipelineName: h.cfg.Greeting,
				State: sdk.StateSucceeded, RawState: "OK", StartedAt: start, EndedAt: start.Add(time.Second), Duration: time.Second,
			})
		}
		b.NextCursor = strconv.Itoa(last)
		if err := send(b); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	sdk.Serve(sdk.Plugin[config]{Manifest: manifest, New: func(_ context.Context, cfg config, _ sdk.Env) (any, error) {
		return &hello{cfg: cfg}, nil
	}})
}
