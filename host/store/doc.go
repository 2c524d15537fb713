// Package store owns PUOD's persistent state: the SQL schema and its
// migrations, the connection to SQLite (the embedded default) or PostgreSQL
// (for several replicas), and the repositories through which the rest of the
// host reads and writes rows.
//
// Tenant isolation lives here, not in handlers. Every repository reached from
// a *DB accessor (Sources, Users, Memberships, APITokens, Audit) takes the
// caller's profile from the identity.Principal in the context and adds
// `profile_id = ?` to every statement it runs; inserts take the profile from
// the principal, never from arguments. Without a principal those methods
// return identity.ErrNoPrincipal before touching the database, and a row of
// another profile is reported exactly like a missing one (ErrNotFound), so
// ids never leak across tenants.
//
// The few operations that must run before a principal exists (login,
// refresh-token rotation, bootstrap, API-token authentication, audit
// verification, the collector's view of all sources) live behind
// (*DB).System, so an unscoped call is always visible at the call site.
//
// One SQL text serves both dialects: statements are written with `?`
// placeholders and rebound by sqlx. Times are stored with microsecond
// precision in UTC: TIMESTAMPTZ on PostgreSQL, INTEGER unix microseconds on
// SQLite (so they sort and index as numbers); values written through this
// package are truncated to microseconds on both, so what you read back equals
// what you wrote on either database.
package store
