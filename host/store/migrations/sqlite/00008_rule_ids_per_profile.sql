-- +goose Up
-- A rule id is unique within its profile, not across profiles: rules as
-- code load the same ids into several profiles, and a create in one
-- profile must not learn (through a conflict) that another profile uses
-- an id. SQLite cannot change a primary key, so both tables are rebuilt;
-- copies are taken first and the child (alert_states) dropped before its
-- parent, so that no ON DELETE CASCADE fires with foreign keys on.
CREATE TABLE alert_rules_copy AS SELECT * FROM alert_rules;
CREATE TABLE alert_states_copy AS SELECT * FROM alert_states;
DROP TABLE alert_states;
DROP TABLE alert_rules;
CREATE TABLE alert_rules (
    id          TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    spec_json   TEXT    NOT NULL DEFAULT '{}',
    enabled     INTEGER NOT NULL DEFAULT 1,
    revision    INTEGER NOT NULL DEFAULT 1,
    created_by  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    provisioned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile_id, id),
    UNIQUE (profile_id, name)
);
INSERT INTO alert_rules (id, profile_id, name, kind, spec_json, enabled, revision, created_by, created_at, updated_at, provisioned)
  SELECT id, profile_id, name, kind, spec_json, enabled, revision, created_by, created_at, updated_at, provisioned
  FROM alert_rules_copy;
CREATE TABLE alert_states (
    profile_id      TEXT    NOT NULL,
    rule_id         TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'normal',
    labels_json     TEXT    NOT NULL DEFAULT '{}',
    value           REAL,
    since           INTEGER NOT NULL,
    last_eval_at    INTEGER,
    updated_at      INTEGER NOT NULL,
    state_json      TEXT    NOT NULL DEFAULT '{}',
    acknowledged_by TEXT    NOT NULL DEFAULT '',
    acknowledged_at INTEGER,
    PRIMARY KEY (profile_id, rule_id, fingerprint),
    FOREIGN KEY (profile_id, rule_id) REFERENCES alert_rules (profile_id, id) ON DELETE CASCADE
);
INSERT INTO alert_states (profile_id, rule_id, fingerprint, state, labels_json, value, since, last_eval_at, updated_at,
    state_json, acknowledged_by, acknowledged_at)
  SELECT profile_id, rule_id, fingerprint, state, labels_json, value, since, last_eval_at, updated_at,
    state_json, acknowledged_by, acknowledged_at
  FROM alert_states_copy;
CREATE INDEX alert_states_profile_state ON alert_states (profile_id, state);
DROP TABLE alert_states_copy;
DROP TABLE alert_rules_copy;
-- The outbox finds a group's last message (grouping interval) by index.
CREATE INDEX notifications_group_sent ON notifications (profile_id, sink_source_id, group_key, delivered_at)
  WHERE state = 'delivered';

-- +goose Down
DROP INDEX notifications_group_sent;
-- The rule ids stay unique per profile: going back would fail on ids
-- used in several profiles, and nothing below needs the old key.
