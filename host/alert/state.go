package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is where a series is in its alert lifecycle.
type State string

// States (see the package documentation for the machine).
const (
	StateNormal   State = "normal"
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Transition is one recorded change of a series. From == To marks an
// event inside a state (a resolve held back by flap damping, or released).
type Transition struct {
	RuleID      string    `json:"rule_id"`
	Fingerprint string    `json:"fingerprint"`
	Seq         int64     `json:"seq"`
	From        State     `json:"from"`
	To          State     `json:"to"`
	At          time.Time `json:"at"`
	Value       string    `json:"value,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

// SeriesState is a snapshot of one (rule, fingerprint) machine: what
// alert_states stores and what Restore takes back.
type SeriesState struct {
	RuleID      string            `json:"rule_id"`
	Fingerprint string            `json:"fingerprint"`
	State       State             `json:"state"`
	Labels      map[string]string `json:"labels"`
	Value       string            `json:"value,omitempty"`
	// Since is when State was entered.
	Since time.Time `json:"since"`
	// ActiveSince is when the condition became active in the current
	// episode (zero when inactive): the alert's start.
	ActiveSince time.Time `json:"active_since,omitzero"`
	// Seq counts the episodes that reached firing.
	Seq int64 `json:"seq"`
	// Held is true while a flapping series' resolve is held back; it has
	// been inactive since InactiveSince.
	Held          bool      `json:"held,omitempty"`
	InactiveSince time.Time `json:"inactive_since,omitzero"`
	// Resolves are the recent resolve times flap detection counts.
	Resolves   []time.Time `json:"resolves,omitempty"`
	LastEvalAt time.Time   `json:"last_eval_at,omitzero"`
	// DeadlineAt is the last deadline occurrence evaluated (deadline
	// rules): persisted, it lets a restarted engine evaluate the deadlines
	// that passed while it was down.
	DeadlineAt time.Time `json:"deadline_at,omitzero"`
	// Notified is the last status notified ("firing", "resolved") in the
	// current episode, "" before any; NotifiedAt is when, for repeats, and
	// Repeats counts the repeats of the episode.
	Notified   string    `json:"notified,omitempty"`
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	Repeats    int       `json:"repeats,omitempty"`
	// Muted is the status of a notification held back by the Muter, ""
	// when none is; MutedAt is when it was decided and MutedBy why.
	Muted   string    `json:"muted,omitempty"`
	MutedAt time.Time `json:"muted_at,omitzero"`
	MutedBy []string  `json:"muted_by,omitempty"`
	// History is the most recent transitions, oldest first (bounded by
	// Config.HistoryLimit).
	History []Transition `json:"history,omitempty"`
}

// FlapPolicy damps flapping; see the package documentation.
type FlapPolicy struct {
	// Resolves within Window that make a series flapping; 0 disables
	// damping. Default 3.
	Resolves int
	// Window is how far back resolves are counted. Default 1h.
	Window time.Duration
	// Stable is how long a flapping series must stay inactive before it
	// resolves. Default 15m.
	Stable time.Duration
}

func (f FlapPolicy) withDefaults() FlapPolicy {
	if f.Resolves == 0 && f.Window == 0 && f.Stable == 0 {
		return FlapPolicy{Resolves: 3, Window: time.Hour, Stable: 15 * time.Minute}
	}
	if f.Window <= 0 {
		f.Window = time.Hour
	}
	if f.Stable <= 0 {
		f.Stable = 15 * time.Minute
	}
	return f
}

// runMark is the newest run a series was evaluated on, so a duplicated or
// late event cannot move the series backwards.
type runMark struct {
	id, state string
	sortAt    time.Time
}

// series is one machine with what evaluation needs besides the snapshot.
type series struct {
	SeriesState
	active    bool
	threshold string
	data      TemplateData
	mark      runMark
}

func (s *series) clone() *series {
	c := *s
	c.Labels = maps.Clone(s.Labels)
	c.Resolves = slices.Clone(s.Resolves)
	c.History = slices.Clone(s.History)
	c.MutedBy = slices.Clone(s.MutedBy)
	return &c
}

func (s *series) snapshot() SeriesState {
	out := s.SeriesState
	out.Labels = maps.Clone(s.Labels)
	out.Resolves = slices.Clone(s.Resolves)
	out.History = slices.Clone(s.History)
	out.MutedBy = slices.Clone(s.MutedBy)
	return out
}

// fingerprint identifies a series by its identity labels (not the rule's
// own labels, so editing those keeps the state).
func fingerprint(kv ...string) string {
	h := sha256.Sum256([]byte(strings.Join(kv, "\x00")))
	return hex.EncodeToString(h[:8])
}

// notificationID is stable per (profile, rule, fingerprint, episode,
// status, repeat): the same decision always yields the same id.
func notificationID(profileID, ruleID, fp string, seq int64, status string, repeat int) string {
	parts := []string{profileID, ruleID, fp, strconv.FormatInt(seq, 10), status}
	if repeat > 0 {
		parts = append(parts, "repeat", strconv.Itoa(repeat))
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}
