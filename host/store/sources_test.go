package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func newSource(name string) store.SourceInput {
	return store.SourceInput{PluginID: "puod.databricks", Name: name, Config: []byte(`{"host":"https://x"}`),
		SecretsEnc: []byte{0, 1, 2, 0xff}, KeyID: "k1", PollIntervalSeconds: 30, Enabled: true}
}

func TestSources_crud(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleAdmin)
		repo := db.Sources()
		created, err := repo.Create(ctx, newSource("prod"))
		if err != nil {
			t.Fatal(err)
		}
		if created.Revision != 1 || created.Health.Status != store.HealthUnknown || created.ID == "" {
			t.Fatalf("created = %+v", created)
		}
		got, err := repo.Get(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := identity.From(ctx)
		if got.ProfileID != p.ProfileID || string(got.Config) != `{"host":"https://x"}` ||
			!bytes.Equal(got.SecretsEnc, []byte{0, 1, 2, 0xff}) || got.KeyID != "k1" ||
			got.PollIntervalSeconds != 30 || !got.Enabled || !got.UpdatedAt.Equal(created.UpdatedAt) {
			t.Fatalf("Get = %+v, want %+v", got, created)
		}

		in := newSource("prod-renamed")
		in.Enabled = false
		updated, err := repo.Update(ctx, created.ID, 1, in)
		if err != nil {
			t.Fatal(err)
		}
		if updated.Revision != 2 || updated.Name != "prod-renamed" || updated.Enabled {
			t.Fatalf("updated = %+v", updated)
		}
		if err := repo.SetCursor(ctx, created.ID, "page=7"); err != nil {
			t.Fatal(err)
		}
		got, err = repo.Get(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cursor != "page=7" || got.Revision != 2 {
			t.Fatalf("after SetCursor: cursor %q revision %d (cursor must not bump the revision)", got.Cursor, got.Revision)
		}
		if err := repo.Delete(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Get(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
		if err := repo.Delete(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Delete: %v, want ErrNotFound", err)
		}
	})
}

// TestSources_tenantIsolation: profile B sees profile A's source exactly as
// if it did not exist.
func TestSources_tenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "tenant-a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "tenant-b", identity.RoleAdmin)
		repo := db.Sources()
		a, err := repo.Create(ctxA, newSource("shared-name"))
		if err != nil {
			t.Fatal(err)
		}
		// Same name in B is fine: uniqueness is per profile.
		if _, err := repo.Create(ctxB, newSource("shared-name")); err != nil {
			t.Fatalf("same name in another profile: %v", err)
		}

		tests := []struct {
			name string
			call func() error
		}{
			{"Get", func() error { _, err := repo.Get(ctxB, a.ID); return err }},
			{"Update", func() error { _, err := repo.Update(ctxB, a.ID, a.Revision, newSource("stolen")); return err }},
			{"Delete", func() error { return repo.Delete(ctxB, a.ID) }},
			{"UpdateHealth", func() error { return repo.UpdateHealth(ctxB, a.ID, store.SourceHealth{Status: store.HealthError}) }},
			{"SetCursor", func() error { return repo.SetCursor(ctxB, a.ID, "x") }},
		}
		for _, tc := range tests {
			if err := tc.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("B %s on A's source: err = %v, want ErrNotFound", tc.name, err)
			}
		}
		list, _, err := repo.List(ctxB, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.ID == a.ID {
				t.Errorf("B's List contains A's source %s", a.ID)
			}
		}
		// A's source is untouched.
		got, err := repo.Get(ctxA, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "shared-name" || got.Revision != 1 || got.Cursor != "" || got.Health.Status != store.HealthUnknown {
			t.Fatalf("A's source changed by B: %+v", got)
		}
	})
}

