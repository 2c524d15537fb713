package auth

import (
	"net/http"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
)

// Register mounts the auth, users, profiles and tokens routes on s.
func Register(s *api.Server, svc *Service) {
	s.Public(http.MethodPost, "/auth/login", svc.login)
	s.Public(http.MethodPost, "/auth/refresh", svc.refresh)

	g := s.API()
	g.POST("/auth/logout", svc.logout)
	g.GET("/auth/me", svc.me)

	admin := api.Require(identity.RoleAdmin)
	g.GET("/tokens", admin, svc.listTokens)
	g.POST("/tokens", admin, svc.createToken)
	g.DELETE("/tokens/:id", admin, svc.revokeToken)

	g.GET("/users", admin, svc.listUsers)
	g.POST("/users", admin, svc.createUser)
	g.PATCH("/users/:id", admin, svc.updateUser)
	g.DELETE("/users/:id", admin, svc.removeUser)

	g.GET("/profiles", svc.listProfiles)
	g.POST("/profiles", svc.createProfile)
}
