package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/puod/puod/host/identity"
)

// AlertRule is a stored alert rule of a profile. The store keeps the rule
// (Spec) as opaque JSON: the alert package owns its shape and validation.
type AlertRule struct {
	// ID is the rule's id: the key of its alert states and of its
	// notifications. API-created rules get a generated one; rules as code
	// keep the id of their file.
	ID        string
	ProfileID string
	Name      string
	// Kind is the condition kind (alert.Kind…), kept as a column so the
	// engine and the UI can select rules without decoding them.
	Kind string
	// Spec is the rule as JSON (alert.Rule).
	Spec    json.RawMessage
	Enabled bool
	// Revision increases on every change; Update uses it for optimistic
	// locking.
	Revision int64
	// Provisioned rules come from rule files and are changed only by
	// loading them.
	Provisioned bool
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AlertRuleInput is what a caller sets; the rest is maintained by the store.
type AlertRuleInput struct {
	// ID is used by Create and Provision; empty means "generate one".
	ID          string
	Name        string
	Kind        string
	Spec        json.RawMessage
	Enabled     bool
	Provisioned bool
}

func (in *AlertRuleInput) validate() error {
	switch {
	case strings.TrimSpace(in.Name) == "":
		return fmt.Errorf("%w: alert rule name is empty", ErrInvalid)
	case strings.TrimSpace(in.Kind) == "":
		return fmt.Errorf("%w: alert rule kind is empty", ErrInvalid)
	}
	if len(in.Spec) == 0 || !json.Valid(in.Spec) {
		return fmt.Errorf("%w: alert rule spec is not valid JSON", ErrInvalid)
	}
	return nil
}

const alertRuleCols = `id, profile_id, name, kind, spec_json, enabled, revision, provisioned, created_by, created_at, updated_at`

func scanAlertRule(r rowScanner) (AlertRule, error) {
	var a AlertRule
	var spec string
	err := r.Scan(&a.ID, &a.ProfileID, &a.Name, &a.Kind, &spec, &a.Enabled, &a.Revision, &a.Provisioned,
		&a.CreatedBy, timeDest{&a.CreatedAt}, timeDest{&a.UpdatedAt})
	if err != nil {
		return AlertRule{}, mapErr(err)
	}
	a.Spec = json.RawMessage(spec)
	return a, nil
}

// AlertRules is the profile-scoped alert rule repository.
type AlertRules struct{ db *DB }

// AlertRules returns the profile-scoped alert rule repository.
func (db *DB) AlertRules() *AlertRules { return &AlertRules{db: db} }

// Create adds a rule to the caller's profile at revision 1. A name or id
// already used is ErrConflict.
func (r *AlertRules) Create(ctx context.Context, in AlertRuleInput) (AlertRule, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertRule{}, fmt.Errorf("create alert rule: %w", err)
	}
	if err := in.validate(); err != nil {
		return AlertRule{}, fmt.Errorf("create alert rule: %w", err)
	}
	out, err := insertAlertRule(ctx, r.db.x, p, in)
	if err != nil {
		return AlertRule{}, fmt.Errorf("create alert rule %q: %w", in.Name, err)
	}
	return out, nil
}

