package auth

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/store"
)

// accessClaims are the claims of the host's access tokens. The token says
// who the user is, not which profile or role: those are read from the
// memberships on every request, so a demotion or removal applies at once.
type accessClaims struct {
	// Name is the username, for display and logs.
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// errUnknownKey is returned by the key function for a kid this host does
// not (or no longer) know.
var errUnknownKey = errors.New("unknown signing key id")

// issueAccessToken signs an access token for u and returns it with its
// lifetime.
func (s *Service) issueAccessToken(u store.User) (string, time.Duration, error) {
	now := s.cfg.Now()
	ttl := s.cfg.AccessTTL
	claims := accessClaims{
		Name: u.Username,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = s.cfg.KeyID
	signed, err := tok.SignedString(s.cfg.SigningKey)
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return signed, ttl, nil
}

// keyFor is the jwt.Keyfunc: the key is chosen by the header's kid only,
// never by anything an attacker could make ambiguous.
func (s *Service) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	key, ok := s.keys[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return key, nil
}

// verifyAccessToken checks a token this host issued and returns its
// claims, or a 401 *api.Error saying what the caller should do.
func (s *Service) verifyAccessToken(raw string) (*accessClaims, error) {
	if c, ok := s.verified.get(raw, time.Now()); ok {
		return c, nil
	}
	var claims accessClaims
	_, err := s.parser.ParseWithClaims(raw, &claims, s.keyFor)
	if err != nil {
		s.log.Debug("access token rejected", "error", err)
		return nil, jwtError(err)
	}
	if claims.Subject == "" {
		return nil, invalidToken("token names no user (sub): log in again")
	}
	if claims.ExpiresAt != nil {
		s.verified.put(raw, &claims, claims.ExpiresAt.Add(s.cfg.Leeway))
	}
	return &claims, nil
}

// verifiedTokens remembers the claims of access tokens this host has
// verified, until they expire: a browser sends the same token with every
// request for its whole lifetime, and parsing and verifying it again is
// most of the cost of authenticating a request. A token is only ever
// looked up by its exact text, so a cached entry says no more than the
// verification did; the keys are fixed for the life of the process.
// Whether the user still exists and may act in the profile is checked
// per request as before (principal cache, identity generation).
type verifiedTokens struct {
	mu      sync.Mutex
	entries map[string]verifiedToken
}

type verifiedToken struct {
	claims *accessClaims
	until  time.Time
}

// maxVerifiedTokens bounds the memory the cache can take (tokens are
// about 300 bytes); when full, it starts over.
const maxVerifiedTokens = 8192

func (v *verifiedTokens) get(raw string, now time.Time) (*accessClaims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[raw]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(v.entries, raw)
		return nil, false
	}
	return e.claims, true
}

func (v *verifiedTokens) put(raw string, c *accessClaims, until time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil || len(v.entries) >= maxVerifiedTokens {
		v.entries = make(map[string]verifiedToken)
	}
	v.entries[raw] = verifiedToken{claims: c, until: until}
}

// jwtError turns a golang-jwt error into the message a person needs. The
// order matters: the library reports several problems at once, and the
// most actionable comes first.
func jwtError(err error) *api.Error {
	switch {
	case errors.Is(err, errUnknownKey):
		return invalidToken("token was signed with a key this server does not know (it may have been rotated out): log in again")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken("token is malformed: send the access_token from POST /api/v1/auth/login as 'Authorization: Bearer <token>'")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalidToken("token signature invalid: log in again to get a new token")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalidToken("unknown token issuer: use a token from POST /api/v1/auth/login")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalidToken("token is not meant for this API (wrong audience): use a token from POST /api/v1/auth/login")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalidToken("token has no expiry (exp): use a token from POST /api/v1/auth/login")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalidToken("token expired: log in again or refresh it at POST /api/v1/auth/refresh")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalidToken("token is not valid yet: check that the clocks of this server and the token's issuer agree")
	}
	return invalidToken("token invalid: log in again")
}

// invalidToken is the 401 of a presented but unusable token. Authenticate
// adds the WWW-Authenticate header for every 401.
func invalidToken(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, format, args...)
}

// forbidden is the 403 of a valid caller who may not act as asked.
func forbidden(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusForbidden, api.CodeForbidden, format, args...)
}
