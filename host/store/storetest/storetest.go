// Package storetest opens throw-away PUOD databases for tests, on SQLite and
// on PostgreSQL, so every package that persists data runs its tests against
// both dialects the product supports.
//
// PostgreSQL is expected at DefaultPostgresURL (override with the
// PUOD_TEST_POSTGRES_URL environment variable; scripts/services.sh starts
// it). Each OpenPostgres call creates its own database named
// puod_test_<random>, migrates it and drops it when the test ends, so tests
// may run in parallel and may tamper with rows freely (NewPostgresDatabase
// does the same without opening it, for tests that start a whole host on
// the URL). When PostgreSQL is not
// reachable the PostgreSQL half is skipped with a loud message, except with
// CI=true, where it fails: CI must never pass by skipping.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// DefaultPostgresURL is the administrative connection used to create and
// drop test databases (local server, trust authentication).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresURLEnv names the environment variable overriding DefaultPostgresURL.
const PostgresURLEnv = "PUOD_TEST_POSTGRES_URL"

// ForEachDialect runs fn as two subtests, "sqlite" and "postgres", each with
// a fresh, migrated database. fn may call t.Parallel.
func ForEachDialect(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(store.DialectSQLite, func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run(store.DialectPostgres, func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// Open returns a fresh, migrated database of the given dialect
// (store.DialectSQLite or store.DialectPostgres).
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	switch dialect {
	case store.DialectSQLite:
		return OpenSQLite(t)
	case store.DialectPostgres:
		return OpenPostgres(t)
	}
	t.Fatalf("storetest: unknown dialect %q", dialect)
	return nil
}

// OpenSQLite returns a fresh, migrated SQLite database in t.TempDir().
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	cfg := store.Config{DataDir: t.TempDir()}
	db, err := store.Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate sqlite: %v", err)
	}
	opened.Store(db, cfg)
	return db
}

// opened remembers how each test database was opened, for Reopen.
var opened sync.Map // *store.DB → store.Config

// Reopen opens a second, independent handle on a database this package
// opened: what another host replica sharing the database would hold.
func Reopen(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	cfg, ok := opened.Load(db)
	if !ok {
		t.Fatal("storetest: Reopen needs a database opened by storetest")
	}
	other, err := store.Open(context.Background(), cfg.(store.Config), testLogger(t))
	if err != nil {
		t.Fatalf("storetest: reopen: %v", err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return other
}

// PostgresAdminURL returns the administrative URL tests use.
func PostgresAdminURL() string {
	if u := os.Getenv(PostgresURLEnv); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// OpenPostgres creates a database puod_test_<random>, migrates it, and drops
// it when the test ends. It skips (or fails under CI=true) when PostgreSQL
// is unreachable.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	dbURL := NewPostgresDatabase(t)
	db, err := store.Open(ctx, store.Config{URL: dbURL}, testLogger(t))
	if err != nil {
		t.Fatalf("storetest: open %s: %v", redact(dbURL), err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate %s: %v", redact(dbURL), err)
	}
	opened.Store(db, store.Config{URL: dbURL})
	return db
}

// NewPostgresDatabase creates an empty database puod_test_<random> and
// returns its URL, for tests that open the store themselves (a whole host
// built with app.New, a `puod` process). The database is dropped when the
// test ends, after every cleanup registered later (so close the store in a
// later cleanup); connections still open then are ended (WITH FORCE). It
// skips (or fails under CI=true) when PostgreSQL is unreachable.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	adminURL := PostgresAdminURL()
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", PostgresURLEnv, err)
	}
	admin := connectAdmin(t, adminURL)

	name := "puod_test_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		_ = admin.Close()
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(dctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// connectAdmin opens the administrative connection or skips/fails loudly.
func connectAdmin(t testing.TB, adminURL string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", adminURL)
	if err == nil {
		pctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = admin.PingContext(pctx)
		cancel()
		if err != nil {
			_ = admin.Close()
		}
	}
	if err != nil {
		msg := fmt.Sprintf("\n%s\n!!! PostgreSQL not reachable at %s: %v\n!!! run scripts/services.sh (or set %s)\n%s",
			strings.Repeat("!", 78), redact(adminURL), err, PostgresURLEnv, strings.Repeat("!", 78))
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s\n!!! CI=true: the PostgreSQL half of the suite is required", msg)
		}
		t.Skipf("%s\n!!! SKIPPING the PostgreSQL half of this test", msg)
	}
	return admin
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// testLogger sends store warnings to the test's output.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: t.Output(), Level: hclog.Warn})
}

// Tenant creates profile name with a member user "<name>-<role>" holding
// role, and returns t.Context() carrying that principal. It is the usual
// start of a tenant-scoped test.
func Tenant(t testing.TB, db *store.DB, name string, role identity.Role) context.Context {
	t.Helper()
	ctx := t.Context()
	sys := db.System()
	prof, err := sys.Profiles().ByName(ctx, name)
	if err != nil {
		prof, err = sys.Profiles().Create(ctx, name)
		if err != nil {
			t.Fatalf("storetest: create profile %q: %v", name, err)
		}
	}
	username := name + "-" + string(role)
	u, err := sys.Users().ByUsername(ctx, username)
	if err != nil {
		u, err = sys.Users().Create(ctx, store.NewUser{Username: username, DisplayName: username})
		if err != nil {
			t.Fatalf("storetest: create user %q: %v", username, err)
		}
	}
	if err := sys.Memberships().Add(ctx, prof.ID, u.ID, role); err != nil {
		t.Fatalf("storetest: add membership: %v", err)
	}
	return identity.With(ctx, identity.Principal{UserID: u.ID, Username: u.Username, ProfileID: prof.ID, Role: role, Via: "password"})
}
