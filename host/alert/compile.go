package alert

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Problem is one thing wrong with a rule.
type Problem struct {
	// Field is the JSON pointer of the offending value in the rule
	// ("/condition/duration_above/threshold"); "" for the rule as a whole.
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Problems is every problem of one rule, so an editor fixes them in one
// round. It is the error Compile and Validate return; errors.Is(err,
// ErrInvalid) holds.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return "invalid alert rule: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for Problems.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// ErrInvalid matches every validation failure.
var ErrInvalid = errors.New("invalid alert rule")

// Options are what compiling a rule depends on beyond the rule itself.
type Options struct {
	// Detector evaluates anomaly conditions. Without one, an anomaly rule
	// is invalid ("not available yet").
	Detector Detector
}

// Labels the engine sets on every alert; a rule's own labels may not use
// these names.
const (
	LabelAlertName  = "alertname"
	LabelSeverity   = "severity"
	LabelSourceID   = "source_id"
	LabelPipeline   = "pipeline"
	LabelPipelineID = "pipeline_id"
	LabelSeries     = "series"
)

var reservedLabels = []string{LabelAlertName, LabelSeverity, LabelSourceID, LabelPipeline, LabelPipelineID, LabelSeries}

// Limits of a rule, so one rule cannot make evaluation expensive.
const (
	maxIDLength       = 100
	maxNameLength     = 200
	maxLabels         = 32
	maxTemplateLength = 4096
	// maxMetricWindow bounds what one evaluation reads.
	maxMetricWindow = 31 * 24 * time.Hour
)

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	labelPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// Compiled is a validated rule, ready for the Engine: durations parsed,
// selectors and templates compiled.
type Compiled struct {
	Rule Rule

	kind      string
	forDur    time.Duration
	group     groupSpec
	sel       selector
	templates map[string]*template.Template

	failStates []string
	threshold  time.Duration
	deadline   deadlineSpec
	interval   time.Duration
	metric     metricSpec
	detector   Detector
}

// Kind is the rule's condition kind.
func (c *Compiled) Kind() string { return c.kind }

// groupSpec is a parsed GroupPolicy.
type groupSpec struct {
	by                     []string
	wait, interval, repeat time.Duration
}

type selector struct {
	sources []string
	name    *regexp.Regexp
	tags    []string
	// prefix is what every selected name starts with, when the name is
	// a glob (indexed); the engine looks rules up by it.
	prefix  string
	indexed bool
}

type deadlineSpec struct {
	hour, minute int
	loc          *time.Location
	days         [7]bool
	window       time.Duration
}

type metricSpec struct {
	series string
	glob   *regexp.Regexp // nil: Series is a literal key
	window time.Duration
	agg    string
	op     string
	value  float64
}

// Validate reports the rule's problems (Problems), or nil. Anomaly rules
// are invalid here: validate them with Compile and a Detector.
func (r Rule) Validate() error {
	_, err := Compile(r, Options{})
	return err
}

// Compile validates r and prepares it for evaluation. The error is
// Problems, listing every problem found.
func Compile(r Rule, o Options) (*Compiled, error) {
	c := &Compiled{Rule: r, templates: map[string]*template.Template{}}
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch {
	case strings.TrimSpace(r.ID) == "":
		add("/id", "is required")
	case len(r.ID) > maxIDLength:
		add("/id", "is longer than %d characters", maxIDLength)
	case !idPattern.MatchString(r.ID):
		add("/id", "may contain only letters, digits, '_', '.' and '-', starting with a letter or digit")
	}
	switch {
	case strings.TrimSpace(r.Name) == "":
		add("/name", "is required")
	case len(r.Name) > maxNameLength:
		add("/name", "is longer than %d characters", maxNameLength)
	}
	switch r.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	case "":
		add("/severity", "is required: info, warning or critical")
	default:
		add("/severity", "must be info, warning or critical, not %q", r.Severity)
	}
	if len(r.Labels) > maxLabels {
		add("/labels", "has more than %d labels", maxLabels)
	}
	for _, k := range sortedKeys(r.Labels) {
		switch {
		case !labelPattern.MatchString(k):
			add("/labels/"+pointerEscape(k), "a label name must match [A-Za-z_][A-Za-z0-9_]*")
		case slices.Contains(reservedLabels, k):
			add("/labels/"+pointerEscape(k), "is set by PUOD on every alert; choose another name")
		}
	}
	d, err := r.For.Parse()
	switch {
	case err != nil:
		add("/for", "%v", err)
	case d < 0:
		add("/for", "must not be negative")
	}
	c.forDur = d
	for i, s := range r.Sinks {
		f := "/sinks/" + strconv.Itoa(i)
		switch {
		case strings.TrimSpace(s) == "":
			add(f, "is empty: give the source id of an alert sink")
		case slices.Index(r.Sinks, s) < i:
			add(f, "%q is listed twice", s)
		}
	}

	ps = append(ps, c.compileGroup(r.Group)...)
	ps = append(ps, c.compileSelector(r)...)
	ps = append(ps, c.compileCondition(r, o)...)
	ps = append(ps, c.compileTemplates(r)...)
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

func (c *Compiled) compileGroup(g GroupPolicy) Problems {
	var ps Problems
	c.group = groupSpec{by: g.By, wait: DefaultGroupWait, interval: DefaultGroupInterval, repeat: DefaultRepeat}
	for i, l := range g.By {
		f := "/group/by/" + strconv.Itoa(i)
		switch {
		case !labelPattern.MatchString(l):
			ps = append(ps, Problem{f, "a label name must match [A-Za-z_][A-Za-z0-9_]*"})
		case slices.Index(g.By, l) < i:
			ps = append(ps, Problem{f, fmt.Sprintf("%q is listed twice", l)})
		}
	}
	for _, d := range []struct {
		field string
		text  Duration
		dst   *time.Duration
		max   time.Duration
	}{
		{"/group/wait", g.Wait, &c.group.wait, time.Hour},
		{"/group/interval", g.Interval, &c.group.interval, 24 * time.Hour},
		{"/group/repeat", g.Repeat, &c.group.repeat, 30 * 24 * time.Hour},
	} {
		if d.text == "" {
			continue
		}
		v, err := d.text.Parse()
		switch {
		case err != nil:
			ps = append(ps, Problem{d.field, err.Error()})
		case v < 0:
			ps = append(ps, Problem{d.field, "must not be negative"})
		case v > d.max:
			ps = append(ps, Problem{d.field, "must be at most " + d.max.String()})
		default:
			*d.dst = v
		}
	}
	if c.group.repeat > 0 && c.group.repeat < time.Minute {
		ps = append(ps, Problem{"/group/repeat", "must be at least 1m (or 0s to never repeat)"})
	}
	return ps
}

func (c *Compiled) compileSelector(r Rule) Problems {
	var ps Problems
	s := r.Selector
	for i, id := range s.SourceIDs {
		if strings.TrimSpace(id) == "" {
			ps = append(ps, Problem{"/selector/source_ids/" + strconv.Itoa(i), "is empty"})
		}
	}
	c.sel.sources = s.SourceIDs
	switch {
	case s.Pipeline != "" && s.PipelineRegex != "":
		ps = append(ps, Problem{"/selector/pipeline_regex", "give either pipeline (a glob) or pipeline_regex, not both"})
	case s.Pipeline != "":
		c.sel.name = globRegexp(s.Pipeline)
		c.sel.prefix, _, _ = strings.Cut(s.Pipeline, "*")
		c.sel.prefix, _, _ = strings.Cut(c.sel.prefix, "?")
		c.sel.indexed = true
	case s.PipelineRegex != "":
		re, err := regexp.Compile(s.PipelineRegex)
		if err != nil {
			ps = append(ps, Problem{"/selector/pipeline_regex", "is not a valid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")})
		}
		c.sel.name = re
	}
	for i, t := range s.Tags {
		if strings.TrimSpace(t) == "" {
			ps = append(ps, Problem{"/selector/tags/" + strconv.Itoa(i), "is empty"})
		}
	}
	c.sel.tags = s.Tags
	return ps
}

