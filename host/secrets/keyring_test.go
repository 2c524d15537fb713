package secrets_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/secrets"
)

func randomKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, secrets.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func keyring(t *testing.T, keys ...secrets.Key) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyring_roundTrip(t *testing.T) {
	t.Parallel()
	k := keyring(t, secrets.Key{ID: "k1", Secret: randomKey(t)})
	plain := []byte(`{"token":"s3cr3t-value"}`)
	aad := []byte("profile-a/source-1")
	ct, kid, err := k.Encrypt(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "k1" {
		t.Fatalf("key id = %q, want k1", kid)
	}
	if bytes.Contains(ct, []byte("s3cr3t")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := k.Decrypt(ct, kid, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt = %q, want %q", got, plain)
	}
	// Two encryptions of the same value differ (random nonce).
	ct2, _, _ := k.Encrypt(plain, aad)
	if bytes.Equal(ct, ct2) {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
}

func TestKeyring_rejectsTamperingAndWrongAAD(t *testing.T) {
	t.Parallel()
	k := keyring(t, secrets.Key{ID: "k1", Secret: randomKey(t)})
	aad := []byte("profile-a/source-1")
	ct, kid, err := k.Encrypt([]byte("hunter2-hunter2"), aad)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ct   []byte
		aad  []byte
	}{
		{"flipped bit in body", flip(ct, len(ct)-20), aad},
		{"flipped bit in tag", flip(ct, len(ct)-1), aad},
		{"flipped bit in nonce", flip(ct, 3), aad},
		{"truncated", ct[:10], aad},
		{"empty", nil, aad},
		{"other row", ct, []byte("profile-a/source-2")},
		{"other profile", ct, []byte("profile-b/source-1")},
		{"no aad", ct, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Decrypt(tc.ct, kid, tc.aad)
			if !errors.Is(err, secrets.ErrDecrypt) {
				t.Fatalf("Decrypt error = %v, want ErrDecrypt", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error reveals the plaintext: %v", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestKeyring_unknownKeyNamesIDAndRemedy(t *testing.T) {
	t.Parallel()
	old := keyring(t, secrets.Key{ID: "old", Secret: randomKey(t)})
	ct, kid, _ := old.Encrypt([]byte("x"), nil)
	k := keyring(t, secrets.Key{ID: "new", Secret: randomKey(t)})
	_, err := k.Decrypt(ct, kid, nil)
	if !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	for _, want := range []string{`"old"`, "PUOD_SECRET_KEY", "old:<base64>"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestKeyring_rotation(t *testing.T) {
	t.Parallel()
	k1, k2 := randomKey(t), randomKey(t)
	before := keyring(t, secrets.Key{ID: "k1", Secret: k1})
	aad := []byte("p/s")
	oldCT, oldKID, _ := before.Encrypt([]byte("old secret"), aad)

	spec := "k2:" + secrets.EncodeKey(k2) + ", k1:" + secrets.EncodeKey(k1)
	keys, err := secrets.ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	after := keyring(t, keys...)
	if after.ActiveKeyID() != "k2" {
		t.Fatalf("active key = %s, want k2", after.ActiveKeyID())
	}
	// Old ciphertexts still open.
	got, err := after.Decrypt(oldCT, oldKID, aad)
	if err != nil || string(got) != "old secret" {
		t.Fatalf("Decrypt(old) = %q, %v", got, err)
	}
	// New ones use the new key.
	newCT, newKID, _ := after.Encrypt([]byte("new secret"), aad)
	if newKID != "k2" {
		t.Fatalf("new key id = %s, want k2", newKID)
	}
	if _, err := before.Decrypt(newCT, newKID, aad); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("old keyring opened a new ciphertext: %v", err)
	}
	// Re-encryption moves the old ciphertext to the active key.
	if !after.NeedsReencrypt(oldKID) || after.NeedsReencrypt(newKID) {
		t.Fatal("NeedsReencrypt is wrong")
	}
	reCT, reKID, err := after.Reencrypt(oldCT, oldKID, aad)
	if err != nil {
		t.Fatal(err)
	}
	if reKID != "k2" {
		t.Fatalf("re-encrypted key id = %s, want k2", reKID)
	}
	only2 := keyring(t, secrets.Key{ID: "k2", Secret: k2})
	if got, err := only2.Decrypt(reCT, reKID, aad); err != nil || string(got) != "old secret" {
		t.Fatalf("Decrypt(re-encrypted) with only the new key = %q, %v", got, err)
	}
	same, sameKID, _ := after.Reencrypt(newCT, newKID, aad)
	if !bytes.Equal(same, newCT) || sameKID != newKID {
		t.Fatal("Reencrypt changed a ciphertext already under the active key")
	}
}

func TestKeyring_derive(t *testing.T) {
	t.Parallel()
	root := randomKey(t)
	k := keyring(t, secrets.Key{ID: "k1", Secret: root})
	jwt, kid := k.Derive("jwt-signing")
	if kid != "k1" || len(jwt) != 32 {
		t.Fatalf("Derive = %d bytes, %s", len(jwt), kid)
	}
	again, _ := keyring(t, secrets.Key{ID: "k1", Secret: root}).Derive("jwt-signing")
	if !bytes.Equal(jwt, again) {
		t.Fatal("Derive is not deterministic")
	}
	other, _ := k.Derive("webhooks")
	if bytes.Equal(jwt, other) || bytes.Equal(jwt, root) {
		t.Fatal("derived keys are not independent")
	}
	if _, err := k.DeriveWith("jwt-signing", "nope"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("DeriveWith(unknown) = %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	good := secrets.EncodeKey(randomKey(t))
	cases := []struct {
		name, spec string
		ids        []string
		errHas     string
	}{
		{"bare key gets fingerprint id", good, nil, ""},
		{"ids", "a:" + good + ",b:" + strings.TrimRight(secrets.EncodeKey(randomKey(t)), "="), []string{"a", "b"}, ""},
		{"short key", "a:" + secrets.EncodeKey([]byte("short")), nil, "need 32"},
		{"not base64", "a:!!!", nil, "not base64"},
		{"bad id", "a b:" + good, nil, "not valid"},
		{"duplicate id", "a:" + good + ",a:" + good, nil, "same key id"},
		{"empty", " , ", nil, "no secret key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := secrets.ParseKeys(tc.spec)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				if strings.Contains(err.Error(), good) {
					t.Fatal("error reveals key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.ids == nil {
				if len(keys) != 1 || !strings.HasPrefix(keys[0].ID, "fp-") {
					t.Fatalf("keys = %v", keys[0].ID)
				}
				return
			}
			for i, id := range tc.ids {
				if keys[i].ID != id {
					t.Fatalf("key %d id = %s, want %s", i, keys[i].ID, id)
				}
			}
		})
	}
}

func TestNew_generatesKeyFileOnceAndReusesIt(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := secrets.New(secrets.Config{DataDir: dir}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, secrets.KeyFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	ct, kid, _ := k1.Encrypt([]byte("kept across restarts"), []byte("aad"))

	k2, err := secrets.New(secrets.Config{DataDir: dir}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if k2.ActiveKeyID() != k1.ActiveKeyID() {
		t.Fatalf("second start uses key %s, first used %s", k2.ActiveKeyID(), k1.ActiveKeyID())
	}
	if got, err := k2.Decrypt(ct, kid, []byte("aad")); err != nil || string(got) != "kept across restarts" {
		t.Fatalf("Decrypt after restart = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d files, want only the key file (temporary file left behind?)", len(entries))
	}

	// Setting PUOD_SECRET_KEY later keeps the file's key for decryption.
	k3, err := secrets.New(secrets.Config{Keys: "env:" + secrets.EncodeKey(randomKey(t)), DataDir: dir}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if k3.ActiveKeyID() != "env" {
		t.Fatalf("active = %s, want env", k3.ActiveKeyID())
	}
	if got, err := k3.Decrypt(ct, kid, []byte("aad")); err != nil || string(got) != "kept across restarts" {
		t.Fatalf("Decrypt with env key set = %q, %v", got, err)
	}
}

func TestLoadOrCreateKeyFile_concurrentStartsAgree(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), secrets.KeyFileName)
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, _, err := secrets.LoadOrCreateKeyFile(path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent starts got different keys: %v", ids)
		}
	}
}

func TestNew_damagedKeyFileIsAClearError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, secrets.KeyFileName), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := secrets.New(secrets.Config{DataDir: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("err = %v", err)
	}
}
