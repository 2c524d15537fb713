package store

import "context"

// ExecRaw runs a statement bypassing the repositories, so tests can tamper
// with rows the way an attacker with database access would.
func ExecRaw(ctx context.Context, db *DB, query string, args ...any) (int64, error) {
	res, err := exec(ctx, db.x, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AuditHash exposes the chain hash so tests can play an attacker who
// rewrites an entry and recomputes its hash.
func AuditHash(e AuditEntry) string { return auditHash(e) }

// Pragma reads a SQLite PRAGMA so tests can check the connection settings.
func Pragma(ctx context.Context, db *DB, name string) (string, error) {
	var v string
	err := db.x.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}
