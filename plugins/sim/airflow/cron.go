package airflowsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cron is the subset of cron expressions the scenario's DAGs use: five
// fields (minute hour day-of-month month day-of-week) made of *, */n, n,
// a-b and comma lists, in UTC.
type cron struct {
	minute, hour, dom, month, dow [64]bool
}

func parseCron(expr string) (*cron, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields", expr)
	}
	c := &cron{}
	specs := []struct {
		set      *[64]bool
		min, max int
	}{{&c.minute, 0, 59}, {&c.hour, 0, 23}, {&c.dom, 1, 31}, {&c.month, 1, 12}, {&c.dow, 0, 6}}
	for i, s := range specs {
		if err := parseCronField(f[i], s.min, s.max, s.set); err != nil {
			return nil, fmt.Errorf("cron %q field %d: %w", expr, i+1, err)
		}
	}
	return c, nil
}

func parseCronField(field string, min, max int, set *[64]bool) error {
	for _, part := range strings.Split(field, ",") {
		step := 1
		if i := strings.Index(part, "/"); i >= 0 {
			n, err := strconv.Atoi(part[i+1:])
			if err != nil || n <= 0 {
				return fmt.Errorf("bad step in %q", part)
			}
			step, part = n, part[:i]
		}
		lo, hi := min, max
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad range %q", part)
			}
		default:
			n, err := strconv.Atoi(part)
			if err != nil {
				return fmt.Errorf("bad value %q", part)
			}
			lo, hi = n, n
		}
		if lo < min || hi > max || lo > hi {
			return fmt.Errorf("%q out of range %d-%d", part, min, max)
		}
		for v := lo; v <= hi; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cron) matches(t time.Time) bool {
	return c.minute[t.Minute()] && c.hour[t.Hour()] && c.dom[t.Day()] && c.month[int(t.Month())] && c.dow[int(t.Weekday())]
}

// maxCronScan bounds the search for a tick (the scenario's schedules tick
// at least weekly).
const maxCronScan = 8 * 24 * 60

// next returns the first tick strictly after t.
func (c *cron) next(t time.Time) time.Time {
	m := t.UTC().Truncate(time.Minute).Add(time.Minute)
	for i := 0; i < maxCronScan; i++ {
		if c.matches(m) {
			return m
		}
		m = m.Add(time.Minute)
	}
	return m
}

// prev returns the last tick strictly before t.
func (c *cron) prev(t time.Time) time.Time {
	m := t.UTC().Truncate(time.Minute)
	if m.Equal(t) {
		m = m.Add(-time.Minute)
	}
	for i := 0; i < maxCronScan; i++ {
		if c.matches(m) {
			return m
		}
		m = m.Add(-time.Minute)
	}
	return m
}
