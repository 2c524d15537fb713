package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Fingerprint is the series of the rule the notification is about
	// (alert.Intent.Fingerprint); the API lists one alert's notifications
	// by it.
	Fingerprint string
	// SinkSourceID is the alert-sink source (plugin instance) to send to.
	SinkSourceID string
	// GroupKey orders delivery within (profile, sink); see the package
	// rules above.
	GroupKey string
	// GroupWait and GroupInterval set the first attempt (see firstAttempt):
	// a row waits GroupWait for others of its group to join it, and comes
	// at least GroupInterval after the group's last send.
	GroupWait, GroupInterval time.Duration
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
	// Fingerprint is the series; '' for rows written without one.
	Fingerprint string
	// RetriedAt is when a person last sent the dead letter again (nil:
	// never); the worker's give-up age counts from it.
	RetriedAt *time.Time
}

const notificationCols = `id, profile_id, notification_id, COALESCE(rule_id, ''), COALESCE(sink_source_id, ''), group_key,
	payload_json, state, attempts, next_attempt_at, last_error, delivered_at, created_at, seq, fingerprint, retried_at`

func scanNotification(r rowScanner) (Notification, error) {
	var n Notification
	var payload string
	err := r.Scan(&n.ID, &n.ProfileID, &n.NotificationID, &n.RuleID, &n.SinkSourceID, &n.GroupKey,
		&payload, &n.State, &n.Attempts, timeDest{&n.NextAttemptAt}, &n.LastError, nullTimeDest{&n.DeliveredAt},
		timeDest{&n.CreatedAt}, &n.Seq, &n.Fingerprint, nullTimeDest{&n.RetriedAt})
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
	if err := checkRows(rows); err != nil {
		return 0, err
	}
	inserted := 0
	err := o.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		inserted, err = o.enqueue(ctx, tx, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue notifications: %w", err)
	}
	return inserted, nil
}

// Record writes one alert evaluation in one transaction: its notification
// rows (as Enqueue) and the series states of ctx's profile (as
// AlertStates.Save), so a crash keeps both or neither. A state of a rule
// that no longer exists fails it all with ErrNotFound (write the rows and
// the states of the remaining rules separately then). It reports how many
// rows were new.
func (o *Outbox) Record(ctx context.Context, rows []NewNotification, states []AlertState) (int, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return 0, fmt.Errorf("record alert evaluation: %w", err)
	}
	if err := checkRows(rows); err != nil {
		return 0, err
	}
	for _, r := range rows {
		if r.ProfileID != p.ProfileID {
			return 0, fmt.Errorf("record alert evaluation: %w: notification %s is of another profile", ErrInvalid, r.NotificationID)
		}
	}
	inserted := 0
	err = o.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if inserted, err = o.enqueue(ctx, tx, rows); err != nil {
			return err
		}
		return saveStates(ctx, tx, p.ProfileID, states)
	})
	if err != nil {
		return 0, fmt.Errorf("record alert evaluation: %w", err)
	}
	return inserted, nil
}

func checkRows(rows []NewNotification) error {
	for _, r := range rows {
		if r.ProfileID == "" || r.NotificationID == "" || r.SinkSourceID == "" {
			return fmt.Errorf("enqueue notifications: %w: profile, notification id and sink are required", ErrInvalid)
		}
		if r.CreatedAt.IsZero() {
			return fmt.Errorf("enqueue notification %s: %w: no creation time", r.NotificationID, ErrInvalid)
		}
	}
	return nil
}

