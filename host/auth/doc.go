// Package auth owns how callers prove who they are and what they may do:
// local passwords (argon2id), the host's own access tokens (HS256 JWTs) and
// their refresh tokens, bearer tokens of an external OpenID Connect
// provider, API tokens for automation, the choice of profile for each
// request, login rate limiting, and the HTTP routes that manage users,
// memberships, profiles and tokens.
//
// The Authenticator turns a request's `Authorization: Bearer` header into an
// identity.Principal; the api package puts that principal in the request
// context, and from there the store scopes every tenant statement. Handlers
// in this package therefore use the profile-scoped repositories of
// store.DB; the unscoped store.System is used only where no principal can
// exist yet (login, refresh, token lookup, OIDC provisioning, bootstrap and
// the command line).
//
// Every failure to authenticate is a 401 *api.Error whose message tells a
// person what to do next ("token expired: log in again or refresh it"),
// never what failed inside; the details go to the debug log.
package auth
