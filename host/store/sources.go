package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/puod/puod/host/identity"
)

// Health states of a source.
const (
	HealthUnknown  = "unknown"
	HealthOK       = "ok"
	HealthDegraded = "degraded"
	HealthError    = "error"
)

// Source is a configured plugin instance in a profile.
type Source struct {
	ID        string
	ProfileID string
	PluginID  string
	Name      string
	// Config is the instance's non-secret settings as JSON.
	Config json.RawMessage
	// SecretsEnc is the AES-GCM ciphertext of the secret settings; KeyID
	// names the key that sealed it, so keys can be rotated.
	SecretsEnc          []byte
	KeyID               string
	PollIntervalSeconds int
	Enabled             bool
	// Revision increases on every configuration change: plugins rebuild
	// an instance when it changes, and Update uses it for optimistic locking.
	Revision int64
	// Cursor is the connector's opaque resume position.
	Cursor    string
	Health    SourceHealth
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SourceHealth is the last known state of a source's polls.
type SourceHealth struct {
	Status        string
	Message       string
	LastSuccessAt *time.Time
	LastErrorAt   *time.Time
	LastError     string
	// Lag is how far the newest collected run activity trailed the poll
	// that recorded it; nil until a poll measured it.
	Lag *time.Duration
}

// SourceInput is what a user configures; the rest of Source is maintained
// by the store and the collector.
type SourceInput struct {
	PluginID            string
	Name                string
	Config              json.RawMessage
	SecretsEnc          []byte
	KeyID               string
	PollIntervalSeconds int
	Enabled             bool
}

func (in *SourceInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		return fmt.Errorf("%w: source name is empty", ErrInvalid)
	case in.PluginID == "":
		return fmt.Errorf("%w: source plugin id is empty", ErrInvalid)
	case in.PollIntervalSeconds < 0:
		return fmt.Errorf("%w: poll interval %ds is negative", ErrInvalid, in.PollIntervalSeconds)
	}
	if len(in.Config) == 0 {
		in.Config = json.RawMessage(`{}`)
	}
	if !json.Valid(in.Config) {
		return fmt.Errorf("%w: source config is not valid JSON", ErrInvalid)
	}
	return nil
}

const sourceCols = `id, profile_id, plugin_id, name, config_json, secrets_enc, key_id, poll_interval_seconds,
	enabled, revision, cursor, health_status, health_message, last_success_at, last_error_at, last_error, lag_seconds,
	created_at, updated_at`

func scanSource(r rowScanner) (Source, error) {
	var s Source
	var cfg string
	var lag sql.NullInt64
	err := r.Scan(&s.ID, &s.ProfileID, &s.PluginID, &s.Name, &cfg, &s.SecretsEnc, &s.KeyID, &s.PollIntervalSeconds,
		&s.Enabled, &s.Revision, &s.Cursor, &s.Health.Status, &s.Health.Message,
		nullTimeDest{&s.Health.LastSuccessAt}, nullTimeDest{&s.Health.LastErrorAt}, &s.Health.LastError, &lag,
		timeDest{&s.CreatedAt}, timeDest{&s.UpdatedAt})
	if err != nil {
		return Source{}, mapErr(err)
	}
	s.Config = json.RawMessage(cfg)
	if lag.Valid {
		d := time.Duration(lag.Int64) * time.Second
		s.Health.Lag = &d
	}
	return s, nil
}

// Sources is the profile-scoped source repository.
type Sources struct{ db *DB }

// Sources returns the profile-scoped source repository.
func (db *DB) Sources() *Sources { return &Sources{db: db} }

// Create adds a source to the caller's profile at revision 1 with unknown
// health. A name already used in the profile is ErrConflict.
func (r *Sources) Create(ctx context.Context, in SourceInput) (Source, error) {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return Source{}, fmt.Errorf("create source: %w", err)
	}
	if err := in.validate(); err != nil {
		return Source{}, fmt.Errorf("create source: %w", err)
	}
	now := Now()
	s := Source{
		ID: newID(), ProfileID: p.ProfileID, PluginID: in.PluginID, Name: in.Name, Config: in.Config,
		SecretsEnc: in.SecretsEnc, KeyID: in.KeyID, PollIntervalSeconds: in.PollIntervalSeconds,
		Enabled: in.Enabled, Revision: 1, Health: SourceHealth{Status: HealthUnknown},
		CreatedAt: now, UpdatedAt: now,
	}
	_, err = exec(ctx, r.db.x, `INSERT INTO sources (id, profile_id, plugin_id, name, config_json, secrets_enc, key_id,
		poll_interval_seconds, enabled, revision, cursor, health_status, health_message, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, '', '', ?, ?)`,
		s.ID, s.ProfileID, s.PluginID, s.Name, string(s.Config), s.SecretsEnc, s.KeyID,
		s.PollIntervalSeconds, s.Enabled, s.Revision, s.Health.Status, s.CreatedAt, s.UpdatedAt)
	if err != nil {
		return Source{}, fmt.Errorf("create source %q: %w", in.Name, err)
	}
	return s, nil
}

// Get returns a source of the caller's profile.
func (r *Sources) Get(ctx context.Context, id string) (Source, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Source{}, fmt.Errorf("get source: %w", err)
	}
	s, err := getSource(ctx, r.db.x, p.ProfileID, id)
	if err != nil {
		return Source{}, fmt.Errorf("get source %s: %w", id, err)
	}
	return s, nil
}

