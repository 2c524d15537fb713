// Package databrickssim simulates a Databricks workspace's Jobs API (2.1 and
// 2.2), its OAuth token endpoint and its job-notification webhooks, for the
// puod.databricks connector's tests and for `puod serve --demo`.
//
// A Workspace is an http.Handler that speaks the vendor's real formats, as
// documented in the project's API reference (docs: apis/databricks.md):
// the same paths and query parameters, epoch-millisecond times, int64 ids,
// token paging with has_more/next_page_token, arrays omitted when empty,
// {"error_code","message"} errors (400 INVALID_PARAMETER_VALUE for a run
// that does not exist), bearer authentication with a personal access token
// or an OAuth machine-to-machine token from POST /oidc/v1/token. A client
// cannot tell it from a real workspace, short of the data it holds.
//
// The data is an in-memory world of jobs and runs. It comes from any mix of:
//
//   - the reference fixtures (Options.Fixtures): the shared 2026-11-17
//     scenario, with the fixture files served byte for byte for the exact
//     requests the reference pairs them with;
//   - a scenario generator (StartScenario) that schedules runs of a set of
//     jobs (DefaultJobs: ETL_Vendas every 15 minutes, sometimes slower than
//     5 minutes, ingest_clientes hourly, etl_vendas_daily, …) on the
//     injected clock: mostly successes, some failures with vendor-realistic
//     messages, task retries, time-outs, queued and skipped runs. It is
//     deterministic for a given seed and clock;
//   - explicit calls (AddJob, StartRun, AddRun, FinishRun, RepairRun,
//     SetRunState) for tests that need one precise situation.
//
// Faults can be injected (Inject, FailNext, ExpireTokens, MalformNextPage,
// SetPageOverlap): rate limiting with Retry-After, outages, expired
// tokens, malformed pages and overlapping pages.
//
// A demo points a connector at it like this:
//
//	ws := databrickssim.New(databrickssim.Options{Token: "dapi-demo-token"}) // real clock
//	ws.StartScenario(databrickssim.Scenario{History: 24 * time.Hour})
//	srv := httptest.NewServer(ws) // or any http.Server with Handler: ws
//	config, secrets := ws.ConnectorConfig(srv.URL)
//	// config {"workspace_url": srv.URL}, secrets {"token": "dapi-demo-token"}
//	go ws.Run(ctx, 10*time.Second) // optional: notifications flow between polls
package databrickssim
