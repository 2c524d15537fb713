// Package synapsesim simulates the Azure Synapse data-plane REST API
// (api-version 2020-12-01) and the Microsoft Entra ID token endpoint it
// needs, as documented in shared/apis/synapse.md. It is an http.Handler
// serving:
//
//	POST /{tenant}/oauth2/v2.0/token                              Entra ID client credentials
//	POST /queryPipelineRuns                                       pipeline runs by lastUpdated window
//	GET  /pipelineruns/{runId}                                    one pipeline run
//	POST /pipelineruns/{runId}/cancel                             cancel a run
//	POST /pipelines/{name}/pipelineruns/{runId}/queryActivityruns activity runs of a run
//	GET  /pipelines, GET /pipelines/{name}                        pipeline definitions (nextLink paging)
//	POST /queryTriggerRuns                                        trigger firings
//
// with the vendor's bodies, paging (continuationToken, nextLink), error
// shapes ({"error":{"code","message"}} on the data plane, AADSTS errors on
// the token endpoint), request-id headers and authentication checks, so a
// connector pointed at it cannot tell it from the real service.
//
// Behind the API is an in-memory world of pipelines and runs. A scenario
// (DefaultScenario) generates a steady, realistic flow from schedules, driven
// by an injectable clock: each run's whole timeline (queued, in progress,
// its activities, the outcome) is decided when its slot comes up, and the
// API shows the part of it the clock has reached. Tests drive runs by hand
// (StartRun, SetStatus, FinishRun, CancelRun), move the clock (ManualClock)
// and inject faults (FailNext, ExpireTokens, MalformNext, OverlapNextPages).
// With Options.Fixtures the world is the documented scenario of
// 2026-11-17, and the requests the doc pairs with a fixture file are
// answered with that file, byte for byte.
//
// To point a connector at a running simulator, use SourceConfig.
package synapsesim
