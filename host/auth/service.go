package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// ProfileHeader chooses the profile a request acts in (id or name).
const ProfileHeader = "X-PUOD-Profile"

// APITokenPrefix starts every API token, so the Authenticator can tell it
// from a JWT without trying both, and secret scanners can recognise a
// leaked one.
const APITokenPrefix = "puod_"

// Service authenticates requests and serves the auth, users, profiles and
// tokens routes. Build it with NewService.
type Service struct {
	cfg    Config
	db     *store.DB
	sys    *store.System
	rec    *audit.Recorder
	log    hclog.Logger
	keys   map[string][]byte
	parser *jwt.Parser
	oidc   *oidcVerifier

	// dummyHash is verified against when the username is unknown, so a
	// failed login costs the same time whether or not the user exists.
	dummyHash string
	// hashSlots bounds concurrent argon2 computations: each takes
	// Password.Memory, and a burst of logins must not exhaust memory.
	hashSlots chan struct{}

	userLimiter *Limiter
	addrLimiter *Limiter

	// principals caches who a token's user is and where they may act, per
	// (user, requested profile). An entry is used only while the store's
	// identity generation is unchanged (any user, membership or token write
	// in this process invalidates every entry) and for at most
	// principalTTL, which bounds how long a change made through another
	// replica takes to apply.
	principals sync.Map
	// verified caches verified access tokens of this host.
	verified verifiedTokens

	// onProfileCreated run after a profile is created through the API
	// (added by the app: dashboards and alert rules as code).
	onProfileCreated []func(ctx context.Context, profileID string) error
}

// OnProfileCreated adds what runs after a profile is created through the
// API, such as provisioning its dashboards. A failure is logged: the
// profile exists by then and stays, and the next hooks still run.
func (s *Service) OnProfileCreated(fn func(ctx context.Context, profileID string) error) {
	s.onProfileCreated = append(s.onProfileCreated, fn)
}

const principalTTL = time.Second

type cachedPrincipal struct {
	p   identity.Principal
	gen uint64
	exp time.Time
}

// NewService validates cfg and builds the service. rec records the audit
// trail; log receives debug details of rejected credentials.
func NewService(cfg Config, db *store.DB, rec *audit.Recorder, log hclog.Logger) (*Service, error) {
	if db == nil || rec == nil {
		return nil, errors.New("auth: a database and an audit recorder are required")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, db: db, sys: db.System(), rec: rec, log: log.Named("auth"),
		keys:        map[string][]byte{cfg.KeyID: cfg.SigningKey},
		hashSlots:   make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		userLimiter: NewLimiter(cfg.Limits.UserPerMinute, cfg.Limits.UserBurst, cfg.Limits.MaxKeys, cfg.Now),
		addrLimiter: NewLimiter(cfg.Limits.AddrPerMinute, cfg.Limits.AddrBurst, cfg.Limits.MaxKeys, cfg.Now),
	}
	for kid, k := range cfg.VerificationKeys {
		s.keys[kid] = k
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	// The dummy must cost what a real hash costs: same parameters.
	if s.dummyHash, err = cfg.Password.Hash("dummy password for unknown users"); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.OIDC.Issuer != "" {
		s.oidc = newOIDCVerifier(cfg.OIDC, cfg.Now, cfg.Leeway, s.log)
	}
	return s, nil
}

// Authenticator returns the api.Authenticator of this service.
func (s *Service) Authenticator() *Authenticator { return &Authenticator{svc: s} }

// Authenticator implements api.Authenticator: it accepts the host's access
// tokens, API tokens and, when configured, OIDC provider tokens, and picks
// the profile from the X-PUOD-Profile header.
type Authenticator struct{ svc *Service }

var _ api.Authenticator = (*Authenticator)(nil)

// Authenticate returns the caller's principal or an *api.Error: 401 (with
// WWW-Authenticate) for missing or unusable credentials, 403 for a valid
// caller asking for a profile they are not a member of.
func (a *Authenticator) Authenticate(c *gin.Context) (identity.Principal, error) {
	p, err := a.svc.authenticate(c.Request.Context(), c.ClientIP(), c.GetHeader("Authorization"), strings.TrimSpace(c.GetHeader(ProfileHeader)))
	if err != nil {
		var e *api.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			if e == errNoCredentials {
				c.Header("WWW-Authenticate", `Bearer realm="puod"`)
			} else {
				c.Header("WWW-Authenticate", `Bearer realm="puod", error="invalid_token"`)
			}
		}
		return identity.Principal{}, err
	}
	return p, nil
}

