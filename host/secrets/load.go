package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// KeyFileName is the generated key file inside the data directory.
const KeyFileName = "secret.key"

// Config says where the root keys come from.
type Config struct {
	// Keys is the value of PUOD_SECRET_KEY: one base64 key (32 bytes), or
	// for rotation a comma-separated list "id1:base64,id2:base64" whose
	// first entry is the active key. Set it on every replica sharing a
	// database: replicas with different keys cannot read each other's
	// secrets.
	Keys string
	// DataDir holds the generated key file, used when Keys is empty (one
	// host with its data directory). When Keys is set and the file exists,
	// its key is kept for decryption only, so secrets written before the
	// operator set PUOD_SECRET_KEY stay readable until they are rotated.
	DataDir string
}

// New builds the host's keyring from cfg.
func New(cfg Config, log hclog.Logger) (*Keyring, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("secrets")
	keyFile := ""
	if cfg.DataDir != "" {
		keyFile = filepath.Join(cfg.DataDir, KeyFileName)
	}
	if strings.TrimSpace(cfg.Keys) == "" {
		if keyFile == "" {
			return nil, errors.New("secret keys: neither PUOD_SECRET_KEY nor a data directory is set: set one of them")
		}
		key, created, err := LoadOrCreateKeyFile(keyFile, log)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("generated a key for secrets at rest; back it up with the database, or set PUOD_SECRET_KEY", "file", keyFile, "key_id", key.ID)
		}
		k, err := NewKeyring(key)
		if err != nil {
			return nil, err
		}
		k.sources = keyFile
		return k, nil
	}
	keys, err := ParseKeys(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("PUOD_SECRET_KEY: %w", err)
	}
	sources := "PUOD_SECRET_KEY"
	if keyFile != "" {
		fileKey, err := readKeyFile(keyFile, log)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		case !hasKey(keys, fileKey):
			keys = append(keys, fileKey)
			sources += " or " + keyFile
			log.Info("PUOD_SECRET_KEY is set; the generated key file is kept for decrypting older secrets only", "file", keyFile, "key_id", fileKey.ID)
		}
	}
	k, err := NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("PUOD_SECRET_KEY: %w", err)
	}
	k.sources = sources
	return k, nil
}

func hasKey(keys []Key, k Key) bool {
	for _, have := range keys {
		if have.ID == k.ID {
			return true
		}
	}
	return false
}

// LoadOrCreateKeyFile reads the key in path, or generates one there (mode
// 0600) when the file does not exist. Creation is atomic: the key is written
// to a temporary file and hard-linked into place, so a concurrent start
// either wins or reads the winner's complete key, and a crash never leaves a
// half-written key behind. The key's id is its FingerprintID.
func LoadOrCreateKeyFile(path string, log hclog.Logger) (key Key, created bool, err error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	key, err = readKeyFile(path, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, false, fmt.Errorf("create secret key file: %w", err)
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, false, fmt.Errorf("create secret key file: read random: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return Key{}, false, fmt.Errorf("create secret key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	// CreateTemp already uses 0600; Chmod makes it independent of that.
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.WriteString(EncodeKey(secret) + "\n")
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return Key{}, false, fmt.Errorf("create secret key file: write %s: %w", tmpName, werr)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use its key.
			key, err = readKeyFile(path, log)
			return key, false, err
		}
		return Key{}, false, fmt.Errorf("create secret key file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return Key{ID: FingerprintID(secret), Secret: secret}, true, nil
}

// readKeyFile reads a key file; fs.ErrNotExist passes through wrapped.
func readKeyFile(path string, log hclog.Logger) (Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("read secret key file: %w", err)
	}
	secret, err := decodeKey(string(data))
	if err != nil {
		return Key{}, fmt.Errorf("secret key file %s: %w; if the file is damaged, restore it from a backup (secrets sealed with it cannot be read without it)", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("secret key file is readable by other users: run chmod 600 on it", "file", path, "mode", st.Mode().Perm().String())
	}
	return Key{ID: FingerprintID(secret), Secret: secret}, nil
}
