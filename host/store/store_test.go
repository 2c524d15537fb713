package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestMigrate_idempotent(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		// storetest already migrated once; twice more must be no-ops.
		for i := range 2 {
			res, err := db.Migrate(t.Context())
			if err != nil {
				t.Fatalf("migrate run %d: %v", i+2, err)
			}
			if len(res) != 0 {
				t.Fatalf("migrate run %d applied %v, want nothing", i+2, res)
			}
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpen_dialect(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		want := store.DialectSQLite
		if t.Name() == "TestOpen_dialect/postgres" {
			want = store.DialectPostgres
		}
		if got := db.Dialect(); got != want {
			t.Fatalf("Dialect() = %q, want %q", got, want)
		}
	})
}

func TestOpen_rejectsUnknownScheme(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"mysql://root@localhost/x", "sqlite:///tmp/x.db"} {
		if _, err := store.Open(context.Background(), store.Config{URL: u}, nil); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", u)
		}
	}
}

// TestRepositories_noPrincipal runs every scoped method on a CLOSED
// database: ErrNoPrincipal proves the check happens before any I/O.
func TestRepositories_noPrincipal(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A principal without a profile is no principal either.
	noProfile := identity.With(ctx, identity.Principal{UserID: "u", Role: identity.RoleAdmin})
	calls := map[string]func(context.Context) error{
		"Sources.Create": func(ctx context.Context) error {
			_, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "p", Name: "n"})
			return err
		},
		"Sources.Get": func(ctx context.Context) error { _, err := db.Sources().Get(ctx, "x"); return err },
		"Sources.List": func(ctx context.Context) error {
			_, _, err := db.Sources().List(ctx, store.Page{})
			return err
		},
		"Sources.Update": func(ctx context.Context) error {
			_, err := db.Sources().Update(ctx, "x", 1, store.SourceInput{PluginID: "p", Name: "n"})
			return err
		},
		"Sources.Delete":       func(ctx context.Context) error { return db.Sources().Delete(ctx, "x") },
		"Sources.UpdateHealth": func(ctx context.Context) error { return db.Sources().UpdateHealth(ctx, "x", store.SourceHealth{}) },
		"Sources.SetCursor":    func(ctx context.Context) error { return db.Sources().SetCursor(ctx, "x", "c") },
		"Users.Get":            func(ctx context.Context) error { _, err := db.Users().Get(ctx, "x"); return err },
		"Users.List":           func(ctx context.Context) error { _, _, err := db.Users().List(ctx, store.Page{}); return err },
		"Memberships.List": func(ctx context.Context) error {
			_, _, err := db.Memberships().List(ctx, store.Page{})
			return err
		},
		"Memberships.Set":    func(ctx context.Context) error { return db.Memberships().Set(ctx, "x", identity.RoleViewer) },
		"Memberships.Remove": func(ctx context.Context) error { return db.Memberships().Remove(ctx, "x") },
		"APITokens.Create": func(ctx context.Context) error {
			_, err := db.APITokens().Create(ctx, store.NewAPIToken{Name: "n", TokenHash: "h", Role: identity.RoleViewer})
			return err
		},
		"APITokens.List": func(ctx context.Context) error {
			_, _, err := db.APITokens().List(ctx, store.APITokenFilter{}, store.Page{})
			return err
		},
		"APITokens.Get":    func(ctx context.Context) error { _, err := db.APITokens().Get(ctx, "x"); return err },
		"APITokens.Revoke": func(ctx context.Context) error { return db.APITokens().Revoke(ctx, "x") },
		"Audit.Append": func(ctx context.Context) error {
			_, err := db.Audit().Append(ctx, store.AuditEntry{Action: "a", Outcome: store.OutcomeSuccess})
			return err
		},
		"Audit.List": func(ctx context.Context) error {
			_, _, err := db.Audit().List(ctx, store.AuditFilter{}, store.Page{})
			return err
		},
	}
	for name, call := range calls {
		for ctxName, ctx := range map[string]context.Context{"empty": ctx, "no profile": noProfile} {
			if err := call(ctx); !errors.Is(err, identity.ErrNoPrincipal) {
				t.Errorf("%s with %s context: err = %v, want ErrNoPrincipal", name, ctxName, err)
			}
		}
	}
}

func TestTimes_roundTripUTC(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "times", identity.RoleAdmin)
		src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.test", Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		tz := time.FixedZone("UTC-3", -3*3600)
		success := time.Date(2031, 5, 6, 7, 8, 9, 123456789, tz)
		failure := time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		if err := db.Sources().UpdateHealth(ctx, src.ID, store.SourceHealth{Status: store.HealthOK,
			LastSuccessAt: &success, LastErrorAt: &failure, LastError: "boom"}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Sources().Get(ctx, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := success.Truncate(time.Microsecond)
		if !got.Health.LastSuccessAt.Equal(want) || got.Health.LastSuccessAt.Location() != time.UTC {
			t.Errorf("LastSuccessAt = %v, want %v in UTC", got.Health.LastSuccessAt, want.UTC())
		}
		if !got.Health.LastErrorAt.Equal(failure) {
			t.Errorf("LastErrorAt = %v, want %v", got.Health.LastErrorAt, failure)
		}
		if !got.CreatedAt.Equal(src.CreatedAt) {
			t.Errorf("CreatedAt = %v, want %v (exact round trip)", got.CreatedAt, src.CreatedAt)
		}
		// Clearing works too.
		if err := db.Sources().UpdateHealth(ctx, src.ID, store.SourceHealth{Status: store.HealthError}); err != nil {
			t.Fatal(err)
		}
		got, err = db.Sources().Get(ctx, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Health.LastSuccessAt != nil || got.Health.Status != store.HealthError {
			t.Errorf("after clearing: %+v", got.Health)
		}
	})
}

func TestPage_invalidCursor(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "cursor", identity.RoleAdmin)
		for _, c := range []string{"!!!", "bm90IGpzb24", "WzEsMl0"} { // not base64, "not json", [1,2]
			if _, _, err := db.Sources().List(ctx, store.Page{Cursor: c}); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("cursor %q: err = %v, want ErrInvalid", c, err)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpen_sqlitePragmas(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1"} {
		got, err := store.Pragma(t.Context(), db, pragma)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
