package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// UserJSON is a member of the current profile.
type UserJSON struct {
	ID          string        `json:"id"`
	Username    string        `json:"username"`
	DisplayName string        `json:"display_name"`
	Role        identity.Role `json:"role"`
	Disabled    bool          `json:"disabled"`
	CreatedAt   time.Time     `json:"created_at"`
}

func userJSON(u store.User, role identity.Role) UserJSON {
	return UserJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: role, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

type createUserRequest struct {
	Username string `json:"username"`
	// Password creates a new account. Without it, an existing account
	// with this username is added to the profile.
	Password    string        `json:"password"`
	DisplayName string        `json:"display_name"`
	Role        identity.Role `json:"role"`
}

type updateUserRequest struct {
	Role     *identity.Role `json:"role"`
	Disabled *bool          `json:"disabled"`
}

// listUsers is GET /api/v1/users: the members of the current profile.
// Reading the user list is audited.
func (s *Service) listUsers(c *gin.Context) {
	page, err := pageFrom(c)
	if err != nil {
		api.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	// Both lists are the profile's members ordered by username with the
	// same cursor, so they cover the same users; the second only adds the
	// account state the membership rows lack.
	ms, next, err := s.db.Memberships().List(ctx, page)
	if err != nil {
		api.Fail(c, err)
		return
	}
	us, _, err := s.db.Users().List(ctx, page)
	if err != nil {
		api.Fail(c, err)
		return
	}
	byID := make(map[string]store.User, len(us))
	for _, u := range us {
		byID[u.ID] = u
	}
	out := make([]UserJSON, 0, len(ms))
	for _, m := range ms {
		u, ok := byID[m.UserID]
		if !ok {
			// Added between the two reads.
			if u, err = s.db.Users().Get(ctx, m.UserID); err != nil {
				continue
			}
		}
		out = append(out, userJSON(u, m.Role))
	}
	s.rec.Record(c, audit.Event{Action: "user.list", ObjectType: "user", Details: map[string]any{"count": len(out)}})
	c.JSON(http.StatusOK, gin.H{"users": out, "next_cursor": next})
}

// createUser is POST /api/v1/users.
func (s *Service) createUser(c *gin.Context) {
	var req createUserRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	req.Username = strings.TrimSpace(req.Username)
	if req.Role == "" {
		req.Role = identity.RoleViewer
	}
	if _, err := identity.ParseRole(string(req.Role)); err != nil {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
		return
	}
	if err := checkUsername(req.Username); err != nil {
		api.Fail(c, err)
		return
	}
	var u store.User
	created := req.Password != ""
	if created {
		if err := CheckPasswordPolicy(req.Password); err != nil {
			api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return
		}
		hash, err := s.hashPassword(ctx, req.Password)
		if err != nil {
			api.Fail(c, err)
			return
		}
		u, err = s.sys.Users().Create(ctx, store.NewUser{Username: req.Username, PasswordHash: hash, DisplayName: req.DisplayName})
		if errors.Is(err, store.ErrConflict) {
			api.Fail(c, api.Errorf(http.StatusConflict, api.CodeConflict,
				"username %q is taken: choose another, or leave out the password to add the existing account to this profile", req.Username))
			return
		}
		if err != nil {
			api.Fail(c, err)
			return
		}
	} else {
		if req.DisplayName != "" {
			api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid,
				"display_name can only be set when creating an account (with a password)"))
			return
		}
		var err error
		u, err = s.sys.Users().ByUsername(ctx, req.Username)
		if errors.Is(err, store.ErrNotFound) {
			api.Fail(c, api.Errorf(http.StatusNotFound, api.CodeNotFound,
				"no account named %q: give a password to create it", req.Username))
			return
		}
		if err != nil {
			api.Fail(c, err)
			return
		}
		if _, err := s.db.Users().Get(ctx, u.ID); err == nil {
			api.Fail(c, api.Errorf(http.StatusConflict, api.CodeConflict,
				"%q is already a member of this profile: change the role with PATCH /api/v1/users/%s", u.Username, u.ID))
			return
		}
	}
	if err := s.db.Memberships().Set(ctx, u.ID, req.Role); err != nil {
		api.Fail(c, err)
		return
	}
	s.rec.Record(c, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID,
		Details: map[string]any{"username": u.Username, "role": req.Role, "new_account": created}})
	c.JSON(http.StatusCreated, userJSON(u, req.Role))
}

// checkUsername refuses names that would be confusing or unsafe to show.
func checkUsername(name string) error {
	if name == "" {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "username is required")
	}
	if len(name) > 128 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "username is longer than 128 bytes")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "username contains a control character")
		}
	}
	return nil
}

// updateUser is PATCH /api/v1/users/:id: role in the current profile,
// and whether the account is disabled (for every profile: an account is
// global).
func (s *Service) updateUser(c *gin.Context) {
	var req updateUserRequest
	if err := api.DecodeJSON(c, &req); err != nil {
		api.Fail(c, err)
		return
	}
	if req.Role == nil && req.Disabled == nil {
		api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "nothing to change: send role and/or disabled"))
		return
	}
	if req.Role != nil {
		if _, err := identity.ParseRole(string(*req.Role)); err != nil {
			api.Fail(c, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return
		}
	}
	ctx := c.Request.Context()
	p, _ := api.Principal(c)
	id := c.Param("id")
	// Only members of this profile can be changed from it; anyone else is
	// not found, exactly like a missing id.
	u, err := s.db.Users().Get(ctx, id)
	if err != nil {
		api.Fail(c, err)
		return
	}
	if u.ID == p.UserID {
		api.Fail(c, api.Errorf(http.StatusConflict, api.CodeConflict,
			"you cannot change your own role or disable yourself (it could leave the profile without an admin): ask another admin"))
		return
	}
	details := map[string]any{"username": u.Username}
	if req.Role != nil {
		if err := s.db.Memberships().Set(ctx, u.ID, *req.Role); err != nil {
			api.Fail(c, err)
			return
		}
		details["role"] = *req.Role
	}
	if req.Disabled != nil {
		if err := s.sys.Users().SetDisabled(ctx, u.ID, *req.Disabled); err != nil {
			api.Fail(c, err)
			return
		}
		if *req.Disabled {
			if _, err := s.sys.RefreshTokens().RevokeUser(ctx, u.ID); err != nil {
				api.Fail(c, err)
				return
			}
		}
		u.Disabled = *req.Disabled
		details["disabled"] = *req.Disabled
	}
	s.rec.Record(c, audit.Event{Action: "user.update", ObjectType: "user", ObjectID: u.ID, Details: details})
	m, err := s.sys.Memberships().Get(ctx, p.ProfileID, u.ID)
	if err != nil {
		api.Fail(c, fmt.Errorf("update user: %w", err))
		return
	}
	c.JSON(http.StatusOK, userJSON(u, m.Role))
}

// removeUser is DELETE /api/v1/users/:id: the account leaves this profile
// (its tokens for the profile go with the membership); the account itself
// and its other memberships remain.
func (s *Service) removeUser(c *gin.Context) {
	p, _ := api.Principal(c)
	id := c.Param("id")
	if id == p.UserID {
		api.Fail(c, api.Errorf(http.StatusConflict, api.CodeConflict,
			"you cannot remove yourself from the profile (it could leave the profile without an admin): ask another admin"))
		return
	}
	if err := s.db.Memberships().Remove(c.Request.Context(), id); err != nil {
		api.Fail(c, err)
		return
	}
	s.rec.Record(c, audit.Event{Action: "user.remove", ObjectType: "user", ObjectID: id})
	c.Status(http.StatusNoContent)
}