func insertAlertRule(ctx context.Context, q sqlx.ExtContext, p identity.Principal, in AlertRuleInput) (AlertRule, error) {
	now := Now()
	a := AlertRule{ID: in.ID, ProfileID: p.ProfileID, Name: in.Name, Kind: in.Kind, Spec: in.Spec, Enabled: in.Enabled,
		Revision: 1, Provisioned: in.Provisioned, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	if a.ID == "" {
		a.ID = newID()
	}
	_, err := exec(ctx, q, `INSERT INTO alert_rules (`+alertRuleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ProfileID, a.Name, a.Kind, string(a.Spec), a.Enabled, a.Revision, a.Provisioned, a.CreatedBy, a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return AlertRule{}, err
	}
	return a, nil
}

// Get returns a rule of the caller's profile.
func (r *AlertRules) Get(ctx context.Context, id string) (AlertRule, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertRule{}, fmt.Errorf("get alert rule: %w", err)
	}
	a, err := scanAlertRule(queryRow(ctx, r.db.x, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
	if err != nil {
		return AlertRule{}, fmt.Errorf("get alert rule %s: %w", id, err)
	}
	return a, nil
}

// List returns every rule of the caller's profile ordered by name.
func (r *AlertRules) List(ctx context.Context) ([]AlertRule, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? ORDER BY name, id`, p.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	out, err := collect(rows, scanAlertRule)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	return out, nil
}

// Update replaces a rule's name, kind, spec and enabled flag if its
// revision is still expectedRevision, and returns it at the next revision.
// A rule changed meanwhile, or a name taken by another rule, is
// ErrConflict; an unknown one is ErrNotFound. in.ID and in.Provisioned are
// ignored.
func (r *AlertRules) Update(ctx context.Context, id string, expectedRevision int64, in AlertRuleInput) (AlertRule, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertRule{}, fmt.Errorf("update alert rule: %w", err)
	}
	if err := in.validate(); err != nil {
		return AlertRule{}, fmt.Errorf("update alert rule %s: %w", id, err)
	}
	var out AlertRule
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		err := execOne(ctx, tx, `UPDATE alert_rules SET name = ?, kind = ?, spec_json = ?, enabled = ?,
			revision = revision + 1, updated_at = ? WHERE profile_id = ? AND id = ? AND revision = ?`,
			in.Name, in.Kind, string(in.Spec), in.Enabled, Now(), p.ProfileID, id, expectedRevision)
		if errors.Is(err, ErrNotFound) {
			cur, gerr := scanAlertRule(queryRow(ctx, tx, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
			if gerr != nil {
				return gerr
			}
			return fmt.Errorf("%w: alert rule is at revision %d, not %d: reload it and retry", ErrConflict, cur.Revision, expectedRevision)
		}
		if err != nil {
			return err
		}
		out, err = scanAlertRule(queryRow(ctx, tx, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
		return err
	})
	if err != nil {
		return AlertRule{}, fmt.Errorf("update alert rule %s: %w", id, err)
	}
	return out, nil
}

// Delete removes a rule of the caller's profile, and its alert states.
func (r *AlertRules) Delete(ctx context.Context, id string) error {
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("delete alert rule: %w", err)
	}
	// alert_states cascade on the foreign key; deleting them first keeps
	// SQLite connections without foreign_keys correct as well.
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := exec(ctx, tx, `DELETE FROM alert_states WHERE profile_id = ? AND rule_id = ?`, p.ProfileID, id); err != nil {
			return err
		}
		return execOne(ctx, tx, `DELETE FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, id)
	})
	if err != nil {
		return fmt.Errorf("delete alert rule %s: %w", id, err)
	}
	return nil
}

// Provision stores a rule loaded from a file under in.ID: inserted when
// new, replaced (next revision) when its name, kind, spec or enabled flag
// changed, left alone otherwise. changed says whether anything was
// written. An id or name held by a rule of the profile that is not
// provisioned is ErrConflict: files never take over rules people made.
// Ids are per profile: the same file loads into every profile.
func (r *AlertRules) Provision(ctx context.Context, in AlertRuleInput) (AlertRule, bool, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertRule{}, false, fmt.Errorf("provision alert rule: %w", err)
	}
	if strings.TrimSpace(in.ID) == "" {
		return AlertRule{}, false, fmt.Errorf("provision alert rule: %w: id is empty", ErrInvalid)
	}
	if err := in.validate(); err != nil {
		return AlertRule{}, false, fmt.Errorf("provision alert rule %s: %w", in.ID, err)
	}
	in.Provisioned = true
	var out AlertRule
	changed := false
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := scanAlertRule(queryRow(ctx, tx, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, in.ID))
		switch {
		case errors.Is(err, ErrNotFound):
			out, err = insertAlertRule(ctx, tx, p, in)
			changed = err == nil
			return err
		case err != nil:
			return err
		case !cur.Provisioned:
			return fmt.Errorf("%w: a rule made in the API has this id; rename one of them", ErrConflict)
		case cur.Name == in.Name && cur.Kind == in.Kind && cur.Enabled == in.Enabled && jsonEqual(cur.Spec, in.Spec):
			out = cur
			return nil
		}
		if err := execOne(ctx, tx, `UPDATE alert_rules SET name = ?, kind = ?, spec_json = ?, enabled = ?,
			revision = revision + 1, updated_at = ? WHERE profile_id = ? AND id = ?`,
			in.Name, in.Kind, string(in.Spec), in.Enabled, Now(), p.ProfileID, in.ID); err != nil {
			return err
		}
		changed = true
		out, err = scanAlertRule(queryRow(ctx, tx, `SELECT `+alertRuleCols+` FROM alert_rules WHERE profile_id = ? AND id = ?`, p.ProfileID, in.ID))
		return err
	})
	if err != nil {
		return AlertRule{}, false, fmt.Errorf("provision alert rule %s: %w", in.ID, err)
	}
	return out, changed, nil
}

