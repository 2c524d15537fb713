package auth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// APITokenJSON describes an API token; the secret is never part of it.
type APITokenJSON struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Role       identity.Role `json:"role"`
	UserID     string        `json:"user_id"`
	Active     bool          `json:"active"`
	ExpiresAt  *time.Time    `json:"expires_at"`
	LastUsedAt *time.Time    `json:"last_used_at"`
	RevokedAt  *time.Time    `json:"revoked_at"`
	CreatedAt  time.Time     `json:"created_at"`
}

// CreatedAPIToken is the answer of POST /api/v1/tokens: the token's
// description plus its secret, which is shown this once and never stored.
type CreatedAPIToken struct {
	APITokenJSON
	Token string `json:"token"`
}

func apiTokenJSON(t store.APIToken, now time.Time) APITokenJSON {
	return APITokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, UserID: t.UserID, Active: t.Active(now),
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt}
}

type createTokenRequest struct {
	Name string `json:"name"`
	// Role defaults to viewer: automation gets the least it needs unless
	// asked otherwise.
	Role identity.Role `json:"role"`
	// ExpiresAt is an RFC 3339 time, parsed here rather than by the JSON
	// decoder, whose errors for a time.Time name neither the field nor the
	// format.
	ExpiresAt *string `json:"expires_at"`
}

// listTokens is GET /api/v1/tokens.
func (s *Service) listTokens(c *gin.Context) {
	page, err := pageFrom(c)
	if err != nil {
		api.Fail(c, err)
		return
	}
	toks, next, err := s.db.APITokens().List(c.Request.Context(), store.APITokenFilter{}, page)
	if err != nil {
		api.Fail(c, err)
		return
	}
	now := s.cfg.Now()
	out := make([]APITokenJSON, 0, len(toks))
	for _, t := range toks {
		out = append(out, apiTokenJSON(t, now))
	}
	c.JSON(http.StatusOK, gin.H{"tokens": out, "next_cursor": next})
}

// createToken is POST /api/v1/tokens.
func (s *Service) createToken(c *gin.Context) {
	if p, _ := api.Principal(c); p.Via == "token" {
		// A leaked token must not be able to mint successors that outlive
		// its own revocation.
		api.Fail(c, forbidden("an API token cannot create API tokens: log in as a person to create one"))
		return
	}
	var req createTokenRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	if req.Role == "" {
		req.Role = identity.RoleViewer
	}
	var expires *time.Time
	if req.ExpiresAt != nil {
		at, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			e := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "expires_at %q is not an RFC 3339 time: write e.g. 2026-01-02T15:04:05Z, or leave it out for a token that does not expire", *req.ExpiresAt)
			e.Fields = []api.FieldProblem{{Field: "/expires_at", Message: "must be an RFC 3339 time"}}
			api.Fail(c, e)
			return
		}
		expires = &at
	}
	if expires != nil && !expires.After(s.cfg.Now()) {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "expires_at is in the past: give a future time (RFC 3339) or leave it out for a token that does not expire"))
		return
	}
	secret, err := newSecret()
	if err != nil {
		api.Fail(c, err)
		return
	}
	secret = APITokenPrefix + secret
	// The store refuses a role above the creator's own (ErrInvalid → 400).
	t, err := s.db.APITokens().Create(c.Request.Context(), store.NewAPIToken{Name: req.Name, TokenHash: hashSecret(secret),
		Role: req.Role, ExpiresAt: expires})
	if err != nil {
		api.Fail(c, err)
		return
	}
	s.rec.Record(c, audit.Event{Action: "token.create", ObjectType: "api_token", ObjectID: t.ID,
		Details: map[string]any{"name": t.Name, "role": t.Role, "expires_at": t.ExpiresAt}})
	c.JSON(http.StatusCreated, CreatedAPIToken{APITokenJSON: apiTokenJSON(t, s.cfg.Now()), Token: secret})
}

// revokeToken is DELETE /api/v1/tokens/:id.
func (s *Service) revokeToken(c *gin.Context) {
	id := c.Param("id")
	if err := s.db.APITokens().Revoke(c.Request.Context(), id); err != nil {
		api.Fail(c, err)
		return
	}
	s.rec.Record(c, audit.Event{Action: "token.revoke", ObjectType: "api_token", ObjectID: id})
	c.Status(http.StatusNoContent)
}

// pageFrom reads ?limit= and ?cursor=.
func pageFrom(c *gin.Context) (store.Page, error) {
	var p store.Page
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "limit must be a positive integer (at most %d), got %q", store.MaxPageLimit, l)
		}
		p.Limit = n
	}
	p.Cursor = c.Query("cursor")
	return p, nil
}
