-- Run ingest (collector, webhooks, OpenLineage) and the run/pipeline read API.
--
-- runs.sort_at is the ordering key of run lists: started_at when known, else
-- queued_at, else ended_at, else when PUOD first saw the run. It is never
-- NULL, so keyset pagination (sort_at DESC, id DESC) needs no NULL handling
-- and every list is served by an index. The started_at indexes of 00001 are
-- replaced by sort_at ones: query runs by time through sort_at.
-- runs.event_at is the time of the event that set the run's state, for push
-- paths whose events may arrive out of order (OpenLineage); NULL for polls.
-- sources.webhook_secret_enc holds the per-source webhook secret sealed
-- with the host keyring (not hashed: verifying an HMAC signature needs the
-- secret itself).

-- +goose Up
ALTER TABLE runs ADD COLUMN tasks_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN metrics_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN event_at INTEGER;
ALTER TABLE runs ADD COLUMN sort_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET sort_at = COALESCE(started_at, queued_at, ended_at, updated_at), created_at = updated_at;

DROP INDEX runs_profile_started;
DROP INDEX runs_profile_pipeline_started;
DROP INDEX runs_profile_state_started;
CREATE INDEX runs_profile_sort ON runs (profile_id, sort_at DESC, id DESC);
-- Not (profile_id, source_id, …): with that prefix a planner without fresh
-- statistics may pick it over the unique (profile_id, source_id,
-- external_id) key for ingest's lookups, and scan a source's runs per batch.
-- A source belongs to one profile, so source_id alone serves its lists.
CREATE INDEX runs_source_sort ON runs (source_id, sort_at DESC, id DESC);
CREATE INDEX runs_profile_pipeline_sort ON runs (profile_id, pipeline_id, sort_at DESC, id DESC);
CREATE INDEX runs_profile_state_sort ON runs (profile_id, state, sort_at DESC, id DESC);

CREATE INDEX pipelines_profile_name_id ON pipelines (profile_id, name, id);
DROP INDEX pipelines_profile_name;

ALTER TABLE sources ADD COLUMN webhook_secret_enc BLOB;
ALTER TABLE sources ADD COLUMN webhook_key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sources DROP COLUMN webhook_key_id;
ALTER TABLE sources DROP COLUMN webhook_secret_enc;
CREATE INDEX pipelines_profile_name ON pipelines (profile_id, name);
DROP INDEX pipelines_profile_name_id;
DROP INDEX runs_profile_state_sort;
DROP INDEX runs_profile_pipeline_sort;
DROP INDEX runs_source_sort;
DROP INDEX runs_profile_sort;
CREATE INDEX runs_profile_started ON runs (profile_id, started_at DESC);
CREATE INDEX runs_profile_pipeline_started ON runs (profile_id, pipeline_id, started_at);
CREATE INDEX runs_profile_state_started ON runs (profile_id, state, started_at);
ALTER TABLE runs DROP COLUMN created_at;
ALTER TABLE runs DROP COLUMN sort_at;
ALTER TABLE runs DROP COLUMN event_at;
ALTER TABLE runs DROP COLUMN metrics_json;
ALTER TABLE runs DROP COLUMN tasks_json;
