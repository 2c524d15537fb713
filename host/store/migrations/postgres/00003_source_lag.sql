-- +goose Up
-- How far a source's collected runs trail the vendor, measured at its
-- last successful poll (seconds; NULL until known).
ALTER TABLE sources ADD COLUMN lag_seconds BIGINT;

-- +goose Down
ALTER TABLE sources DROP COLUMN lag_seconds;
