package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPassword_hashAndVerify(t *testing.T) {
	t.Parallel()
	h, err := cheapParams.Hash("open sesame, please")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Count(h, "$") != 5 {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := cheapParams.Hash("open sesame, please")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	tests := []struct {
		name    string
		stored  string
		pw      string
		ok      bool
		wantErr bool
	}{
		{"right", h, "open sesame, please", true, false},
		{"wrong", h, "open sesame, please!", false, false},
		{"empty", h, "", false, false},
		{"no hash (provider account)", "oidc$abc", "open sesame, please", false, true},
		{"empty hash", "", "x", false, true},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "x", false, true},
		{"absurd memory", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43), "x", false, true},
		{"wrong version", strings.Replace(h, "v=19", "v=16", 1), "open sesame, please", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.stored, tc.pw)
			if ok != tc.ok || (err != nil) != tc.wantErr {
				t.Fatalf("VerifyPassword = %v, %v; want %v, error %v", ok, err, tc.ok, tc.wantErr)
			}
		})
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw string
		ok bool
	}{
		{"", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{"ünïcödé-twlv", true}, // counted in characters, not bytes
		{"ünïcödé-1", false},
		{strings.Repeat("x", MaxPasswordLength+1), false},
	}
	for _, tc := range tests {
		err := CheckPasswordPolicy(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("CheckPasswordPolicy(%d chars) = %v", len([]rune(tc.pw)), err)
		}
		if err != nil && !errors.Is(err, ErrPasswordPolicy) {
			t.Errorf("error %v does not wrap ErrPasswordPolicy", err)
		}
	}
	if err := CheckPasswordPolicy("short"); !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("message %q does not say the minimum", err)
	}
}

// TestDefaultPasswordParams_cost keeps the production cost in the intended
// range; the bounds are wide because CI machines vary and run tests in
// parallel.
func TestDefaultPasswordParams_cost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures argon2 cost")
	}
	h, err := HashPassword("a reasonably long password")
	if err != nil {
		t.Fatal(err)
	}
	best := time.Hour
	for range 3 {
		start := time.Now()
		ok, err := VerifyPassword(h, "a reasonably long password")
		if err != nil || !ok {
			t.Fatalf("verify = %v, %v", ok, err)
		}
		best = min(best, time.Since(start))
	}
	t.Logf("argon2id %+v: %v per verification", DefaultPasswordParams, best)
	if best < 10*time.Millisecond || best > 2*time.Second {
		t.Fatalf("one verification took %v: retune DefaultPasswordParams to ~50-100 ms", best)
	}
	if _, err := HashPassword("short"); !errors.Is(err, ErrPasswordPolicy) {
		t.Fatalf("HashPassword accepted a short password: %v", err)
	}
}
