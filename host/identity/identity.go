// Package identity owns the principal that every request carries: who the
// caller is, which profile (tenant) they act in, and with which role. The
// data layer reads the principal from the context and scopes every statement
// to its profile, so a handler can never forget the tenant filter.
package identity

import (
	"context"
	"errors"
	"fmt"
)

// Role is a membership role inside one profile. Roles are ordered: an admin
// can do everything an editor can, an editor everything a viewer can.
type Role string

const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// rank orders roles for Allows.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a holder of r may act where need is required.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q: use viewer, editor or admin", s)
	}
	return r, nil
}

// Principal is the authenticated caller acting in one profile.
type Principal struct {
	UserID    string
	Username  string
	ProfileID string
	Role      Role
	// Via says how the caller authenticated: "password", "oidc", "token".
	Via string
}

type ctxKey struct{}

// With returns a context carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal carried by ctx.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// ErrNoPrincipal is returned by tenant-scoped operations called without an
// authenticated principal in the context. It always indicates a programming
// error (a route outside the authentication middleware), never a user error.
var ErrNoPrincipal = errors.New("no authenticated principal in context: tenant-scoped data needs one")

// Require returns the principal carried by ctx or ErrNoPrincipal. It also
// refuses a principal without a profile.
func Require(ctx context.Context) (Principal, error) {
	p, ok := From(ctx)
	if !ok || p.ProfileID == "" {
		return Principal{}, ErrNoPrincipal
	}
	return p, nil
}
