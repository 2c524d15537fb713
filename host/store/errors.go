package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Callers branch with errors.Is; the wrapped error keeps the
// operation and the database's own message for logs.
var (
	// ErrNotFound: no such row — or a row of another profile, which callers
	// must not be able to tell apart from a missing one.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness constraint or an optimistic-lock revision
	// check failed; the caller should reload and retry, or pick another name.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the arguments are malformed (empty name, unknown role,
	// undecodable page cursor). Nothing was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrTokenReused: a refresh token that was already rotated was presented
	// again. The store has revoked the whole token family; the caller must
	// treat the session as stolen and make the user log in again.
	ErrTokenReused = errors.New("refresh token reuse detected: token family revoked")
)

// PostgreSQL SQLSTATE codes we map.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// mapErr turns driver errors into the package sentinels so that callers see
// the same error on both databases. Unmapped errors pass through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: referenced row does not exist: %w", ErrNotFound, err)
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: referenced row does not exist: %w", ErrNotFound, err)
		}
	}
	return err
}
