package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/puod/puod/host/identity"
)

// APIToken is a long-lived credential for automation. The store keeps only a
// hash of the secret; the caller (auth) generates the secret, shows it once
// and hashes it the same way for LookupByHash.
type APIToken struct {
	ID         string
	ProfileID  string
	UserID     string
	Name       string
	Role       identity.Role
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

// Active reports whether the token may authenticate at now.
func (t APIToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// NewAPIToken is the input of APITokens().Create.
type NewAPIToken struct {
	Name      string
	TokenHash string
	// Role may not exceed the creator's role in the profile.
	Role      identity.Role
	ExpiresAt *time.Time
}

// APITokenFilter narrows APITokens().List.
type APITokenFilter struct {
	// UserID limits the list to one user's tokens; empty lists the profile's.
	UserID string
}

const apiTokenCols = `id, profile_id, user_id, name, role, expires_at, last_used_at, revoked_at, created_at`

func scanAPIToken(r rowScanner) (APIToken, error) {
	var t APIToken
	var role string
	err := r.Scan(&t.ID, &t.ProfileID, &t.UserID, &t.Name, &role,
		nullTimeDest{&t.ExpiresAt}, nullTimeDest{&t.LastUsedAt}, nullTimeDest{&t.RevokedAt}, timeDest{&t.CreatedAt})
	if err != nil {
		return APIToken{}, mapErr(err)
	}
	t.Role = identity.Role(role)
	return t, nil
}

// APITokens is the profile-scoped API-token repository. Tokens are created
// for the calling user in the calling profile.
type APITokens struct{ db *DB }

// APITokens returns the profile-scoped API-token repository.
func (db *DB) APITokens() *APITokens { return &APITokens{db: db} }

// Create stores a token for the caller. A role above the caller's own is
// ErrInvalid: a token must not escalate privileges.
func (r *APITokens) Create(ctx context.Context, in NewAPIToken) (APIToken, error) {
	defer r.db.bump(GenIdentity)
	p, err := identity.Require(ctx)
	if err != nil {
		return APIToken{}, fmt.Errorf("create api token: %w", err)
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		return APIToken{}, fmt.Errorf("create api token: %w: name is empty", ErrInvalid)
	case in.TokenHash == "":
		return APIToken{}, fmt.Errorf("create api token: %w: token hash is empty", ErrInvalid)
	case !in.Role.Valid():
		return APIToken{}, fmt.Errorf("create api token: %w: unknown role %q: use viewer, editor or admin", ErrInvalid, in.Role)
	case !p.Role.Allows(in.Role):
		return APIToken{}, fmt.Errorf("create api token: %w: role %s exceeds your role %s", ErrInvalid, in.Role, p.Role)
	}
	t := APIToken{ID: newID(), ProfileID: p.ProfileID, UserID: p.UserID, Name: in.Name, Role: in.Role,
		ExpiresAt: timePtr(in.ExpiresAt), CreatedAt: Now()}
	_, err = exec(ctx, r.db.x, `INSERT INTO api_tokens (id, profile_id, user_id, name, token_hash, role, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.ProfileID, t.UserID, t.Name, in.TokenHash, string(t.Role), t.ExpiresAt, t.CreatedAt)
	if err != nil {
		return APIToken{}, fmt.Errorf("create api token %q: %w", in.Name, err)
	}
	return t, nil
}

// List returns the profile's tokens, newest first.
func (r *APITokens) List(ctx context.Context, f APITokenFilter, page Page) ([]APIToken, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list api tokens: %w", err)
	}
	var afterAt int64
	var afterID string
	more, err := page.decode(&afterAt, &afterID)
	if err != nil {
		return nil, "", fmt.Errorf("list api tokens: %w", err)
	}
	limit := page.limit()
	where, args := `profile_id = ?`, []any{p.ProfileID}
	if f.UserID != "" {
		where, args = where+` AND user_id = ?`, append(args, f.UserID)
	}
	if more {
		at := time.UnixMicro(afterAt)
		where, args = where+` AND (created_at < ? OR (created_at = ? AND id < ?))`, append(args, at, at, afterID)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+apiTokenCols+` FROM api_tokens WHERE `+where+`
		ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list api tokens: %w", err)
	}
	toks, err := collect(rows, scanAPIToken)
	if err != nil {
		return nil, "", fmt.Errorf("list api tokens: %w", err)
	}
	toks, next := trimPage(toks, limit, func(t APIToken) []any { return []any{t.CreatedAt.UnixMicro(), t.ID} })
	return toks, next, nil
}

// Get returns one token of the profile.
func (r *APITokens) Get(ctx context.Context, id string) (APIToken, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return APIToken{}, fmt.Errorf("get api token: %w", err)
	}
	t, err := scanAPIToken(queryRow(ctx, r.db.x, `SELECT `+apiTokenCols+` FROM api_tokens WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
	if err != nil {
		return APIToken{}, fmt.Errorf("get api token %s: %w", id, err)
	}
	return t, nil
}

// Revoke ends a token of the profile. Revoking a revoked token is a no-op.
func (r *APITokens) Revoke(ctx context.Context, id string) error {
	defer r.db.bump(GenIdentity)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	// The WHERE clause matches revoked tokens too (keeping the first
	// revocation time), so zero rows means only "no such token here".
	err = execOne(ctx, r.db.x, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE profile_id = ? AND id = ?`,
		Now(), p.ProfileID, id)
	if err != nil {
		return fmt.Errorf("revoke api token %s: %w", id, err)
	}
	return nil
}

// SystemAPITokens authenticates API tokens; it runs before a principal
// exists, hence unscoped.
type SystemAPITokens struct{ db *DB }

// APITokenPrincipal is an authenticated API token with its owner.
type APITokenPrincipal struct {
	Token    APIToken
	Username string
}

// Principal returns the identity the token acts as.
func (a APITokenPrincipal) Principal() identity.Principal {
	return identity.Principal{UserID: a.Token.UserID, Username: a.Username, ProfileID: a.Token.ProfileID,
		Role: a.Token.Role, Via: "token"}
}

// lastUsedGranularity bounds how often a busy token's last_used_at is
// written: once a minute is precise enough for "last used" and keeps
// authentication from being a write per request.
const lastUsedGranularity = time.Minute

// LookupByHash finds the active token with this hash. Revoked or expired
// tokens, and tokens of disabled users, are ErrNotFound: authentication
// must not tell an attacker which of those it was. The returned role is the
// lower of the token's and the owner's current membership role.
func (r *SystemAPITokens) LookupByHash(ctx context.Context, tokenHash string) (APITokenPrincipal, error) {
	now := Now()
	row := queryRow(ctx, r.db.x, `SELECT t.id, t.profile_id, t.user_id, t.name, t.role, t.expires_at, t.last_used_at,
		t.revoked_at, t.created_at, u.username, m.role
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		JOIN memberships m ON m.profile_id = t.profile_id AND m.user_id = t.user_id
		WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.disabled = ?`,
		tokenHash, now, false)
	var a APITokenPrincipal
	var role, memberRole string
	err := row.Scan(&a.Token.ID, &a.Token.ProfileID, &a.Token.UserID, &a.Token.Name, &role,
		nullTimeDest{&a.Token.ExpiresAt}, nullTimeDest{&a.Token.LastUsedAt}, nullTimeDest{&a.Token.RevokedAt},
		timeDest{&a.Token.CreatedAt}, &a.Username, &memberRole)
	if err != nil {
		return APITokenPrincipal{}, fmt.Errorf("look up api token: %w", mapErr(err))
	}
	a.Token.Role = identity.Role(role)
	// A token never outranks its owner's current membership: a user demoted
	// after creating an admin token is demoted through the token too.
	if m := identity.Role(memberRole); !m.Allows(a.Token.Role) {
		a.Token.Role = m
	}
	if a.Token.LastUsedAt == nil || now.Sub(*a.Token.LastUsedAt) >= lastUsedGranularity {
		if _, err := exec(ctx, r.db.x, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now, a.Token.ID); err != nil {
			return APITokenPrincipal{}, fmt.Errorf("record use of api token %s: %w", a.Token.ID, err)
		}
		a.Token.LastUsedAt = &now
	}
	return a, nil
}
