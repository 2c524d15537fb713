package alertapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/silence"
	"github.com/puod/puod/host/store"
)

// Publisher is the part of the bus the package uses: bus.Bus satisfies it.
type Publisher interface {
	Publish(ctx context.Context, ev bus.Event) error
}

// What an alert.changed event is about (Changed.Kind).
const (
	ChangedRule    = "rule"
	ChangedSilence = "silence"
	ChangedAlert   = "alert"
)

// Changed is the payload of bus.TopicAlertChanged published by this
// package: a rule or a silence was written, an alert acknowledged, or a
// dead notification put back in the queue (kind "notification"). The
// evaluation side reloads the profile's rules or silences on it; pages
// refresh.
type Changed struct {
	Kind      string `json:"kind"`
	RuleID    string `json:"rule_id,omitempty"`
	Revision  int64  `json:"revision,omitempty"`
	SilenceID string `json:"silence_id,omitempty"`
	AlertID   string `json:"alert_id,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
	// NotificationID is the API id of a retried notification.
	NotificationID string `json:"notification,omitempty"`
}

// Errors callers branch on (besides *ValidationError, *ConflictError and
// the store's ErrNotFound and ErrConflict).
var (
	// ErrReadOnly: the rule is loaded from a file; only loading changes it.
	ErrReadOnly = errors.New("this alert rule is loaded from a rule file and is read-only here; edit its file instead")
	// ErrNameTaken: another rule of the profile has the name.
	ErrNameTaken = errors.New("another alert rule of this profile has that name; choose another")
)

// ValidationError lists the problems of a request, field by field (JSON
// pointers into the body).
type ValidationError struct {
	What     string
	Problems []Problem
}

// Problem is one invalid field.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if p.Field == "" {
			parts[i] = p.Message
		} else {
			parts[i] = p.Field + ": " + p.Message
		}
	}
	return e.What + " is invalid: " + strings.Join(parts, "; ")
}

func invalid(what, field, msg string) *ValidationError {
	return &ValidationError{What: what, Problems: []Problem{{Field: field, Message: msg}}}
}

// ConflictError is an update based on an old revision: Current is the rule
// as stored now.
type ConflictError struct {
	Expected int64
	Current  Rule
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("alert rule %q was changed by someone else: it is at revision %d, your change is based on revision %d; "+
		"reload it (the stored rule is in \"current\"), apply your change again and send revision %d",
		e.Current.Name, e.Current.Revision, e.Expected, e.Current.Revision)
}

// Rule is an alert rule as the API shows it: the rule as written plus
// what the store maintains.
type Rule struct {
	alert.Rule
	Kind        string    `json:"kind"`
	Revision    int64     `json:"revision"`
	Provisioned bool      `json:"provisioned"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Alert is the current state of one series of a rule.
type Alert struct {
	// ID is "<rule id>:<fingerprint>".
	ID          string            `json:"id"`
	RuleID      string            `json:"rule_id"`
	RuleName    string            `json:"rule_name"`
	Severity    string            `json:"severity"`
	Fingerprint string            `json:"fingerprint"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Value       string            `json:"value,omitempty"`
	Since       time.Time         `json:"since"`
	ActiveSince *time.Time        `json:"active_since,omitempty"`
	LastEvalAt  *time.Time        `json:"last_eval_at,omitempty"`
	// AcknowledgedBy is the user id of who acknowledged the current
	// episode.
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	// HeldStatus is the status ("firing", "resolved") of a notification
	// held back by silences or inhibition, sent when they end; HeldBy
	// says what holds it ("silence <id>", "inhibited: source … is
	// unhealthy").
	HeldStatus string             `json:"held_status,omitempty"`
	HeldBy     []string           `json:"held_by,omitempty"`
	History    []alert.Transition `json:"history"`
}

// Silence statuses.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// Silence is a silence as the API shows it.
type Silence struct {
	silence.Silence
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Service manages the alert rules, alerts and silences of each profile.
// Every method acts in the profile of the context's principal.
type Service struct {
	log  hclog.Logger
	db   *store.DB
	pub  Publisher
	opts alert.Options
	now  func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCompileOptions sets what rules are compiled with (an anomaly
// Detector, once there is one).
func WithCompileOptions(o alert.Options) Option { return func(s *Service) { s.opts = o } }

// New returns the service. pub may be nil when nothing listens (tools).
func New(log hclog.Logger, db *store.DB, pub Publisher, opts ...Option) (*Service, error) {
	if db == nil {
		return nil, errors.New("alertapi: no store")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Service{log: log.Named("alertapi"), db: db, pub: pub, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// ruleView turns a stored rule into its API form.
func ruleView(a store.AlertRule) (Rule, error) {
	var r alert.Rule
	if err := json.Unmarshal(a.Spec, &r); err != nil {
		return Rule{}, fmt.Errorf("alert rule %s: stored rule is not valid: %w", a.ID, err)
	}
	r.ID, r.Name, r.Disabled = a.ID, a.Name, !a.Enabled
	if r.Sinks == nil {
		r.Sinks = []string{}
	}
	return Rule{Rule: r, Kind: a.Kind, Revision: a.Revision, Provisioned: a.Provisioned, CreatedBy: a.CreatedBy,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}, nil
}

// compile validates r and returns what the store keeps of it.
func (s *Service) compile(r alert.Rule) (store.AlertRuleInput, error) {
	c, err := alert.Compile(r, s.opts)
	if err != nil {
		var ps alert.Problems
		if errors.As(err, &ps) {
			ve := &ValidationError{What: "alert rule"}
			for _, p := range ps {
				ve.Problems = append(ve.Problems, Problem{Field: p.Field, Message: p.Message})
			}
			return store.AlertRuleInput{}, ve
		}
		return store.AlertRuleInput{}, err
	}
	spec := r
	// The id and the name live in their columns; the spec keeps the rest.
	spec.ID = ""
	b, err := json.Marshal(spec)
	if err != nil {
		return store.AlertRuleInput{}, fmt.Errorf("encode alert rule: %w", err)
	}
	return store.AlertRuleInput{ID: r.ID, Name: r.Name, Kind: c.Kind(), Spec: b, Enabled: !r.Disabled}, nil
}

// ListRules returns the caller's rules sorted by name.
func (s *Service) ListRules(ctx context.Context) ([]Rule, error) {
	rows, err := s.db.AlertRules().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(rows))
	for _, row := range rows {
		r, err := ruleView(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// GetRule returns one rule of the caller's profile.
func (s *Service) GetRule(ctx context.Context, id string) (Rule, error) {
	row, err := s.db.AlertRules().Get(ctx, id)
	if err != nil {
		return Rule{}, err
	}
	return ruleView(row)
}

// placeholderID stands for the id the store assigns, so a new rule
// validates before it has one.
const placeholderID = "new"

// CreateRule validates r and stores it under a new id. r.ID must be empty:
// the server assigns ids.
func (s *Service) CreateRule(ctx context.Context, r alert.Rule) (Rule, error) {
	if r.ID != "" {
		return Rule{}, invalid("alert rule", "/id", "is assigned by the server; leave it out")
	}
	r.ID = placeholderID
	in, err := s.compile(r)
	if err != nil {
		return Rule{}, err
	}
	in.ID = ""
	row, err := s.db.AlertRules().Create(ctx, in)
	if errors.Is(err, store.ErrConflict) {
		return Rule{}, ErrNameTaken
	}
	if err != nil {
		return Rule{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedRule, RuleID: row.ID, Revision: row.Revision})
	return ruleView(row)
}

// UpdateRule replaces rule id with r if it is still at revision.
func (s *Service) UpdateRule(ctx context.Context, id string, revision int64, r alert.Rule) (Rule, error) {
	if r.ID != "" && r.ID != id {
		return Rule{}, invalid("alert rule", "/id", "differs from the id in the path; an id cannot change")
	}
	cur, err := s.db.AlertRules().Get(ctx, id)
	if err != nil {
		return Rule{}, err
	}
	if cur.Provisioned {
		return Rule{}, ErrReadOnly
	}
	r.ID = id
	in, err := s.compile(r)
	if err != nil {
		return Rule{}, err
	}
	row, err := s.db.AlertRules().Update(ctx, id, revision, in)
	if errors.Is(err, store.ErrConflict) {
		now, gerr := s.db.AlertRules().Get(ctx, id)
		if gerr != nil {
			return Rule{}, gerr
		}
		if now.Revision != revision {
			v, verr := ruleView(now)
			if verr != nil {
				return Rule{}, verr
			}
			return Rule{}, &ConflictError{Expected: revision, Current: v}
		}
		return Rule{}, ErrNameTaken
	}
	if err != nil {
		return Rule{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedRule, RuleID: row.ID, Revision: row.Revision})
	return ruleView(row)
}

// DeleteRule removes a rule and its alert states, and returns what it was.
func (s *Service) DeleteRule(ctx context.Context, id string) (Rule, error) {
	cur, err := s.db.AlertRules().Get(ctx, id)
	if err != nil {
		return Rule{}, err
	}
	if cur.Provisioned {
		return Rule{}, ErrReadOnly
	}
	if err := s.db.AlertRules().Delete(ctx, id); err != nil {
		return Rule{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedRule, RuleID: id, Revision: cur.Revision, Deleted: true})
	return ruleView(cur)
}

// alertID is the API id of a series: rule ids cannot contain ':'.
func alertID(ruleID, fingerprint string) string { return ruleID + ":" + fingerprint }

func splitAlertID(id string) (ruleID, fingerprint string, ok bool) {
	ruleID, fingerprint, ok = strings.Cut(id, ":")
	return ruleID, fingerprint, ok && ruleID != ""
}

// AlertFilter selects alerts; empty fields select all.
type AlertFilter struct {
	State  string
	RuleID string
}

// ListAlerts returns the current alert states of the caller's profile,
// newest change first.
func (s *Service) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	rows, err := s.db.AlertStates().List(ctx, store.AlertStateFilter{State: f.State, RuleID: f.RuleID})
	if err != nil {
		return nil, err
	}
	rules, err := s.db.AlertRules().List(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.AlertRule, len(rules))
	for _, r := range rules {
		byID[r.ID] = r
	}
	out := make([]Alert, 0, len(rows))
	for _, row := range rows {
		out = append(out, alertView(row, byID[row.RuleID]))
	}
	return out, nil
}

func alertView(st store.AlertState, rule store.AlertRule) Alert {
	a := Alert{ID: alertID(st.RuleID, st.Fingerprint), RuleID: st.RuleID, RuleName: rule.Name, Fingerprint: st.Fingerprint,
		State: st.State, Labels: st.Labels, Since: st.Since, LastEvalAt: st.LastEvalAt, AcknowledgedBy: st.AcknowledgedBy,
		AcknowledgedAt: st.AcknowledgedAt, History: []alert.Transition{}}
	var spec struct {
		Severity string `json:"severity"`
	}
	if json.Unmarshal(rule.Spec, &spec) == nil {
		a.Severity = spec.Severity
	}
	var snap alert.SeriesState
	if json.Unmarshal(st.Snapshot, &snap) == nil {
		a.Value = snap.Value
		if !snap.ActiveSince.IsZero() {
			t := snap.ActiveSince
			a.ActiveSince = &t
		}
		if snap.History != nil {
			a.History = snap.History
		}
		a.HeldStatus, a.HeldBy = snap.Muted, snap.MutedBy
	}
	if a.Value == "" && st.Value != nil {
		a.Value = strconv.FormatFloat(*st.Value, 'g', -1, 64)
	}
	return a
}

// Acknowledge records that the caller acknowledged alert id now.
func (s *Service) Acknowledge(ctx context.Context, id string) (Alert, error) {
	ruleID, fp, ok := splitAlertID(id)
	if !ok {
		return Alert{}, fmt.Errorf("alert %q: %w", id, store.ErrNotFound)
	}
	st, err := s.db.AlertStates().Acknowledge(ctx, ruleID, fp, s.now())
	if err != nil {
		return Alert{}, err
	}
	rule, err := s.db.AlertRules().Get(ctx, ruleID)
	if err != nil {
		return Alert{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedAlert, RuleID: ruleID, AlertID: id})
	return alertView(st, rule), nil
}

func silenceView(row store.Silence, now time.Time) (Silence, error) {
	var ms []silence.Matcher
	if err := json.Unmarshal(row.Matchers, &ms); err != nil {
		return Silence{}, fmt.Errorf("silence %s: stored matchers are not valid: %w", row.ID, err)
	}
	if ms == nil {
		ms = []silence.Matcher{}
	}
	v := Silence{Silence: silence.Silence{ID: row.ID, Matchers: ms, StartsAt: row.StartsAt, EndsAt: row.EndsAt,
		CreatedBy: row.CreatedBy, Comment: row.Comment}, CreatedAt: row.CreatedAt}
	switch {
	case !now.Before(row.EndsAt):
		v.Status = SilenceExpired
	case now.Before(row.StartsAt):
		v.Status = SilencePending
	default:
		v.Status = SilenceActive
	}
	return v, nil
}

// ListSilences returns the caller's silences that have not ended, or every
// silence with expired.
func (s *Service) ListSilences(ctx context.Context, expired bool) ([]Silence, error) {
	now := s.now()
	since := now
	if expired {
		since = time.Time{}
	}
	rows, err := s.db.Silences().List(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]Silence, 0, len(rows))
	for _, row := range rows {
		v, err := silenceView(row, now)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// SilenceInput is what a caller sets of a silence; the author is the
// caller.
type SilenceInput struct {
	Matchers []silence.Matcher `json:"matchers"`
	// StartsAt defaults to now.
	StartsAt *time.Time `json:"starts_at"`
	EndsAt   time.Time  `json:"ends_at"`
	Comment  string     `json:"comment"`
}

// CreateSilence validates in and stores it, authored by the caller.
func (s *Service) CreateSilence(ctx context.Context, in SilenceInput) (Silence, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return Silence{}, err
	}
	now := s.now()
	sil := silence.Silence{Matchers: in.Matchers, EndsAt: in.EndsAt, CreatedBy: p.Username, Comment: in.Comment, StartsAt: now}
	if sil.CreatedBy == "" {
		sil.CreatedBy = p.UserID
	}
	if in.StartsAt != nil {
		sil.StartsAt = *in.StartsAt
	}
	compiled, err := silence.Compile(sil)
	var ps silence.Problems
	switch {
	case errors.As(err, &ps):
		ve := &ValidationError{What: "silence"}
		for _, p := range ps {
			ve.Problems = append(ve.Problems, Problem{Field: p.Field, Message: p.Message})
		}
		return Silence{}, ve
	case err != nil:
		return Silence{}, err
	case !compiled.EndsAt.After(now):
		return Silence{}, invalid("silence", "/ends_at", "is in the past: a silence must end in the future")
	}
	matchers, err := json.Marshal(compiled.Matchers)
	if err != nil {
		return Silence{}, fmt.Errorf("encode matchers: %w", err)
	}
	row, err := s.db.Silences().Create(ctx, store.SilenceInput{Matchers: matchers, StartsAt: compiled.StartsAt,
		EndsAt: compiled.EndsAt, Comment: compiled.Comment, CreatedBy: compiled.CreatedBy})
	if err != nil {
		return Silence{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedSilence, SilenceID: row.ID})
	return silenceView(row, now)
}

// ExpireSilence ends a silence now.
func (s *Service) ExpireSilence(ctx context.Context, id string) (Silence, error) {
	now := s.now()
	row, err := s.db.Silences().Expire(ctx, id, now)
	if err != nil {
		return Silence{}, err
	}
	s.publish(ctx, Changed{Kind: ChangedSilence, SilenceID: row.ID, Deleted: true})
	return silenceView(row, now)
}

// publish announces a change; a failure is logged, not returned: the
// write happened, and consumers also reload periodically.
func (s *Service) publish(ctx context.Context, ch Changed) {
	if s.pub == nil {
		return
	}
	p, ok := identity.From(ctx)
	if !ok {
		return
	}
	ev, err := bus.NewEvent(bus.TopicAlertChanged, p.ProfileID, ch)
	if err == nil {
		err = s.pub.Publish(context.WithoutCancel(ctx), ev)
	}
	if err != nil {
		s.log.Warn("could not publish an alerting change; evaluation picks it up on its next reload", "kind", ch.Kind, "error", err)
	}
}
