// Package sources owns the configured plugin instances ("sources") of each
// profile: the /api/v1/sources routes, the validation of a source's
// configuration against its plugin's JSON Schema and the plugin itself, the
// encryption of its secret fields at rest, and pushing configurations into
// the plugin processes (at start with LoadAll, and on every change).
//
// Secret fields are the top-level properties the plugin's config schema
// marks "x-secret": true. They are split out of the configuration, sealed
// with the host keyring (bound to the profile and source id, so a ciphertext
// copied to another row does not open) and stored in secrets_enc; the
// config_json column never holds them. Responses show a set secret as
// "********", and a client that sends that mask back (or omits the field)
// keeps the stored value, so a form can round-trip without ever seeing it.
package sources
