package store_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestSources_webhookSecret(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "a", identity.RoleAdmin)
		ctxB := storetest.Tenant(t, db, "b", identity.RoleAdmin)
		src := mkSource(t, db, ctxA, "dbx")
		tg, err := db.System().Sources().WebhookTarget(t.Context(), src.ID)
		if err != nil || len(tg.SecretEnc) != 0 || tg.ProfileID != src.ProfileID || !tg.Enabled || tg.PluginID != "acme.hello" {
			t.Fatalf("target before a secret: %+v, %v", tg, err)
		}
		if err := db.Sources().SetWebhookSecret(ctxB, src.ID, []byte{1, 2}, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B sets A's webhook secret: %v, want ErrNotFound", err)
		}
		if err := db.Sources().SetWebhookSecret(ctxA, src.ID, []byte{1, 2, 0}, "k1"); err != nil {
			t.Fatal(err)
		}
		tg, err = db.System().Sources().WebhookTarget(t.Context(), src.ID)
		if err != nil || !bytes.Equal(tg.SecretEnc, []byte{1, 2, 0}) || tg.KeyID != "k1" {
			t.Fatalf("target after a secret: %+v, %v", tg, err)
		}
		if got, _ := db.Sources().Get(ctxA, src.ID); got.Revision != src.Revision {
			t.Fatalf("revision moved from %d to %d: the secret is not configuration", src.Revision, got.Revision)
		}
		if _, err := db.System().Sources().WebhookTarget(t.Context(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown source: %v, want ErrNotFound", err)
		}
	})
}

func TestSources_ensureBuiltin(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctxA := storetest.Tenant(t, db, "a", identity.RoleEditor)
		ctxB := storetest.Tenant(t, db, "b", identity.RoleEditor)
		first, err := db.Sources().EnsureBuiltin(ctxA, "builtin.openlineage", "OpenLineage")
		if err != nil {
			t.Fatal(err)
		}
		if first.PollIntervalSeconds != 0 || !first.Enabled || first.PluginID != "builtin.openlineage" {
			t.Fatalf("built-in source = %+v", first)
		}
		again, err := db.Sources().EnsureBuiltin(ctxA, "builtin.openlineage", "OpenLineage")
		if err != nil || again.ID != first.ID {
			t.Fatalf("second EnsureBuiltin = %s, %v; want %s", again.ID, err, first.ID)
		}
		other, err := db.Sources().EnsureBuiltin(ctxB, "builtin.openlineage", "OpenLineage")
		if err != nil || other.ID == first.ID {
			t.Fatalf("profile B got %s (%v): each profile has its own", other.ID, err)
		}
		mkSource(t, db, ctxB, "taken")
		if _, err := db.Sources().EnsureBuiltin(ctxB, "builtin.other", "taken"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("name taken by a user's source: %v, want ErrConflict", err)
		}
	})
}
