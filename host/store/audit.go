package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/puod/puod/host/identity"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditEntry is one line of the audit log.
//
// The log is one hash chain across all profiles: entry n stores the hash of
// entry n-1 (PrevHash) and its own Hash = sha256(PrevHash || canonical
// encoding of its fields, see auditDigest). Changing, removing or
// reordering a stored entry breaks the chain from that entry on, which
// Verify reports. The chain head (last seq and hash) is kept in audit_head so
// that a deleted tail is noticed too.
type AuditEntry struct {
	Seq        int64
	ID         string
	At         time.Time
	ProfileID  string
	UserID     string
	Username   string
	Action     string
	ObjectType string
	ObjectID   string
	Outcome    string
	ClientAddr string
	// Details is a JSON object; empty means {}.
	Details  json.RawMessage
	PrevHash string
	Hash     string
}

// AuditFilter narrows Audit().List. Zero fields match everything.
type AuditFilter struct {
	Action string
	// User matches the user id or the username.
	User    string
	Outcome string
	// From and To bound At: From <= At < To.
	From time.Time
	To   time.Time
}

// Audit is the profile-scoped audit log.
type Audit struct{ db *DB }

// Audit returns the profile-scoped audit log.
func (db *DB) Audit() *Audit { return &Audit{db: db} }

// Append records an action of the caller. Profile, user id and username come
// from the principal, whatever e says; ID, Seq, hashes and (when zero) At are
// set by the store. It returns the stored entry.
func (a *Audit) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit entry: %w", err)
	}
	e.ProfileID, e.UserID, e.Username = p.ProfileID, p.UserID, p.Username
	return appendAudit(ctx, a.db, e)
}