// jsonEqual compares two JSON documents by value (PostgreSQL and SQLite
// both keep the text as written, but a rule re-encoded may differ in
// whitespace only).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// AlertState is the stored state of one (rule, series fingerprint) machine.
type AlertState struct {
	ProfileID   string
	RuleID      string
	Fingerprint string
	State       string
	Labels      map[string]string
	// Value is the series' last value as the engine rendered it, when it
	// is a number.
	Value      *float64
	Since      time.Time
	LastEvalAt *time.Time
	// Snapshot is the engine's whole snapshot (alert.SeriesState as JSON),
	// what a restarted engine restores.
	Snapshot json.RawMessage
	// AcknowledgedBy (a user id) and AcknowledgedAt are set while someone
	// has acknowledged the current episode.
	AcknowledgedBy string
	AcknowledgedAt *time.Time
	UpdatedAt      time.Time
}

const alertStateCols = `profile_id, rule_id, fingerprint, state, labels_json, value, since, last_eval_at, state_json,
	acknowledged_by, acknowledged_at, updated_at`

func scanAlertState(r rowScanner) (AlertState, error) {
	var s AlertState
	var labels, snap string
	var value sql.NullFloat64
	err := r.Scan(&s.ProfileID, &s.RuleID, &s.Fingerprint, &s.State, &labels, &value, timeDest{&s.Since},
		nullTimeDest{&s.LastEvalAt}, &snap, &s.AcknowledgedBy, nullTimeDest{&s.AcknowledgedAt}, timeDest{&s.UpdatedAt})
	if err != nil {
		return AlertState{}, mapErr(err)
	}
	if value.Valid {
		v := value.Float64
		s.Value = &v
	}
	if err := json.Unmarshal([]byte(labels), &s.Labels); err != nil {
		return AlertState{}, fmt.Errorf("alert state %s/%s: labels: %w", s.RuleID, s.Fingerprint, err)
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Snapshot = json.RawMessage(snap)
	return s, nil
}

// AlertStates is the profile-scoped repository of alert states.
type AlertStates struct{ db *DB }

// AlertStates returns the profile-scoped alert state repository.
func (db *DB) AlertStates() *AlertStates { return &AlertStates{db: db} }

// AlertStateFilter selects states; empty fields select everything.
type AlertStateFilter struct {
	State  string
	RuleID string
}

// List returns the states of the caller's profile, newest change first.
func (r *AlertStates) List(ctx context.Context, f AlertStateFilter) ([]AlertState, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("list alert states: %w", err)
	}
	q := `SELECT ` + alertStateCols + ` FROM alert_states WHERE profile_id = ?`
	args := []any{p.ProfileID}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.RuleID != "" {
		q += ` AND rule_id = ?`
		args = append(args, f.RuleID)
	}
	rows, err := query(ctx, r.db.x, q+` ORDER BY since DESC, rule_id, fingerprint`, args...)
	if err != nil {
		return nil, fmt.Errorf("list alert states: %w", err)
	}
	out, err := collect(rows, scanAlertState)
	if err != nil {
		return nil, fmt.Errorf("list alert states: %w", err)
	}
	return out, nil
}

// Get returns one state of the caller's profile.
func (r *AlertStates) Get(ctx context.Context, ruleID, fingerprint string) (AlertState, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertState{}, fmt.Errorf("get alert state: %w", err)
	}
	s, err := scanAlertState(queryRow(ctx, r.db.x, `SELECT `+alertStateCols+` FROM alert_states
		WHERE profile_id = ? AND rule_id = ? AND fingerprint = ?`, p.ProfileID, ruleID, fingerprint))
	if err != nil {
		return AlertState{}, fmt.Errorf("get alert state %s/%s: %w", ruleID, fingerprint, err)
	}
	return s, nil
}

