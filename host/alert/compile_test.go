package alert_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/puod/puod/host/alert"
)

func validRule() alert.Rule {
	return alert.Rule{
		ID: "etl-vendas-slow", Name: "slow", Severity: alert.SeverityCritical,
		Selector:  alert.Selector{Pipeline: "ETL_*"},
		Condition: alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}},
		Sinks:     []string{"slack"},
	}
}

func TestCompile_problems(t *testing.T) {
	metric := func() alert.Rule {
		r := validRule()
		r.Selector = alert.Selector{}
		r.Condition = alert.Condition{MetricThreshold: &alert.MetricThreshold{Series: "sales", Window: "1h", Agg: "avg", Op: ">", Value: 1}}
		return r
	}
	deadline := func(d alert.Deadline) alert.Rule {
		r := validRule()
		r.Condition = alert.Condition{Deadline: &d}
		return r
	}
	tests := []struct {
		name   string
		rule   alert.Rule
		fields []string // sorted
		msg    string   // a part of the first problem's message
	}{
		{"valid", validRule(), nil, ""},
		{"empty rule", alert.Rule{}, []string{"/condition", "/id", "/name", "/severity"}, ""},
		{"bad id", func() alert.Rule { r := validRule(); r.ID = "a b"; return r }(), []string{"/id"}, "may contain only"},
		{"bad severity", func() alert.Rule { r := validRule(); r.Severity = "high"; return r }(), []string{"/severity"}, `not "high"`},
		{"two conditions", func() alert.Rule {
			r := validRule()
			r.Condition.RunFailed = &alert.RunFailed{}
			return r
		}(), []string{"/condition"}, "run_failed and duration_above"},
		{"threshold not a duration", func() alert.Rule {
			r := validRule()
			r.Condition.DurationAbove.Threshold = "5 minutes"
			return r
		}(), []string{"/condition/duration_above/threshold"}, "not a duration"},
		{"threshold negative", func() alert.Rule {
			r := validRule()
			r.Condition.DurationAbove.Threshold = "-5m"
			return r
		}(), []string{"/condition/duration_above/threshold"}, "positive"},
		{"threshold missing", func() alert.Rule {
			r := validRule()
			r.Condition.DurationAbove.Threshold = ""
			return r
		}(), []string{"/condition/duration_above/threshold"}, "required"},
		{"for negative, days accepted", func() alert.Rule { r := validRule(); r.For = "-1m"; return r }(), []string{"/for"}, "negative"},
		{"for in days is fine", func() alert.Rule { r := validRule(); r.For = "1d2h"; return r }(), nil, ""},
		{"regex does not parse", func() alert.Rule {
			r := validRule()
			r.Selector = alert.Selector{PipelineRegex: "ETL_(", SourceIDs: []string{"s", ""}, Tags: []string{""}}
			return r
		}(), []string{"/selector/pipeline_regex", "/selector/source_ids/1", "/selector/tags/0"}, "missing closing )"},
		{"glob and regex", func() alert.Rule {
			r := validRule()
			r.Selector.PipelineRegex = "x"
			return r
		}(), []string{"/selector/pipeline_regex"}, "not both"},
		{"labels", func() alert.Rule {
			r := validRule()
			r.Labels = map[string]string{"bad-key": "x", "severity": "x", "a/b": "x", "team": "ok"}
			return r
		}(), []string{"/labels/a~1b", "/labels/bad-key", "/labels/severity"}, ""},
		{"sinks", func() alert.Rule { r := validRule(); r.Sinks = []string{"", "a", "a"}; return r }(), []string{"/sinks/0", "/sinks/2"}, "empty"},
		{"deadline", deadline(alert.Deadline{Time: "6am", TimeZone: "Europe/Lisbn", Days: "mon-funday", Window: "0s"}),
			[]string{"/condition/deadline/days", "/condition/deadline/time", "/condition/deadline/time_zone", "/condition/deadline/window"}, ""},
		{"deadline ok", deadline(alert.Deadline{Time: "06:00", TimeZone: "Europe/Lisbon", Days: "1-5,0"}), nil, ""},
		{"deadline 24:00", deadline(alert.Deadline{Time: "24:00"}), []string{"/condition/deadline/time"}, "HH:MM"},
		{"absence", func() alert.Rule {
			r := validRule()
			r.Condition = alert.Condition{Absence: &alert.Absence{Interval: "0s"}}
			return r
		}(), []string{"/condition/absence/interval"}, "positive"},
		{"run_failed state", func() alert.Rule {
			r := validRule()
			r.Condition = alert.Condition{RunFailed: &alert.RunFailed{States: []string{"failed", "exploded"}}}
			return r
		}(), []string{"/condition/run_failed/states/1"}, `"exploded"`},
		{"metric", func() alert.Rule {
			r := metric()
			r.Selector.Pipeline = "x"
			r.Condition.MetricThreshold.Agg = "median"
			r.Condition.MetricThreshold.Op = "="
			r.Condition.MetricThreshold.Window = "1h"
			r.Condition.MetricThreshold.Series = ""
			return r
		}(), []string{"/condition/metric_threshold/agg", "/condition/metric_threshold/op", "/condition/metric_threshold/series", "/selector"}, ""},
		{"metric window", func() alert.Rule { r := metric(); r.Condition.MetricThreshold.Window = "60d"; return r }(), []string{"/condition/metric_threshold/window"}, "at most"},
		{"anomaly without a detector", func() alert.Rule {
			r := validRule()
			r.Condition = alert.Condition{Anomaly: &alert.Anomaly{Series: "duration"}}
			return r
		}(), []string{"/condition/anomaly"}, "not available yet"},
		{"template does not compile", func() alert.Rule {
			r := validRule()
			r.Annotations = map[string]string{"summary": "{{.Pipeline.Name"}
			return r
		}(), []string{"/annotations/summary"}, "does not compile"},
		{"template field typo", func() alert.Rule {
			r := validRule()
			r.Annotations = map[string]string{"description": "{{.Pipeline.Nmae}}"}
			return r
		}(), []string{"/annotations/description"}, "can't evaluate field Nmae"},
		{"template missing label", func() alert.Rule {
			r := validRule()
			r.Annotations = map[string]string{"summary": "{{.Labels.team}}"}
			return r
		}(), []string{"/annotations/summary"}, "map has no entry for key \"team\""},
		{"template label present", func() alert.Rule {
			r := validRule()
			r.Labels = map[string]string{"team": "x"}
			r.Annotations = map[string]string{"summary": "{{.Labels.team}} {{.Labels.pipeline}} {{.Run.Duration}}"}
			return r
		}(), nil, ""},
		{"metric template reads the pipeline", func() alert.Rule {
			r := metric()
			r.Annotations = map[string]string{"summary": "{{.Pipeline.Name}}"}
			return r
		}(), []string{"/annotations/summary"}, "nil pointer"},
		{"deadline template reads the run unguarded", func() alert.Rule {
			r := deadline(alert.Deadline{Time: "06:00"})
			r.Annotations = map[string]string{"summary": "{{.Run.State}}", "description": "{{with .Run}}{{.State}}{{end}}"}
			return r
		}(), []string{"/annotations/summary"}, "nil pointer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			var ps alert.Problems
			if !errors.As(err, &ps) || !errors.Is(err, alert.ErrInvalid) {
				t.Fatalf("want Problems, got %v", err)
			}
			var fields []string
			for _, p := range ps {
				fields = append(fields, p.Field)
			}
			slices.Sort(fields)
			equal(t, "fields", fields, tt.fields)
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestParse_rulesAsCode(t *testing.T) {
	t.Run("a list, from YAML", func(t *testing.T) {
		rules, err := alert.ParseYAML([]byte(`
rules:
  - id: a
    name: A
    severity: info
    condition: {run_failed: {}}
    for: 2m
  - id: b
    name: B
    severity: critical
    condition:
      metric_threshold: {series: sales.volume, window: 1h, agg: sum, op: "<", value: 10}
`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) != 2 || rules[0].Condition.Kind() != alert.KindRunFailed || rules[0].For != "2m" || rules[1].Condition.MetricThreshold.Value != 10 {
			t.Fatalf("%+v", rules)
		}
		for _, r := range rules {
			if err := r.Validate(); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("unknown field in YAML", func(t *testing.T) {
		_, err := alert.ParseYAML([]byte("id: a\ncondition:\n  duration_above:\n    treshold: 5m\n"))
		if err == nil || !strings.Contains(err.Error(), "treshold") {
			t.Fatalf("want an error naming the typo, got %v", err)
		}
	})
	t.Run("a number as duration reaches validation", func(t *testing.T) {
		rules, err := alert.ParseYAML([]byte("id: a\nname: A\nseverity: info\ncondition:\n  duration_above:\n    threshold: 300\n"))
		if err != nil {
			t.Fatal(err)
		}
		var ps alert.Problems
		if err := rules[0].Validate(); !errors.As(err, &ps) || ps[0].Field != "/condition/duration_above/threshold" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("JSON round trip", func(t *testing.T) {
		r, err := alert.ParseJSON([]byte(`{"id":"a","name":"A","severity":"warning","selector":{"pipeline":"ETL_Vendas"},
			"condition":{"deadline":{"time":"06:00","time_zone":"Europe/Lisbon","days":"mon-fri"}},"for":300,"sinks":["s"]}`))
		if err != nil {
			t.Fatal(err)
		}
		var ps alert.Problems
		if err := r.Validate(); !errors.As(err, &ps) || len(ps) != 1 || ps[0].Field != "/for" {
			t.Fatalf("got %v", err)
		}
		if _, err := alert.ParseJSON([]byte(`{"id":"a","conditon":{}}`)); err == nil {
			t.Fatal("unknown JSON field accepted")
		}
	})
	t.Run("seed rule compiles", func(t *testing.T) {
		for _, f := range []string{"testdata/etl_vendas_duration.yaml", "testdata/lisbon_deadline.yaml"} {
			data := mustRead(t, f)
			rules, err := alert.ParseYAML(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				c, err := alert.Compile(r, alert.Options{})
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if c.Kind() == "" {
					t.Fatalf("%s: no kind", f)
				}
			}
		}
	})
}
