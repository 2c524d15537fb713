package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/puod/puod/host/identity"
)

// Profile is a tenant: every piece of tenant data belongs to exactly one.
type Profile struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User is a local account. Users are global; what they may see is decided by
// their memberships.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	DisplayName  string
	Disabled     bool
	CreatedAt    time.Time
}

// Membership gives a user a role in a profile. Username, DisplayName and
// ProfileName are filled on reads for display.
type Membership struct {
	ProfileID   string
	ProfileName string
	UserID      string
	Username    string
	DisplayName string
	Role        identity.Role
	CreatedAt   time.Time
}

// NewUser is the input of System().Users().Create.
type NewUser struct {
	Username     string
	PasswordHash string
	DisplayName  string
}

// newID returns a time-ordered UUIDv7, so ids index and sort by creation.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does, after
		// which nothing secure can be done anyway.
		panic(fmt.Sprintf("generate id: %v", err))
	}
	return id.String()
}

const userCols = `u.id, u.username, u.password_hash, u.display_name, u.disabled, u.created_at`

func scanUser(r rowScanner) (User, error) {
	var u User
	if err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.DisplayName, &u.Disabled, timeDest{&u.CreatedAt}); err != nil {
		return User{}, mapErr(err)
	}
	return u, nil
}

const membershipCols = `m.profile_id, p.name, m.user_id, u.username, u.display_name, m.role, m.created_at`

const membershipFrom = ` FROM memberships m JOIN users u ON u.id = m.user_id JOIN profiles p ON p.id = m.profile_id`

func scanMembership(r rowScanner) (Membership, error) {
	var m Membership
	var role string
	if err := r.Scan(&m.ProfileID, &m.ProfileName, &m.UserID, &m.Username, &m.DisplayName, &role, timeDest{&m.CreatedAt}); err != nil {
		return Membership{}, mapErr(err)
	}
	m.Role = identity.Role(role)
	return m, nil
}

// Users reads the accounts that are members of the caller's profile. A user
// who is not a member is reported as ErrNotFound.
type Users struct{ db *DB }

// Users returns the profile-scoped user repository.
func (db *DB) Users() *Users { return &Users{db: db} }

// Get returns a member of the caller's profile.
func (r *Users) Get(ctx context.Context, id string) (User, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	u, err := scanUser(queryRow(ctx, r.db.x, `SELECT `+userCols+` FROM users u
		JOIN memberships m ON m.user_id = u.id
		WHERE m.profile_id = ? AND u.id = ?`, p.ProfileID, id))
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return u, nil
}

// List returns the members of the caller's profile ordered by username.
func (r *Users) List(ctx context.Context, page Page) ([]User, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	var after string
	more, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	limit := page.limit()
	where, args := `m.profile_id = ?`, []any{p.ProfileID}
	if more {
		where, args = where+` AND u.username > ?`, append(args, after)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+userCols+` FROM users u
		JOIN memberships m ON m.user_id = u.id
		WHERE `+where+` ORDER BY u.username LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users, next := trimPage(users, limit, func(u User) []any { return []any{u.Username} })
	return users, next, nil
}

// Memberships manages who belongs to the caller's profile.
type Memberships struct{ db *DB }

// Memberships returns the profile-scoped membership repository.
func (db *DB) Memberships() *Memberships { return &Memberships{db: db} }

// List returns the memberships of the caller's profile ordered by username.
func (r *Memberships) List(ctx context.Context, page Page) ([]Membership, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list memberships: %w", err)
	}
	var after string
	more, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list memberships: %w", err)
	}
	limit := page.limit()
	where, args := `m.profile_id = ?`, []any{p.ProfileID}
	if more {
		where, args = where+` AND u.username > ?`, append(args, after)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+membershipCols+membershipFrom+`
		WHERE `+where+` ORDER BY u.username LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list memberships: %w", err)
	}
	ms, err := collect(rows, scanMembership)
	if err != nil {
		return nil, "", fmt.Errorf("list memberships: %w", err)
	}
	ms, next := trimPage(ms, limit, func(m Membership) []any { return []any{m.Username} })
	return ms, next, nil
}

