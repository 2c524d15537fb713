package alert

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/puod/puod/sdk"
)

// TemplateData is what an annotation template reads ({{.Pipeline.Name}},
// {{.Value}}, {{.Labels.team}}). Pipeline is nil for metric rules and Run is
// nil when there is no run to speak of (metric rules, a deadline or absence
// on a pipeline that never ran): guard with {{with .Run}}…{{end}}. Templates
// run with missingkey=error, so a label that does not exist is an error at
// validation, not an empty string in a message.
type TemplateData struct {
	Rule     RuleData
	Status   string // firing or resolved
	Pipeline *PipelineData
	Run      *RunData
	// Series is the metric series key of a metric rule.
	Series string
	// Value is the observed value, formatted ("7m12s", "42.5").
	Value string
	// Threshold is what Value was compared with, formatted.
	Threshold string
	Labels    map[string]string
	Links     []sdk.Link
}

// RuleData describes the rule to templates.
type RuleData struct {
	ID, Name, Severity string
}

// PipelineData describes a pipeline to templates.
type PipelineData struct {
	ID, SourceID, ExternalID, Name, URL string
	Tags                                []string
}

// RunData describes a run to templates.
type RunData struct {
	ID, ExternalID, State, ErrorMessage, URL string
	StartedAt, EndedAt                       time.Time
	// Duration is the run's duration, or its elapsed time while running.
	Duration time.Duration
}

func (c *Compiled) compileTemplates(r Rule) Problems {
	var ps Problems
	sample := sampleData(r, c.kind)
	for _, k := range sortedKeys(r.Annotations) {
		f := "/annotations/" + pointerEscape(k)
		text := r.Annotations[k]
		if len(text) > maxTemplateLength {
			ps = append(ps, Problem{f, fmt.Sprintf("is longer than %d characters", maxTemplateLength)})
			continue
		}
		t, err := template.New(k).Option("missingkey=error").Funcs(renderFuncs).Parse(text)
		if err != nil {
			ps = append(ps, Problem{f, "does not compile: " + cleanTemplateErr(err)})
			continue
		}
		if err := t.Execute(&bytes.Buffer{}, sample); err != nil {
			ps = append(ps, Problem{f, "fails on sample data: " + cleanTemplateErr(err)})
			continue
		}
		c.templates[k] = t
	}
	return ps
}

var renderFuncs = template.FuncMap{
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"join":  strings.Join,
}

// cleanTemplateErr drops the "template: name:" prefix, which repeats the
// field the problem already names.
func cleanTemplateErr(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "template: "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return s
}

// sampleData is the data a template is tried on at validation: shaped as
// the engine will render it for this kind of rule, so a template that reads
// .Run on a metric rule fails now rather than at 3 a.m.
func sampleData(r Rule, kind string) TemplateData {
	started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	d := TemplateData{
		Rule:      RuleData{ID: r.ID, Name: r.Name, Severity: r.Severity},
		Status:    string(sdk.NotificationFiring),
		Value:     "7m12s",
		Threshold: "5m0s",
		Labels:    map[string]string{},
		Links:     []sdk.Link{{Title: "Run in PUOD", URL: "https://puod.example/runs/r1"}},
	}
	for k, v := range r.Labels {
		d.Labels[k] = v
	}
	d.Labels[LabelAlertName] = r.Name
	d.Labels[LabelSeverity] = r.Severity
	if kind == KindMetricThreshold || (kind == KindAnomaly && r.Condition.Anomaly != nil && r.Condition.Anomaly.Series != "duration") {
		d.Series = "sales.volume"
		d.Labels[LabelSeries] = d.Series
		return d
	}
	d.Pipeline = &PipelineData{ID: "p1", SourceID: "s1", ExternalID: "etl_vendas", Name: "ETL_Vendas", URL: "https://vendor.example/p", Tags: []string{"sales"}}
	d.Labels[LabelSourceID], d.Labels[LabelPipelineID], d.Labels[LabelPipeline] = "s1", "p1", "ETL_Vendas"
	if kind == KindRunFailed || kind == KindDurationAbove || kind == KindAnomaly {
		d.Run = &RunData{ID: "r1", ExternalID: "1234", State: "failed", ErrorMessage: "boom", URL: "https://vendor.example/r",
			StartedAt: started, EndedAt: started.Add(7*time.Minute + 12*time.Second), Duration: 7*time.Minute + 12*time.Second}
	}
	return d
}

// render executes the rule's annotations on d. A template that fails at
// run time (data the sample did not have) does not lose the alert: the
// annotation falls back to its raw text and the error is reported under
// "template_error".
func (c *Compiled) render(d TemplateData) map[string]string {
	out := make(map[string]string, len(c.templates))
	var errs []string
	for _, k := range sortedKeys(c.templates) {
		t := c.templates[k]
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			out[k] = c.Rule.Annotations[k]
			errs = append(errs, k+": "+cleanTemplateErr(err))
			continue
		}
		out[k] = b.String()
	}
	if len(errs) > 0 {
		out["template_error"] = strings.Join(errs, "; ")
	}
	return out
}
