// Command sdkruns is a benchmark connector written with the SDK: ListRuns
// streams N synthetic runs (the cursor "N" asks for N), the same content as
// the bare baseline, so the benchmark measures PUOD's layers only.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// pluginID lets the host-start benchmark build several distinct plugins from
// this source: go build -ldflags "-X main.pluginID=bench.runs3".
var pluginID = "bench.runs"

type config struct{}

type runs struct{}

func (runs) ListPipelines(context.Context) ([]sdk.Pipeline, error) { return nil, nil }

func (runs) ListRuns(ctx context.Context, cursor string, send func(sdk.RunBatch) error) error {
	n, _ := strconv.Atoi(cursor)
	const size = 500
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]sdk.Run, 0, size)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < size; i++ {
			start := base.Add(time.Duration(i) * time.Second)
			batch = append(batch, sdk.Run{
				ExternalID: strconv.Itoa(i), PipelineExternalID: "p" + strconv.Itoa(i%50), PipelineName: "pipeline",
				State: sdk.StateSucceeded, RawState: "SUCCESS",
				StartedAt: start, EndedAt: start.Add(time.Minute), Duration: time.Minute,
			})
		}
		if err := send(sdk.RunBatch{Runs: batch, NextCursor: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func main() {
	m := bytes.Replace(manifest, []byte(`"bench.runs"`), []byte(`"`+pluginID+`"`), 1)
	sdk.Serve(sdk.Plugin[config]{Manifest: m, New: func(context.Context, config, sdk.Env) (any, error) { return runs{}, nil }})
}
