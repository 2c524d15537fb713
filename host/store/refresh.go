package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RefreshToken is one link of a refresh-token family. Each successful
// refresh revokes the presented token, records its successor in ReplacedBy
// and issues the successor in the same family. A token presented again after
// it was replaced can only be a copy (stolen, or replayed by an attacker), so
// the whole family is revoked: the thief's and the user's sessions both end.
type RefreshToken struct {
	ID         string
	UserID     string
	ProfileID  string
	FamilyID   string
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	ReplacedBy string
	CreatedAt  time.Time
}

// NewRefreshToken is the input of Issue. The caller generates the secret and
// passes only its hash.
type NewRefreshToken struct {
	UserID    string
	ProfileID string
	TokenHash string
	ExpiresAt time.Time
}

// RefreshTokens is the unscoped refresh-token store (see System): it is used
// by the login and refresh endpoints before a principal exists.
type RefreshTokens struct{ db *DB }

const refreshCols = `id, user_id, profile_id, family_id, expires_at, revoked_at, replaced_by, created_at`

func scanRefresh(r rowScanner) (RefreshToken, error) {
	var t RefreshToken
	var replaced *string
	err := r.Scan(&t.ID, &t.UserID, &t.ProfileID, &t.FamilyID, timeDest{&t.ExpiresAt}, nullTimeDest{&t.RevokedAt},
		&replaced, timeDest{&t.CreatedAt})
	if err != nil {
		return RefreshToken{}, mapErr(err)
	}
	if replaced != nil {
		t.ReplacedBy = *replaced
	}
	return t, nil
}

// Issue starts a new family (at login). The user must be a member of the
// profile, else ErrNotFound.
func (r *RefreshTokens) Issue(ctx context.Context, in NewRefreshToken) (RefreshToken, error) {
	if in.TokenHash == "" || in.UserID == "" || in.ProfileID == "" {
		return RefreshToken{}, fmt.Errorf("issue refresh token: %w: user, profile and token hash are required", ErrInvalid)
	}
	id := newID()
	t, err := insertRefresh(ctx, r.db.x, id, id, in)
	if err != nil {
		return RefreshToken{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return t, nil
}

func insertRefresh(ctx context.Context, q sqlx.ExtContext, id, familyID string, in NewRefreshToken) (RefreshToken, error) {
	t := RefreshToken{ID: id, UserID: in.UserID, ProfileID: in.ProfileID, FamilyID: familyID,
		ExpiresAt: normTime(in.ExpiresAt), CreatedAt: Now()}
	_, err := exec(ctx, q, `INSERT INTO refresh_tokens (id, user_id, profile_id, token_hash, family_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.UserID, t.ProfileID, in.TokenHash, t.FamilyID, t.ExpiresAt, t.CreatedAt)
	if err != nil {
		return RefreshToken{}, err
	}
	return t, nil
}

// Lookup returns the token with this hash, whatever its state.
func (r *RefreshTokens) Lookup(ctx context.Context, tokenHash string) (RefreshToken, error) {
	t, err := scanRefresh(queryRow(ctx, r.db.x, `SELECT `+refreshCols+` FROM refresh_tokens WHERE token_hash = ?`, tokenHash))
	if err != nil {
		return RefreshToken{}, fmt.Errorf("look up refresh token: %w", err)
	}
	return t, nil
}

// errReused carries a detected reuse out of the rotation transaction, which
// is rolled back before the family is revoked.
type errReused struct{ familyID string }

func (e errReused) Error() string { return "refresh token reused" }

// Rotate exchanges the token with oldHash for a new one (hash newHash,
// expiring at expiresAt) in the same family. It returns
//   - ErrTokenReused when the old token was already rotated (the family is
//     now revoked),
//   - ErrNotFound when it is unknown, expired, revoked by logout, or its user
//     is disabled or no longer a member of the profile.
func (r *RefreshTokens) Rotate(ctx context.Context, oldHash, newHash string, expiresAt time.Time) (RefreshToken, error) {
	if newHash == "" {
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w: new token hash is empty", ErrInvalid)
	}
	var next RefreshToken
	err := r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		old, err := scanRefresh(queryRow(ctx, tx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE token_hash = ?`, oldHash))
		if err != nil {
			return err
		}
		if old.ReplacedBy != "" {
			return errReused{familyID: old.FamilyID}
		}
		now := Now()
		if old.RevokedAt != nil || !now.Before(old.ExpiresAt) {
			return ErrNotFound
		}
		var disabled bool
		if err := queryRow(ctx, tx, `SELECT disabled FROM users WHERE id = ?`, old.UserID).Scan(&disabled); err != nil {
			return mapErr(err)
		}
		if disabled {
			return ErrNotFound
		}
		nextID := newID()
		// The revoked_at IS NULL guard makes a concurrent second rotation of
		// the same token match zero rows: that is reuse, too.
		err = execOne(ctx, tx, `UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE id = ? AND revoked_at IS NULL`,
			now, nextID, old.ID)
		if errors.Is(err, ErrNotFound) {
			return errReused{familyID: old.FamilyID}
		}
		if err != nil {
			return err
		}
		next, err = insertRefresh(ctx, tx, nextID, old.FamilyID, NewRefreshToken{
			UserID: old.UserID, ProfileID: old.ProfileID, TokenHash: newHash, ExpiresAt: expiresAt})
		return err
	})
	var reused errReused
	if errors.As(err, &reused) {
		if rerr := r.RevokeFamily(ctx, reused.familyID); rerr != nil {
			return RefreshToken{}, fmt.Errorf("rotate refresh token: %w (and revoking the family failed: %w)", ErrTokenReused, rerr)
		}
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", ErrTokenReused)
	}
	if err != nil {
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	return next, nil
}

// RevokeFamily ends every token of a family (logout, reuse). Revoking an
// empty or already revoked family is not an error.
func (r *RefreshTokens) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := exec(ctx, r.db.x, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		Now(), familyID); err != nil {
		return fmt.Errorf("revoke refresh token family %s: %w", familyID, err)
	}
	return nil
}

// RevokeByHash ends the family of the token with this hash (logout with the
// refresh token in hand). An unknown token is ErrNotFound.
func (r *RefreshTokens) RevokeByHash(ctx context.Context, tokenHash string) error {
	t, err := r.Lookup(ctx, tokenHash)
	if err != nil {
		return fmt.Errorf("revoke refresh token: %w", err)
	}
	return r.RevokeFamily(ctx, t.FamilyID)
}

// RevokeUser ends every session of a user (password change, account
// disabled) and reports how many tokens it revoked.
func (r *RefreshTokens) RevokeUser(ctx context.Context, userID string) (int64, error) {
	res, err := exec(ctx, r.db.x, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, Now(), userID)
	if err != nil {
		return 0, fmt.Errorf("revoke refresh tokens of user %s: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke refresh tokens of user %s: %w", userID, err)
	}
	return n, nil
}

// DeleteExpired removes tokens that expired before cutoff. Keep cutoff well
// in the past (e.g. a day): a revoked-but-kept token is what lets Rotate
// recognise a replay as reuse.
func (r *RefreshTokens) DeleteExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := exec(ctx, r.db.x, `DELETE FROM refresh_tokens WHERE expires_at < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	return n, nil
}
