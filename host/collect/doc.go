// Package collect owns run ingest: everything that brings runs and metric
// points into the store, and announces them on the bus.
//
//   - The Collector polls every enabled source of every profile through its
//     connector plugin (ListRuns from the stored cursor), on the source's
//     poll interval with jitter, a bounded number of sources at a time, with
//     a deadline per poll and exponential backoff after errors (honouring a
//     plugin's RetryAfter). Each batch the plugin streams is stored with the
//     cursor after it in one transaction, so a plugin killed mid-sync loses
//     nothing and duplicates nothing: the next poll resumes from the last
//     committed cursor. "Sync now" runs a poll on demand.
//   - Push paths enter the same ingest without waiting for a poll: vendor
//     webhooks (POST /api/v1/webhooks/{source_id}, authenticated by a
//     per-source secret, decoded by the source's plugin), OpenLineage
//     RunEvents (POST /api/v1/lineage, into a built-in source per profile)
//     and business metric points (POST /api/v1/metrics).
//
// Every run that is new, or whose state, timing or error changed, is
// published as a bus.TopicRunChanged event after its transaction commits;
// replays publish nothing. The collector acts without a user: for each
// source it uses an internal principal of the source's profile (see
// SystemPrincipal), so every store call stays tenant-scoped.
//
// Scale-out: a Leaser decides which replica polls a source. The default is
// a single-process one; a PostgreSQL or Redis lease lets several replicas
// split the sources.
package collect
