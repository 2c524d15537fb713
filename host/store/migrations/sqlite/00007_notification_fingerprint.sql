-- +goose Up
-- fingerprint is the series (rule + identity labels) a notification is
-- about, so one alert's notifications (its timeline in the API and UI)
-- are an indexed lookup rather than a read of every payload. Rows written
-- before the column get it back from their group key when it is the
-- default "<rule id>/<fingerprint>"; other rows keep '' (unknown series).
ALTER TABLE notifications ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
UPDATE notifications SET fingerprint = substr(group_key, length(rule_id) + 2)
  WHERE fingerprint = '' AND rule_id IS NOT NULL AND rule_id <> ''
    AND length(group_key) > length(rule_id) + 1
    AND substr(group_key, 1, length(rule_id) + 1) = rule_id || '/';
CREATE INDEX notifications_series ON notifications (profile_id, rule_id, fingerprint, seq);

-- +goose Down
DROP INDEX notifications_series;
ALTER TABLE notifications DROP COLUMN fingerprint;