// List returns the caller's profile's entries, newest first.
func (a *Audit) List(ctx context.Context, f AuditFilter, page Page) ([]AuditEntry, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	var before int64
	more, err := page.decode(&before)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	limit := page.limit()
	var where strings.Builder
	where.WriteString(`profile_id = ?`)
	args := []any{p.ProfileID}
	add := func(cond string, vals ...any) {
		where.WriteString(` AND ` + cond)
		args = append(args, vals...)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.User != "" {
		add(`(user_id = ? OR username = ?)`, f.User, f.User)
	}
	if f.Outcome != "" {
		add(`outcome = ?`, f.Outcome)
	}
	if !f.From.IsZero() {
		add(`at >= ?`, f.From)
	}
	if !f.To.IsZero() {
		add(`at < ?`, f.To)
	}
	if more {
		add(`seq < ?`, before)
	}
	rows, err := query(ctx, a.db.x, `SELECT `+auditCols+` FROM audit_log WHERE `+where.String()+`
		ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	es, err := collect(rows, scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit entries: %w", err)
	}
	es, next := trimPage(es, limit, func(e AuditEntry) []any { return []any{e.Seq} })
	return es, next, nil
}

// SystemAudit appends entries without a principal and verifies the chain.
type SystemAudit struct{ db *DB }

// Append records an entry exactly as given (profile and user may be empty),
// for events without an authenticated caller: failed logins, CLI actions,
// system jobs.
func (a *SystemAudit) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	return appendAudit(ctx, a.db, e)
}

const auditCols = `seq, id, at, profile_id, user_id, username, action, object_type, object_id, outcome, client_addr,
	details_json, prev_hash, hash`

func scanAudit(r rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var details string
	err := r.Scan(&e.Seq, &e.ID, timeDest{&e.At}, &e.ProfileID, &e.UserID, &e.Username, &e.Action, &e.ObjectType,
		&e.ObjectID, &e.Outcome, &e.ClientAddr, &details, &e.PrevHash, &e.Hash)
	if err != nil {
		return AuditEntry{}, mapErr(err)
	}
	e.Details = json.RawMessage(details)
	return e, nil
}

// auditLockKey is the pg_advisory_xact_lock key that serialises appends on
// PostgreSQL ("puodaudt" as a big-endian int64). SQLite needs none: every
// transaction there holds the database write lock from BEGIN.
const auditLockKey int64 = 0x7075_6f64_6175_6474

func appendAudit(ctx context.Context, db *DB, e AuditEntry) (AuditEntry, error) {
	if e.Action == "" || e.Outcome == "" {
		return AuditEntry{}, fmt.Errorf("append audit entry: %w: action and outcome are required", ErrInvalid)
	}
	if len(e.Details) == 0 {
		e.Details = json.RawMessage(`{}`)
	}
	if !json.Valid(e.Details) {
		return AuditEntry{}, fmt.Errorf("append audit entry: %w: details are not valid JSON", ErrInvalid)
	}
	e.ID = newID()
	if e.At.IsZero() {
		e.At = Now()
	}
	e.At = normTime(e.At)
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		if db.dialect == DialectPostgres {
			// Two appends must not read the same head, or the chain forks.
			if _, err := exec(ctx, tx, `SELECT pg_advisory_xact_lock(?)`, auditLockKey); err != nil {
				return fmt.Errorf("lock audit chain: %w", err)
			}
		}
		var headSeq int64
		var headHash string
		if err := queryRow(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
			return fmt.Errorf("read audit head: %w", mapErr(err))
		}
		e.Seq, e.PrevHash = headSeq+1, headHash
		e.Hash = auditHash(e)
		if _, err := exec(ctx, tx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.ID, e.At, e.ProfileID, e.UserID, e.Username, e.Action, e.ObjectType, e.ObjectID, e.Outcome,
			e.ClientAddr, string(e.Details), e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := execOne(ctx, tx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash); err != nil {
			return fmt.Errorf("advance audit head: %w", err)
		}
		return nil
	})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return e, nil
}

// auditHash returns hex(sha256(prev_hash || auditDigest(e))).
func auditHash(e AuditEntry) string {
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(auditDigest(e))
	return hex.EncodeToString(h.Sum(nil))
}

// auditDigest is the canonical encoding of an entry's fields: a version tag,
// then each field as an 8-byte big-endian length and its bytes, in a fixed
// order. Length prefixes make the encoding unambiguous (no two different
// entries encode the same), the time is unix microseconds (what both
// databases store exactly), and the details are the stored JSON bytes. Never
// change this for existing entries: add a new version tag instead.
func auditDigest(e AuditEntry) []byte {
	fields := []string{
		"puod-audit-v1",
		strconv.FormatInt(e.Seq, 10),
		e.ID,
		strconv.FormatInt(e.At.UnixMicro(), 10),
		e.ProfileID, e.UserID, e.Username,
		e.Action, e.ObjectType, e.ObjectID,
		e.Outcome, e.ClientAddr,
		string(e.Details),
	}
	var out []byte
	for _, f := range fields {
		out = binary.BigEndian.AppendUint64(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

// VerifyResult reports a walk of the audit chain.
type VerifyResult struct {
	// Entries is the number of rows examined (the whole log).
	Entries int
	// FirstBroken is the seq of the first entry that fails the check: a
	// modified entry, the first seq missing where a row was deleted, or the
	// seq after the last row when the tail was deleted. Nil when intact.
	FirstBroken *int64
	// Reason explains FirstBroken.
	Reason string
}

// OK reports whether the chain is intact.
func (v VerifyResult) OK() bool { return v.FirstBroken == nil }

// Verify walks the whole log in seq order, recomputing every hash, and names
// the first broken entry. It streams rows, so memory stays flat, and takes no
// write lock: it reads the head first and ignores entries appended after
// that, which are verified next time.
func (a *SystemAudit) Verify(ctx context.Context) (VerifyResult, error) {
	var headSeq int64
	var headHash string
	if err := queryRow(ctx, a.db.x, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return VerifyResult{}, fmt.Errorf("verify audit log: read head: %w", mapErr(err))
	}
	rows, err := query(ctx, a.db.x, `SELECT `+auditCols+` FROM audit_log WHERE seq <= ? ORDER BY seq`, headSeq)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer rows.Close()

	var res VerifyResult
	broken := func(seq int64, reason string) {
		if res.FirstBroken == nil {
			res.FirstBroken, res.Reason = &seq, reason
		}
	}
	var prevSeq int64
	prevHash := ""
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return VerifyResult{}, fmt.Errorf("verify audit log: %w", err)
		}
		res.Entries++
		switch {
		case e.Seq != prevSeq+1:
			broken(prevSeq+1, fmt.Sprintf("entry %d is missing (next entry is %d): entries were deleted", prevSeq+1, e.Seq))
		case e.PrevHash != prevHash:
			broken(e.Seq, fmt.Sprintf("entry %d does not link to entry %d (prev_hash mismatch): one of them was altered and rehashed", e.Seq, prevSeq))
		case auditHash(e) != e.Hash:
			broken(e.Seq, fmt.Sprintf("entry %d does not match its hash: it was modified", e.Seq))
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return VerifyResult{}, fmt.Errorf("verify audit log: %w", mapErr(err))
	}
	switch {
	case prevSeq < headSeq:
		broken(prevSeq+1, fmt.Sprintf("entries %d to %d are missing: the end of the log was deleted", prevSeq+1, headSeq))
	case prevHash != headHash:
		broken(prevSeq, fmt.Sprintf("entry %d does not match the chain head: it was altered and rehashed, or the head was changed", prevSeq))
	}
	return res, nil
}

// ErrAuditBroken is returned by VerifyResult.Err for a broken chain, so a
// CLI can exit non-zero with errors.Is.
var ErrAuditBroken = errors.New("audit log chain is broken")

// Err returns nil for an intact chain, else an error wrapping ErrAuditBroken
// that names the first broken entry.
func (v VerifyResult) Err() error {
	if v.OK() {
		return nil
	}
	return fmt.Errorf("%w at entry %d: %s", ErrAuditBroken, *v.FirstBroken, v.Reason)
}
