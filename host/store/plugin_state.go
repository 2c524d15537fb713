package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Get returns any profile's source by id. It serves the plugin host
// services, where the caller is a plugin naming one of its instances (the
// instance id is the source id) rather than a user in a profile; the caller
// must check that the source belongs to the plugin asking.
func (r *SystemSources) Get(ctx context.Context, id string) (Source, error) {
	row := queryRow(ctx, r.db.x, `SELECT `+sourceCols+` FROM sources WHERE id = ?`, id)
	src, err := scanSource(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Source{}, fmt.Errorf("get source %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Source{}, fmt.Errorf("get source %s: %w", id, err)
	}
	return src, nil
}

// PluginState is the small key/value state plugins keep per instance
// through the host services. Rows belong to a source and go with it.
type PluginState struct{ db *DB }

// PluginState returns the plugin state store. It is unscoped because the
// caller is a plugin, identified by the source it names; the host services
// check that the source belongs to that plugin first.
func (s *System) PluginState() *PluginState { return &PluginState{db: s.db} }

// MaxPluginStateValue bounds one stored value.
const MaxPluginStateValue = 64 << 10

// Get reads a value; ok is false when the key was never set.
func (p *PluginState) Get(ctx context.Context, src Source, key string) (value []byte, ok bool, err error) {
	row := queryRow(ctx, p.db.x, `SELECT value FROM plugin_state WHERE profile_id = ? AND source_id = ? AND key = ?`, src.ProfileID, src.ID, key)
	if err := row.Scan(&value); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("get plugin state %s/%s: %w", src.ID, key, err)
	}
	return value, true, nil
}

// Set stores a value (nil deletes the key).
func (p *PluginState) Set(ctx context.Context, src Source, key string, value []byte) error {
	if key == "" || len(key) > 200 {
		return fmt.Errorf("plugin state key must be 1 to 200 bytes: %w", ErrInvalid)
	}
	if len(value) > MaxPluginStateValue {
		return fmt.Errorf("plugin state value is %d bytes, the limit is %d: %w", len(value), MaxPluginStateValue, ErrInvalid)
	}
	if value == nil {
		_, err := exec(ctx, p.db.x, `DELETE FROM plugin_state WHERE profile_id = ? AND source_id = ? AND key = ?`, src.ProfileID, src.ID, key)
		return err
	}
	_, err := exec(ctx, p.db.x, `INSERT INTO plugin_state (profile_id, source_id, key, value, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (profile_id, source_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		src.ProfileID, src.ID, key, value, Now())
	if err != nil {
		return fmt.Errorf("set plugin state %s/%s: %w", src.ID, key, err)
	}
	return nil
}
