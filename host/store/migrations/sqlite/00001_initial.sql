-- Initial PUOD schema for SQLite.
-- Times are INTEGER unix microseconds (UTC); booleans are INTEGER 0/1; JSON is
-- TEXT (kept byte-exact, the audit hash covers it); ids are TEXT UUIDv7.
-- Composite foreign keys on (profile_id, …) make a cross-profile reference
-- impossible even if a repository had a bug.

-- +goose Up
CREATE TABLE profiles (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL DEFAULT '',
    display_name  TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
    profile_id TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (profile_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Tokens hang off the membership: removing a user from a profile kills the
-- tokens they hold in it.
CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY,
    profile_id   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (profile_id, user_id) REFERENCES memberships (profile_id, user_id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_profile ON api_tokens (profile_id, created_at, id);

CREATE TABLE refresh_tokens (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    family_id   TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    replaced_by TEXT,
    created_at  INTEGER NOT NULL,
    FOREIGN KEY (profile_id, user_id) REFERENCES memberships (profile_id, user_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE sources (
    id                    TEXT    PRIMARY KEY,
    profile_id            TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    plugin_id             TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    config_json           TEXT    NOT NULL DEFAULT '{}',
    secrets_enc           BLOB,
    key_id                TEXT    NOT NULL DEFAULT '',
    poll_interval_seconds INTEGER NOT NULL DEFAULT 60,
    enabled               INTEGER NOT NULL DEFAULT 1,
    revision              INTEGER NOT NULL DEFAULT 1,
    cursor                TEXT    NOT NULL DEFAULT '',
    health_status         TEXT    NOT NULL DEFAULT 'unknown',
    health_message        TEXT    NOT NULL DEFAULT '',
    last_success_at       INTEGER,
    last_error_at         INTEGER,
    last_error            TEXT    NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (profile_id, name),
    UNIQUE (profile_id, id)
);
CREATE INDEX sources_plugin ON sources (plugin_id);

CREATE TABLE pipelines (
    id              TEXT    PRIMARY KEY,
    profile_id      TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    tags_json       TEXT    NOT NULL DEFAULT '[]',
    url             TEXT    NOT NULL DEFAULT '',
    attributes_json TEXT    NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (profile_id, source_id, external_id),
    UNIQUE (profile_id, id),
    FOREIGN KEY (profile_id, source_id) REFERENCES sources (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX pipelines_profile_name ON pipelines (profile_id, name);

CREATE TABLE runs (
    id              TEXT    PRIMARY KEY,
    profile_id      TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    pipeline_id     TEXT,
    external_id     TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped', 'timed_out')),
    raw_state       TEXT    NOT NULL DEFAULT '',
    queued_at       INTEGER,
    started_at      INTEGER,
    ended_at        INTEGER,
    duration_ms     INTEGER,
    error_message   TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    attributes_json TEXT    NOT NULL DEFAULT '{}',
    attempt         INTEGER NOT NULL DEFAULT 1,
    updated_at      INTEGER NOT NULL,
    UNIQUE (profile_id, source_id, external_id),
    FOREIGN KEY (profile_id, source_id) REFERENCES sources (profile_id, id) ON DELETE CASCADE,
    FOREIGN KEY (profile_id, pipeline_id) REFERENCES pipelines (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX runs_profile_started ON runs (profile_id, started_at DESC);
CREATE INDEX runs_profile_pipeline_started ON runs (profile_id, pipeline_id, started_at);
CREATE INDEX runs_profile_state_started ON runs (profile_id, state, started_at);

-- One value per (series, time): a replayed push or pull is an idempotent upsert.
CREATE TABLE metric_points (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    series      TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    value       REAL    NOT NULL,
    labels_json TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (profile_id, series, ts)
);

CREATE TABLE dashboards (
    id          TEXT    PRIMARY KEY,
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    slug        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    spec_json   TEXT    NOT NULL DEFAULT '{}',
    version     INTEGER NOT NULL DEFAULT 1,
    read_only   INTEGER NOT NULL DEFAULT 0,
    provisioned INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (profile_id, slug)
);

CREATE TABLE alert_rules (
    id         TEXT    PRIMARY KEY,
    profile_id TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    spec_json  TEXT    NOT NULL DEFAULT '{}',
    enabled    INTEGER NOT NULL DEFAULT 1,
    revision   INTEGER NOT NULL DEFAULT 1,
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (profile_id, name),
    UNIQUE (profile_id, id)
);

-- One state machine per (rule, series fingerprint).
CREATE TABLE alert_states (
    profile_id   TEXT    NOT NULL,
    rule_id      TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL DEFAULT 'normal',
    labels_json  TEXT    NOT NULL DEFAULT '{}',
    value        REAL,
    since        INTEGER NOT NULL,
    last_eval_at INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (profile_id, rule_id, fingerprint),
    FOREIGN KEY (profile_id, rule_id) REFERENCES alert_rules (profile_id, id) ON DELETE CASCADE
);

-- The outbox: a notification row exists before anything is sent.
CREATE TABLE notifications (
    id              TEXT    PRIMARY KEY,
    profile_id      TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    rule_id         TEXT,
    sink_source_id  TEXT,
    payload_json    TEXT    NOT NULL DEFAULT '{}',
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_profile ON notifications (profile_id, created_at);

CREATE TABLE silences (
    id            TEXT    PRIMARY KEY,
    profile_id    TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    matchers_json TEXT    NOT NULL DEFAULT '[]',
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    comment       TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX silences_profile_ends ON silences (profile_id, ends_at);

CREATE TABLE export_jobs (
    id            TEXT    PRIMARY KEY,
    profile_id    TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    owner_id      TEXT    NOT NULL,
    format        TEXT    NOT NULL,
    params_json   TEXT    NOT NULL DEFAULT '{}',
    state         TEXT    NOT NULL DEFAULT 'queued',
    progress      REAL    NOT NULL DEFAULT 0,
    artefact_path TEXT    NOT NULL DEFAULT '',
    error         TEXT    NOT NULL DEFAULT '',
    expires_at    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX export_jobs_profile ON export_jobs (profile_id, created_at);
CREATE INDEX export_jobs_state ON export_jobs (state);

-- Append-only, hash-chained. No foreign keys: the log must outlive the
-- profiles and users it names. seq is assigned from audit_head inside the
-- appending transaction (not AUTOINCREMENT), so the numbering has no gaps
-- unless a row is deleted.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    at           INTEGER NOT NULL,
    profile_id   TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    NOT NULL DEFAULT '',
    username     TEXT    NOT NULL DEFAULT '',
    action       TEXT    NOT NULL,
    object_type  TEXT    NOT NULL DEFAULT '',
    object_id    TEXT    NOT NULL DEFAULT '',
    outcome      TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    details_json TEXT    NOT NULL DEFAULT '{}',
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);
CREATE INDEX audit_log_profile_seq ON audit_log (profile_id, seq);
CREATE INDEX audit_log_profile_at ON audit_log (profile_id, at);

-- The chain head (last seq and hash). Updated in the same transaction as each
-- append; it serialises appends and lets Verify notice a deleted tail.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE plugin_state (
    profile_id TEXT    NOT NULL,
    source_id  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (profile_id, source_id, key),
    FOREIGN KEY (profile_id, source_id) REFERENCES sources (profile_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE plugin_state;
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE export_jobs;
DROP TABLE silences;
DROP TABLE notifications;
DROP TABLE alert_states;
DROP TABLE alert_rules;
DROP TABLE dashboards;
DROP TABLE metric_points;
DROP TABLE runs;
DROP TABLE pipelines;
DROP TABLE sources;
DROP TABLE refresh_tokens;
DROP TABLE api_tokens;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE profiles;
