package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// oidcRetryAfter is how long a failed discovery is remembered before the
// provider is asked again, so an outage costs one request per interval
// instead of one per API call.
const oidcRetryAfter = 10 * time.Second

// oidcVerifier validates bearer tokens of the configured OpenID Connect
// provider. The provider (discovery document, key set) is loaded on first
// use, so the host starts even while the provider is unreachable.
type oidcVerifier struct {
	cfg    OIDCConfig
	now    func() time.Time
	leeway time.Duration
	log    hclog.Logger

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
}

func newOIDCVerifier(cfg OIDCConfig, now func() time.Time, leeway time.Duration, log hclog.Logger) *oidcVerifier {
	return &oidcVerifier{cfg: cfg, now: now, leeway: leeway, log: log.Named("oidc")}
}

// get returns the verifier, loading the provider when needed.
func (o *oidcVerifier) get() (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if !o.failedAt.IsZero() && o.now().Sub(o.failedAt) < oidcRetryAfter {
		return nil, errOIDCUnavailable
	}
	// The context is kept by the provider as configuration for later key
	// fetches (its cancellation is ignored), so it must not be a request's.
	ctx := oidc.ClientContext(context.Background(), o.cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		o.failedAt = o.now()
		o.log.Warn("cannot load the OpenID Connect provider's discovery document; OIDC tokens are refused until it loads",
			"issuer", o.cfg.Issuer, "error", err)
		return nil, errOIDCUnavailable
	}
	o.verifier = p.Verifier(&oidc.Config{
		ClientID:             o.cfg.Audience,
		SupportedSigningAlgs: o.cfg.SigningAlgs,
		// go-oidc has no leeway for exp; moving its clock back gives one.
		Now: func() time.Time { return o.now().Add(-o.leeway) },
	})
	o.log.Info("OpenID Connect provider loaded", "issuer", o.cfg.Issuer)
	return o.verifier, nil
}

var errOIDCUnavailable = errors.New("identity provider unavailable")

// oidcIdentity is what a verified provider token says about its holder.
type oidcIdentity struct {
	Subject  string
	Username string
	Name     string
	Profile  string
	Role     string
	HasRole  bool
}

// verify checks raw and extracts the identity, or returns an *api.Error.
func (o *oidcVerifier) verify(ctx context.Context, raw string) (oidcIdentity, error) {
	v, err := o.get()
	if err != nil {
		return oidcIdentity{}, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable,
			"the identity provider cannot be reached to check your token; try again in a minute")
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		o.log.Debug("OIDC token rejected", "error", err)
		return oidcIdentity{}, oidcError(err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return oidcIdentity{}, invalidToken("token claims are unreadable: sign in with your identity provider again")
	}
	str := func(name string) string {
		s, _ := claims[name].(string)
		return strings.TrimSpace(s)
	}
	id := oidcIdentity{Subject: tok.Subject, Name: str("name"), Profile: str(o.cfg.ProfileClaim)}
	if id.Subject == "" {
		return oidcIdentity{}, invalidToken("token names no subject (sub): sign in with your identity provider again")
	}
	for _, c := range []string{"preferred_username", "email", "sub"} {
		if id.Username = str(c); id.Username != "" {
			break
		}
	}
	if r, ok := claims[o.cfg.RoleClaim]; ok {
		id.HasRole = true
		id.Role, _ = r.(string)
	}
	return id, nil
}

func oidcError(err error) *api.Error {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return invalidToken("token expired: sign in with your identity provider again")
	case strings.Contains(msg, "malformed jwt"):
		return invalidToken("token is malformed: send the provider's token as 'Authorization: Bearer <token>'")
	case strings.Contains(msg, "expected audience"):
		return invalidToken("token is not meant for this API (wrong audience): ask your administrator which client PUOD is registered as")
	case strings.Contains(msg, "different provider"):
		return invalidToken("unknown token issuer")
	case strings.Contains(msg, "nbf"):
		return invalidToken("token is not valid yet: check that the clocks of this server and the identity provider agree")
	case strings.Contains(msg, "verify signature"), strings.Contains(msg, "not signed"):
		return invalidToken("token signature invalid: sign in with your identity provider again")
	}
	return invalidToken("token invalid: sign in with your identity provider again")
}

// oidcPasswordMarker is stored as the password hash of a user provisioned
// from the provider: it is no argon2 hash, so no password ever matches it,
// and it binds the local account to (issuer, subject), so a provider
// account whose username happens to equal a local account's cannot take
// that account over.
func oidcPasswordMarker(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "oidc$" + hex.EncodeToString(sum[:])
}