// Save upserts states of the caller's profile (what the engine persists).
// An acknowledgement survives while the series stays pending or firing and
// is cleared when it leaves them, so the next episode starts
// unacknowledged. A state of an unknown rule is ErrNotFound.
func (r *AlertStates) Save(ctx context.Context, states []AlertState) error {
	p, err := identity.Require(ctx)
	if err != nil {
		return fmt.Errorf("save alert states: %w", err)
	}
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error { return saveStates(ctx, tx, p.ProfileID, states) })
	if err != nil {
		return fmt.Errorf("save alert states: %w", err)
	}
	return nil
}

// saveStates upserts the states of a profile in tx (see Save).
func saveStates(ctx context.Context, tx *sqlx.Tx, profileID string, states []AlertState) error {
	now := Now()
	for _, s := range states {
		labels, err := json.Marshal(s.Labels)
		if err != nil {
			return err
		}
		if s.Labels == nil {
			labels = []byte(`{}`)
		}
		snap := s.Snapshot
		if len(snap) == 0 {
			snap = json.RawMessage(`{}`)
		}
		if !json.Valid(snap) {
			return fmt.Errorf("%w: state of %s/%s: snapshot is not valid JSON", ErrInvalid, s.RuleID, s.Fingerprint)
		}
		var value any
		if s.Value != nil {
			value = *s.Value
		}
		_, err = exec(ctx, tx, `INSERT INTO alert_states (profile_id, rule_id, fingerprint, state, labels_json, value, since,
			last_eval_at, state_json, acknowledged_by, acknowledged_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, ?)
			ON CONFLICT (profile_id, rule_id, fingerprint) DO UPDATE SET state = excluded.state,
				labels_json = excluded.labels_json, value = excluded.value, since = excluded.since,
				last_eval_at = excluded.last_eval_at, state_json = excluded.state_json, updated_at = excluded.updated_at,
				acknowledged_by = CASE WHEN excluded.state IN ('pending', 'firing') THEN alert_states.acknowledged_by ELSE '' END,
				acknowledged_at = CASE WHEN excluded.state IN ('pending', 'firing') THEN alert_states.acknowledged_at ELSE NULL END`,
			profileID, s.RuleID, s.Fingerprint, s.State, string(labels), value, s.Since, timePtr(s.LastEvalAt), string(snap), now)
		if err != nil {
			return fmt.Errorf("state of %s/%s: %w", s.RuleID, s.Fingerprint, err)
		}
	}
	return nil
}

// ErrNotAcknowledgeable: the alert is neither pending nor firing.
var ErrNotAcknowledgeable = fmt.Errorf("%w: only a pending or firing alert can be acknowledged", ErrConflict)

// Acknowledge records that the caller acknowledged a pending or firing
// alert at at, and returns it. Acknowledging again keeps the first
// acknowledgement. An alert in another state is ErrNotAcknowledgeable.
func (r *AlertStates) Acknowledge(ctx context.Context, ruleID, fingerprint string, at time.Time) (AlertState, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return AlertState{}, fmt.Errorf("acknowledge alert: %w", err)
	}
	var out AlertState
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := scanAlertState(queryRow(ctx, tx, `SELECT `+alertStateCols+` FROM alert_states
			WHERE profile_id = ? AND rule_id = ? AND fingerprint = ?`, p.ProfileID, ruleID, fingerprint))
		if err != nil {
			return err
		}
		if cur.State != "pending" && cur.State != "firing" {
			return ErrNotAcknowledgeable
		}
		if cur.AcknowledgedAt != nil {
			out = cur
			return nil
		}
		if err := execOne(ctx, tx, `UPDATE alert_states SET acknowledged_by = ?, acknowledged_at = ?
			WHERE profile_id = ? AND rule_id = ? AND fingerprint = ?`, p.UserID, at, p.ProfileID, ruleID, fingerprint); err != nil {
			return err
		}
		out, err = scanAlertState(queryRow(ctx, tx, `SELECT `+alertStateCols+` FROM alert_states
			WHERE profile_id = ? AND rule_id = ? AND fingerprint = ?`, p.ProfileID, ruleID, fingerprint))
		return err
	})
	if err != nil {
		return AlertState{}, fmt.Errorf("acknowledge alert %s/%s: %w", ruleID, fingerprint, err)
	}
	return out, nil
}

// Silence is a stored silence of a profile. Matchers are opaque JSON: the
// silence package owns their shape and validation.
type Silence struct {
	ID        string
	ProfileID string
	Matchers  json.RawMessage
	StartsAt  time.Time
	EndsAt    time.Time
	Comment   string
	CreatedBy string
	CreatedAt time.Time
}

