-- +goose Up
-- Built-in dashboard cards aggregate the runs of a time range (by pipeline,
-- source and state, with durations). This index holds every column they
-- read, so those aggregates are index-only scans of the range rather than
-- one heap fetch per run.
CREATE INDEX runs_profile_sort_cards ON runs (profile_id, sort_at) INCLUDE (pipeline_id, source_id, state, duration_ms);

-- +goose Down
DROP INDEX runs_profile_sort_cards;
