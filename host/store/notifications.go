package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/puod/puod/host/identity"
)

// The notifications outbox. Every notification is a row before anything is
// sent; a worker (host/notify) claims due rows, sends them and records the
// outcome. The rules the queries below keep:
//
//   - De-duplication: (profile, notification id, sink) is unique and Enqueue
//     ignores a row that exists already, so an evaluation written twice
//     (the engine retries a failed write with the same ids) adds nothing.
//   - Order: a row is claimable only while no older (lower seq) pending row
//     of the same profile, sink and group exists. A group therefore delivers
//     one notification at a time, in insertion order; a row that waits for a
//     retry holds its group back, a dead row does not.
//   - Claims: Claim leases rows until now+lease (claimed_until); other
//     workers skip a leased row, so several workers or replicas never send
//     the same row at once. On PostgreSQL the claim also takes row locks
//     with SKIP LOCKED, so concurrent claims never wait for each other; on
//     SQLite the claim is one write transaction (one writer at a time). A
//     worker that dies leaves its lease to expire, then the row is claimed
//     again: the lease must outlast the worker's per-call deadline.
//   - Terminal states: delivered and dead are final. MarkDelivered on a
//     delivered row is a no-op; MarkRetry and MarkDead touch pending rows
//     only.

// Notification states.
const (
	NotificationPending   = "pending"
	NotificationDelivered = "delivered"
	NotificationDead      = "dead"
)

// NewNotification is one row for Enqueue.
type NewNotification struct {
	ProfileID string
	// NotificationID is the engine's id (stable per transition); with
	// ProfileID and SinkSourceID it is the de-duplication key.
	NotificationID string
	RuleID         string
	// SinkSourceID is the alert-sink source (plugin instance) to send to.
	SinkSourceID string
	// GroupKey orders delivery within (profile, sink); see the package
	// rules above.
	GroupKey string
	// Payload is the notification as JSON (sdk.Notification).
	Payload []byte
	// CreatedAt is when the notification was decided; it is also the first
	// attempt time.
	CreatedAt time.Time
}

// Notification is one outbox row.
type Notification struct {
	ID             string
	ProfileID      string
	NotificationID string
	RuleID         string
	SinkSourceID   string
	GroupKey       string
	Payload        []byte
	State          string
	Attempts       int
	NextAttemptAt  time.Time
	// LastError is the last failure; for a dead row, why it was given up.
	LastError   string
	DeliveredAt *time.Time
	CreatedAt   time.Time
	// Seq is the insertion order.
	Seq int64
}

const notificationCols = `id, profile_id, notification_id, COALESCE(rule_id, ''), COALESCE(sink_source_id, ''), group_key,
	payload_json, state, attempts, next_attempt_at, last_error, delivered_at, created_at, seq`

func scanNotification(r rowScanner) (Notification, error) {
	var n Notification
	var payload string
	err := r.Scan(&n.ID, &n.ProfileID, &n.NotificationID, &n.RuleID, &n.SinkSourceID, &n.GroupKey,
		&payload, &n.State, &n.Attempts, timeDest{&n.NextAttemptAt}, &n.LastError, nullTimeDest{&n.DeliveredAt},
		timeDest{&n.CreatedAt}, &n.Seq)
	if err != nil {
		return Notification{}, mapErr(err)
	}
	n.Payload = []byte(payload)
	return n, nil
}

// Outbox is the unscoped outbox the delivery worker uses: it spans every
// profile, so it hangs off System. Handlers use Notifications.
type Outbox struct{ db *DB }

// Outbox returns the unscoped outbox (see Outbox).
func (s *System) Outbox() *Outbox { return &Outbox{db: s.db} }