// oidcPrincipal verifies a provider token, provisions the user and the
// membership the claims name, and returns the principal for the request.
func (s *Service) oidcPrincipal(ctx context.Context, addr, raw, requestedProfile string) (identity.Principal, error) {
	id, err := s.oidc.verify(ctx, raw)
	if err != nil {
		return identity.Principal{}, err
	}
	var role identity.Role
	if id.Profile != "" && id.Role == "" {
		return identity.Principal{}, forbidden("your token names profile %q but no role (claim %q): ask your administrator to map a role (viewer, editor or admin) into that claim",
			id.Profile, s.cfg.OIDC.RoleClaim)
	}
	if id.Profile != "" || id.HasRole {
		if role, err = identity.ParseRole(id.Role); err != nil {
			return identity.Principal{}, forbidden("your identity provider gives you the role %q in claim %q, which PUOD does not know: ask your administrator to set it to viewer, editor or admin",
				id.Role, s.cfg.OIDC.RoleClaim)
		}
	}
	var prof store.Profile
	if id.Profile != "" {
		prof, err = s.sys.Profiles().ByName(ctx, id.Profile)
		if errors.Is(err, store.ErrNotFound) {
			return identity.Principal{}, forbidden("the profile %q named in your token's %q claim does not exist in PUOD: ask a PUOD administrator to create it",
				id.Profile, s.cfg.OIDC.ProfileClaim)
		}
		if err != nil {
			return identity.Principal{}, fmt.Errorf("oidc: find profile: %w", err)
		}
	}
	u, err := s.provisionOIDCUser(ctx, addr, id, prof.ID)
	if err != nil {
		return identity.Principal{}, err
	}
	if u.Disabled {
		return identity.Principal{}, invalidToken("your PUOD account is disabled: ask an administrator to enable it")
	}
	if id.Profile != "" {
		m, err := s.sys.Memberships().Get(ctx, prof.ID, u.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return identity.Principal{}, fmt.Errorf("oidc: read membership: %w", err)
		}
		// The provider is the source of truth for this profile's role;
		// write only on change, so authentication is no write per request.
		if err != nil || m.Role != role {
			if err := s.sys.Memberships().Add(ctx, prof.ID, u.ID, role); err != nil {
				return identity.Principal{}, fmt.Errorf("oidc: add membership: %w", err)
			}
			s.rec.RecordCtx(ctx, addr, audit.Event{Action: "user.role", ObjectType: "user", ObjectID: u.ID,
				ProfileID: prof.ID, UserID: u.ID, Username: u.Username,
				Details: map[string]any{"via": "oidc", "role": role, "previous_role": m.Role}})
		}
	}
	if requestedProfile == "" && id.Profile != "" {
		// Without a header, act where the provider says.
		requestedProfile = prof.ID
	}
	return s.userPrincipal(ctx, u, "oidc", requestedProfile)
}

// provisionOIDCUser finds or creates the local account of a provider
// identity.
func (s *Service) provisionOIDCUser(ctx context.Context, addr string, id oidcIdentity, profileID string) (store.User, error) {
	marker := oidcPasswordMarker(s.cfg.OIDC.Issuer, id.Subject)
	users := s.sys.Users()
	u, err := users.ByUsername(ctx, id.Username)
	if errors.Is(err, store.ErrNotFound) {
		u, err = users.Create(ctx, store.NewUser{Username: id.Username, PasswordHash: marker, DisplayName: id.Name})
		if err == nil {
			s.rec.RecordCtx(ctx, addr, audit.Event{Action: "user.provision", ObjectType: "user", ObjectID: u.ID,
				ProfileID: profileID, UserID: u.ID, Username: u.Username, Details: map[string]any{"via": "oidc", "issuer": s.cfg.OIDC.Issuer}})
		}
		if errors.Is(err, store.ErrConflict) {
			// Another request provisioned it a moment ago.
			u, err = users.ByUsername(ctx, id.Username)
		}
	}
	if err != nil {
		return store.User{}, fmt.Errorf("oidc: provision user %q: %w", id.Username, err)
	}
	if u.PasswordHash != marker {
		return store.User{}, forbidden("the username %q from your identity provider belongs to another PUOD account: ask an administrator to rename one of them",
			id.Username)
	}
	return u, nil
}
