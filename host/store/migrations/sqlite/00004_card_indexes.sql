-- +goose Up
-- Built-in dashboard cards aggregate the runs of a time range (by pipeline,
-- source and state, with durations). This index holds every column they
-- read (SQLite has no INCLUDE: they are trailing key columns), so those
-- aggregates are covering-index scans of the range.
CREATE INDEX runs_profile_sort_cards ON runs (profile_id, sort_at, pipeline_id, source_id, state, duration_ms);

-- +goose Down
DROP INDEX runs_profile_sort_cards;