func TestSources_metacharactersAreData(t *testing.T) {
	t.Parallel()
	names := []string{
		`x'; DROP TABLE sources; --`,
		`" OR 1=1 --`,
		`name with ? placeholder ? and $1`,
		`back\slash % _ wildcards`,
		"unicode ünïcødé ✓ and \t tab",
	}
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, `it's "quoted"`, identity.RoleAdmin)
		for _, name := range names {
			s, err := db.Sources().Create(ctx, newSource(name))
			if err != nil {
				t.Fatalf("create %q: %v", name, err)
			}
			got, err := db.Sources().Get(ctx, s.ID)
			if err != nil {
				t.Fatalf("get %q: %v", name, err)
			}
			if got.Name != name {
				t.Errorf("name = %q, want %q", got.Name, name)
			}
		}
		list, _, err := db.Sources().List(ctx, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(names) {
			t.Fatalf("listed %d sources, want %d (the table must still be there)", len(list), len(names))
		}
	})
}

func TestSources_uniqueConflict(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "uniq", identity.RoleAdmin)
		if _, err := db.Sources().Create(ctx, newSource("dup")); err != nil {
			t.Fatal(err)
		}
		other, err := db.Sources().Create(ctx, newSource("other"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Sources().Create(ctx, newSource("dup")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate create: %v, want ErrConflict", err)
		}
		if _, err := db.Sources().Update(ctx, other.ID, other.Revision, newSource("dup")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("rename onto taken name: %v, want ErrConflict", err)
		}
	})
}

func TestSources_optimisticRevision(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "rev", identity.RoleAdmin)
		s, err := db.Sources().Create(ctx, newSource("s"))
		if err != nil {
			t.Fatal(err)
		}
		// Two editors load revision 1; the first save wins.
		if _, err := db.Sources().Update(ctx, s.ID, 1, newSource("first")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Sources().Update(ctx, s.ID, 1, newSource("second")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		got, err := db.Sources().Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "first" || got.Revision != 2 {
			t.Fatalf("got %q rev %d, want first rev 2", got.Name, got.Revision)
		}
		if _, err := db.Sources().Update(ctx, "no-such-id", 1, newSource("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of missing source: %v, want ErrNotFound", err)
		}
	})
}

func TestSources_paginationEveryRowOnce(t *testing.T) {
	t.Parallel()
	const total = 23
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "pages", identity.RoleAdmin)
		other := storetest.Tenant(t, db, "pages-other", identity.RoleAdmin)
		want := map[string]bool{}
		for i := range total {
			s, err := db.Sources().Create(ctx, newSource(fmt.Sprintf("src-%03d", (i*7)%total)))
			if err != nil {
				t.Fatal(err)
			}
			want[s.ID] = true
			if _, err := db.Sources().Create(other, newSource(fmt.Sprintf("noise-%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		for _, limit := range []int{1, 5, 10, 23, 50} {
			seen := map[string]int{}
			page := store.Page{Limit: limit}
			var lastName string
			for pages := 0; ; pages++ {
				if pages > total+1 {
					t.Fatalf("limit %d: pagination does not terminate", limit)
				}
				items, next, err := db.Sources().List(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(items))
				}
				for _, s := range items {
					seen[s.ID]++
					if s.Name <= lastName {
						t.Fatalf("limit %d: %q after %q: not ordered", limit, s.Name, lastName)
					}
					lastName = s.Name
				}
				if next == "" {
					break
				}
				page.Cursor = next
			}
			if len(seen) != total {
				t.Errorf("limit %d: saw %d sources, want %d", limit, len(seen), total)
			}
			for id, n := range seen {
				if !want[id] || n != 1 {
					t.Errorf("limit %d: source %s seen %d times (ours: %v)", limit, id, n, want[id])
				}
			}
		}
	})
}

func TestSystemSources_listAcrossProfiles(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		for _, name := range []string{"sys-a", "sys-b"} {
			ctx := storetest.Tenant(t, db, name, identity.RoleAdmin)
			for i := range 3 {
				if _, err := db.Sources().Create(ctx, newSource(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
		}
		var all []store.Source
		page := store.Page{Limit: 2}
		for {
			items, next, err := db.System().Sources().List(context.Background(), page)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, items...)
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if len(all) != 6 {
			t.Fatalf("system list saw %d sources, want 6", len(all))
		}
	})
}
