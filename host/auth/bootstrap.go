package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// Bootstrap makes a fresh database usable: it ensures the `default`
// profile and, on first start (no user at all), creates the `admin` user as
// its admin. The password is adminPassword (PUOD_ADMIN_PASSWORD) or, when
// that is empty, a generated one printed once to out. Later starts change
// nothing. Safe when several replicas start at once.
func Bootstrap(ctx context.Context, db *store.DB, adminPassword string, out io.Writer) error {
	generated := adminPassword == ""
	password := adminPassword
	res, err := db.System().Bootstrap(ctx, store.BootstrapConfig{
		AdminUsername: store.DefaultAdminUsername,
		PasswordHash: func() (string, error) {
			if generated {
				var err error
				if password, err = generatePassword(); err != nil {
					return "", err
				}
			} else if err := CheckPasswordPolicy(password); err != nil {
				return "", fmt.Errorf("PUOD_ADMIN_PASSWORD: %w", err)
			}
			return DefaultPasswordParams.Hash(password)
		},
	})
	if err != nil {
		return err
	}
	if !res.AdminCreated {
		return nil
	}
	if generated {
		_, err = fmt.Fprintf(out, "admin password (shown once): %s\n"+
			"Log in as %q with it and keep it safe; `puod user passwd %s` changes it.\n",
			password, store.DefaultAdminUsername, store.DefaultAdminUsername)
	} else {
		_, err = fmt.Fprintf(out, "created user %q (admin of profile %q) with the password from PUOD_ADMIN_PASSWORD\n",
			store.DefaultAdminUsername, store.DefaultProfileName)
	}
	if err != nil {
		return fmt.Errorf("bootstrap: print admin password: %w", err)
	}
	return nil
}

// generatePassword returns 20 random characters from an alphabet without
// look-alikes (about 114 bits), so it can be typed from a terminal.
func generatePassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 20 {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) < 256-256%len(alphabet) {
			b.WriteByte(alphabet[int(buf[0])%len(alphabet)])
		}
	}
	return b.String(), nil
}

// NewUserSpec describes an account created from the command line.
type NewUserSpec struct {
	Username    string
	Password    string
	DisplayName string
	// Profile is the profile name or id to join (default "default").
	Profile string
	// Role in Profile (default viewer).
	Role identity.Role
}

// ErrUserExists is returned by AddUser for a taken username.
var ErrUserExists = errors.New("user exists already")

// AddUser creates an account and its membership (`puod user add`). The
// profile must exist.
func AddUser(ctx context.Context, db *store.DB, spec NewUserSpec) (store.User, store.Profile, error) {
	sys := db.System()
	spec.Username = strings.TrimSpace(spec.Username)
	if spec.Profile == "" {
		spec.Profile = store.DefaultProfileName
	}
	if spec.Role == "" {
		spec.Role = identity.RoleViewer
	}
	if _, err := identity.ParseRole(string(spec.Role)); err != nil {
		return store.User{}, store.Profile{}, err
	}
	if spec.Username == "" {
		return store.User{}, store.Profile{}, errors.New("the username is empty")
	}
	if err := CheckPasswordPolicy(spec.Password); err != nil {
		return store.User{}, store.Profile{}, err
	}
	prof, err := findProfile(ctx, sys, spec.Profile)
	if err != nil {
		return store.User{}, store.Profile{}, err
	}
	hash, err := DefaultPasswordParams.Hash(spec.Password)
	if err != nil {
		return store.User{}, store.Profile{}, err
	}
	u, err := sys.Users().Create(ctx, store.NewUser{Username: spec.Username, PasswordHash: hash, DisplayName: spec.DisplayName})
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, store.Profile{}, fmt.Errorf("%w: %q; to change its password run `puod user passwd %s`", ErrUserExists, spec.Username, spec.Username)
	}
	if err != nil {
		return store.User{}, store.Profile{}, err
	}
	if err := sys.Memberships().Add(ctx, prof.ID, u.ID, spec.Role); err != nil {
		return store.User{}, store.Profile{}, err
	}
	return u, prof, nil
}

// findProfile finds a profile by name or id. The default profile is
// created when missing, so users can be added before the first `puod serve`.
func findProfile(ctx context.Context, sys *store.System, nameOrID string) (store.Profile, error) {
	prof, err := sys.Profiles().ByName(ctx, nameOrID)
	if errors.Is(err, store.ErrNotFound) {
		prof, err = sys.Profiles().ByID(ctx, nameOrID)
	}
	if errors.Is(err, store.ErrNotFound) && nameOrID == store.DefaultProfileName {
		prof, err = sys.Profiles().Create(ctx, nameOrID)
		if errors.Is(err, store.ErrConflict) {
			prof, err = sys.Profiles().ByName(ctx, nameOrID)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Profile{}, fmt.Errorf("profile %q does not exist: create it in the UI or with POST /api/v1/profiles", nameOrID)
	}
	return prof, err
}

// SetUserPassword replaces a user's password (`puod user passwd`) and ends
// their sessions, returning the account.
func SetUserPassword(ctx context.Context, db *store.DB, username, password string) (store.User, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return store.User{}, err
	}
	sys := db.System()
	u, err := sys.Users().ByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("no user named %q: create it with `puod user add %s`", username, username)
	}
	if err != nil {
		return store.User{}, err
	}
	hash, err := DefaultPasswordParams.Hash(password)
	if err != nil {
		return store.User{}, err
	}
	if err := sys.Users().SetPassword(ctx, u.ID, hash); err != nil {
		return store.User{}, err
	}
	// A password change is often a reaction to a leak: end every session.
	if _, err := sys.RefreshTokens().RevokeUser(ctx, u.ID); err != nil {
		return store.User{}, err
	}
	return u, nil
}
