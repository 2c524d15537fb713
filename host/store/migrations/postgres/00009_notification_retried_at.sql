-- +goose Up
-- retried_at is when a person last sent a dead letter again: the worker's
-- give-up age (24 h by default) counts from it, so an old dead letter
-- sent again after its sink was fixed gets a full day of retries.
ALTER TABLE notifications ADD COLUMN retried_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE notifications DROP COLUMN retried_at;