func getSource(ctx context.Context, q sqlx.ExtContext, profileID, id string) (Source, error) {
	return scanSource(queryRow(ctx, q, `SELECT `+sourceCols+` FROM sources WHERE profile_id = ? AND id = ?`, profileID, id))
}

// List returns the caller's sources ordered by name.
func (r *Sources) List(ctx context.Context, page Page) ([]Source, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	var after string
	more, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	limit := page.limit()
	where, args := `profile_id = ?`, []any{p.ProfileID}
	if more {
		where, args = where+` AND name > ?`, append(args, after)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+sourceCols+` FROM sources WHERE `+where+` ORDER BY name LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	srcs, err := collect(rows, scanSource)
	if err != nil {
		return nil, "", fmt.Errorf("list sources: %w", err)
	}
	srcs, next := trimPage(srcs, limit, func(s Source) []any { return []any{s.Name} })
	return srcs, next, nil
}

// Update replaces the configuration of a source if its revision is still
// expectedRevision, and returns it at the next revision. A source changed
// meanwhile is ErrConflict (reload and retry); an unknown one ErrNotFound.
func (r *Sources) Update(ctx context.Context, id string, expectedRevision int64, in SourceInput) (Source, error) {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return Source{}, fmt.Errorf("update source: %w", err)
	}
	if err := in.validate(); err != nil {
		return Source{}, fmt.Errorf("update source %s: %w", id, err)
	}
	var out Source
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		err := execOne(ctx, tx, `UPDATE sources SET plugin_id = ?, name = ?, config_json = ?, secrets_enc = ?, key_id = ?,
			poll_interval_seconds = ?, enabled = ?, revision = revision + 1, updated_at = ?
			WHERE profile_id = ? AND id = ? AND revision = ?`,
			in.PluginID, in.Name, string(in.Config), in.SecretsEnc, in.KeyID, in.PollIntervalSeconds, in.Enabled, Now(),
			p.ProfileID, id, expectedRevision)
		if errors.Is(err, ErrNotFound) {
			// Zero rows: tell a stale revision from a missing source.
			cur, gerr := getSource(ctx, tx, p.ProfileID, id)
			if gerr != nil {
				return gerr
			}
			return fmt.Errorf("%w: source is at revision %d, not %d: reload it and retry", ErrConflict, cur.Revision, expectedRevision)
		}
		if err != nil {
			return err
		}
		out, err = getSource(ctx, tx, p.ProfileID, id)
		return err
	})
	if err != nil {
		return Source{}, fmt.Errorf("update source %s: %w", id, err)
	}
	return out, nil
}

// Delete removes a source of the caller's profile with its pipelines, runs
// and plugin state.
func (r *Sources) Delete(ctx context.Context, id string) error {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	if err := execOne(ctx, r.db.x, `DELETE FROM sources WHERE profile_id = ? AND id = ?`, p.ProfileID, id); err != nil {
		return fmt.Errorf("delete source %s: %w", id, err)
	}
	return nil
}

// UpdateHealth records the outcome of a poll or health check. It does not
// change the revision: health is not configuration.
func (r *Sources) UpdateHealth(ctx context.Context, id string, h SourceHealth) error {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("update source health: %w", err)
	}
	if h.Status == "" {
		h.Status = HealthUnknown
	}
	var lag *int64
	if h.Lag != nil {
		secs := int64(h.Lag.Seconds())
		lag = &secs
	}
	err = execOne(ctx, r.db.x, `UPDATE sources SET health_status = ?, health_message = ?, last_success_at = ?,
		last_error_at = ?, last_error = ?, lag_seconds = ?, updated_at = ? WHERE profile_id = ? AND id = ?`,
		h.Status, h.Message, timePtr(h.LastSuccessAt), timePtr(h.LastErrorAt), h.LastError, lag, Now(), p.ProfileID, id)
	if err != nil {
		return fmt.Errorf("update health of source %s: %w", id, err)
	}
	return nil
}

// SetCursor stores the connector's resume position. It does not change the
// revision.
func (r *Sources) SetCursor(ctx context.Context, id, cursor string) error {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("set source cursor: %w", err)
	}
	if err := execOne(ctx, r.db.x, `UPDATE sources SET cursor = ? WHERE profile_id = ? AND id = ?`, cursor, p.ProfileID, id); err != nil {
		return fmt.Errorf("set cursor of source %s: %w", id, err)
	}
	return nil
}

// SystemSources is the collector's cross-profile view of sources.
type SystemSources struct{ db *DB }

// List returns the sources of every profile ordered by id, so the collector
// can schedule them; it then acts on each source with a principal of the
// source's profile.
func (r *SystemSources) List(ctx context.Context, page Page) ([]Source, string, error) {
	var after string
	more, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list all sources: %w", err)
	}
	limit := page.limit()
	where, args := `1 = 1`, []any{}
	if more {
		where, args = `id > ?`, append(args, after)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+sourceCols+` FROM sources WHERE `+where+` ORDER BY id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list all sources: %w", err)
	}
	srcs, err := collect(rows, scanSource)
	if err != nil {
		return nil, "", fmt.Errorf("list all sources: %w", err)
	}
	srcs, next := trimPage(srcs, limit, func(s Source) []any { return []any{s.ID} })
	return srcs, next, nil
}
