package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the size of a root key: 256 bits.
const KeySize = 32

// formatV1 is the first byte of every ciphertext this package writes:
// formatV1 || 12-byte nonce || AES-256-GCM sealed data and tag. A new
// layout gets a new tag, so stored ciphertexts stay readable.
const formatV1 byte = 1

// encryptionInfo is the HKDF info of the data-encryption key derived from a
// root key. Deriving it (rather than using the root key directly) keeps the
// encryption key apart from every key Derive hands out.
const encryptionInfo = "puod/secrets-at-rest/v1"

// deriveInfoPrefix prefixes the HKDF info of Derive, so no purpose can name
// the encryption key.
const deriveInfoPrefix = "puod/derive/"

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrUnknownKey: the ciphertext was sealed with a key id the keyring
	// does not hold. The message names the key id and how to fix it.
	ErrUnknownKey = errors.New("unknown secret key id")
	// ErrDecrypt: the ciphertext does not authenticate — altered, truncated,
	// moved to another row, or sealed by a different key under the same id.
	ErrDecrypt = errors.New("secret does not decrypt")
)

// Key is one root key.
type Key struct {
	// ID is stored next to every ciphertext the key seals. Letters, digits,
	// '.', '_' and '-', at most 64 characters.
	ID string
	// Secret is the 32-byte key material.
	Secret []byte
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// FingerprintID is the id given to a key written without one (a bare
// base64 key in PUOD_SECRET_KEY, or the generated key file): "fp-" and the
// first 16 hex digits of a SHA-256 over the key. It is stable, so the same
// key always gets the same id, and reveals nothing usable about the key.
func FingerprintID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("puod/key-id/v1\x00"))
	h.Write(secret)
	return "fp-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ParseKeys parses the PUOD_SECRET_KEY syntax: a comma-separated list of
// entries, each either "id:base64" or a bare base64 key (whose id is its
// FingerprintID). The first entry is the active key. Errors name the entry
// by position, never its value.
func ParseKeys(spec string) ([]Key, error) {
	var keys []Key
	seen := map[string]int{}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		pos := i + 1
		id, b64, hasID := strings.Cut(entry, ":")
		if !hasID {
			b64 = entry
		}
		secret, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("secret key entry %d: %w", pos, err)
		}
		if !hasID {
			id = FingerprintID(secret)
		} else if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("secret key entry %d: key id %q is not valid: use letters, digits, '.', '_' or '-' (at most 64)", pos, id)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("secret key entries %d and %d have the same key id %q: give every key its own id", prev, pos, id)
		}
		seen[id] = pos
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("no secret key given: set PUOD_SECRET_KEY to the base64 of 32 random bytes (openssl rand -base64 32), or leave it unset to use a generated key file")
	}
	return keys, nil
}

// decodeKey accepts standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("key decodes to %d bytes, need %d: generate one with `openssl rand -base64 32`", len(b), KeySize)
		}
		return b, nil
	}
	return nil, errors.New("key is not base64: generate one with `openssl rand -base64 32`")
}

// EncodeKey returns the base64 form of a key, as ParseKeys and the key
// file read it.
func EncodeKey(secret []byte) string { return base64.StdEncoding.EncodeToString(secret) }

// Keyring seals and opens secrets with a set of root keys, one of which is
// active (used for new ciphertexts). It is safe for concurrent use and
// immutable after construction.
type Keyring struct {
	active string
	order  []string
	roots  map[string][]byte
	aeads  map[string]cipher.AEAD
	// sources says where the keys came from, for the unknown-key remedy.
	sources string
}

