package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// Dialect names returned by (*DB).Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqliteFile is the database file created inside Config.DataDir.
const sqliteFile = "puod.db"

// Config selects the database.
type Config struct {
	// URL is a postgres:// or postgresql:// connection URL. Empty selects the
	// embedded SQLite database in DataDir, which needs no server and is the
	// right choice for a single host process.
	URL string
	// DataDir holds the SQLite file (DataDir/puod.db). It is created when
	// missing. Ignored for PostgreSQL.
	DataDir string
}

// DB is an open database with its dialect. It is safe for concurrent use.
type DB struct {
	x       *pool
	dialect string
	log     hclog.Logger
	gens    generations
	stop    func() // ends the background checkpointer (SQLite)
}

// pool is the connection pool. On SQLite it admits one writer at a time in
// Go (the gate) — a transaction, or a statement run outside one — so that
// writers queue in order, holding no connection while they wait, instead
// of each taking a connection and sleeping in SQLite's busy handler (1, 2,
// 5 … 25 ms steps) while readers wait for connections behind them.
// busy_timeout stays as the fallback for writes that reach SQLite by other
// paths (another process, a RETURNING read). PostgreSQL has no gate.
type pool struct {
	*sqlx.DB
	gate chan struct{}
}

// enter waits for the write gate (no-op without one).
func (p *pool) enter(ctx context.Context) error {
	if p.gate == nil {
		return nil
	}
	select {
	case p.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the database's write lock: %w", ctx.Err())
	}
}

func (p *pool) leave() {
	if p.gate != nil {
		<-p.gate
	}
}

// ExecContext runs a statement outside a transaction through the gate.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := p.enter(ctx); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.DB.ExecContext(ctx, query, args...)
}

// Stats reports the connection pool's statistics (for the /metrics
// collector); the pool itself stays private so every query goes through the
// repositories.
func (db *DB) Stats() sql.DBStats { return db.x.Stats() }

// Open connects to the database cfg names and checks that it answers. It
// does not migrate: call Migrate (the host does at start, `puod migrate`
// does on demand).
func Open(ctx context.Context, cfg Config, logger hclog.Logger) (*DB, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	var (
		driver, dsn, dialect string
		maxOpen              int
	)
	switch {
	case cfg.URL == "":
		if cfg.DataDir == "" {
			return nil, errors.New("open store: neither a database URL nor a data directory is set: set PUOD_DATA_DIR or PUOD_DATABASE_URL")
		}
		if strings.ContainsRune(cfg.DataDir, '?') {
			// The driver treats everything after '?' as DSN parameters.
			return nil, fmt.Errorf("open store: data directory %q contains '?': choose another directory", cfg.DataDir)
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: create data directory: %w", err)
		}
		driver, dialect = "sqlite", DialectSQLite
		// WAL lets readers run while one writer writes; busy_timeout makes a
		// second writer wait instead of failing at once; _txlock=immediate
		// takes the write lock at BEGIN, so two transactions that read then
		// write cannot deadlock on the lock upgrade (which busy_timeout can't
		// resolve). synchronous=NORMAL is durable enough in WAL mode.
		// Checkpoints run in the background (checkpoint), not inside
		// whichever commit crosses the WAL size threshold; the automatic
		// one stays as a backstop at 10,000 pages (about 40 MB), for when
		// long readers keep the background one from catching up.
		dsn = filepath.Join(cfg.DataDir, sqliteFile) +
			"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
			"&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(10000)&_txlock=immediate"
		// Only one writer runs at a time anyway; a few connections keep
		// reads concurrent without piling up writers on busy_timeout.
		maxOpen = min(max(4, runtime.GOMAXPROCS(0)), 16)
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		driver, dialect, dsn = "pgx", DialectPostgres, cfg.URL
		maxOpen = 20
	default:
		return nil, fmt.Errorf("open store: unsupported database URL scheme in %q: use postgres://… or leave it empty for SQLite", redactURL(cfg.URL))
	}

	sqlDB, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open store (%s): %w", dialect, err)
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{x: &pool{DB: sqlx.NewDb(sqlDB, driver)}, dialect: dialect, log: logger.Named("store"), stop: func() {}}
	if err := db.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		if dialect == DialectPostgres {
			return nil, fmt.Errorf("open store: %w (is PostgreSQL running at %s?)", err, redactURL(cfg.URL))
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	if dialect == DialectSQLite {
		db.x.gate = make(chan struct{}, 1)
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); db.checkpoint(cctx, time.Second) }()
		db.stop = func() { cancel(); <-done }
	}
	db.log.Debug("database opened", "dialect", dialect)
	return db, nil
}

// redactURL hides a password in a connection URL so it can be logged.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable database URL)"
	}
	return p.Redacted()
}

// Dialect reports DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.x.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.dialect, err)
	}
	return nil
}

// checkpoint copies the SQLite WAL into the database every interval, in
// the background, so no request pays for it. PASSIVE neither waits for
// nor blocks readers and writers; what it cannot copy yet is copied next
// time.
func (db *DB) checkpoint(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := db.x.DB.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
				db.log.Warn("WAL checkpoint failed; trying again", "error", err)
			}
		}
	}
}

// Close releases every connection.
func (db *DB) Close() error {
	if db.stop != nil {
		db.stop()
	}
	if err := db.x.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.dialect, err)
	}
	return nil
}

// inTx runs fn in a transaction and commits when fn returns nil. On SQLite
// every transaction takes the write lock at BEGIN (see Open), so keep them
// short and do not use them for long reads.
func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if err := db.x.enter(ctx); err != nil {
		return err
	}
	defer db.x.leave()
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// exec rebinds query for the dialect, encodes time arguments for it (see
// encodeArgs) and runs it, mapping constraint errors. Every statement in this
// package goes through exec, execOne, query or queryRow.
func exec(ctx context.Context, q sqlx.ExtContext, query string, args ...any) (sql.Result, error) {
	res, err := q.ExecContext(ctx, q.Rebind(query), encodeArgs(q, args)...)
	if err != nil {
		return nil, mapErr(err)
	}
	return res, nil
}

// execOne is exec for statements that must touch exactly one row; zero rows
// is ErrNotFound (which, with profile_id in the WHERE clause, also covers a
// row of another profile).
func execOne(ctx context.Context, q sqlx.ExtContext, query string, args ...any) error {
	res, err := exec(ctx, q, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// queryRow rebinds query and returns its single row.
func queryRow(ctx context.Context, q sqlx.ExtContext, query string, args ...any) *sqlx.Row {
	return q.QueryRowxContext(ctx, q.Rebind(query), encodeArgs(q, args)...)
}

// query rebinds query and returns its rows.
func query(ctx context.Context, q sqlx.ExtContext, query string, args ...any) (*sqlx.Rows, error) {
	rows, err := q.QueryxContext(ctx, q.Rebind(query), encodeArgs(q, args)...)
	if err != nil {
		return nil, mapErr(err)
	}
	return rows, nil
}

// rowScanner is what *sql.Row, *sql.Rows and their sqlx wrappers share.
type rowScanner interface {
	Scan(dest ...any) error
}

// collect scans every row of rows with scan and closes rows.
func collect[T any](rows *sqlx.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}
