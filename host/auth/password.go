package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password policy.
const (
	// MinPasswordLength is the shortest password accepted, in characters.
	// Length is what makes a password hard to guess; we ask for nothing
	// else (no character classes), as NIST SP 800-63B recommends.
	MinPasswordLength = 12
	// MaxPasswordLength bounds the work one login request can cause.
	MaxPasswordLength = 1024
)

// ErrPasswordPolicy is wrapped by CheckPasswordPolicy's errors.
var ErrPasswordPolicy = errors.New("password rejected")

// CheckPasswordPolicy returns an error wrapping ErrPasswordPolicy, with a
// message a person can act on, when password may not be used.
func CheckPasswordPolicy(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return fmt.Errorf("%w: the password has %d characters; use at least %d (a passphrase of a few unrelated words is easy to remember)",
			ErrPasswordPolicy, n, MinPasswordLength)
	case n > MaxPasswordLength:
		return fmt.Errorf("%w: the password has %d characters; use at most %d", ErrPasswordPolicy, n, MaxPasswordLength)
	}
	return nil
}

// PasswordParams are the argon2id cost parameters of new hashes.
type PasswordParams struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the parallelism (lanes).
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// DefaultPasswordParams follow OWASP's argon2id recommendation (19 MiB, 2
// passes, 1 lane): memory-hard enough to make GPU guessing expensive, while
// a login costs tens of milliseconds and, more importantly for a server
// that also runs beside its plugins, 19 MiB at a time rather than 64.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// hashSlots bounds how many argon2 computations run at once, so a burst of
// logins from many addresses costs queueing time, not memory: each one
// holds Memory KiB until it finishes.
var hashSlots = make(chan struct{}, 2)

func argon2Key(password, salt []byte, p PasswordParams) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Bounds on parameters read back from stored hashes, so that a corrupted or
// planted hash cannot make one login allocate gigabytes.
const (
	maxHashMemory  = 1 << 20 // KiB: 1 GiB
	maxHashTime    = 100
	maxHashKeyLen  = 128
	maxHashSaltLen = 128
)

func (p PasswordParams) validate() error {
	switch {
	case p.Threads == 0:
		return errors.New("password params: threads must be at least 1")
	case p.Time == 0 || p.Time > maxHashTime:
		return fmt.Errorf("password params: time must be 1..%d", maxHashTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxHashMemory:
		return fmt.Errorf("password params: memory must be %d..%d KiB", 8*uint32(p.Threads), maxHashMemory)
	case p.SaltLen < 8 || p.SaltLen > maxHashSaltLen:
		return fmt.Errorf("password params: salt length must be 8..%d bytes", maxHashSaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxHashKeyLen:
		return fmt.Errorf("password params: key length must be 16..%d bytes", maxHashKeyLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// Hash returns the argon2id hash of password in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), which records the parameters so
// they can be raised later without breaking stored hashes.
func (p PasswordParams) Hash(password string) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read random salt: %w", err)
	}
	key := argon2Key([]byte(password), salt, p)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// HashPassword hashes password with DefaultPasswordParams after checking
// the policy.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return "", err
	}
	return DefaultPasswordParams.Hash(password)
}

// errNotArgon2 marks a stored value that is no argon2id hash: an account
// without a password (OIDC-provisioned, or created for tests).
var errNotArgon2 = errors.New("not an argon2id PHC string")

type phc struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

func parsePHC(encoded string) (phc, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, errNotArgon2
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	var h phc
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.params.Memory, &h.params.Time, &threads); err != nil {
		return phc{}, fmt.Errorf("malformed argon2 parameters %q", parts[3])
	}
	if threads == 0 || threads > 255 {
		return phc{}, fmt.Errorf("argon2 parallelism %d out of range", threads)
	}
	h.params.Threads = uint8(threads)
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil {
		return phc{}, fmt.Errorf("malformed argon2 salt: %w", err)
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil {
		return phc{}, fmt.Errorf("malformed argon2 hash: %w", err)
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	if err := h.params.validate(); err != nil {
		return phc{}, err
	}
	return h, nil
}

// VerifyPassword reports whether password matches the PHC-encoded argon2id
// hash. The comparison is constant-time. An error means the stored value is
// not a usable hash (the account has no password); the result is then
// false.
func VerifyPassword(encoded, password string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2Key([]byte(password), h.salt, h.params)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}