var errNoCredentials = api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
	"authentication required: send 'Authorization: Bearer <token>' with a token from POST /api/v1/auth/login or an API token")

func (s *Service) authenticate(ctx context.Context, addr, header, requestedProfile string) (identity.Principal, error) {
	scheme, raw, ok := strings.Cut(strings.TrimSpace(header), " ")
	raw = strings.TrimSpace(raw)
	if header == "" {
		return identity.Principal{}, errNoCredentials
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return identity.Principal{}, invalidToken("the Authorization header must be 'Bearer <token>'")
	}
	if strings.HasPrefix(raw, APITokenPrefix) {
		return s.apiTokenPrincipal(ctx, raw, requestedProfile)
	}
	if _, ok := s.verified.get(raw, time.Now()); ok {
		// A token of this host verified before (and not expired since).
		return s.jwtPrincipal(ctx, raw, requestedProfile)
	}
	// Route by the unverified issuer; each path then verifies everything,
	// the issuer included, against its own keys.
	var peek jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &peek); err != nil {
		s.log.Debug("bearer token unparsable", "error", err)
		return identity.Principal{}, invalidToken("token is malformed: send the access_token from POST /api/v1/auth/login as 'Authorization: Bearer <token>'")
	}
	switch {
	case peek.Issuer == s.cfg.Issuer:
		return s.jwtPrincipal(ctx, raw, requestedProfile)
	case s.oidc != nil && peek.Issuer == s.cfg.OIDC.Issuer:
		return s.oidcPrincipal(ctx, addr, raw, requestedProfile)
	}
	return identity.Principal{}, invalidToken("unknown token issuer: use a token from POST /api/v1/auth/login%s", s.oidcHint())
}

func (s *Service) oidcHint() string {
	if s.oidc == nil {
		return ""
	}
	return " or from the configured identity provider"
}

func (s *Service) jwtPrincipal(ctx context.Context, raw, requestedProfile string) (identity.Principal, error) {
	claims, err := s.verifyAccessToken(raw)
	if err != nil {
		return identity.Principal{}, err
	}
	key := claims.Subject + "\x00" + requestedProfile
	gen := s.db.Generation(store.GenIdentity)
	now := time.Now()
	if v, ok := s.principals.Load(key); ok {
		if c := v.(cachedPrincipal); c.gen == gen && now.Before(c.exp) {
			return c.p, nil
		}
	}
	p, err := s.loadJWTPrincipal(ctx, claims.Subject, requestedProfile)
	if err != nil {
		return p, err
	}
	s.principals.Store(key, cachedPrincipal{p: p, gen: gen, exp: now.Add(principalTTL)})
	return p, nil
}

