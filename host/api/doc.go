// Package api is the host's HTTP surface (gin): the middleware chain every
// request passes (request id, recovery, logging, metrics, body limit), the
// one JSON error shape, and the authenticated /api/v1 group.
//
// Routes under /api/v1 are registered on Server.API(), which always runs the
// Authenticator first. The few routes that take their own credentials
// (login, webhooks, lineage) are registered with Server.Public and must be
// listed in PublicAPIRoutes; a test fails for any other /api/v1 route that
// answers without a token.
package api
