-- +goose Up
-- state_json is the engine's whole snapshot of a series (alert.SeriesState:
-- episode sequence, flap history, transitions), which the columns of
-- 00001 only summarise; a restarted engine restores from it. An
-- acknowledgement (who, when) belongs to the current episode: the store
-- clears it when the series leaves pending/firing.
ALTER TABLE alert_states ADD COLUMN state_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alert_states ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alert_states ADD COLUMN acknowledged_at INTEGER;
-- Rules loaded from files (rules as code) are changed only by loading.
ALTER TABLE alert_rules ADD COLUMN provisioned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alert_states_profile_state ON alert_states (profile_id, state);

-- +goose Down
DROP INDEX alert_states_profile_state;
ALTER TABLE alert_rules DROP COLUMN provisioned;
ALTER TABLE alert_states DROP COLUMN acknowledged_at;
ALTER TABLE alert_states DROP COLUMN acknowledged_by;
ALTER TABLE alert_states DROP COLUMN state_json;
