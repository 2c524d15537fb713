-- +goose Up
-- The outbox stores one row per (notification, sink). The engine's
-- notification ids are stable per transition, so (profile, notification,
-- sink) is the de-duplication key: a retried write inserts nothing.
-- group_key orders delivery (a row waits while an older pending row of the
-- same profile, sink and group exists); seq is the insertion order that
-- "older" means (SQLite cannot add an autoincrement column: the store sets
-- it under the write lock). claimed_until is a worker's lease on a row it
-- is sending: other workers skip the row until then, and a crashed
-- worker's rows come back when it passes.
ALTER TABLE notifications ADD COLUMN notification_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN claimed_until INTEGER;
UPDATE notifications SET notification_id = id WHERE notification_id = '';
UPDATE notifications SET sink_source_id = '' WHERE sink_source_id IS NULL;
UPDATE notifications SET seq = rowid WHERE seq = 0;
CREATE UNIQUE INDEX notifications_dedup ON notifications (profile_id, notification_id, sink_source_id);
CREATE INDEX notifications_group ON notifications (profile_id, sink_source_id, group_key, seq) WHERE state = 'pending';
CREATE INDEX notifications_profile_seq ON notifications (profile_id, seq);

-- +goose Down
DROP INDEX notifications_profile_seq;
DROP INDEX notifications_group;
DROP INDEX notifications_dedup;
ALTER TABLE notifications DROP COLUMN claimed_until;
ALTER TABLE notifications DROP COLUMN seq;
ALTER TABLE notifications DROP COLUMN group_key;
ALTER TABLE notifications DROP COLUMN notification_id;