// Set gives an existing user role in the caller's profile, adding the
// membership or changing its role. An unknown user is ErrNotFound.
func (r *Memberships) Set(ctx context.Context, userID string, role identity.Role) error {
	defer r.db.bump(GenIdentity)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("set membership: %w", err)
	}
	if err := upsertMembership(ctx, r.db, p.ProfileID, userID, role); err != nil {
		return fmt.Errorf("set membership of %s: %w", userID, err)
	}
	return nil
}

// Remove takes a user out of the caller's profile; their API and refresh
// tokens for the profile go with the membership (ON DELETE CASCADE).
func (r *Memberships) Remove(ctx context.Context, userID string) error {
	defer r.db.bump(GenIdentity)
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("remove membership: %w", err)
	}
	if err := execOne(ctx, r.db.x, `DELETE FROM memberships WHERE profile_id = ? AND user_id = ?`, p.ProfileID, userID); err != nil {
		return fmt.Errorf("remove membership of %s: %w", userID, err)
	}
	return nil
}

func upsertMembership(ctx context.Context, db *DB, profileID, userID string, role identity.Role) error {
	if !role.Valid() {
		return fmt.Errorf("%w: unknown role %q: use viewer, editor or admin", ErrInvalid, role)
	}
	_, err := exec(ctx, db.x, `INSERT INTO memberships (profile_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (profile_id, user_id) DO UPDATE SET role = excluded.role`,
		profileID, userID, string(role), Now())
	return err
}

// SystemUsers is the unscoped user repository (see System).
type SystemUsers struct{ db *DB }

// Create adds a user. A taken username is ErrConflict.
func (r *SystemUsers) Create(ctx context.Context, in NewUser) (User, error) {
	defer r.db.bump(GenIdentity)
	in.Username = strings.TrimSpace(in.Username)
	if in.Username == "" {
		return User{}, fmt.Errorf("create user: %w: username is empty", ErrInvalid)
	}
	u := User{ID: newID(), Username: in.Username, PasswordHash: in.PasswordHash, DisplayName: in.DisplayName, CreatedAt: Now()}
	_, err := exec(ctx, r.db.x, `INSERT INTO users (id, username, password_hash, display_name, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, u.ID, u.Username, u.PasswordHash, u.DisplayName, false, u.CreatedAt)
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", in.Username, err)
	}
	return u, nil
}

// ByUsername finds a user for login.
func (r *SystemUsers) ByUsername(ctx context.Context, username string) (User, error) {
	u, err := scanUser(queryRow(ctx, r.db.x, `SELECT `+userCols+` FROM users u WHERE u.username = ?`, username))
	if err != nil {
		return User{}, fmt.Errorf("find user %q: %w", username, err)
	}
	return u, nil
}

// ByID finds a user, e.g. to re-check a refresh token's owner.
func (r *SystemUsers) ByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(queryRow(ctx, r.db.x, `SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
	if err != nil {
		return User{}, fmt.Errorf("find user %s: %w", id, err)
	}
	return u, nil
}

// SetPassword replaces a user's password hash (`puod user passwd`).
func (r *SystemUsers) SetPassword(ctx context.Context, id, passwordHash string) error {
	defer r.db.bump(GenIdentity)
	if err := execOne(ctx, r.db.x, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, id); err != nil {
		return fmt.Errorf("set password of user %s: %w", id, err)
	}
	return nil
}

// SetDisabled locks or unlocks an account.
func (r *SystemUsers) SetDisabled(ctx context.Context, id string, disabled bool) error {
	defer r.db.bump(GenIdentity)
	if err := execOne(ctx, r.db.x, `UPDATE users SET disabled = ? WHERE id = ?`, disabled, id); err != nil {
		return fmt.Errorf("set disabled of user %s: %w", id, err)
	}
	return nil
}

// SystemProfiles is the unscoped profile repository (see System).
type SystemProfiles struct{ db *DB }

// Create adds a profile. A taken name is ErrConflict.
func (r *SystemProfiles) Create(ctx context.Context, name string) (Profile, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Profile{}, fmt.Errorf("create profile: %w: name is empty", ErrInvalid)
	}
	p := Profile{ID: newID(), Name: name, CreatedAt: Now()}
	if _, err := exec(ctx, r.db.x, `INSERT INTO profiles (id, name, created_at) VALUES (?, ?, ?)`, p.ID, p.Name, p.CreatedAt); err != nil {
		return Profile{}, fmt.Errorf("create profile %q: %w", name, err)
	}
	return p, nil
}

