package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestBootstrap_idempotent(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := context.Background()
		calls := 0
		cfg := store.BootstrapConfig{PasswordHash: func() (string, error) { calls++; return "hash-1", nil }}
		first, err := db.System().Bootstrap(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !first.AdminCreated || !first.ProfileCreated || first.ProfileID == "" || first.AdminUserID == "" {
			t.Fatalf("first bootstrap = %+v", first)
		}
		second, err := db.System().Bootstrap(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if second.AdminCreated || second.ProfileCreated || second.ProfileID != first.ProfileID {
			t.Fatalf("second bootstrap = %+v", second)
		}
		if calls != 1 {
			t.Fatalf("password hash requested %d times, want 1 (only when the admin is created)", calls)
		}
		u, err := db.System().Users().ByUsername(ctx, store.DefaultAdminUsername)
		if err != nil {
			t.Fatal(err)
		}
		if u.PasswordHash != "hash-1" {
			t.Fatalf("admin password hash %q", u.PasswordHash)
		}
		ms, err := db.System().Memberships().ForUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].ProfileName != store.DefaultProfileName || ms[0].Role != identity.RoleAdmin {
			t.Fatalf("admin memberships = %+v", ms)
		}
	})
}

func TestSystemUsers_conflictsAndLookup(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := context.Background()
		users := db.System().Users()
		u, err := users.Create(ctx, store.NewUser{Username: "ana", PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := users.Create(ctx, store.NewUser{Username: "ana"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate username: %v, want ErrConflict", err)
		}
		if _, err := db.System().Profiles().Create(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.System().Profiles().Create(ctx, "p"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate profile: %v, want ErrConflict", err)
		}
		if _, err := users.ByUsername(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown username: %v, want ErrNotFound", err)
		}
		if err := users.SetPassword(ctx, u.ID, "h2"); err != nil {
			t.Fatal(err)
		}
		if err := users.SetDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		got, err := users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash != "h2" || !got.Disabled {
			t.Fatalf("got %+v", got)
		}
		if err := db.System().Memberships().Add(ctx, "no-such-profile", u.ID, identity.RoleViewer); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("membership in unknown profile: %v, want ErrNotFound", err)
		}
		p, _ := db.System().Profiles().ByName(ctx, "p")
		if err := db.System().Memberships().Add(ctx, p.ID, u.ID, "root"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown role: %v, want ErrInvalid", err)
		}
	})
}

func TestMemberships_scopedToProfile(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "m-a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "m-b", identity.RoleAdmin)
		// A second member in A.
		extra, err := db.System().Users().Create(context.Background(), store.NewUser{Username: "m-a-extra"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Memberships().Set(ctxA, extra.ID, identity.RoleViewer); err != nil {
			t.Fatal(err)
		}
		ms, _, err := db.Memberships().List(ctxA, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 {
			t.Fatalf("A has %d members, want 2: %+v", len(ms), ms)
		}
		us, _, err := db.Users().List(ctxB, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 1 || us[0].Username != "m-b-admin" {
			t.Fatalf("B's users = %+v, want only m-b-admin", us)
		}
		if _, err := db.Users().Get(ctxB, extra.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("B reads A's member: %v, want ErrNotFound", err)
		}
		if err := db.Memberships().Remove(ctxB, extra.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("B removes A's member: %v, want ErrNotFound", err)
		}
		if err := db.Memberships().Set(ctxA, extra.ID, identity.RoleEditor); err != nil {
			t.Fatal(err)
		}
		pa, _ := identity.From(ctxA)
		m, err := db.System().Memberships().Get(context.Background(), pa.ProfileID, extra.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Role != identity.RoleEditor {
			t.Fatalf("role = %s, want editor", m.Role)
		}
		if err := db.Memberships().Remove(ctxA, extra.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Users().Get(ctxA, extra.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removed member still visible: %v", err)
		}
	})
}

func TestAPITokens_lifecycle(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "tok-a", identity.RoleEditor)
		ctxB := storetest.Tenant(t, db, "tok-b", identity.RoleAdmin)
		toks := db.APITokens()
		if _, err := toks.Create(ctxA, store.NewAPIToken{Name: "too-strong", TokenHash: "h0", Role: identity.RoleAdmin}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("editor creating admin token: %v, want ErrInvalid", err)
		}
		past := time.Now().Add(-time.Hour)
		expired, err := toks.Create(ctxA, store.NewAPIToken{Name: "old", TokenHash: "h-expired", Role: identity.RoleViewer, ExpiresAt: &past})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := toks.Create(ctxA, store.NewAPIToken{Name: "ci", TokenHash: "h1", Role: identity.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := toks.Create(ctxB, store.NewAPIToken{Name: "dup", TokenHash: "h1", Role: identity.RoleViewer}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hash: %v, want ErrConflict", err)
		}

		sys := db.System().APITokens()
		got, err := sys.LookupByHash(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		p := got.Principal()
		pa, _ := identity.From(ctxA)
		if p.UserID != pa.UserID || p.ProfileID != pa.ProfileID || p.Role != identity.RoleEditor || p.Via != "token" || got.Token.LastUsedAt == nil {
			t.Fatalf("lookup principal = %+v (last used %v)", p, got.Token.LastUsedAt)
		}
		if _, err := sys.LookupByHash(context.Background(), "h-expired"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired token: %v, want ErrNotFound", err)
		}

		// A demoted owner demotes the token.
		if err := db.System().Memberships().Add(context.Background(), pa.ProfileID, pa.UserID, identity.RoleViewer); err != nil {
			t.Fatal(err)
		}
		got, err = sys.LookupByHash(context.Background(), "h1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Token.Role != identity.RoleViewer {
			t.Errorf("token role after demotion = %s, want viewer", got.Token.Role)
		}

		list, _, err := toks.List(ctxA, store.APITokenFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != tok.ID || list[1].ID != expired.ID {
			t.Fatalf("list = %+v, want newest first", list)
		}
		if lb, _, _ := toks.List(ctxB, store.APITokenFilter{}, store.Page{}); len(lb) != 0 {
			t.Fatalf("B lists A's tokens: %+v", lb)
		}
		if err := toks.Revoke(ctxB, tok.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("B revokes A's token: %v, want ErrNotFound", err)
		}
		if err := toks.Revoke(ctxA, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := toks.Revoke(ctxA, tok.ID); err != nil {
			t.Fatalf("second revoke: %v, want no-op", err)
		}
		if _, err := sys.LookupByHash(context.Background(), "h1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked token: %v, want ErrNotFound", err)
		}
	})
}

func TestAPITokens_paginationEveryRowOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "tokpages", identity.RoleAdmin)
		const total = 12
		for i := range total {
			if _, err := db.APITokens().Create(ctx, store.NewAPIToken{Name: fmt.Sprint(i), TokenHash: fmt.Sprint("hash-", i), Role: identity.RoleViewer}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]int{}
		page := store.Page{Limit: 5}
		for {
			items, next, err := db.APITokens().List(ctx, store.APITokenFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				seen[it.ID]++
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if len(seen) != total {
			t.Fatalf("saw %d tokens, want %d", len(seen), total)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("token %s seen %d times", id, n)
			}
		}
	})
}

func TestRefreshTokens_rotationAndReuse(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "refresh", identity.RoleViewer)
		p, _ := identity.From(ctx)
		rt := db.System().RefreshTokens()
		exp := time.Now().Add(time.Hour)
		t0, err := rt.Issue(ctx, store.NewRefreshToken{UserID: p.UserID, ProfileID: p.ProfileID, TokenHash: "r0", ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		t1, err := rt.Rotate(ctx, "r0", "r1", exp)
		if err != nil {
			t.Fatal(err)
		}
		if t1.FamilyID != t0.FamilyID || t1.UserID != p.UserID || t1.ProfileID != p.ProfileID {
			t.Fatalf("rotated = %+v, want same family/user/profile as %+v", t1, t0)
		}
		old, err := rt.Lookup(ctx, "r0")
		if err != nil {
			t.Fatal(err)
		}
		if old.RevokedAt == nil || old.ReplacedBy != t1.ID {
			t.Fatalf("old token after rotation = %+v", old)
		}
		t2, err := rt.Rotate(ctx, "r1", "r2", exp)
		if err != nil {
			t.Fatal(err)
		}

		// An attacker replays r0: reuse is detected and the family dies,
		// including the legitimate newest token r2.
		if _, err := rt.Rotate(ctx, "r0", "r-evil", exp); !errors.Is(err, store.ErrTokenReused) {
			t.Fatalf("replay of r0: %v, want ErrTokenReused", err)
		}
		latest, err := rt.Lookup(ctx, "r2")
		if err != nil {
			t.Fatal(err)
		}
		if latest.ID != t2.ID || latest.RevokedAt == nil {
			t.Fatalf("newest token after reuse = %+v, want revoked", latest)
		}
		if _, err := rt.Rotate(ctx, "r2", "r3", exp); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotating a revoked token: %v, want ErrNotFound", err)
		}
		if _, err := rt.Lookup(ctx, "r-evil"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the replay must not have issued a token: %v", err)
		}

		// Expired, unknown and logged-out tokens do not rotate.
		if _, err := rt.Issue(ctx, store.NewRefreshToken{UserID: p.UserID, ProfileID: p.ProfileID, TokenHash: "e0", ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Rotate(ctx, "e0", "e1", exp); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired: %v, want ErrNotFound", err)
		}
		if _, err := rt.Rotate(ctx, "unknown", "u1", exp); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown: %v, want ErrNotFound", err)
		}
		if _, err := rt.Issue(ctx, store.NewRefreshToken{UserID: p.UserID, ProfileID: p.ProfileID, TokenHash: "l0", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := rt.RevokeByHash(ctx, "l0"); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Rotate(ctx, "l0", "l1", exp); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("logged out: %v, want ErrNotFound", err)
		}
		// A disabled user cannot refresh.
		if _, err := rt.Issue(ctx, store.NewRefreshToken{UserID: p.UserID, ProfileID: p.ProfileID, TokenHash: "d0", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := db.System().Users().SetDisabled(ctx, p.UserID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Rotate(ctx, "d0", "d1", exp); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user: %v, want ErrNotFound", err)
		}
		// A user who is not a member of the profile gets no token.
		if _, err := rt.Issue(ctx, store.NewRefreshToken{UserID: "stranger", ProfileID: p.ProfileID, TokenHash: "s0", ExpiresAt: exp}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("non-member: %v, want ErrNotFound", err)
		}
	})
}

// TestRefreshTokens_concurrentRotation: of N concurrent rotations of one
// token at most one wins; every other is reuse.
func TestRefreshTokens_concurrentRotation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "race", identity.RoleViewer)
		p, _ := identity.From(ctx)
		rt := db.System().RefreshTokens()
		exp := time.Now().Add(time.Hour)
		if _, err := rt.Issue(ctx, store.NewRefreshToken{UserID: p.UserID, ProfileID: p.ProfileID, TokenHash: "c0", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		const n = 6
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, err := rt.Rotate(ctx, "c0", fmt.Sprint("c1-", i), exp)
				errs <- err
			}()
		}
		wins, reuses := 0, 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrTokenReused):
				reuses++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins > 1 || wins+reuses != n {
			t.Fatalf("wins %d, reuses %d of %d", wins, reuses, n)
		}
	})
}
