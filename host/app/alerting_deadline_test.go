package app_test

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/app"
)

// shiftedClock is the real clock moved to another moment: it runs at real
// speed (so the tick, group waits and retries behave as in production)
// from wherever Set put it. reads counts the alert engine's questions.
type shiftedClock struct {
	mu     sync.Mutex
	offset time.Duration
	reads  atomic.Int64
}

// Set makes Now return t from this instant on.
func (c *shiftedClock) Set(t time.Time) {
	c.mu.Lock()
	c.offset = time.Until(t)
	c.mu.Unlock()
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *shiftedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// alertClock is c as the alert engine sees it, counting its reads.
func (c *shiftedClock) alertClock() alert.Clock {
	return alert.ClockFunc(func() time.Time {
		c.reads.Add(1)
		return c.Now()
	})
}

// waitTicks waits until the alert engine has read the clock n more times
// and at least minReal has passed. The tick reads the clock once per
// evaluation and evaluations run one after the other, so n ≥ 3 reads
// without events include one complete tick.
func (c *shiftedClock) waitTicks(t *testing.T, n int64, minReal time.Duration) {
	t.Helper()
	start, from := time.Now(), c.reads.Load()
	waitFor(t, "alert ticks", func() bool { return c.reads.Load() >= from+n && time.Since(start) >= minReal })
}

// TestServe_deadlineFiresAt0600 is the deadline rule, through the
// running host: "ETL pipelines must succeed by 06:00 Europe/Lisbon",
// created with the API, evaluated by the host's tick on an injected clock
// (app.WithAlertClock, app.WithNotifyClock), written to the outbox and
// posted by the real Slack plugin process to the fake Slack. ETL_Vendas
// last succeeded yesterday; ETL_Clientes succeeded today at 05:00. At
// 05:59:50 nothing is sent; once the clock reaches 06:00, ETL_Vendas
// produces exactly one message and ETL_Clientes none.
func TestServe_deadlineFiresAt0600(t *testing.T) {
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatalf("time zone data: %v", err)
	}
	// A summer day: Lisbon is UTC+1 (WEST), so 06:00 there is 05:00 UTC
	// and a rule evaluated in UTC would fire an hour late.
	day := func(h, m, s int) time.Time { return time.Date(2026, 7, 15, h, m, s, 0, lisbon) }
	clk := &shiftedClock{}
	clk.Set(day(5, 30, 0))
	e := startAlertingHost(t, hclog.Warn, false, app.WithAlertClock(clk.alertClock()), app.WithNotifyClock(clk))
	slack, webhook := startFakeSlack(t, nil)

	access, _ := e.login(t, "admin", adminPassword)
	token := createAPIToken(t, e, access, "lineage", "editor")
	// Yesterday's success of ETL_Vendas (it exists, but has not succeeded
	// today) and today's 05:00 success of ETL_Clientes.
	lineageJob(t, e, token, "ETL_Vendas", "START", "aaaaaaaa-0000-4000-8000-000000000001", day(5, 10, 0).AddDate(0, 0, -1))
	lineageJob(t, e, token, "ETL_Vendas", "COMPLETE", "aaaaaaaa-0000-4000-8000-000000000001", day(5, 40, 0).AddDate(0, 0, -1))
	lineageJob(t, e, token, "ETL_Clientes", "START", "bbbbbbbb-0000-4000-8000-000000000001", day(4, 50, 0))
	lineageJob(t, e, token, "ETL_Clientes", "COMPLETE", "bbbbbbbb-0000-4000-8000-000000000001", day(5, 0, 0))

	sink := createSlackSink(t, e, access, webhook)
	ruleID := createRule(t, e, access, map[string]any{
		"name": "ETL pipelines must succeed by 06:00", "severity": "critical",
		"labels":      map[string]string{"team": "data-sales"},
		"selector":    map[string]any{"pipeline": "ETL_*"},
		"condition":   map[string]any{"deadline": map[string]any{"time": "06:00", "time_zone": "Europe/Lisbon"}},
		"annotations": map[string]string{"summary": "{{.Pipeline.Name}} has not succeeded by {{.Threshold}} ({{.Value}})"},
		"sinks":       []string{sink},
	})

	// Ten seconds before the deadline: ticks evaluate the rule and decide
	// nothing.
	clk.Set(day(5, 59, 50))
	clk.waitTicks(t, 3, 2*time.Second)
	db := e.rawDB(t)
	if rows := readOutbox(t, db); len(rows) != 0 {
		t.Fatalf("before 06:00 the outbox has %d notifications, want none: %+v", len(rows), rows)
	}
	if msgs := slack.Messages(); len(msgs) != 0 {
		t.Fatalf("before 06:00 Slack received %d messages, want none", len(msgs))
	}

	clk.Set(day(6, 0, 0))
	reached := time.Now()
	msgs := waitMessages(t, slack.Messages, 1)
	t.Logf("the deadline's message reached Slack %v (real time) after the clock reached 06:00", time.Since(reached).Round(time.Millisecond))
	body := msgs[0].Text + string(msgs[0].Body)
	if !strings.Contains(body, "ETL_Vendas") || strings.Contains(body, "ETL_Clientes") {
		t.Errorf("the message is not about ETL_Vendas alone: %s", msgs[0].Text)
	}

	// More ticks after 06:00 add nothing: one message, one outbox row,
	// for ETL_Vendas and this rule, decided at 06:00.
	clk.waitTicks(t, 3, 2*time.Second)
	rows := readOutbox(t, db)
	if len(rows) != 1 {
		t.Fatalf("after 06:00 the outbox has %d notifications, want 1 (ETL_Vendas): %+v", len(rows), rows)
	}
	var n struct {
		Status       string    `json:"status"`
		RuleID       string    `json:"rule_id"`
		PipelineName string    `json:"pipeline_name"`
		StartsAt     time.Time `json:"starts_at"`
	}
	if err := json.Unmarshal([]byte(rows[0].Payload), &n); err != nil {
		t.Fatal(err)
	}
	if n.Status != "firing" || n.RuleID != ruleID || n.PipelineName != "ETL_Vendas" {
		t.Errorf("notification = %+v, want ETL_Vendas firing for rule %s", n, ruleID)
	}
	if n.StartsAt.Before(day(6, 0, 0)) || n.StartsAt.After(day(6, 1, 0)) {
		t.Errorf("the alert started at %s, want at 06:00 Lisbon (within the minute)", n.StartsAt.In(lisbon))
	}
	if got := slack.Messages(); len(got) != 1 {
		t.Fatalf("Slack received %d messages, want exactly 1", len(got))
	}
}
