package auth

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults for Config.
const (
	DefaultIssuer       = "puod"
	DefaultAudience     = "puod-api"
	DefaultAccessTTL    = 15 * time.Minute
	DefaultRefreshTTL   = 30 * 24 * time.Hour
	DefaultLeeway       = 30 * time.Second
	DefaultProfileClaim = "puod_profile"
	DefaultRoleClaim    = "puod_role"
	// MinSigningKeyBytes is the shortest HS256 key accepted: shorter keys
	// can be brute-forced from one captured token.
	MinSigningKeyBytes = 32
)

// Config configures the Service.
type Config struct {
	// SigningKey signs the access tokens this host issues (HS256). Every
	// replica must use the same key, so the host derives it from the shared
	// server secret instead of generating one per process. At least
	// MinSigningKeyBytes long.
	SigningKey []byte
	// KeyID names SigningKey in the token header ("kid"), so that a later
	// key can be introduced without invalidating the tokens in flight.
	// Defaults to "k1".
	KeyID string
	// VerificationKeys are older keys, by key id, still accepted when
	// verifying (never used to sign). Rotation: make the new key the
	// SigningKey with a new KeyID, move the old one here, and remove it once
	// AccessTTL has passed.
	VerificationKeys map[string][]byte
	// Issuer ("iss") of the host's tokens; defaults to DefaultIssuer. A token
	// naming another issuer is sent to OIDC verification or refused.
	Issuer string
	// Audience ("aud") of the host's tokens; defaults to DefaultAudience.
	Audience string
	// AccessTTL is the lifetime of an access token (default 15 min). Short,
	// because an access token cannot be revoked: disabling a user or
	// removing a membership takes effect at once anyway, since every request
	// re-reads both.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token (default 30 days). Each
	// refresh returns a new one, so an active session lasts indefinitely and
	// an idle one ends after RefreshTTL.
	RefreshTTL time.Duration
	// Leeway tolerates clock skew between hosts when checking exp, nbf and
	// iat (default 30 s).
	Leeway time.Duration
	// OIDC enables bearer tokens issued by an external OpenID Connect
	// provider. Disabled while OIDC.Issuer is empty.
	OIDC OIDCConfig
	// Password sets the argon2id cost of new password hashes; zero means
	// DefaultPasswordParams. Existing hashes keep the parameters they were
	// made with. Tests lower it to stay fast.
	Password PasswordParams
	// Limits bound login attempts; zero fields take the defaults of
	// DefaultLoginLimits.
	Limits LoginLimits
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// OIDCConfig configures an external OpenID Connect provider whose ID or
// access tokens are accepted as bearer tokens.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// from Issuer + "/.well-known/openid-configuration" and its signing keys
	// from the jwks_uri named there (cached, re-read when a token names a
	// key id the cache lacks, which is how provider key rotation works).
	Issuer string
	// Audience is the expected "aud" (usually the client id registered for
	// PUOD at the provider). Required when Issuer is set: without it any
	// token the provider issued for any application would be accepted.
	Audience string
	// ProfileClaim names the claim carrying the profile name the user acts
	// in (default "puod_profile"). The profile must exist: the provider
	// cannot create tenants.
	ProfileClaim string
	// RoleClaim names the claim carrying the role in that profile, one of
	// viewer, editor, admin (default "puod_role").
	RoleClaim string
	// SigningAlgs are the accepted signature algorithms; empty means what
	// the discovery document lists, or RS256.
	SigningAlgs []string
	// HTTPClient fetches the discovery document and keys; nil means a
	// client with a 10 s timeout.
	HTTPClient *http.Client
}

// LoginLimits bound password guessing. Each is a token bucket: Burst
// attempts at once, refilled at PerMinute.
type LoginLimits struct {
	// UserPerMinute and UserBurst limit attempts per username (default 5
	// and 5): guessing one account's password is slow whatever the number
	// of addresses used.
	UserPerMinute float64
	UserBurst     int
	// AddrPerMinute and AddrBurst limit attempts per client address
	// (default 20 and 20): one address spraying many usernames is slowed.
	AddrPerMinute float64
	AddrBurst     int
	// MaxKeys bounds the memory of each limiter (default 10000 keys; the
	// least recently used key is forgotten first).
	MaxKeys int
}

// DefaultLoginLimits are the limits used for zero fields of LoginLimits.
var DefaultLoginLimits = LoginLimits{UserPerMinute: 5, UserBurst: 5, AddrPerMinute: 20, AddrBurst: 20, MaxKeys: 10000}

// withDefaults fills zero fields and validates.
func (c Config) withDefaults() (Config, error) {
	if len(c.SigningKey) < MinSigningKeyBytes {
		return c, fmt.Errorf("auth config: signing key is %d bytes, need at least %d: derive it from the server secret (PUOD_SECRET_KEY)",
			len(c.SigningKey), MinSigningKeyBytes)
	}
	if c.KeyID == "" {
		c.KeyID = "k1"
	}
	for kid, k := range c.VerificationKeys {
		if kid == c.KeyID {
			return c, fmt.Errorf("auth config: verification key id %q is also the signing key id: give the new signing key a new id", kid)
		}
		if len(k) < MinSigningKeyBytes {
			return c, fmt.Errorf("auth config: verification key %q is %d bytes, need at least %d", kid, len(k), MinSigningKeyBytes)
		}
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.AccessTTL <= 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.Leeway <= 0 {
		c.Leeway = DefaultLeeway
	}
	if c.OIDC.Issuer != "" {
		if c.OIDC.Issuer == c.Issuer {
			return c, fmt.Errorf("auth config: OIDC issuer %q equals the host's own token issuer: choose a different issuer name", c.OIDC.Issuer)
		}
		if c.OIDC.Audience == "" {
			return c, errors.New("auth config: OIDC issuer is set but the audience is empty: set it to the client id PUOD is registered with at the provider")
		}
		if c.OIDC.ProfileClaim == "" {
			c.OIDC.ProfileClaim = DefaultProfileClaim
		}
		if c.OIDC.RoleClaim == "" {
			c.OIDC.RoleClaim = DefaultRoleClaim
		}
		if c.OIDC.HTTPClient == nil {
			c.OIDC.HTTPClient = &http.Client{Timeout: 10 * time.Second}
		}
	}
	if c.Password == (PasswordParams{}) {
		c.Password = DefaultPasswordParams
	}
	if err := c.Password.validate(); err != nil {
		return c, fmt.Errorf("auth config: %w", err)
	}
	l, d := &c.Limits, DefaultLoginLimits
	if l.UserPerMinute <= 0 {
		l.UserPerMinute = d.UserPerMinute
	}
	if l.UserBurst <= 0 {
		l.UserBurst = d.UserBurst
	}
	if l.AddrPerMinute <= 0 {
		l.AddrPerMinute = d.AddrPerMinute
	}
	if l.AddrBurst <= 0 {
		l.AddrBurst = d.AddrBurst
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = d.MaxKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
