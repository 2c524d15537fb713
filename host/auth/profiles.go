package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// ProfileJSON is a profile the caller belongs to.
type ProfileJSON struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Role    identity.Role `json:"role"`
	Current bool          `json:"current"`
}

type createProfileRequest struct {
	Name string `json:"name"`
}

// maxProfileName bounds profile names, which travel in a header.
const maxProfileName = 64

// listProfiles is GET /api/v1/profiles: the caller's profiles, oldest
// membership first.
func (s *Service) listProfiles(c *gin.Context) {
	p, _ := api.Principal(c)
	ms, err := s.visibleMemberships(c.Request.Context(), p)
	if err != nil {
		api.Fail(c, err)
		return
	}
	out := make([]ProfileJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, ProfileJSON{ID: m.ProfileID, Name: m.ProfileName, Role: m.Role, Current: m.ProfileID == p.ProfileID})
	}
	c.JSON(http.StatusOK, gin.H{"profiles": out})
}

// createProfile is POST /api/v1/profiles. An admin of any profile may
// create one, and becomes its admin.
func (s *Service) createProfile(c *gin.Context) {
	var req createProfileRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	name := req.Name
	switch {
	case strings.TrimSpace(name) == "":
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "name is required"))
		return
	case name != strings.TrimSpace(name):
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "name must not start or end with spaces"))
		return
	case utf8.RuneCountInString(name) > maxProfileName:
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "name is longer than %d characters", maxProfileName))
		return
	}
	for _, r := range name {
		// The name is sent in the X-PUOD-Profile header, which cannot carry
		// control characters.
		if r < 0x20 || r == 0x7f {
			api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "name contains a control character"))
			return
		}
	}
	ctx := c.Request.Context()
	p, _ := api.Principal(c)
	ms, err := s.visibleMemberships(ctx, p)
	if err != nil {
		api.Fail(c, err)
		return
	}
	allowed := false
	for _, m := range ms {
		allowed = allowed || m.Role == identity.RoleAdmin
	}
	if !allowed {
		api.Fail(c, forbidden("creating a profile needs the admin role in at least one profile; you have none"))
		return
	}
	prof, err := s.sys.Profiles().Create(ctx, name)
	if errors.Is(err, store.ErrConflict) {
		api.Fail(c, api.Errorf(http.StatusConflict, api.CodeConflict, "a profile named %q exists already: choose another name", name))
		return
	}
	if err != nil {
		api.Fail(c, err)
		return
	}
	if err := s.sys.Memberships().Add(ctx, prof.ID, p.UserID, identity.RoleAdmin); err != nil {
		api.Fail(c, err)
		return
	}
	for _, hook := range s.onProfileCreated {
		if err := hook(ctx, prof.ID); err != nil {
			s.log.Error("the new profile was created, but setting it up failed", "profile", prof.ID, "error", err)
		}
	}
	s.rec.Record(c, audit.Event{Action: "profile.create", ObjectType: "profile", ObjectID: prof.ID, Details: map[string]any{"name": prof.Name}})
	// The new profile's own log starts with its creation, too, recorded as
	// its new admin acting in it.
	inNew := p
	inNew.ProfileID, inNew.Role = prof.ID, identity.RoleAdmin
	s.rec.RecordCtx(identity.With(ctx, inNew), c.ClientIP(), audit.Event{Action: "profile.create", ObjectType: "profile",
		ObjectID: prof.ID, Details: map[string]any{"name": prof.Name}})
	c.JSON(http.StatusCreated, gin.H{"id": prof.ID, "name": prof.Name, "role": identity.RoleAdmin, "created_at": prof.CreatedAt.Format(time.RFC3339Nano)})
}
