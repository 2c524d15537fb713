package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/timerange"
)

// Limits of a dashboard. The schema in dashboards/dashboard.schema.json
// states the same ones for files.
const (
	GridColumns          = 12
	MaxCards             = 100
	MaxTitleLength       = 200
	MaxDescriptionLength = 2000
	MaxCardTypeLength    = 200
	MaxRefreshSeconds    = 86400
	MaxRow               = 10000
	MaxCardHeight        = 100
	MaxSlugLength        = 100
)

var (
	slugPattern   = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$`)
	cardIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	uuidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Card is one card of a dashboard: a card type with its options, placed on
// the 12-column grid.
type Card struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
	// Options is a JSON object, checked against the card type's options
	// schema when the card is queried (plugins come and go; a dashboard
	// outlives them).
	Options json.RawMessage `json:"options"`
	// TimeRange nil follows the dashboard's.
	TimeRange *timerange.Range `json:"time_range"`
	X         int              `json:"x"`
	Y         int              `json:"y"`
	W         int              `json:"w"`
	H         int              `json:"h"`
}

// Dashboard is a dashboard as the API shows it.
type Dashboard struct {
	ID             string          `json:"id"`
	Slug           string          `json:"slug"`
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	TimeRange      timerange.Range `json:"time_range"`
	RefreshSeconds int             `json:"refresh_seconds"`
	Cards          []Card          `json:"cards"`
	Version        int64           `json:"version"`
	ReadOnly       bool            `json:"read_only"`
	Provisioned    bool            `json:"provisioned"`
	CreatedBy      string          `json:"created_by"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// Summary is a dashboard in a list: without its cards, with their count.
type Summary struct {
	ID             string          `json:"id"`
	Slug           string          `json:"slug"`
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	TimeRange      timerange.Range `json:"time_range"`
	RefreshSeconds int             `json:"refresh_seconds"`
	CardCount      int             `json:"card_count"`
	Version        int64           `json:"version"`
	ReadOnly       bool            `json:"read_only"`
	Provisioned    bool            `json:"provisioned"`
	CreatedBy      string          `json:"created_by"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// Input is the part of a dashboard its author writes: what the create and
// update bodies carry, and (with a slug) a dashboards-as-code document.
type Input struct {
	// Slug empty means: derived from the title (create, import), or kept
	// (update).
	Slug        string `json:"slug"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// TimeRange nil means the default, now-24h → now.
	TimeRange      *timerange.Range `json:"time_range"`
	RefreshSeconds int              `json:"refresh_seconds"`
	Cards          []Card           `json:"cards"`
}

// Document is a dashboard as code: the files in dashboards/*.json, what
// export writes and import reads. It has no id, version or profile, so it
// moves between profiles and hosts.
type Document struct {
	// Schema is where an editor finds the JSON Schema; PUOD ignores it.
	Schema         string           `json:"$schema,omitempty"`
	Slug           string           `json:"slug"`
	Title          string           `json:"title"`
	Description    string           `json:"description"`
	TimeRange      *timerange.Range `json:"time_range"`
	RefreshSeconds int              `json:"refresh_seconds"`
	Cards          []Card           `json:"cards"`
}

// Input returns what the document sets.
func (d Document) Input() Input {
	return Input{Slug: d.Slug, Title: d.Title, Description: d.Description, TimeRange: d.TimeRange,
		RefreshSeconds: d.RefreshSeconds, Cards: d.Cards}
}

// MarshalJSON writes the document in a stable field order with the
// optional fields left out when empty.
func (d Document) MarshalJSON() ([]byte, error) {
	type card struct {
		ID        string           `json:"id"`
		Type      string           `json:"type"`
		Title     string           `json:"title,omitempty"`
		Options   json.RawMessage  `json:"options"`
		TimeRange *timerange.Range `json:"time_range,omitempty"`
		X         int              `json:"x"`
		Y         int              `json:"y"`
		W         int              `json:"w"`
		H         int              `json:"h"`
	}
	out := struct {
		Schema         string           `json:"$schema,omitempty"`
		Slug           string           `json:"slug"`
		Title          string           `json:"title"`
		Description    string           `json:"description,omitempty"`
		TimeRange      *timerange.Range `json:"time_range,omitempty"`
		RefreshSeconds int              `json:"refresh_seconds,omitempty"`
		Cards          []card           `json:"cards"`
	}{Schema: d.Schema, Slug: d.Slug, Title: d.Title, Description: d.Description, TimeRange: d.TimeRange,
		RefreshSeconds: d.RefreshSeconds, Cards: make([]card, 0, len(d.Cards))}
	for _, c := range d.Cards {
		out.Cards = append(out.Cards, card(c))
	}
	return json.Marshal(out)
}

// spec is what the store keeps in spec_json: everything but the columns.
type spec struct {
	Description    string          `json:"description"`
	TimeRange      timerange.Range `json:"time_range"`
	RefreshSeconds int             `json:"refresh_seconds"`
	Cards          []Card          `json:"cards"`
}

// specOf returns the stored form of a normalised input.
func specOf(in Input) ([]byte, error) {
	s := spec{Description: in.Description, RefreshSeconds: in.RefreshSeconds, Cards: in.Cards}
	if in.TimeRange != nil {
		s.TimeRange = *in.TimeRange
	}
	if s.Cards == nil {
		s.Cards = []Card{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	return b, nil
}

// ValidationError lists what is wrong with a dashboard, per field (JSON
// pointers into the body or document).
type ValidationError struct {
	Fields []api.FieldProblem
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid dashboard"
	}
	p := e.Fields[0]
	field := p.Field
	if field == "" {
		field = "document"
	}
	msg := fmt.Sprintf("invalid dashboard: %s %s", field, p.Message)
	if len(e.Fields) > 1 {
		msg += fmt.Sprintf(" (and %d more problems, listed in fields)", len(e.Fields)-1)
	}
	return msg
}

// Normalize checks a dashboard and fills its defaults in place: trimmed
// title, the default time range, an empty options object. now resolves
// relative time ranges, to check that each is a non-empty range. It returns
// every problem found, or nil. A missing slug is not a problem here
// (callers derive or keep one); requireCards makes a missing cards array
// one (an update replaces the whole dashboard, so it must say what it
// holds).
func (in *Input) Normalize(now time.Time, requireCards bool) []api.FieldProblem {
	var probs []api.FieldProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, api.FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if in.Slug != "" {
		if msg := slugProblem(in.Slug); msg != "" {
			add("/slug", "%s", msg)
		}
	}
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Title == "":
		add("/title", "is required")
	case utf8.RuneCountInString(in.Title) > MaxTitleLength:
		add("/title", "is longer than %d characters", MaxTitleLength)
	case hasControl(in.Title):
		add("/title", "contains a control character")
	}
	if utf8.RuneCountInString(in.Description) > MaxDescriptionLength {
		add("/description", "is longer than %d characters", MaxDescriptionLength)
	}
	if in.TimeRange == nil {
		in.TimeRange = &timerange.Range{}
	}
	*in.TimeRange = trimRange(in.TimeRange.WithDefaults())
	probs = append(probs, rangeProblems("/time_range", *in.TimeRange, now)...)
	if in.RefreshSeconds < 0 || in.RefreshSeconds > MaxRefreshSeconds {
		add("/refresh_seconds", "must be between 0 (only live updates) and %d", MaxRefreshSeconds)
	}
	switch {
	case in.Cards == nil && requireCards:
		add("/cards", "is required: send the dashboard's cards ([] for none)")
	case len(in.Cards) > MaxCards:
		add("/cards", "has %d cards; a dashboard holds at most %d", len(in.Cards), MaxCards)
	}
	if in.Cards == nil {
		in.Cards = []Card{}
	}
	seen := map[string]int{}
	for i := range in.Cards {
		c := &in.Cards[i]
		at := fmt.Sprintf("/cards/%d", i)
		switch {
		case !cardIDPattern.MatchString(c.ID):
			add(at+"/id", "must be 1 to 64 letters, digits, '-' or '_'")
		default:
			if j, dup := seen[c.ID]; dup {
				add(at+"/id", "%q is also the id of card %d: card ids must be unique", c.ID, j)
			} else {
				seen[c.ID] = i
			}
		}
		c.Type = strings.TrimSpace(c.Type)
		switch {
		case c.Type == "":
			add(at+"/type", "is required: a card type of GET /api/v1/card-types, e.g. puod.success_rate")
		case len(c.Type) > MaxCardTypeLength || hasControl(c.Type):
			add(at+"/type", "must be a card type name of at most %d characters", MaxCardTypeLength)
		}
		c.Title = strings.TrimSpace(c.Title)
		if utf8.RuneCountInString(c.Title) > MaxTitleLength || hasControl(c.Title) {
			add(at+"/title", "must be at most %d characters, without control characters", MaxTitleLength)
		}
		opts := bytes.TrimSpace(c.Options)
		switch {
		case len(opts) == 0 || bytes.Equal(opts, []byte("null")):
			c.Options = json.RawMessage(`{}`)
		case opts[0] != '{' || !json.Valid(opts):
			add(at+"/options", "must be a JSON object")
		default:
			c.Options = compact(opts)
		}
		if c.TimeRange != nil {
			r := trimRange(c.TimeRange.WithDefaults())
			c.TimeRange = &r
			probs = append(probs, rangeProblems(at+"/time_range", r, now)...)
		}
		if c.X < 0 || c.X >= GridColumns {
			add(at+"/x", "must be a column from 0 to %d", GridColumns-1)
		}
		if c.W < 1 || c.W > GridColumns {
			add(at+"/w", "must be from 1 to %d columns", GridColumns)
		} else if c.X >= 0 && c.X+c.W > GridColumns {
			add(at+"/w", "x + w is %d: the card ends past the %d-column grid; make it narrower or move it left", c.X+c.W, GridColumns)
		}
		if c.Y < 0 || c.Y > MaxRow {
			add(at+"/y", "must be a row from 0 to %d", MaxRow)
		}
		if c.H < 1 || c.H > MaxCardHeight {
			add(at+"/h", "must be from 1 to %d rows", MaxCardHeight)
		}
	}
	return probs
}

func trimRange(r timerange.Range) timerange.Range {
	return timerange.Range{From: strings.TrimSpace(r.From), To: strings.TrimSpace(r.To)}
}

// rangeProblems parses r (as card queries will) and reports why it does
// not parse.
func rangeProblems(at string, r timerange.Range, now time.Time) []api.FieldProblem {
	_, _, err := timerange.Parse(r, now)
	if err == nil {
		return nil
	}
	field := at
	var te *timerange.Error
	if errors.As(err, &te) && te.Field != "" {
		field = at + "/" + te.Field
		return []api.FieldProblem{{Field: field, Message: te.Message}}
	}
	return []api.FieldProblem{{Field: field, Message: err.Error()}}
}

// slugProblem says what is wrong with a slug, or "".
func slugProblem(s string) string {
	switch {
	case len(s) > MaxSlugLength || !slugPattern.MatchString(s):
		return fmt.Sprintf("must be 1 to %d lower-case letters, digits and inner hyphens (e.g. pipelines-overview)", MaxSlugLength)
	case uuidPattern.MatchString(s):
		return "must not look like a dashboard id (a UUID): /dashboards/{id} accepts both"
	}
	return ""
}

// Slugify derives a slug from a title: lower-case ASCII letters and
// digits, other runs of characters turned into one hyphen. A title with no
// letter or digit gives "dashboard".
func Slugify(title string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		default:
			if folded, ok := fold[r]; ok {
				if hyphen && b.Len() > 0 {
					b.WriteByte('-')
				}
				hyphen = false
				b.WriteString(folded)
				continue
			}
			hyphen = true
		}
		if b.Len() >= MaxSlugLength-8 {
			// Room for a "-<n>" suffix that makes it unique.
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" || uuidPattern.MatchString(s) {
		return "dashboard"
	}
	return s
}

// fold maps common accented letters to ASCII, so "Visão geral" becomes
// "visao-geral" rather than "vis-o-geral".
var fold = func() map[rune]string {
	m := map[rune]string{}
	for base, accented := range map[string]string{
		"a": "àáâãäåā", "c": "çć", "e": "èéêëē", "i": "ìíîïī", "n": "ñń", "o": "òóôõöøō", "u": "ùúûüū", "y": "ýÿ",
		"ss": "ß", "ae": "æ", "oe": "œ",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return json.RawMessage(b)
	}
	return buf.Bytes()
}
