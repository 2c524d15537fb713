// Package silence owns silences: label matchers with a time span, an
// author and a comment, that mute matching alerts. It is pure — no store,
// no HTTP — so the dispatcher, the API and the UI preview share one
// definition of "is this alert silenced now?". A later step adds the
// repository (table silences) and the API.
package silence

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Matcher operators, as in Alertmanager.
const (
	OpEqual     = "="
	OpNotEqual  = "!="
	OpRegexp    = "=~"
	OpNotRegexp = "!~"
)

// Matcher tests one label. A missing label has the value "", so
// {team!="x"} matches an alert without a team, as in Alertmanager.
type Matcher struct {
	Name  string `json:"name" yaml:"name"`
	Op    string `json:"op" yaml:"op"`
	Value string `json:"value" yaml:"value"`

	re *regexp.Regexp
}

// Silence mutes the alerts whose labels match every matcher while
// StartsAt <= now < EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	// Comment says why; required, because a silence nobody can explain is
	// one nobody dares to expire.
	Comment string `json:"comment"`
}

// Problem is one thing wrong with a silence; Field is a JSON pointer.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problems is every problem of one silence; errors.Is(err, ErrInvalid).
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid silence: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for Problems.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// ErrInvalid matches every validation failure.
var ErrInvalid = errors.New("invalid silence")

// MaxDuration bounds a silence, so a forgotten one expires.
const MaxDuration = 90 * 24 * time.Hour

// Compile validates s and compiles its regular expressions. Regexps are
// anchored (the whole value must match), as in Alertmanager. A silence
// must have at least one matcher that does not match the empty string,
// so no silence mutes everything by accident.
func Compile(s Silence) (Silence, error) {
	var ps Problems
	add := func(f, format string, args ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, args...)}) }
	if len(s.Matchers) == 0 {
		add("/matchers", "at least one matcher is required")
	}
	out := s
	out.Matchers = slices.Clone(s.Matchers)
	narrow := false
	for i := range out.Matchers {
		m := &out.Matchers[i]
		f := "/matchers/" + strconv.Itoa(i)
		if strings.TrimSpace(m.Name) == "" {
			add(f+"/name", "is required")
		}
		switch m.Op {
		case OpEqual, OpNotEqual:
		case OpRegexp, OpNotRegexp:
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				add(f+"/value", "is not a valid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				continue
			}
			m.re = re
		default:
			add(f+"/op", "must be =, !=, =~ or !~, not %q", m.Op)
			continue
		}
		if !m.Matches(nil) {
			narrow = true
		}
	}
	if len(s.Matchers) > 0 && len(ps) == 0 && !narrow {
		add("/matchers", "every matcher also matches an alert without that label: the silence would mute everything")
	}
	switch {
	case s.StartsAt.IsZero():
		add("/starts_at", "is required")
	case s.EndsAt.IsZero():
		add("/ends_at", "is required")
	case !s.EndsAt.After(s.StartsAt):
		add("/ends_at", "must be after starts_at")
	case s.EndsAt.Sub(s.StartsAt) > MaxDuration:
		add("/ends_at", "a silence lasts at most %d days", int(MaxDuration/(24*time.Hour)))
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		add("/created_by", "is required")
	}
	if strings.TrimSpace(s.Comment) == "" {
		add("/comment", "is required: say why, so others know when it may end")
	}
	if len(ps) > 0 {
		return Silence{}, ps
	}
	return out, nil
}

// Matches tests the matcher on labels. Call it on matchers of a compiled
// silence.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case OpEqual:
		return v == m.Value
	case OpNotEqual:
		return v != m.Value
	case OpRegexp:
		return m.re != nil && m.re.MatchString(v)
	case OpNotRegexp:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

// Active reports whether the silence is in force at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Mutes reports whether the (compiled) silence mutes an alert with labels
// at now.
func (s Silence) Mutes(labels map[string]string, now time.Time) bool {
	if !s.Active(now) || len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// Set is a snapshot of a profile's compiled silences.
type Set []Silence

// Muting returns the ids of the silences that mute labels at now (empty
// when the alert may be sent).
func (set Set) Muting(labels map[string]string, now time.Time) []string {
	var ids []string
	for _, s := range set {
		if s.Mutes(labels, now) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
