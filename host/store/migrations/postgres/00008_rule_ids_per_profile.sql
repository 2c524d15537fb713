-- +goose Up
-- A rule id is unique within its profile, not across profiles: rules as
-- code load the same ids into several profiles, and a create in one
-- profile must not learn (through a conflict) that another profile uses
-- an id. The (profile_id, id) unique constraint the alert_states foreign
-- key refers to stays.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_pkey;
ALTER TABLE alert_rules ADD PRIMARY KEY (profile_id, id);
-- The outbox finds a group's last message (grouping interval) by index.
CREATE INDEX notifications_group_sent ON notifications (profile_id, sink_source_id, group_key, delivered_at)
  WHERE state = 'delivered';

-- +goose Down
DROP INDEX notifications_group_sent;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_pkey;
ALTER TABLE alert_rules ADD PRIMARY KEY (id);
