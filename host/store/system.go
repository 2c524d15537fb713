package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/puod/puod/host/identity"
)

// System gives access to the operations that run without a principal, and
// therefore without a profile filter:
//
//   - authentication, which needs the user before it knows the principal
//     (user by username, API-token and refresh-token lookup and rotation);
//   - administration from the command line and at first start (create
//     users and profiles, add memberships, bootstrap);
//   - background work that spans profiles (the collector's list of sources,
//     audit verification, audit entries of failed logins).
//
// Nothing reachable from an HTTP handler after authentication should use it:
// handlers use the profile-scoped repositories on *DB, which cannot be told
// to read another tenant's rows.
type System struct{ db *DB }

// System returns the unscoped accessor. See System for when that is right.
func (db *DB) System() *System { return &System{db: db} }

// Users returns the unscoped user repository.
func (s *System) Users() *SystemUsers { return &SystemUsers{db: s.db} }

// Profiles returns the unscoped profile repository.
func (s *System) Profiles() *SystemProfiles { return &SystemProfiles{db: s.db} }

// Memberships returns the unscoped membership repository.
func (s *System) Memberships() *SystemMemberships { return &SystemMemberships{db: s.db} }

// APITokens returns the API-token lookup used by authentication.
func (s *System) APITokens() *SystemAPITokens { return &SystemAPITokens{db: s.db} }

// RefreshTokens returns the refresh-token store used by the login flow.
func (s *System) RefreshTokens() *RefreshTokens { return &RefreshTokens{db: s.db} }

// Audit returns the unscoped audit log (explicit-profile appends, Verify).
func (s *System) Audit() *SystemAudit { return &SystemAudit{db: s.db} }

// Sources returns the cross-profile source view used by the collector.
func (s *System) Sources() *SystemSources { return &SystemSources{db: s.db} }

// DefaultProfileName is the profile created at first start.
const DefaultProfileName = "default"

// DefaultAdminUsername is the account created at first start.
const DefaultAdminUsername = "admin"

// BootstrapConfig controls Bootstrap.
type BootstrapConfig struct {
	// AdminUsername defaults to DefaultAdminUsername.
	AdminUsername string
	// PasswordHash returns the hash of the first admin's password. It is
	// called only when the admin is actually created, so a caller generating
	// a random password prints it exactly when it will be used.
	PasswordHash func() (string, error)
}

// BootstrapResult says what Bootstrap found or created.
type BootstrapResult struct {
	ProfileID      string
	ProfileCreated bool
	// AdminUserID is empty when users already existed.
	AdminUserID  string
	AdminCreated bool
}

// Bootstrap makes a fresh database usable: it ensures the `default` profile
// exists and, when there is no user at all (first start), creates the admin
// user as an admin of `default`. It is idempotent and safe when several
// replicas start at once (a lost race reads the winner's rows).
func (s *System) Bootstrap(ctx context.Context, cfg BootstrapConfig) (BootstrapResult, error) {
	if cfg.AdminUsername == "" {
		cfg.AdminUsername = DefaultAdminUsername
	}
	var res BootstrapResult
	prof, err := s.Profiles().ByName(ctx, DefaultProfileName)
	if errors.Is(err, ErrNotFound) {
		prof, err = s.Profiles().Create(ctx, DefaultProfileName)
		res.ProfileCreated = err == nil
		if errors.Is(err, ErrConflict) {
			prof, err = s.Profiles().ByName(ctx, DefaultProfileName)
		}
	}
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	res.ProfileID = prof.ID

	var users int
	if err := queryRow(ctx, s.db.x, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: count users: %w", mapErr(err))
	}
	if users > 0 {
		return res, nil
	}
	if cfg.PasswordHash == nil {
		return BootstrapResult{}, errors.New("bootstrap: no password hash function: the first admin cannot be created")
	}
	hash, err := cfg.PasswordHash()
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: hash admin password: %w", err)
	}
	u, err := s.Users().Create(ctx, NewUser{Username: cfg.AdminUsername, PasswordHash: hash, DisplayName: "Administrator"})
	if errors.Is(err, ErrConflict) {
		// Another replica created it a moment ago.
		return res, nil
	}
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.Memberships().Add(ctx, prof.ID, u.ID, identity.RoleAdmin); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	res.AdminUserID, res.AdminCreated = u.ID, true
	return res, nil
}
