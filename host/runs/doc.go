// Package runs serves the read side of collected data: GET /api/v1/runs
// (filtered, newest first, cursor pagination), GET /api/v1/runs/{id} (with
// tasks and the vendor link) and GET /api/v1/pipelines (with each
// pipeline's last run, success rate and median duration). Ingest lives in
// package collect; this package only reads, always in the caller's profile.
package runs
