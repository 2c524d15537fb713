package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// TokenResponse is the answer of login and refresh.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int    `json:"expires_in"`
	TokenType string `json:"token_type"`
}

var errBadCredentials = api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
	"wrong username or password")

// login is POST /api/v1/auth/login.
func (s *Service) login(c *gin.Context) {
	var req loginRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	username := strings.TrimSpace(req.Username)
	if username == "" || req.Password == "" {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "username and password are required"))
		return
	}
	addr := c.ClientIP()
	if ok, wait := s.addrLimiter.Allow(addr); !ok {
		s.log.Warn("login rate limit hit", "limit", "address", "client_addr", addr, "username", username)
		tooManyAttempts(c, wait, "too many login attempts from your address")
		return
	}
	userKey := strings.ToLower(username)
	if ok, wait := s.userLimiter.Allow(userKey); !ok {
		s.log.Warn("login rate limit hit", "limit", "username", "client_addr", addr, "username", username)
		tooManyAttempts(c, wait, "too many login attempts for this username")
		return
	}
	resp, err := s.passwordLogin(c.Request.Context(), addr, username, req.Password, strings.TrimSpace(c.GetHeader(ProfileHeader)))
	if err != nil {
		api.Fail(c, err)
		return
	}
	// Only failures count against the account: a user who logs in often
	// must not lock themselves out.
	s.userLimiter.Refund(userKey)
	c.JSON(http.StatusOK, resp)
}

func tooManyAttempts(c *gin.Context, wait time.Duration, what string) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	api.Fail(c, api.Errorf(http.StatusTooManyRequests, api.CodeRateLimited,
		"%s: wait %d seconds before trying again", what, secs))
}

// passwordLogin checks the credentials and starts a session. Every outcome
// is audited with the username and client address.
func (s *Service) passwordLogin(ctx context.Context, addr, username, password, requestedProfile string) (TokenResponse, error) {
	fail := func(u store.User, profileID, reason string, err error) (TokenResponse, error) {
		s.rec.RecordCtx(ctx, addr, audit.Event{Action: "auth.login", ObjectType: "user", ObjectID: u.ID, Outcome: audit.Failure,
			ProfileID: profileID, Username: username, Details: map[string]any{"reason": reason}})
		return TokenResponse{}, err
	}
	u, err := s.sys.Users().ByUsername(ctx, username)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	stored := s.dummyHash
	if known {
		stored = u.PasswordHash
	}
	ok, err := s.checkPassword(ctx, stored, password)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	// Failed logins of a known user go to the log of their first profile,
	// where that profile's admins can see someone guessing. The query runs
	// for unknown users too (finding nothing), so both paths take as long.
	ms, err := s.sys.Memberships().ForUser(ctx, u.ID)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if !known {
		return fail(store.User{}, "", "unknown user", errBadCredentials)
	}
	home := ""
	if len(ms) > 0 {
		home = ms[0].ProfileID
	}
	if !ok {
		return fail(u, home, "wrong password", errBadCredentials)
	}
	if u.Disabled {
		return fail(u, home, "account disabled", api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
			"this account is disabled: ask an administrator to enable it"))
	}
	m, err := chooseMembership(ms, requestedProfile)
	if err != nil {
		return fail(u, home, "no usable profile", err)
	}
	resp, err := s.startSession(ctx, u, m.ProfileID)
	if err != nil {
		return TokenResponse{}, err
	}
	s.rec.RecordCtx(ctx, addr, audit.Event{Action: "auth.login", ObjectType: "user", ObjectID: u.ID, Outcome: audit.Success,
		ProfileID: m.ProfileID, UserID: u.ID, Username: u.Username})
	return resp, nil
}

// startSession issues an access token and a new refresh-token family. The
// refresh token hangs off the membership in profileID, so removing the
// user from that profile ends the session.
func (s *Service) startSession(ctx context.Context, u store.User, profileID string) (TokenResponse, error) {
	secret, err := newSecret()
	if err != nil {
		return TokenResponse{}, err
	}
	if _, err := s.sys.RefreshTokens().Issue(ctx, store.NewRefreshToken{UserID: u.ID, ProfileID: profileID,
		TokenHash: hashSecret(secret), ExpiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)}); err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	return s.tokenResponse(u, secret)
}

func (s *Service) tokenResponse(u store.User, refreshSecret string) (TokenResponse, error) {
	access, ttl, err := s.issueAccessToken(u)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: access, RefreshToken: refreshSecret, ExpiresIn: int(ttl / time.Second), TokenType: "Bearer"}, nil
}