func (s *Service) loadJWTPrincipal(ctx context.Context, subject, requestedProfile string) (identity.Principal, error) {
	u, err := s.sys.Users().ByID(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return identity.Principal{}, invalidToken("the account of this token no longer exists: log in again")
	}
	if err != nil {
		return identity.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if u.Disabled {
		return identity.Principal{}, invalidToken("your account is disabled: ask an administrator to enable it")
	}
	return s.userPrincipal(ctx, u, "password", requestedProfile)
}

// userPrincipal picks the profile a user acts in: the requested one (id or
// name) when the user is a member, else their oldest membership.
func (s *Service) userPrincipal(ctx context.Context, u store.User, via, requested string) (identity.Principal, error) {
	ms, err := s.sys.Memberships().ForUser(ctx, u.ID)
	if err != nil {
		return identity.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	m, err := chooseMembership(ms, requested)
	if err != nil {
		return identity.Principal{}, err
	}
	return identity.Principal{UserID: u.ID, Username: u.Username, ProfileID: m.ProfileID, Role: m.Role, Via: via}, nil
}

func chooseMembership(ms []store.Membership, requested string) (store.Membership, error) {
	if len(ms) == 0 {
		return store.Membership{}, forbidden("your account is not a member of any profile: ask an administrator to add you to one")
	}
	if requested == "" {
		return ms[0], nil
	}
	for _, m := range ms {
		if m.ProfileID == requested || m.ProfileName == requested {
			return m, nil
		}
	}
	// A profile that exists but is not yours answers like one that does not
	// exist: profile names are not disclosed to non-members.
	return store.Membership{}, forbidden("you are not a member of profile %q (or it does not exist): GET /api/v1/auth/me without the %s header lists the profiles you can use",
		requested, ProfileHeader)
}

func (s *Service) apiTokenPrincipal(ctx context.Context, raw, requested string) (identity.Principal, error) {
	// Like access tokens, an API token's principal is remembered for
	// principalTTL while no identity changed in this process (a revoke
	// bumps the generation), so an ingesting client (webhooks, lineage)
	// does not cost a database read per request.
	hash := hashSecret(raw)
	key := "api\x00" + hash + "\x00" + requested
	gen := s.db.Generation(store.GenIdentity)
	now := time.Now()
	if v, ok := s.principals.Load(key); ok {
		if c := v.(cachedPrincipal); c.gen == gen && now.Before(c.exp) {
			return c.p, nil
		}
	}
	p, exp, err := s.loadAPITokenPrincipal(ctx, hash, requested)
	if err != nil {
		return p, err
	}
	until := now.Add(principalTTL)
	if exp != nil && exp.Before(until) {
		until = *exp
	}
	s.principals.Store(key, cachedPrincipal{p: p, gen: gen, exp: until})
	return p, nil
}

func (s *Service) loadAPITokenPrincipal(ctx context.Context, hash, requested string) (identity.Principal, *time.Time, error) {
	tp, err := s.sys.APITokens().LookupByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return identity.Principal{}, nil, invalidToken("API token invalid, expired or revoked: ask an administrator for a new one (POST /api/v1/tokens)")
	}
	if err != nil {
		return identity.Principal{}, nil, fmt.Errorf("authenticate api token: %w", err)
	}
	p := tp.Principal()
	if requested != "" && requested != p.ProfileID {
		prof, err := s.sys.Profiles().ByID(ctx, p.ProfileID)
		if err != nil {
			return identity.Principal{}, nil, fmt.Errorf("authenticate api token: %w", err)
		}
		if requested != prof.Name {
			return identity.Principal{}, nil, forbidden("this API token works only in profile %q: drop the %s header or use a token created in profile %q",
				prof.Name, ProfileHeader, requested)
		}
	}
	return p, tp.Token.ExpiresAt, nil
}

// newSecret returns 32 random bytes, base64url: the secret part of refresh
// and API tokens.
func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashSecret is how refresh and API tokens are stored: sha256, hex. The
// secrets are 256-bit random, so a fast unsalted hash is enough — nothing
// can be guessed — and it allows lookup by hash.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// hashPassword hashes with the configured cost, holding a hash slot.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	if err := s.acquireHashSlot(ctx); err != nil {
		return "", err
	}
	defer s.releaseHashSlot()
	return s.cfg.Password.Hash(password)
}

// checkPassword verifies password against the stored hash, or against the
// dummy hash when the account has none (unknown user, provider account), so
// the time taken does not tell which case it was.
func (s *Service) checkPassword(ctx context.Context, stored, password string) (bool, error) {
	if err := s.acquireHashSlot(ctx); err != nil {
		return false, err
	}
	defer s.releaseHashSlot()
	ok, err := VerifyPassword(stored, password)
	if err != nil {
		_, _ = VerifyPassword(s.dummyHash, password)
		return false, nil
	}
	return ok, nil
}

func (s *Service) acquireHashSlot(ctx context.Context) error {
	select {
	case s.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to check password: %w", ctx.Err())
	}
}

func (s *Service) releaseHashSlot() { <-s.hashSlots }