// SilenceInput is what a caller sets.
type SilenceInput struct {
	Matchers  json.RawMessage
	StartsAt  time.Time
	EndsAt    time.Time
	Comment   string
	CreatedBy string
}

const silenceCols = `id, profile_id, matchers_json, starts_at, ends_at, comment, created_by, created_at`

func scanSilence(r rowScanner) (Silence, error) {
	var s Silence
	var m string
	err := r.Scan(&s.ID, &s.ProfileID, &m, timeDest{&s.StartsAt}, timeDest{&s.EndsAt}, &s.Comment, &s.CreatedBy, timeDest{&s.CreatedAt})
	if err != nil {
		return Silence{}, mapErr(err)
	}
	s.Matchers = json.RawMessage(m)
	return s, nil
}

// Silences is the profile-scoped silence repository.
type Silences struct{ db *DB }

// Silences returns the profile-scoped silence repository.
func (db *DB) Silences() *Silences { return &Silences{db: db} }

// Create adds a silence to the caller's profile.
func (r *Silences) Create(ctx context.Context, in SilenceInput) (Silence, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Silence{}, fmt.Errorf("create silence: %w", err)
	}
	if len(in.Matchers) == 0 || !json.Valid(in.Matchers) {
		return Silence{}, fmt.Errorf("create silence: %w: matchers are not valid JSON", ErrInvalid)
	}
	if !in.EndsAt.After(in.StartsAt) {
		return Silence{}, fmt.Errorf("create silence: %w: ends_at is not after starts_at", ErrInvalid)
	}
	s := Silence{ID: newID(), ProfileID: p.ProfileID, Matchers: in.Matchers, StartsAt: normTime(in.StartsAt),
		EndsAt: normTime(in.EndsAt), Comment: in.Comment, CreatedBy: in.CreatedBy, CreatedAt: Now()}
	_, err = exec(ctx, r.db.x, `INSERT INTO silences (`+silenceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.ProfileID, string(s.Matchers), s.StartsAt, s.EndsAt, s.Comment, s.CreatedBy, s.CreatedAt)
	if err != nil {
		return Silence{}, fmt.Errorf("create silence: %w", err)
	}
	return s, nil
}

// Get returns a silence of the caller's profile.
func (r *Silences) Get(ctx context.Context, id string) (Silence, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Silence{}, fmt.Errorf("get silence: %w", err)
	}
	s, err := scanSilence(queryRow(ctx, r.db.x, `SELECT `+silenceCols+` FROM silences WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
	if err != nil {
		return Silence{}, fmt.Errorf("get silence %s: %w", id, err)
	}
	return s, nil
}

// List returns the caller's silences that end after since (every silence
// when since is zero), the latest ending first.
func (r *Silences) List(ctx context.Context, since time.Time) ([]Silence, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	rows, err := query(ctx, r.db.x, `SELECT `+silenceCols+` FROM silences WHERE profile_id = ? AND ends_at > ?
		ORDER BY ends_at DESC, id`, p.ProfileID, since)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	out, err := collect(rows, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

// Expire ends a silence of the caller's profile at now (a silence that has
// not started yet ends before it starts) and returns it. Silences are
// expired rather than deleted, so what muted an alert stays explainable. A
// silence that has ended already is returned unchanged.
func (r *Silences) Expire(ctx context.Context, id string, now time.Time) (Silence, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Silence{}, fmt.Errorf("expire silence: %w", err)
	}
	now = normTime(now)
	var out Silence
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := scanSilence(queryRow(ctx, tx, `SELECT `+silenceCols+` FROM silences WHERE profile_id = ? AND id = ?`, p.ProfileID, id))
		if err != nil {
			return err
		}
		if !cur.EndsAt.After(now) {
			out = cur
			return nil
		}
		if cur.StartsAt.After(now) {
			cur.StartsAt = now
		}
		cur.EndsAt = now
		if err := execOne(ctx, tx, `UPDATE silences SET starts_at = ?, ends_at = ? WHERE profile_id = ? AND id = ?`,
			cur.StartsAt, cur.EndsAt, p.ProfileID, id); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return Silence{}, fmt.Errorf("expire silence %s: %w", id, err)
	}
	return out, nil
}
