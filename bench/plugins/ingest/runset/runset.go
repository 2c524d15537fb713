// Package runset is the synthetic run history of the ingest benchmark: run
// i of a source is always the same run, so the plugin (which streams it to
// the host) and the benchmark's direct store baseline ingest identical
// content. It depends on the SDK only, to keep the plugin binary small.
package runset

import (
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

const (
	// Total is the default size of the history.
	Total = 1_000_000
	// Pipelines is how many pipelines the runs are spread across.
	Pipelines = 200
	// Batch is how many runs one batch holds.
	Batch = 500
)

// base is the start of run 0; runs start every 30 s after it.
var base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// PipelineID is the external id of pipeline p (0 ≤ p < Pipelines).
func PipelineID(p int) string { return "job-" + strconv.Itoa(1000+p) }

// PipelineName is the name of pipeline p.
func PipelineName(p int) string { return "etl_pipeline_" + strconv.Itoa(1000+p) }

// PipelineList is every pipeline, as ListPipelines answers it.
func PipelineList() []sdk.Pipeline {
	out := make([]sdk.Pipeline, Pipelines)
	for p := range out {
		out[p] = sdk.Pipeline{ExternalID: PipelineID(p), Name: PipelineName(p),
			URL: "https://bench.example/jobs/" + strconv.Itoa(1000+p)}
	}
	return out
}

// Run is run i: mostly successes, one in 20 failed with a message, one in
// 50 cancelled, some queued before starting; two attributes each.
func Run(i int) sdk.Run {
	p := i % Pipelines
	id := strconv.Itoa(i)
	start := base.Add(time.Duration(i) * 30 * time.Second)
	dur := time.Duration(60+(i*7919)%900) * time.Second
	r := sdk.Run{
		ExternalID:         id,
		PipelineExternalID: PipelineID(p),
		PipelineName:       PipelineName(p),
		State:              sdk.StateSucceeded,
		RawState:           "SUCCESS",
		StartedAt:          start,
		EndedAt:            start.Add(dur),
		Duration:           dur,
		URL:                "https://bench.example/jobs/" + strconv.Itoa(1000+p) + "/runs/" + id,
		Attempt:            1,
		Attributes:         map[string]string{"trigger": "PERIODIC", "cluster": "job-cluster-" + strconv.Itoa(p%17)},
	}
	switch {
	case i%20 == 7:
		r.State, r.RawState = sdk.StateFailed, "FAILED"
		r.ErrorMessage = "Task transform failed: [CAST_INVALID_INPUT] The value 'N/A' of the type \"STRING\" cannot be cast to \"DECIMAL(18,2)\" because it is malformed."
	case i%50 == 13:
		r.State, r.RawState = sdk.StateCancelled, "CANCELED"
		r.ErrorMessage = "Run cancelled by user."
	}
	if i%10 == 3 {
		r.QueuedAt = start.Add(-time.Duration(15+i%60) * time.Second)
	}
	return r
}

// Fill appends runs [from, to) to buf[:0] and returns it.
func Fill(buf []sdk.Run, from, to int) []sdk.Run {
	buf = buf[:0]
	for i := from; i < to; i++ {
		buf = append(buf, Run(i))
	}
	return buf
}