func scanProfile(r rowScanner) (Profile, error) {
	var p Profile
	if err := r.Scan(&p.ID, &p.Name, timeDest{&p.CreatedAt}); err != nil {
		return Profile{}, mapErr(err)
	}
	return p, nil
}

// ByName finds a profile (the X-PUOD-Profile header may carry a name).
func (r *SystemProfiles) ByName(ctx context.Context, name string) (Profile, error) {
	p, err := scanProfile(queryRow(ctx, r.db.x, `SELECT id, name, created_at FROM profiles WHERE name = ?`, name))
	if err != nil {
		return Profile{}, fmt.Errorf("find profile %q: %w", name, err)
	}
	return p, nil
}

// ByID finds a profile.
func (r *SystemProfiles) ByID(ctx context.Context, id string) (Profile, error) {
	p, err := scanProfile(queryRow(ctx, r.db.x, `SELECT id, name, created_at FROM profiles WHERE id = ?`, id))
	if err != nil {
		return Profile{}, fmt.Errorf("find profile %s: %w", id, err)
	}
	return p, nil
}

// List returns every profile ordered by name (for background workers that
// act in each profile in turn).
func (r *SystemProfiles) List(ctx context.Context, page Page) ([]Profile, string, error) {
	var after string
	more, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list profiles: %w", err)
	}
	limit := page.limit()
	where, args := `1 = 1`, []any{}
	if more {
		where, args = `name > ?`, append(args, after)
	}
	rows, err := query(ctx, r.db.x, `SELECT id, name, created_at FROM profiles
		WHERE `+where+` ORDER BY name LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list profiles: %w", err)
	}
	ps, err := collect(rows, scanProfile)
	if err != nil {
		return nil, "", fmt.Errorf("list profiles: %w", err)
	}
	ps, next := trimPage(ps, limit, func(p Profile) []any { return []any{p.Name} })
	return ps, next, nil
}

// SystemMemberships is the unscoped membership repository (see System).
type SystemMemberships struct{ db *DB }

// Add gives a user a role in a profile, or changes it. Unknown user or
// profile is ErrNotFound.
func (r *SystemMemberships) Add(ctx context.Context, profileID, userID string, role identity.Role) error {
	defer r.db.bump(GenIdentity)
	if err := upsertMembership(ctx, r.db, profileID, userID, role); err != nil {
		return fmt.Errorf("add user %s to profile %s: %w", userID, profileID, err)
	}
	return nil
}

// ForUser lists a user's memberships, oldest first: at login the first one
// is the default profile.
func (r *SystemMemberships) ForUser(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := query(ctx, r.db.x, `SELECT `+membershipCols+membershipFrom+`
		WHERE m.user_id = ? ORDER BY m.created_at, p.name`, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships of user %s: %w", userID, err)
	}
	ms, err := collect(rows, scanMembership)
	if err != nil {
		return nil, fmt.Errorf("list memberships of user %s: %w", userID, err)
	}
	return ms, nil
}

// Get returns one membership (to build a principal for a chosen profile).
func (r *SystemMemberships) Get(ctx context.Context, profileID, userID string) (Membership, error) {
	m, err := scanMembership(queryRow(ctx, r.db.x, `SELECT `+membershipCols+membershipFrom+`
		WHERE m.profile_id = ? AND m.user_id = ?`, profileID, userID))
	if err != nil {
		return Membership{}, fmt.Errorf("get membership of user %s in profile %s: %w", userID, profileID, err)
	}
	return m, nil
}
