package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/puod/puod/host/identity"
)

// Push ingest (webhooks, OpenLineage) needs a few source operations beyond
// configuration: the per-source webhook secret, looked up before any
// principal exists, and the built-in push-only source of a profile.

// WebhookTarget is what the public webhook endpoint needs to know about a
// source to authenticate a request, before any principal exists.
type WebhookTarget struct {
	SourceID  string
	ProfileID string
	PluginID  string
	Enabled   bool
	// SecretEnc is the webhook secret sealed with the host keyring under
	// KeyID; empty when none was ever created.
	SecretEnc []byte
	KeyID     string
}

// WebhookTarget returns the webhook view of a source of any profile. It is
// unscoped because the caller is not authenticated yet: the caller must
// verify the request against SecretEnc before acting, and then act with a
// principal of ProfileID.
func (r *SystemSources) WebhookTarget(ctx context.Context, sourceID string) (WebhookTarget, error) {
	var t WebhookTarget
	err := queryRow(ctx, r.db.x, `SELECT id, profile_id, plugin_id, enabled, webhook_secret_enc, webhook_key_id
		FROM sources WHERE id = ?`, sourceID).Scan(&t.SourceID, &t.ProfileID, &t.PluginID, &t.Enabled, &t.SecretEnc, &t.KeyID)
	if err != nil {
		return WebhookTarget{}, fmt.Errorf("webhook source %s: %w", sourceID, mapErr(err))
	}
	return t, nil
}

// SetWebhookSecret replaces the sealed webhook secret of a source of the
// caller's profile; the previous secret stops working at once. It does not
// change the revision: the secret is not plugin configuration.
func (r *Sources) SetWebhookSecret(ctx context.Context, id string, sealed []byte, keyID string) error {
	defer r.db.bump(GenSources)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("set webhook secret: %w", err)
	}
	if len(sealed) == 0 || keyID == "" {
		return fmt.Errorf("set webhook secret of source %s: %w: sealed secret or key id is empty", id, ErrInvalid)
	}
	if err := execOne(ctx, r.db.x, `UPDATE sources SET webhook_secret_enc = ?, webhook_key_id = ?, updated_at = ?
		WHERE profile_id = ? AND id = ?`, sealed, keyID, Now(), p.ProfileID, id); err != nil {
		return fmt.Errorf("set webhook secret of source %s: %w", id, err)
	}
	return nil
}

// EnsureBuiltin returns the caller's profile's source of a built-in push
// path (pluginID, e.g. "builtin.openlineage"), creating it on first use:
// enabled, never polled (poll interval 0), named name. Concurrent first
// uses end with one source.
func (r *Sources) EnsureBuiltin(ctx context.Context, pluginID, name string) (Source, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Source{}, fmt.Errorf("built-in source: %w", err)
	}
	find := func() (Source, error) {
		return scanSource(queryRow(ctx, r.db.x, `SELECT `+sourceCols+` FROM sources WHERE profile_id = ? AND plugin_id = ?
			ORDER BY created_at, id LIMIT 1`, p.ProfileID, pluginID))
	}
	src, err := find()
	if errors.Is(err, ErrNotFound) {
		src, err = r.Create(ctx, SourceInput{PluginID: pluginID, Name: name, PollIntervalSeconds: 0, Enabled: true})
		if errors.Is(err, ErrConflict) {
			// Created meanwhile by another request — or a user's source
			// already has the name.
			if src, err = find(); errors.Is(err, ErrNotFound) {
				return Source{}, fmt.Errorf("built-in source %s: %w: a source named %q exists already in this profile: rename it", pluginID, ErrConflict, name)
			}
		}
	}
	if err != nil {
		return Source{}, fmt.Errorf("built-in source %s: %w", pluginID, err)
	}
	return src, nil
}
