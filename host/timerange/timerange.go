// Package timerange parses the time ranges of card queries and dashboards:
// {"from": "now-24h", "to": "now"}, where each end is "now", "now-<n><unit>"
// (unit s, m, h, d or w) or an RFC 3339 time.
package timerange

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Default ends, used when a range or one of its ends is absent.
const (
	DefaultFrom = "now-24h"
	DefaultTo   = "now"
)

// maxRelative bounds "now-<n><unit>" (about 100 years), so the arithmetic
// cannot overflow and a typo cannot ask for the age of the universe.
const maxRelative = 100 * 365 * 24 * time.Hour

// Range is a time range as the API and dashboards carry it: relative ends
// stay relative, so a cached or saved range follows the clock.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// WithDefaults fills absent ends with DefaultFrom and DefaultTo.
func (r Range) WithDefaults() Range {
	if strings.TrimSpace(r.From) == "" {
		r.From = DefaultFrom
	}
	if strings.TrimSpace(r.To) == "" {
		r.To = DefaultTo
	}
	return r
}

// String is the range's text ("now-24h..now"), e.g. for cache keys.
func (r Range) String() string {
	r = r.WithDefaults()
	return strings.TrimSpace(r.From) + ".." + strings.TrimSpace(r.To)
}

// Error is a range that cannot be parsed; Field is "from" or "to" (empty
// when the range as a whole is wrong).
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "time range: " + e.Message
	}
	return "time range " + e.Field + ": " + e.Message
}

// ErrInvalid matches every *Error with errors.Is.
var ErrInvalid = errors.New("invalid time range")

// Is makes errors.Is(err, ErrInvalid) true for an *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

const accepted = `use "now", "now-<n><unit>" with unit s, m, h, d or w (e.g. "now-24h", "now-7d"), or an RFC 3339 time (e.g. "2026-11-17T00:00:00Z")`

// Parse resolves r against now. Absent ends take the defaults (now-24h →
// now). Times are returned in UTC; from must be before to.
func Parse(r Range, now time.Time) (from, to time.Time, err error) {
	r = r.WithDefaults()
	from, err = parseEnd("from", r.From, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, err = parseEnd("to", r.To, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, &Error{Field: "from", Message: fmt.Sprintf("%q (%s) is not before to %q (%s): the range must not be empty",
			r.From, from.Format(time.RFC3339), r.To, to.Format(time.RFC3339))}
	}
	return from, to, nil
}

func parseEnd(field, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now.UTC(), nil
	}
	if rest, ok := strings.CutPrefix(s, "now-"); ok {
		d, err := relative(rest)
		if err != nil {
			return time.Time{}, &Error{Field: field, Message: fmt.Sprintf("%q: %v; %s", s, err, accepted)}
		}
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &Error{Field: field, Message: fmt.Sprintf("%q is not a time: %s", s, accepted)}
	}
	return t.UTC(), nil
}

var units = map[byte]time.Duration{
	's': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
}

// relative parses "<n><unit>".
func relative(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, errors.New("an amount and a unit are needed after now-")
	}
	unit, ok := units[s[len(s)-1]]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", s[len(s)-1:])
	}
	digits := s[:len(s)-1]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("the amount %q is not a whole number", digits)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 || n > int64(maxRelative/unit) {
		return 0, fmt.Errorf("the amount %q must be between 1 and %d", digits, int64(maxRelative/unit))
	}
	return time.Duration(n) * unit, nil
}
