package silence_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/puod/puod/host/silence"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func mk(ms ...silence.Matcher) silence.Silence {
	return silence.Silence{ID: "s1", Matchers: ms, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "ana", Comment: "maintenance"}
}

func TestSilence_mutes(t *testing.T) {
	labels := map[string]string{"alertname": "slow", "pipeline": "ETL_Vendas", "team": "sales"}
	tests := []struct {
		name string
		ms   []silence.Matcher
		at   time.Time
		want bool
	}{
		{"equal", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Vendas"}}, t0, true},
		{"equal other", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Compras"}}, t0, false},
		{"all must match", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Vendas"}, {Name: "team", Op: "=", Value: "ops"}}, t0, false},
		{"regexp is anchored", []silence.Matcher{{Name: "pipeline", Op: "=~", Value: "ETL_.*"}}, t0, true},
		{"regexp partial does not match", []silence.Matcher{{Name: "pipeline", Op: "=~", Value: "Vendas"}}, t0, false},
		{"not equal", []silence.Matcher{{Name: "team", Op: "!=", Value: "ops"}, {Name: "pipeline", Op: "=~", Value: ".+"}}, t0, true},
		{"not regexp", []silence.Matcher{{Name: "alertname", Op: "=", Value: "slow"}, {Name: "pipeline", Op: "!~", Value: "ETL_.*"}}, t0, false},
		{"before start", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Vendas"}}, t0.Add(-time.Second), false},
		{"at end it has expired", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Vendas"}}, t0.Add(time.Hour), false},
		{"just before end", []silence.Matcher{{Name: "pipeline", Op: "=", Value: "ETL_Vendas"}}, t0.Add(time.Hour - time.Nanosecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := silence.Compile(mk(tt.ms...))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Mutes(labels, tt.at); got != tt.want {
				t.Fatalf("Mutes = %v, want %v", got, tt.want)
			}
			ids := silence.Set{s}.Muting(labels, tt.at)
			if (len(ids) == 1) != tt.want {
				t.Fatalf("Muting = %v", ids)
			}
		})
	}
}

func TestCompile_problems(t *testing.T) {
	tests := []struct {
		name   string
		s      silence.Silence
		fields []string
	}{
		{"no matchers", mk(), []string{"/matchers"}},
		{"mutes everything", mk(silence.Matcher{Name: "team", Op: "!=", Value: "x"}), []string{"/matchers"}},
		{"bad matcher", mk(silence.Matcher{Name: "", Op: "==", Value: "x"}, silence.Matcher{Name: "p", Op: "=~", Value: "("}), []string{"/matchers/0/name", "/matchers/0/op", "/matchers/1/value"}},
		{"times and people", silence.Silence{Matchers: []silence.Matcher{{Name: "p", Op: "=", Value: "x"}}, StartsAt: t0, EndsAt: t0}, []string{"/comment", "/created_by", "/ends_at"}},
		{"too long", func() silence.Silence {
			s := mk(silence.Matcher{Name: "p", Op: "=", Value: "x"})
			s.EndsAt = t0.AddDate(1, 0, 0)
			return s
		}(), []string{"/ends_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := silence.Compile(tt.s)
			var ps silence.Problems
			if !errors.As(err, &ps) || !errors.Is(err, silence.ErrInvalid) {
				t.Fatalf("want Problems, got %v", err)
			}
			var fields []string
			for _, p := range ps {
				fields = append(fields, p.Field)
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tt.fields) {
				t.Fatalf("fields %v, want %v", fields, tt.fields)
			}
		})
	}
}
