package store_test

import (
	"errors"
	"testing"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func newDashboard(slug, title string) store.DashboardInput {
	return store.DashboardInput{Slug: slug, Title: title, Spec: []byte(`{"cards":[{"id":"c1","type":"puod.success_rate"}]}`)}
}

func TestDashboards_crud(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
		p, _ := identity.From(ctx)
		repo := db.Dashboards()
		created, err := repo.Create(ctx, newDashboard("ops", "Operations"))
		if err != nil {
			t.Fatal(err)
		}
		if created.Version != 1 || created.ID == "" || created.CreatedBy != p.UserID || created.ReadOnly || created.Provisioned {
			t.Fatalf("created = %+v", created)
		}
		for _, ref := range []string{created.ID, "ops"} {
			got, err := repo.Get(ctx, ref)
			if err != nil {
				t.Fatalf("Get(%s): %v", ref, err)
			}
			if got.ID != created.ID || got.ProfileID != p.ProfileID || string(got.Spec) != string(created.Spec) ||
				got.Title != "Operations" || !got.CreatedAt.Equal(created.CreatedAt) {
				t.Fatalf("Get(%s) = %+v, want %+v", ref, got, created)
			}
		}

		in := newDashboard("ops-2", "Operations v2")
		in.Spec = []byte(`{"cards":[]}`)
		updated, err := repo.Update(ctx, created.ID, 1, in)
		if err != nil {
			t.Fatal(err)
		}
		if updated.Version != 2 || updated.Slug != "ops-2" || string(updated.Spec) != `{"cards":[]}` {
			t.Fatalf("updated = %+v", updated)
		}
		// A stale version is a conflict and changes nothing.
		if _, err := repo.Update(ctx, created.ID, 1, newDashboard("stale", "Stale")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale Update: %v, want ErrConflict", err)
		}
		// A taken slug is a conflict too.
		other, err := repo.Create(ctx, newDashboard("other", "Another"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Create(ctx, newDashboard("other", "Dup")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Create with a taken slug: %v, want ErrConflict", err)
		}
		if _, err := repo.Update(ctx, other.ID, 1, newDashboard("ops-2", "Steal")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Update to a taken slug: %v, want ErrConflict", err)
		}
		list, err := repo.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Title != "Another" || list[1].Title != "Operations v2" || list[1].Version != 2 {
			t.Fatalf("List = %+v (want sorted by title)", list)
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
		if _, err := repo.Update(ctx, created.ID, 2, in); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Update of a deleted dashboard: %v, want ErrNotFound", err)
		}
		if _, err := repo.Create(ctx, store.DashboardInput{Slug: "x", Title: " "}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Create without a title: %v, want ErrInvalid", err)
		}
	})
}

// TestDashboards_tenantIsolation: profile B sees profile A's dashboards
// exactly as if they did not exist, by id and by slug.
func TestDashboards_tenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "tenant-a", identity.RoleEditor)
		ctxB := storetest.Tenant(t, db, "tenant-b", identity.RoleAdmin)
		repo := db.Dashboards()
		a, err := repo.Create(ctxA, newDashboard("shared", "A's board"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Create(ctxB, newDashboard("shared", "B's board")); err != nil {
			t.Fatalf("same slug in another profile: %v", err)
		}
		tests := []struct {
			name string
			call func() error
		}{
			{"Get by id", func() error { _, err := repo.Get(ctxB, a.ID); return err }},
			{"Update", func() error {
				_, err := repo.Update(ctxB, a.ID, a.Version, newDashboard("stolen", "Stolen"))
				return err
			}},
			{"Delete", func() error { return repo.Delete(ctxB, a.ID) }},
		}
		for _, tc := range tests {
			if err := tc.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("B %s on A's dashboard: err = %v, want ErrNotFound", tc.name, err)
			}
		}
		got, err := repo.Get(ctxB, "shared")
		if err != nil || got.Title != "B's board" {
			t.Fatalf("B's Get by slug = %+v, %v: want B's own", got, err)
		}
		list, err := repo.List(ctxB)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.ID == a.ID {
				t.Errorf("B's List contains A's dashboard %s", a.ID)
			}
		}
		got, err = repo.Get(ctxA, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "A's board" || got.Version != 1 {
			t.Fatalf("A's dashboard changed by B: %+v", got)
		}
		if _, err := repo.List(t.Context()); !errors.Is(err, identity.ErrNoPrincipal) {
			t.Fatalf("List without a principal: %v, want ErrNoPrincipal", err)
		}
	})
}
