package timerange_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/timerange"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 17, 12, 30, 0, 0, time.FixedZone("BRT", -3*3600))
	utc := now.UTC()
	cases := []struct {
		name     string
		r        timerange.Range
		from, to time.Time
		errField string // "" = valid
		errText  string
	}{
		{"default when absent", timerange.Range{}, utc.Add(-24 * time.Hour), utc, "", ""},
		{"only from", timerange.Range{From: "now-1h"}, utc.Add(-time.Hour), utc, "", ""},
		{"seconds", timerange.Range{From: "now-90s", To: "now"}, utc.Add(-90 * time.Second), utc, "", ""},
		{"minutes", timerange.Range{From: "now-15m", To: "now-5m"}, utc.Add(-15 * time.Minute), utc.Add(-5 * time.Minute), "", ""},
		{"days", timerange.Range{From: "now-7d", To: "now"}, utc.Add(-7 * 24 * time.Hour), utc, "", ""},
		{"weeks", timerange.Range{From: "now-2w", To: "now"}, utc.Add(-14 * 24 * time.Hour), utc, "", ""},
		{"spaces", timerange.Range{From: " now-1h ", To: " now "}, utc.Add(-time.Hour), utc, "", ""},
		{"RFC 3339 with offset", timerange.Range{From: "2026-11-17T00:00:00-03:00", To: "2026-11-17T06:00:00Z"},
			time.Date(2026, 11, 17, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 17, 6, 0, 0, 0, time.UTC), "", ""},
		{"mixed", timerange.Range{From: "2026-11-01T00:00:00Z", To: "now"}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), utc, "", ""},
		{"unknown unit", timerange.Range{From: "now-3y"}, time.Time{}, time.Time{}, "from", "unknown unit"},
		{"no amount", timerange.Range{From: "now-h"}, time.Time{}, time.Time{}, "from", "amount"},
		{"negative amount", timerange.Range{From: "now--1h"}, time.Time{}, time.Time{}, "from", "whole number"},
		{"zero amount", timerange.Range{From: "now-0h"}, time.Time{}, time.Time{}, "from", "between 1"},
		{"huge amount", timerange.Range{From: "now-99999999999d"}, time.Time{}, time.Time{}, "from", "between 1"},
		{"future relative", timerange.Range{From: "now-1h", To: "now+1h"}, time.Time{}, time.Time{}, "to", "RFC 3339"},
		{"garbage", timerange.Range{From: "yesterday"}, time.Time{}, time.Time{}, "from", `"now-<n><unit>"`},
		{"date without time", timerange.Range{From: "2026-11-17"}, time.Time{}, time.Time{}, "from", "RFC 3339"},
		{"empty range", timerange.Range{From: "now", To: "now"}, time.Time{}, time.Time{}, "from", "not before"},
		{"reversed", timerange.Range{From: "now-1h", To: "now-2h"}, time.Time{}, time.Time{}, "from", "not before"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to, err := timerange.Parse(tc.r, now)
			if tc.errField != "" {
				var te *timerange.Error
				if !errors.As(err, &te) || te.Field != tc.errField || !strings.Contains(err.Error(), tc.errText) || !errors.Is(err, timerange.ErrInvalid) {
					t.Fatalf("error = %v, want one on %q mentioning %q", err, tc.errField, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !from.Equal(tc.from) || !to.Equal(tc.to) || from.Location() != time.UTC || to.Location() != time.UTC {
				t.Errorf("got %v → %v, want %v → %v (UTC)", from, to, tc.from, tc.to)
			}
		})
	}
}

func TestRange_String(t *testing.T) {
	if got := (timerange.Range{}).String(); got != "now-24h..now" {
		t.Errorf("default text %q", got)
	}
	if got := (timerange.Range{From: "now-7d", To: "2026-11-17T00:00:00Z"}).String(); got != "now-7d..2026-11-17T00:00:00Z" {
		t.Errorf("text %q", got)
	}
}