// globRegexp turns a glob (* and ? wildcards) into an anchored regexp.
// Every glob is valid: anything but the wildcards is literal.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func (c *Compiled) compileCondition(r Rule, o Options) Problems {
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	positive := func(field string, d Duration) time.Duration {
		v, err := d.Parse()
		switch {
		case err != nil:
			add(field, "%v", err)
		case strings.TrimSpace(string(d)) == "":
			add(field, "is required")
		case v <= 0:
			add(field, "must be positive")
		}
		return v
	}
	ks := r.Condition.kinds()
	switch len(ks) {
	case 0:
		add("/condition", "is required: one of run_failed, duration_above, deadline, absence, metric_threshold, anomaly")
		return ps
	case 1:
	default:
		add("/condition", "has %s: a rule has exactly one condition", strings.Join(ks, " and "))
		return ps
	}
	c.kind = ks[0]
	cond := r.Condition
	switch c.kind {
	case KindRunFailed:
		c.failStates = []string{"failed", "timed_out"}
		if len(cond.RunFailed.States) > 0 {
			c.failStates = cond.RunFailed.States
		}
		for i, s := range cond.RunFailed.States {
			if !slices.Contains(failureStates, s) {
				add("/condition/run_failed/states/"+strconv.Itoa(i), "must be one of %s, not %q", strings.Join(failureStates, ", "), s)
			}
		}
	case KindDurationAbove:
		c.threshold = positive("/condition/duration_above/threshold", cond.DurationAbove.Threshold)
	case KindDeadline:
		dl, p := compileDeadline(cond.Deadline)
		c.deadline, ps = dl, append(ps, p...)
	case KindAbsence:
		c.interval = positive("/condition/absence/interval", cond.Absence.Interval)
	case KindMetricThreshold:
		m := cond.MetricThreshold
		const f = "/condition/metric_threshold/"
		if !r.Selector.IsZero() {
			add("/selector", "metric_threshold rules select by series, not by pipeline: remove the selector")
		}
		switch {
		case strings.TrimSpace(m.Series) == "":
			add(f+"series", "is required: a metric series key, or a glob such as \"sales.*\"")
		case strings.ContainsAny(m.Series, "*?"):
			c.metric.glob = globRegexp(m.Series)
		}
		c.metric.series = m.Series
		c.metric.window = positive(f+"window", m.Window)
		if c.metric.window > maxMetricWindow {
			add(f+"window", "must be at most %s", maxMetricWindow)
		}
		switch m.Agg {
		case AggAvg, AggMax, AggMin, AggSum, AggCount:
		default:
			add(f+"agg", "must be avg, max, min, sum or count, not %q", m.Agg)
		}
		switch m.Op {
		case ">", ">=", "<", "<=":
		default:
			add(f+"op", "must be >, >=, < or <=, not %q", m.Op)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			add(f+"value", "must be a finite number")
		}
		c.metric.agg, c.metric.op, c.metric.value = m.Agg, m.Op, m.Value
	case KindAnomaly:
		if o.Detector == nil {
			add("/condition/anomaly", "anomaly detection is not available yet: use duration_above or metric_threshold for now")
			break
		}
		if strings.TrimSpace(cond.Anomaly.Series) == "" {
			add("/condition/anomaly/series", "is required: \"duration\" or a metric series key")
		}
		for _, p := range o.Detector.Validate(*cond.Anomaly) {
			p.Field = "/condition/anomaly" + p.Field
			ps = append(ps, p)
		}
		c.detector = o.Detector
	}
	return ps
}

