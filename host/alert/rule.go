package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Severities.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Condition kinds, as stored in alert_rules.kind.
const (
	KindRunFailed       = "run_failed"
	KindDurationAbove   = "duration_above"
	KindDeadline        = "deadline"
	KindAbsence         = "absence"
	KindMetricThreshold = "metric_threshold"
	KindAnomaly         = "anomaly"
)

// Rule is an alert rule as an editor writes it, in the API (JSON) or in a
// file (YAML). It is declarative: durations, globs and templates are text,
// and Compile turns a valid rule into what the Engine evaluates, so every
// mistake is reported with its field instead of failing at decode time.
type Rule struct {
	// ID identifies the rule within its profile; notification ids and
	// alert states are keyed by it, so it must not change when the rule
	// is edited.
	ID string `json:"id" yaml:"id"`
	// Name is what people see ("ETL_Vendas slower than 5 minutes").
	Name string `json:"name" yaml:"name"`
	// Severity is info, warning or critical; sinks use it for colour and
	// routing.
	Severity string `json:"severity" yaml:"severity"`
	// Labels are added to every alert of the rule; grouping and silences
	// match on them.
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// Selector chooses the pipelines a run-based rule watches. Empty
	// selects every pipeline. Metric rules select by series instead and
	// must leave it empty.
	Selector Selector `json:"selector,omitzero" yaml:"selector,omitempty"`
	// Condition says when a series is active; exactly one kind is set.
	Condition Condition `json:"condition" yaml:"condition"`
	// For is how long a series must stay active before it fires (pending
	// until then). Empty or "0s" fires at once. It filters out blips that
	// fix themselves; it is measured on the evaluation clock, so a
	// condition only checked on events (run_failed) fires at the first
	// tick after `for` has elapsed.
	For Duration `json:"for,omitempty" yaml:"for,omitempty"`
	// Annotations are Go text/template strings rendered for each
	// notification. Keys summary and description are used as the
	// message's title and body; others travel as they are. See
	// TemplateData for what a template can read.
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	// Sinks are the source ids of the alert-sink instances to notify.
	Sinks []string `json:"sinks" yaml:"sinks"`
	// Group says how the rule's notifications are gathered into messages
	// (see GroupPolicy); empty takes the defaults.
	Group GroupPolicy `json:"group,omitzero" yaml:"group,omitempty"`
	// Disabled rules are validated but not evaluated.
	Disabled bool `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	// NotifyFrom is not part of the rule as written: the host sets it to
	// shortly before the rule's creation (host/alerting HistoryGrace). A
	// run that ended before it is history: it moves
	// the rule's alerts (the UI shows them) but notifies nobody, so a rule
	// added over weeks of runs, or a first start that collects them, does
	// not page once per old failure; an alert left firing by history is
	// notified when a live run confirms it. Zero notifies every run.
	NotifyFrom time.Time `json:"-" yaml:"-"`
}

// Selector chooses pipelines. Every non-empty field must match (AND);
// within a list, any element matches (OR), except Tags where all are
// required.
type Selector struct {
	// SourceIDs limits the rule to pipelines of these sources.
	SourceIDs []string `json:"source_ids,omitempty" yaml:"source_ids,omitempty"`
	// Pipeline is a glob over the pipeline's name: * matches any run of
	// characters (including "/"), ? one character; everything else is
	// literal and case-sensitive. "ETL_*" matches "ETL_Vendas".
	Pipeline string `json:"pipeline,omitempty" yaml:"pipeline,omitempty"`
	// PipelineRegex is a Go regular expression (RE2) over the pipeline's
	// name, unanchored; use ^…$ to match the whole name and (?i) to ignore
	// case. At most one of Pipeline and PipelineRegex.
	PipelineRegex string `json:"pipeline_regex,omitempty" yaml:"pipeline_regex,omitempty"`
	// Tags must all be present on the pipeline.
	Tags []string `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// Grouping defaults: short, because a pipeline alert is worth most in its
// first minute (Alertmanager's are 30s / 5m / 4h).
const (
	DefaultGroupWait     = 500 * time.Millisecond
	DefaultGroupInterval = 10 * time.Second
	DefaultRepeat        = 4 * time.Hour
)

// GroupPolicy gathers notifications, as Alertmanager's routes do. The
// notifications of one rule and sink whose By labels are equal form a
// group; a group is one message per send, listing its alerts.
type GroupPolicy struct {
	// By are the label names that split the rule's alerts into groups
	// ("pipeline" gives each pipeline its own messages). Empty: one group
	// per rule.
	By []string `json:"by,omitempty" yaml:"by,omitempty"`
	// Wait is how long the first notification of a group (one that sent
	// nothing within Interval) waits for others to join it. Default 500ms;
	// "0s" sends at once.
	Wait Duration `json:"wait,omitempty" yaml:"wait,omitempty"`
	// Interval is the shortest time between two messages of a group:
	// notifications decided meanwhile wait and go together. Default 10s.
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// Repeat re-sends a firing alert that is still firing (and not
	// silenced) after this long without a message about it. Default 4h;
	// "0s" never repeats.
	Repeat Duration `json:"repeat,omitempty" yaml:"repeat,omitempty"`
}

// IsZero reports whether the policy sets nothing (all defaults).
func (g GroupPolicy) IsZero() bool {
	return len(g.By) == 0 && g.Wait == "" && g.Interval == "" && g.Repeat == ""
}

// IsZero reports whether the selector selects everything.
func (s Selector) IsZero() bool {
	return len(s.SourceIDs) == 0 && s.Pipeline == "" && s.PipelineRegex == "" && len(s.Tags) == 0
}

// Condition is a one-of: exactly one field is set.
type Condition struct {
	// RunFailed is active after a run of the pipeline ended failed (or in
	// one of States), and inactive again after a run succeeded.
	RunFailed *RunFailed `json:"run_failed,omitempty" yaml:"run_failed,omitempty"`
	// DurationAbove is active while the pipeline's latest run took, or is
	// taking, longer than Threshold; a finished run within the threshold
	// makes it inactive.
	DurationAbove *DurationAbove `json:"duration_above,omitempty" yaml:"duration_above,omitempty"`
	// Deadline is active when the pipeline has not succeeded by a time of
	// day.
	Deadline *Deadline `json:"deadline,omitempty" yaml:"deadline,omitempty"`
	// Absence is active when the pipeline has had no run for Interval.
	Absence *Absence `json:"absence,omitempty" yaml:"absence,omitempty"`
	// MetricThreshold compares an aggregate of a business metric over a
	// trailing window with a value.
	MetricThreshold *MetricThreshold `json:"metric_threshold,omitempty" yaml:"metric_threshold,omitempty"`
	// Anomaly is reserved for anomaly detection; it validates only when a
	// Detector is registered (Options.Detector).
	Anomaly *Anomaly `json:"anomaly,omitempty" yaml:"anomaly,omitempty"`
}

// Kind returns the kind of the single condition set, "" when none is, and
// the first one when several are (validation rejects that).
func (c Condition) Kind() string {
	ks := c.kinds()
	if len(ks) == 0 {
		return ""
	}
	return ks[0]
}

func (c Condition) kinds() []string {
	var ks []string
	if c.RunFailed != nil {
		ks = append(ks, KindRunFailed)
	}
	if c.DurationAbove != nil {
		ks = append(ks, KindDurationAbove)
	}
	if c.Deadline != nil {
		ks = append(ks, KindDeadline)
	}
	if c.Absence != nil {
		ks = append(ks, KindAbsence)
	}
	if c.MetricThreshold != nil {
		ks = append(ks, KindMetricThreshold)
	}
	if c.Anomaly != nil {
		ks = append(ks, KindAnomaly)
	}
	return ks
}

// RunFailed has no required parameters.
type RunFailed struct {
	// States are the run states that count as a failure; default failed
	// and timed_out. A cancelled run is usually a person's decision, so it
	// is not a failure unless listed.
	States []string `json:"states,omitempty" yaml:"states,omitempty"`
}

// DurationAbove fires on slow runs.
type DurationAbove struct {
	// Threshold is the longest acceptable run duration ("5m").
	Threshold Duration `json:"threshold" yaml:"threshold"`
}

// Deadline fires when a pipeline has not succeeded by a time of day.
type Deadline struct {
	// Time is the local time of day, "HH:MM" (24-hour clock).
	Time string `json:"time" yaml:"time"`
	// TimeZone is an IANA zone name ("Europe/Lisbon"); daylight saving is
	// followed. Default UTC.
	TimeZone string `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
	// Days is a cron day-of-week field: "*" (default), names or numbers
	// (0 or 7 = Sunday), lists and ranges ("mon-fri", "1,3,5", "sat,sun").
	Days string `json:"days,omitempty" yaml:"days,omitempty"`
	// Window is how far back before the deadline a success counts.
	// Default: since local midnight of the deadline's day, i.e. "succeeded
	// today by 06:00".
	Window Duration `json:"window,omitempty" yaml:"window,omitempty"`
}

// Absence fires when a pipeline has had no run for Interval.
type Absence struct {
	// Interval is the longest acceptable gap between runs ("2h"),
	// measured from the start (or queue) time of the newest run.
	Interval Duration `json:"interval" yaml:"interval"`
}

// Aggregations of MetricThreshold.
const (
	AggAvg   = "avg"
	AggMax   = "max"
	AggMin   = "min"
	AggSum   = "sum"
	AggCount = "count"
)

// MetricThreshold compares agg(series over the trailing window) op value.
type MetricThreshold struct {
	// Series is a metric series key, or a glob over keys ("sales.*") to
	// evaluate each matching series separately.
	Series string `json:"series" yaml:"series"`
	// Window is the trailing window the aggregate covers ("1h").
	Window Duration `json:"window" yaml:"window"`
	// Agg is avg, max, min, sum or count. A window without points has a
	// count and sum of 0 and no avg, max or min: such a series is
	// inactive.
	Agg string `json:"agg" yaml:"agg"`
	// Op is >, >=, < or <=.
	Op string `json:"op" yaml:"op"`
	// Value is the threshold.
	Value float64 `json:"value" yaml:"value"`
}

// Anomaly is the slot a later anomaly detector fills.
type Anomaly struct {
	// Series is "duration" (run duration of the selected pipelines) or a
	// metric series key.
	Series string `json:"series" yaml:"series"`
	// Sensitivity is detector-specific; higher alerts more readily.
	Sensitivity float64 `json:"sensitivity,omitempty" yaml:"sensitivity,omitempty"`
	// Params are passed to the detector as they are.
	Params map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
}

// Duration is a Go duration as text ("90s", "5m", "1h30m"), with "d" for
// days of 24 hours ("1d12h"). It stays text in the rule so a bad value is
// a field-level problem of Validate rather than a decode error.
type Duration string

// Parse returns the duration; the empty text is zero.
func (d Duration) Parse() (time.Duration, error) {
	s := strings.TrimSpace(string(d))
	if s == "" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q is not a duration: use e.g. \"90s\", \"5m\", \"2h\" or \"1d\"", string(d))
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: use e.g. \"90s\", \"5m\", \"2h\" or \"1d\"", string(d))
	}
	return days + v, nil
}

// UnmarshalYAML accepts any scalar, so "for: 5m" and "for: 300s" decode,
// and a number without unit reaches Validate (which rejects it with its
// field) instead of failing the whole document.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be text like \"5m\"", n.Line)
	}
	*d = Duration(n.Value)
	return nil
}

// UnmarshalJSON accepts a string, or a number taken as text (rejected by
// Validate with its field).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*d = Duration(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("a duration must be text like \"5m\"")
	}
	*d = Duration(n.String())
	return nil
}

// RuleFile is a YAML or JSON document of rules as code.
type RuleFile struct {
	Rules []Rule `json:"rules" yaml:"rules"`
}

// ParseYAML decodes rules as code: either a document with a top-level
// "rules:" list or a single rule. Unknown fields are errors, so a typo
// ("treshold") does not silently produce a rule that never fires. It does
// not validate; call Compile (or Rule.Validate) on each rule.
func ParseYAML(data []byte) ([]Rule, error) {
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if _, many := probe["rules"]; many {
		var f RuleFile
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("parse rules: %w", err)
		}
		return f.Rules, nil
	}
	var r Rule
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse rule: %w", err)
	}
	return []Rule{r}, nil
}

// ParseJSON decodes one rule as the API receives it; unknown fields are
// errors. It does not validate.
func ParseJSON(data []byte) (Rule, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return Rule{}, fmt.Errorf("parse rule: %w", err)
	}
	return r, nil
}
