// Package secrets owns the host's keys for data at rest: the keyring that
// seals source secrets with AES-256-GCM, and the derivation of the other keys
// the host needs (the JWT signing key) from the same root.
//
// The root keys come from PUOD_SECRET_KEY or, when it is unset, from a key
// generated once into <data-dir>/secret.key. Every ciphertext is stored with
// the id of the key that sealed it, so keys can be rotated: put the new key
// first in PUOD_SECRET_KEY and keep the old ones after it until every row
// has been re-encrypted (Keyring.Reencrypt).
//
// Nothing in this package logs or returns key material or plaintext in an
// error message.
package secrets