// enqueue inserts rows in tx (see Enqueue).
func (o *Outbox) enqueue(ctx context.Context, tx *sqlx.Tx, rows []NewNotification) (int, error) {
	inserted := 0
	if len(rows) > 0 {
		// SQLite cannot generate seq; the transaction holds the write lock
		// (BEGIN IMMEDIATE), so MAX+1 is safe. PostgreSQL uses the column's
		// sequence.
		var next int64
		if o.db.dialect == DialectSQLite {
			if err := queryRow(ctx, tx, `SELECT COALESCE(MAX(seq), 0) FROM notifications`).Scan(&next); err != nil {
				return 0, fmt.Errorf("next outbox seq: %w", mapErr(err))
			}
		}
		for _, r := range rows {
			first, err := o.firstAttempt(ctx, tx, r)
			if err != nil {
				return 0, err
			}
			payload := string(r.Payload)
			if payload == "" {
				payload = "{}"
			}
			cols := `id, profile_id, notification_id, rule_id, sink_source_id, group_key, payload_json, state,
				attempts, next_attempt_at, last_error, created_at, fingerprint`
			vals := `?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?, ?`
			args := []any{newID(), r.ProfileID, r.NotificationID, r.RuleID, r.SinkSourceID, r.GroupKey, payload,
				NotificationPending, first, r.CreatedAt, r.Fingerprint}
			if o.db.dialect == DialectSQLite {
				next++
				cols += `, seq`
				vals += `, ?`
				args = append(args, next)
			}
			res, err := exec(ctx, tx, `INSERT INTO notifications (`+cols+`) VALUES (`+vals+`)
				ON CONFLICT (profile_id, notification_id, sink_source_id) DO NOTHING`, args...)
			if err != nil {
				return 0, fmt.Errorf("insert notification %s: %w", r.NotificationID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("rows affected: %w", err)
			}
			inserted += int(n)
		}
	}
	return inserted, nil
}

// firstAttempt is when a new row may first be sent, Alertmanager's
// grouping: GroupWait after it was decided, so that others of its group
// decided meanwhile go in the same message; no sooner than GroupInterval
// after the group's last message (a group being sent right now counts as
// sent now); and with the group's rows already waiting when those are due
// earlier (it joins their message).
func (o *Outbox) firstAttempt(ctx context.Context, tx *sqlx.Tx, r NewNotification) (time.Time, error) {
	at := r.CreatedAt
	if r.GroupWait <= 0 && r.GroupInterval <= 0 {
		return at, nil
	}
	var lastSent, waiting *time.Time
	var sending int
	err := queryRow(ctx, tx, `SELECT
			(SELECT MAX(delivered_at) FROM notifications WHERE state = 'delivered'
				AND profile_id = ? AND sink_source_id = ? AND group_key = ?),
			(SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending' AND attempts = 0
				AND (claimed_until IS NULL OR claimed_until <= ?)
				AND profile_id = ? AND sink_source_id = ? AND group_key = ?),
			(SELECT COUNT(*) FROM notifications WHERE state = 'pending' AND claimed_until > ?
				AND profile_id = ? AND sink_source_id = ? AND group_key = ?)`,
		r.ProfileID, r.SinkSourceID, r.GroupKey,
		at, r.ProfileID, r.SinkSourceID, r.GroupKey,
		at, r.ProfileID, r.SinkSourceID, r.GroupKey).
		Scan(nullTimeDest{&lastSent}, nullTimeDest{&waiting}, &sending)
	if err != nil {
		return time.Time{}, fmt.Errorf("group times of notification %s: %w", r.NotificationID, mapErr(err))
	}
	if sending > 0 {
		lastSent = &at
	}
	next := at.Add(r.GroupWait)
	if lastSent != nil && lastSent.Add(r.GroupInterval).After(next) {
		next = lastSent.Add(r.GroupInterval)
	}
	if waiting != nil && waiting.Before(next) {
		next = *waiting
		if next.Before(at) {
			next = at
		}
	}
	return next, nil
}

// Claim leases up to limit due rows (pending, next_attempt_at <= now, not
// leased by someone else, and first pending row of their group) until
// now+lease, and returns them oldest first. See the package rules above.
func (o *Outbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error) {
	return o.ClaimGroups(ctx, now, lease, limit, 1)
}

// ClaimGroups is Claim that also leases, behind each group's first row,
// the rows of the same group that follow it without a gap and are due too
// (at most perGroup rows a group in all): a worker sends them as one
// message. limit counts groups. Rows come oldest first.
func (o *Outbox) ClaimGroups(ctx context.Context, now time.Time, lease time.Duration, limit, perGroup int) ([]Notification, error) {
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
		if err != nil || perGroup <= 1 {
			return err
		}
		heads := len(out)
		for i := range heads {
			more, err := o.claimFollowers(ctx, tx, out[i], now, lease, perGroup-1)
			if err != nil {
				return err
			}
			out = append(out, more...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	sortBySeq(out)
	return out, nil
}

// claimFollowers leases the due rows right behind head in its group (the
// head's lease keeps every other worker away from the group, so nobody
// else can take them meanwhile).
func (o *Outbox) claimFollowers(ctx context.Context, tx *sqlx.Tx, head Notification, now time.Time, lease time.Duration, max int) ([]Notification, error) {
	rows, err := query(ctx, tx, `SELECT `+notificationCols+` FROM notifications
		WHERE state = 'pending' AND profile_id = ? AND sink_source_id = ? AND group_key = ? AND seq > ?
		ORDER BY seq LIMIT ?`, head.ProfileID, head.SinkSourceID, head.GroupKey, head.Seq, max)
	if err != nil {
		return nil, fmt.Errorf("claim the rest of group %q: %w", head.GroupKey, err)
	}
	cand, err := collect(rows, scanNotification)
	if err != nil {
		return nil, err
	}
	var take []Notification
	for _, n := range cand {
		if n.NextAttemptAt.After(now) {
			break // not due: it and what follows wait for a later message
		}
		take = append(take, n)
	}
	if len(take) == 0 {
		return nil, nil
	}
	args := []any{now.Add(lease)}
	for _, n := range take {
		args = append(args, n.ID)
	}
	if _, err := exec(ctx, tx, `UPDATE notifications SET claimed_until = ? WHERE state = 'pending' AND id IN (?`+
		strings.Repeat(", ?", len(take)-1)+`)`, args...); err != nil {
		return nil, fmt.Errorf("claim the rest of group %q: %w", head.GroupKey, err)
	}
	return take, nil
}

func sortBySeq(ns []Notification) {
	slices.SortFunc(ns, func(a, b Notification) int { return cmp.Compare(a.Seq, b.Seq) })
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

// Notification statuses (sdk.NotificationStatus) a filter may name.
const (
	NotificationFiring   = "firing"
	NotificationResolved = "resolved"
)

// ErrNotDead: only a dead letter can be retried; a pending row is the
// worker's already and a delivered one was sent.
var ErrNotDead = fmt.Errorf("%w: only a dead notification can be retried", ErrConflict)

// NotificationFilter narrows List. Empty fields select everything; text
// fields match exactly.
type NotificationFilter struct {
	// State is pending, delivered or dead; empty lists every state.
	State string
	// RuleID, when set, keeps one rule's notifications.
	RuleID string
	// Fingerprint keeps one series' notifications (with RuleID: one
	// alert's).
	Fingerprint string
	// SinkSourceID keeps the rows of one sink.
	SinkSourceID string
	// Status is firing or resolved: what the notification announces.
	Status string
	// Since and Until bound the creation time: Since <= created_at < Until.
	Since, Until time.Time
}

func (f NotificationFilter) validate() error {
	switch f.State {
	case "", NotificationPending, NotificationDelivered, NotificationDead:
	default:
		return fmt.Errorf("%w: state %q is not pending, delivered or dead", ErrInvalid, f.State)
	}
	switch f.Status {
	case "", NotificationFiring, NotificationResolved:
	default:
		return fmt.Errorf("%w: status %q is not firing or resolved", ErrInvalid, f.Status)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return fmt.Errorf("%w: until must be after since", ErrInvalid)
	}
	return nil
}

// List returns the caller's profile's rows, newest first.
func (r *Notifications) List(ctx context.Context, f NotificationFilter, page Page) ([]Notification, string, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	if err := f.validate(); err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	var after int64
	resume, err := page.decode(&after)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	q := `SELECT ` + notificationCols + ` FROM notifications WHERE profile_id = ?`
	args := []any{p.ProfileID}
	for _, c := range []struct{ col, val string }{
		{"state", f.State}, {"rule_id", f.RuleID}, {"fingerprint", f.Fingerprint}, {"sink_source_id", f.SinkSourceID},
	} {
		if c.val != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.val)
		}
	}
	if f.Status != "" {
		// The status is in the payload only (the notification as JSON).
		status := `json_extract(payload_json, '$.status')`
		if r.db.dialect == DialectPostgres {
			status = `(payload_json::jsonb ->> 'status')`
		}
		q += ` AND ` + status + ` = ?`
		args = append(args, f.Status)
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, f.Since)
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, f.Until)
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

// Retry puts dead letter id of the caller's profile back in the queue: it
// becomes pending, due at now, with its attempts and last error kept until
// the next outcome replaces them, and a new give-up age counted from now
// (RetriedAt). It keeps its place (seq) in its group,
// so it is sent before any newer pending row of the group. A row that is
// not dead is returned as it is with an error wrapping ErrNotDead; another
// profile's row is ErrNotFound.
func (r *Notifications) Retry(ctx context.Context, id string, now time.Time) (Notification, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Notification{}, fmt.Errorf("retry notification %s: %w", id, err)
	}
	// In a transaction: a write, so it takes its turn at the write gate.
	var n Notification
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = scanNotification(queryRow(ctx, tx, `UPDATE notifications
			SET state = 'pending', next_attempt_at = ?, retried_at = ?, claimed_until = NULL
			WHERE profile_id = ? AND id = ? AND state = 'dead'
			RETURNING `+notificationCols, now, now, p.ProfileID, id))
		return err
	})
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Notification{}, fmt.Errorf("retry notification %s: %w", id, err)
	}
	cur, err := r.Get(ctx, id)
	if err != nil {
		return Notification{}, err
	}
	return cur, fmt.Errorf("retry notification %s: it is %s: %w", id, cur.State, ErrNotDead)
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