var failureStates = []string{"failed", "timed_out", "cancelled", "skipped"}

func compileDeadline(d *Deadline) (deadlineSpec, Problems) {
	const f = "/condition/deadline/"
	var (
		ps Problems
		s  deadlineSpec
	)
	if m := clockPattern.FindStringSubmatch(d.Time); m == nil {
		ps = append(ps, Problem{f + "time", fmt.Sprintf("%q is not a time of day: use HH:MM on a 24-hour clock, e.g. \"06:00\"", d.Time)})
	} else {
		s.hour, _ = strconv.Atoi(m[1])
		s.minute, _ = strconv.Atoi(m[2])
	}
	s.loc = time.UTC
	if d.TimeZone != "" {
		loc, err := time.LoadLocation(d.TimeZone)
		if err != nil || strings.EqualFold(d.TimeZone, "local") {
			ps = append(ps, Problem{f + "time_zone", fmt.Sprintf("%q is not an IANA time zone: use a name such as \"Europe/Lisbon\" or \"UTC\"", d.TimeZone)})
		} else {
			s.loc = loc
		}
	}
	days, err := parseDays(d.Days)
	if err != nil {
		ps = append(ps, Problem{f + "days", err.Error()})
	}
	s.days = days
	w, err := d.Window.Parse()
	switch {
	case err != nil:
		ps = append(ps, Problem{f + "window", err.Error()})
	case w < 0 || (w == 0 && strings.TrimSpace(string(d.Window)) != ""):
		ps = append(ps, Problem{f + "window", "must be positive"})
	case w > 7*24*time.Hour:
		ps = append(ps, Problem{f + "window", "must be at most 7d"})
	}
	s.window = w
	return s, ps
}

var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// parseDays parses a cron day-of-week field.
func parseDays(field string) ([7]bool, error) {
	var days [7]bool
	field = strings.TrimSpace(strings.ToLower(field))
	if field == "" || field == "*" {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	bad := fmt.Errorf("%q is not a day-of-week field: use \"*\", names or numbers (0 or 7 = Sunday), lists and ranges, e.g. \"mon-fri\" or \"sat,sun\"", field)
	day := func(s string) (int, bool) {
		if n, ok := dayNames[s]; ok {
			return n, true
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 7 {
			return 0, false
		}
		return n % 7, true
	}
	for part := range strings.SplitSeq(field, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := day(lo)
		if !ok {
			return days, bad
		}
		b := a
		if isRange {
			if b, ok = day(hi); !ok {
				return days, bad
			}
			if hi == "7" {
				b = 7
			}
		}
		if b < a {
			return days, bad
		}
		for i := a; i <= b; i++ {
			days[i%7] = true
		}
	}
	return days, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// pointerEscape escapes a JSON pointer token (RFC 6901).
func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