// Enqueue inserts rows in one transaction, ignoring those whose
// (profile, notification id, sink) exists already. It reports how many
// rows were new. Rows keep their order: within a group, a later row is
// delivered after an earlier one.
func (o *Outbox) Enqueue(ctx context.Context, rows []NewNotification) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	for _, r := range rows {
		if r.ProfileID == "" || r.NotificationID == "" || r.SinkSourceID == "" {
			return 0, fmt.Errorf("enqueue notifications: %w: profile, notification id and sink are required", ErrInvalid)
		}
		if r.CreatedAt.IsZero() {
			return 0, fmt.Errorf("enqueue notification %s: %w: no creation time", r.NotificationID, ErrInvalid)
		}
	}
	inserted := 0
	err := o.db.inTx(ctx, func(tx *sqlx.Tx) error {
		inserted = 0
		// SQLite cannot generate seq; the transaction holds the write lock
		// (BEGIN IMMEDIATE), so MAX+1 is safe. PostgreSQL uses the column's
		// sequence.
		var next int64
		if o.db.dialect == DialectSQLite {
			if err := queryRow(ctx, tx, `SELECT COALESCE(MAX(seq), 0) FROM notifications`).Scan(&next); err != nil {
				return fmt.Errorf("next outbox seq: %w", mapErr(err))
			}
		}
		for _, r := range rows {
			payload := string(r.Payload)
			if payload == "" {
				payload = "{}"
			}
			cols := `id, profile_id, notification_id, rule_id, sink_source_id, group_key, payload_json, state,
				attempts, next_attempt_at, last_error, created_at`
			vals := `?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?`
			args := []any{newID(), r.ProfileID, r.NotificationID, r.RuleID, r.SinkSourceID, r.GroupKey, payload,
				NotificationPending, r.CreatedAt, r.CreatedAt}
			if o.db.dialect == DialectSQLite {
				next++
				cols += `, seq`
				vals += `, ?`
				args = append(args, next)
			}
			res, err := exec(ctx, tx, `INSERT INTO notifications (`+cols+`) VALUES (`+vals+`)
				ON CONFLICT (profile_id, notification_id, sink_source_id) DO NOTHING`, args...)
			if err != nil {
				return fmt.Errorf("insert notification %s: %w", r.NotificationID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("rows affected: %w", err)
			}
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue notifications: %w", err)
	}
	return inserted, nil
}

// Claim leases up to limit due rows (pending, next_attempt_at <= now, not
// leased by someone else, and first pending row of their group) until
// now+lease, and returns them oldest first. See the package rules above.
func (o *Outbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error) {
	if limit <= 0 {
		limit = 1
	}
	if lease <= 0 {
		return nil, fmt.Errorf("claim notifications: %w: lease must be positive", ErrInvalid)
	}
	lock := ""
	if o.db.dialect == DialectPostgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	q := `UPDATE notifications SET claimed_until = ?
		WHERE id IN (SELECT n.id FROM notifications n
			WHERE n.state = 'pending' AND n.next_attempt_at <= ?
			  AND (n.claimed_until IS NULL OR n.claimed_until <= ?)
			  AND NOT EXISTS (SELECT 1 FROM notifications o
				WHERE o.state = 'pending' AND o.profile_id = n.profile_id
				  AND o.sink_source_id = n.sink_source_id AND o.group_key = n.group_key AND o.seq < n.seq)
			ORDER BY n.seq LIMIT ?` + lock + `)
		RETURNING ` + notificationCols
	var out []Notification
	err := o.db.inTx(ctx, func(tx *sqlx.Tx) error {
		rows, err := query(ctx, tx, q, now.Add(lease), now, now, limit)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanNotification)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	sortBySeq(out)
	return out, nil
}

func sortBySeq(ns []Notification) {
	// Claims are small (a worker's batch); insertion sort keeps this free of
	// a sort import for one call site.
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j].Seq < ns[j-1].Seq; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// MarkDelivered records that the sink accepted row id. A second mark (or a
// mark of a dead row) changes nothing and is not an error; a missing row is
// ErrNotFound.
func (o *Outbox) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	res, err := exec(ctx, o.db.x, `UPDATE notifications SET state = 'delivered', delivered_at = ?, claimed_until = NULL
		WHERE id = ? AND state = 'pending'`, at, id)
	if err != nil {
		return fmt.Errorf("mark notification %s delivered: %w", id, err)
	}
	return o.checkTouched(ctx, res, id, "mark notification "+id+" delivered")
}

// MarkRetry records a failed attempt of pending row id: attempts+1, the
// next attempt time and the error. The lease is released.
func (o *Outbox) MarkRetry(ctx context.Context, id string, next time.Time, lastError string) error {
	res, err := exec(ctx, o.db.x, `UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
		claimed_until = NULL WHERE id = ? AND state = 'pending'`, next, lastError, id)
	if err != nil {
		return fmt.Errorf("mark notification %s for retry: %w", id, err)
	}
	return o.checkTouched(ctx, res, id, "mark notification "+id+" for retry")
}

// MarkDead gives up pending row id for good (a permanent refusal, or too
// old): it becomes a dead letter with reason, counted as an attempt.
func (o *Outbox) MarkDead(ctx context.Context, id string, reason string) error {
	res, err := exec(ctx, o.db.x, `UPDATE notifications SET state = 'dead', attempts = attempts + 1, last_error = ?,
		claimed_until = NULL WHERE id = ? AND state = 'pending'`, reason, id)
	if err != nil {
		return fmt.Errorf("mark notification %s dead: %w", id, err)
	}
	return o.checkTouched(ctx, res, id, "mark notification "+id+" dead")
}

// Release gives back the leases on rows a stopping worker did not send,
// so another worker can claim them at once instead of after the lease.
func (o *Outbox) Release(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	q := `UPDATE notifications SET claimed_until = NULL WHERE state = 'pending' AND id IN (?` +
		strings.Repeat(", ?", len(ids)-1) + `)`
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := exec(ctx, o.db.x, q, args...); err != nil {
		return fmt.Errorf("release notifications: %w", err)
	}
	return nil
}

// checkTouched turns "no row updated" into ErrNotFound when the row does
// not exist, and into nil when it exists but is no longer pending (a
// repeated mark).
func (o *Outbox) checkTouched(ctx context.Context, res interface{ RowsAffected() (int64, error) }, id, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: rows affected: %w", op, err)
	}
	if n > 0 {
		return nil
	}
	var state string
	if err := queryRow(ctx, o.db.x, `SELECT state FROM notifications WHERE id = ?`, id).Scan(&state); err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return nil
}

// NextDue returns the earliest time a row may become claimable: over the
// first pending row of each group, the later of its next attempt and the
// end of its lease. ok is false when nothing is pending. It is a wake-up
// hint for the worker.
func (o *Outbox) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := queryRow(ctx, o.db.x, `SELECT MIN(CASE WHEN n.claimed_until IS NOT NULL AND n.claimed_until > n.next_attempt_at
			THEN n.claimed_until ELSE n.next_attempt_at END)
		FROM notifications n WHERE n.state = 'pending'
		  AND NOT EXISTS (SELECT 1 FROM notifications o
			WHERE o.state = 'pending' AND o.profile_id = n.profile_id
			  AND o.sink_source_id = n.sink_source_id AND o.group_key = n.group_key AND o.seq < n.seq)`).
		Scan(nullTimeDest{&t})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due notification: %w", mapErr(err))
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// Get returns one row of any profile, for the worker and tests.
func (o *Outbox) Get(ctx context.Context, id string) (Notification, error) {
	n, err := scanNotification(queryRow(ctx, o.db.x, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id))
	if err != nil {
		return Notification{}, fmt.Errorf("notification %s: %w", id, err)
	}
	return n, nil
}

// CountByState counts every profile's rows per state (for metrics).
func (o *Outbox) CountByState(ctx context.Context) (map[string]int, error) {
	rows, err := query(ctx, o.db.x, `SELECT state, COUNT(*) FROM notifications GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count notifications: %w", err)
	}
	type kv struct {
		state string
		n     int
	}
	list, err := collect(rows, func(r rowScanner) (kv, error) {
		var v kv
		return v, r.Scan(&v.state, &v.n)
	})
	if err != nil {
		return nil, fmt.Errorf("count notifications: %w", err)
	}
	out := map[string]int{}
	for _, v := range list {
		out[v.state] = v.n
	}
	return out, nil
}

// Notifications is the caller's profile's view of the outbox, for the API.
type Notifications struct{ db *DB }

// Notifications returns the profile-scoped outbox view.
func (db *DB) Notifications() *Notifications { return &Notifications{db: db} }

// NotificationFilter narrows List.
type NotificationFilter struct {
	// State is pending, delivered or dead; empty lists every state.
	State string
	// RuleID, when set, keeps one rule's notifications.
	RuleID string
}

// List returns the caller's profile's rows, newest first.
func (r *Notifications) List(ctx context.Context, f NotificationFilter, page Page) ([]Notification, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	switch f.State {
	case "", NotificationPending, NotificationDelivered, NotificationDead:
	default:
		return nil, "", fmt.Errorf("list notifications: %w: state %q is not pending, delivered or dead", ErrInvalid, f.State)
	}
	var after int64
	resume, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	q := `SELECT ` + notificationCols + ` FROM notifications WHERE profile_id = ?`
	args := []any{p.ProfileID}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.RuleID != "" {
		q += ` AND rule_id = ?`
		args = append(args, f.RuleID)
	}
	if resume {
		q += ` AND seq < ?`
		args = append(args, after)
	}
	limit := page.limit()
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := query(ctx, r.db.x, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	items, err := collect(rows, scanNotification)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	items, next := trimPage(items, limit, func(n Notification) []any { return []any{n.Seq} })
	return items, next, nil
}

// Get returns one row of the caller's profile; another profile's row is
// ErrNotFound.
func (r *Notifications) Get(ctx context.Context, id string) (Notification, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Notification{}, fmt.Errorf("notification %s: %w", id, err)
	}
	n, err := scanNotification(queryRow(ctx, r.db.x, `SELECT `+notificationCols+` FROM notifications
		WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
	if err != nil {
		return Notification{}, fmt.Errorf("notification %s: %w", id, err)
	}
	return n, nil
}

// CountDead counts the caller's profile's dead letters.
func (r *Notifications) CountDead(ctx context.Context) (int, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return 0, fmt.Errorf("count dead notifications: %w", err)
	}
	var n int
	if err := queryRow(ctx, r.db.x, `SELECT COUNT(*) FROM notifications WHERE profile_id = ? AND state = 'dead'`,
		p.ProfileID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead notifications: %w", mapErr(err))
	}
	return n, nil
}