// NewKeyring builds a keyring; the first key is the active one.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("new keyring: no keys")
	}
	k := &Keyring{roots: map[string][]byte{}, aeads: map[string]cipher.AEAD{}, sources: "the keyring"}
	for _, key := range keys {
		if !keyIDPattern.MatchString(key.ID) {
			return nil, fmt.Errorf("new keyring: key id %q is not valid: use letters, digits, '.', '_' or '-' (at most 64)", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("new keyring: key %s is %d bytes, need %d", key.ID, len(key.Secret), KeySize)
		}
		if _, dup := k.roots[key.ID]; dup {
			return nil, fmt.Errorf("new keyring: key id %q appears twice", key.ID)
		}
		encKey, err := hkdf.Key(sha256.New, key.Secret, nil, encryptionInfo, KeySize)
		if err != nil {
			return nil, fmt.Errorf("new keyring: derive encryption key %s: %w", key.ID, err)
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, fmt.Errorf("new keyring: key %s: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("new keyring: key %s: %w", key.ID, err)
		}
		k.roots[key.ID] = append([]byte(nil), key.Secret...)
		k.aeads[key.ID] = aead
		k.order = append(k.order, key.ID)
	}
	k.active = k.order[0]
	return k, nil
}

// ActiveKeyID is the id of the key new ciphertexts are sealed with.
func (k *Keyring) ActiveKeyID() string { return k.active }

// KeyIDs lists the ids the keyring can open, active first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.order...) }

// Encrypt seals plain with the active key. aad is authenticated but not
// stored: Decrypt must be given the same bytes, which is how a ciphertext is
// bound to the row it belongs to. It returns the ciphertext and the id of
// the key that sealed it; store both.
func (k *Keyring) Encrypt(plain, aad []byte) (ciphertext []byte, keyID string, err error) {
	aead := k.aeads[k.active]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = formatV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, "", fmt.Errorf("encrypt secret: read random nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plain, aad), k.active, nil
}

// Decrypt opens a ciphertext sealed by Encrypt with the key keyID and the
// same aad. A key id the keyring lacks is ErrUnknownKey; a ciphertext that
// was altered, truncated or belongs to other aad is ErrDecrypt.
func (k *Keyring) Decrypt(ciphertext []byte, keyID string, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q: the secret was sealed with a key that %s does not hold: "+
			"add that key to PUOD_SECRET_KEY as %s:<base64> after the active key (or restore the secret.key file it came from), "+
			"or re-enter the secret", ErrUnknownKey, keyID, k.sources, keyID)
	}
	if len(ciphertext) < 1+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext is truncated (%d bytes)", ErrDecrypt, len(ciphertext))
	}
	if ciphertext[0] != formatV1 {
		return nil, fmt.Errorf("%w: unknown ciphertext format %d: written by a newer PUOD?", ErrDecrypt, ciphertext[0])
	}
	nonce := ciphertext[1 : 1+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, ciphertext[1+aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w with key %q: the ciphertext was altered, moved from another row, or sealed by a different key under the same id", ErrDecrypt, keyID)
	}
	return plain, nil
}

// NeedsReencrypt reports whether a ciphertext sealed by keyID should be
// re-encrypted to move it to the active key.
func (k *Keyring) NeedsReencrypt(keyID string) bool { return keyID != k.active }

// Reencrypt opens a ciphertext and seals it again with the active key, for
// key rotation. A ciphertext already under the active key is returned as
// is. aad must be the one it was sealed with (it is kept).
func (k *Keyring) Reencrypt(ciphertext []byte, keyID string, aad []byte) ([]byte, string, error) {
	if !k.NeedsReencrypt(keyID) {
		return ciphertext, keyID, nil
	}
	plain, err := k.Decrypt(ciphertext, keyID, aad)
	if err != nil {
		return nil, "", fmt.Errorf("re-encrypt: %w", err)
	}
	defer clear(plain)
	return k.Encrypt(plain, aad)
}

// Derive returns a 32-byte key for purpose (e.g. "jwt-signing"), derived
// with HKDF-SHA256 from the active root key, and that key's id. Different
// purposes get independent keys; the same purpose and root always get the
// same key, so it survives restarts and is shared by replicas.
func (k *Keyring) Derive(purpose string) ([]byte, string) {
	b, err := k.DeriveWith(purpose, k.active)
	if err != nil {
		// HKDF-SHA256 fails only for outputs over 255*32 bytes.
		panic(fmt.Sprintf("derive %s: %v", purpose, err))
	}
	return b, k.active
}

// DeriveWith is Derive from a given root key, to check values (tokens)
// made under a key that is no longer active.
func (k *Keyring) DeriveWith(purpose, keyID string) ([]byte, error) {
	root, ok := k.roots[keyID]
	if !ok {
		return nil, fmt.Errorf("derive %s: %w %q", purpose, ErrUnknownKey, keyID)
	}
	return hkdf.Key(sha256.New, root, nil, deriveInfoPrefix+purpose, KeySize)
}
