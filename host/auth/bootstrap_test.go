package auth

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestBootstrap(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		var out bytes.Buffer
		if err := Bootstrap(t.Context(), db, "", &out); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`admin password \(shown once\): (\S+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("output %q shows no password", out.String())
		}
		password := m[1]
		if err := CheckPasswordPolicy(password); err != nil {
			t.Fatalf("generated password: %v", err)
		}
		// Second start: nothing printed, nothing changed.
		out.Reset()
		if err := Bootstrap(t.Context(), db, "", &out); err != nil || out.Len() != 0 {
			t.Fatalf("second bootstrap: %v, printed %q", err, out.String())
		}

		e := newEnvOnDB(t, db)
		var tr TokenResponse
		e.do(loginReq("admin", password)).status(http.StatusOK).decode(&tr)
		var me MeResponse
		e.get("/api/v1/auth/me", tr.AccessToken).status(http.StatusOK).decode(&me)
		if me.Profile.Name != "default" || me.Role != identity.RoleAdmin {
			t.Fatalf("admin is %+v", me)
		}
	})
}

func TestBootstrap_givenPassword(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	var out bytes.Buffer
	if err := Bootstrap(t.Context(), db, "short", &out); err == nil || !strings.Contains(err.Error(), "PUOD_ADMIN_PASSWORD") {
		t.Fatalf("short PUOD_ADMIN_PASSWORD accepted: %v", err)
	}
	if err := Bootstrap(t.Context(), db, "the admin password from env", &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "the admin password from env") {
		t.Fatal("a given password was printed")
	}
	u, err := db.System().Users().ByUsername(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := VerifyPassword(u.PasswordHash, "the admin password from env"); !ok {
		t.Fatal("admin password is not the given one")
	}
}

func TestAddUserAndSetPassword(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		if err := Bootstrap(ctx, db, "bootstrap password", &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		u, prof, err := AddUser(ctx, db, NewUserSpec{Username: "ops", Password: "first password!", Role: identity.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		m, err := db.System().Memberships().Get(ctx, prof.ID, u.ID)
		if err != nil || prof.Name != "default" || m.Role != identity.RoleEditor {
			t.Fatalf("membership %+v in %s: %v", m, prof.Name, err)
		}
		tests := []struct {
			name string
			spec NewUserSpec
			want string
		}{
			{"taken", NewUserSpec{Username: "ops", Password: "first password!"}, "puod user passwd ops"},
			{"short password", NewUserSpec{Username: "x", Password: "short"}, "at least 12"},
			{"unknown profile", NewUserSpec{Username: "x", Password: "first password!", Profile: "nope"}, `profile "nope" does not exist`},
			{"unknown role", NewUserSpec{Username: "x", Password: "first password!", Role: "boss"}, "unknown role"},
		}
		for _, tc := range tests {
			if _, _, err := AddUser(ctx, db, tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
			}
		}
		if _, _, err := AddUser(ctx, db, NewUserSpec{Username: "ops", Password: "first password!"}); !errors.Is(err, ErrUserExists) {
			t.Errorf("err = %v, want ErrUserExists", err)
		}

		// A password change ends the user's sessions.
		e := newEnvOnDB(t, db)
		var tr TokenResponse
		e.do(loginReq("ops", "first password!")).status(http.StatusOK).decode(&tr)
		if _, err := SetUserPassword(ctx, db, "ops", "second password!"); err != nil {
			t.Fatal(err)
		}
		e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": tr.RefreshToken}}).
			wantError(http.StatusUnauthorized)
		e.do(loginReq("ops", "first password!")).wantError(http.StatusUnauthorized)
		e.do(loginReq("ops", "second password!")).status(http.StatusOK)
		if _, err := SetUserPassword(ctx, db, "nobody", "second password!"); err == nil || !strings.Contains(err.Error(), "puod user add") {
			t.Errorf("unknown user: %v", err)
		}
		if _, err := SetUserPassword(ctx, db, "ops", "short"); !errors.Is(err, ErrPasswordPolicy) {
			t.Errorf("short password: %v", err)
		}
	})
}

func TestAddUser_beforeFirstStart(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	// `puod user add` before `puod serve`: the default profile is created.
	_, prof, err := AddUser(t.Context(), db, NewUserSpec{Username: "ops", Password: "first password!", Role: identity.RoleAdmin})
	if err != nil || prof.Name != store.DefaultProfileName {
		t.Fatalf("AddUser on a fresh database: %v (profile %q)", err, prof.Name)
	}
	// Bootstrap then finds a user and creates no admin.
	var out bytes.Buffer
	if err := Bootstrap(t.Context(), db, "", &out); err != nil || out.Len() != 0 {
		t.Fatalf("bootstrap after user add: %v, printed %q", err, out.String())
	}
}