// refresh is POST /api/v1/auth/refresh.
func (s *Service) refresh(c *gin.Context) {
	var req refreshRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	if req.RefreshToken == "" {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "refresh_token is required"))
		return
	}
	ctx := c.Request.Context()
	secret, err := newSecret()
	if err != nil {
		api.Fail(c, err)
		return
	}
	oldHash := hashSecret(req.RefreshToken)
	rt, err := s.sys.RefreshTokens().Rotate(ctx, oldHash, hashSecret(secret), s.cfg.Now().Add(s.cfg.RefreshTTL))
	switch {
	case errors.Is(err, store.ErrTokenReused):
		ev := audit.Event{Action: "auth.refresh", ObjectType: "session", Outcome: audit.Denied,
			Details: map[string]any{"reason": "refresh token reused; session revoked"}}
		if old, lerr := s.sys.RefreshTokens().Lookup(ctx, oldHash); lerr == nil {
			ev.ObjectID, ev.ProfileID, ev.UserID = old.FamilyID, old.ProfileID, old.UserID
			if u, uerr := s.sys.Users().ByID(ctx, old.UserID); uerr == nil {
				ev.Username = u.Username
			}
		}
		s.rec.Record(c, ev)
		api.Fail(c, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
			"this refresh token was already used, so the session was revoked for safety (a copy of it may have been stolen): log in again"))
		return
	case errors.Is(err, store.ErrNotFound):
		api.Fail(c, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
			"refresh token invalid, expired or revoked: log in again"))
		return
	case err != nil:
		api.Fail(c, fmt.Errorf("refresh: %w", err))
		return
	}
	u, err := s.sys.Users().ByID(ctx, rt.UserID)
	if err != nil {
		api.Fail(c, fmt.Errorf("refresh: %w", err))
		return
	}
	resp, err := s.tokenResponse(u, secret)
	if err != nil {
		api.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// logout is POST /api/v1/auth/logout. With a refresh token it ends that
// session (its whole family); without one it ends every session of the
// caller ("log out everywhere"). Access tokens already issued stay valid
// until they expire (AccessTTL): they are not looked up per request.
func (s *Service) logout(c *gin.Context) {
	p, _ := api.Principal(c)
	if p.Via == "token" {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid,
			"an API token has no session to log out of: revoke it with DELETE /api/v1/tokens/{id}"))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			api.Fail(c, api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit))
			return
		}
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "could not read the request body: %v", err))
		return
	}
	var req refreshRequest
	if len(bytes.TrimSpace(body)) > 0 {
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		if err := api.DecodeJSON(c, &req); err != nil {
			api.Fail(c, err)
			return
		}
	}
	ctx := c.Request.Context()
	rts := s.sys.RefreshTokens()
	details := map[string]any{}
	if req.RefreshToken != "" {
		t, err := rts.Lookup(ctx, hashSecret(req.RefreshToken))
		if errors.Is(err, store.ErrNotFound) || (err == nil && t.UserID != p.UserID) {
			api.Fail(c, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no such refresh token of yours"))
			return
		}
		if err == nil {
			err = rts.RevokeFamily(ctx, t.FamilyID)
		}
		if err != nil {
			api.Fail(c, fmt.Errorf("logout: %w", err))
			return
		}
		details["scope"] = "session"
	} else {
		n, err := rts.RevokeUser(ctx, p.UserID)
		if err != nil {
			api.Fail(c, fmt.Errorf("logout: %w", err))
			return
		}
		details["scope"], details["revoked"] = "all sessions", n
	}
	s.rec.Record(c, audit.Event{Action: "auth.logout", ObjectType: "user", ObjectID: p.UserID, Details: details})
	c.Status(http.StatusNoContent)
}

// MeResponse is the answer of GET /api/v1/auth/me.
type MeResponse struct {
	User        MeUser           `json:"user"`
	Profile     ProfileRef       `json:"profile"`
	Role        identity.Role    `json:"role"`
	Via         string           `json:"via"`
	Memberships []MembershipJSON `json:"memberships"`
}

// MeUser describes the caller.
type MeUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// ProfileRef names a profile.
type ProfileRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MembershipJSON is one profile the caller may switch to.
type MembershipJSON struct {
	ProfileID   string        `json:"profile_id"`
	ProfileName string        `json:"profile_name"`
	Role        identity.Role `json:"role"`
}

// me is GET /api/v1/auth/me.
func (s *Service) me(c *gin.Context) {
	p, _ := api.Principal(c)
	ctx := c.Request.Context()
	u, err := s.sys.Users().ByID(ctx, p.UserID)
	if err != nil {
		api.Fail(c, fmt.Errorf("me: %w", err))
		return
	}
	ms, err := s.visibleMemberships(ctx, p)
	if err != nil {
		api.Fail(c, err)
		return
	}
	resp := MeResponse{User: MeUser{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName},
		Profile: ProfileRef{ID: p.ProfileID}, Role: p.Role, Via: p.Via, Memberships: []MembershipJSON{}}
	for _, m := range ms {
		if m.ProfileID == p.ProfileID {
			resp.Profile.Name = m.ProfileName
		}
		resp.Memberships = append(resp.Memberships, MembershipJSON{ProfileID: m.ProfileID, ProfileName: m.ProfileName, Role: m.Role})
	}
	c.JSON(http.StatusOK, resp)
}

// visibleMemberships are the caller's memberships, oldest first. An API
// token acts in one profile only and sees only that one, so a leaked
// token does not reveal the owner's other profiles.
func (s *Service) visibleMemberships(ctx context.Context, p identity.Principal) ([]store.Membership, error) {
	ms, err := s.sys.Memberships().ForUser(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	if p.Via != "token" {
		return ms, nil
	}
	out := ms[:0]
	for _, m := range ms {
		if m.ProfileID == p.ProfileID {
			m.Role = p.Role
			out = append(out, m)
		}
	}
	return out, nil
}
