package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/notify/notifytest"
	slacksim "github.com/puod/puod/plugins/sim/slack"
)

// step waits (in real time) until the notification worker (the clock's
// only user of After) waits again, so it has done what the previous step
// made due, then advances the clock.
func step(t *testing.T, c *notifytest.Clock, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !c.Idle() {
		if time.Now().After(deadline) {
			t.Fatalf("the notification worker did not go back to waiting within 60s (simulated time %s)", c.Now().Format(time.RFC3339))
		}
		time.Sleep(time.Millisecond)
	}
	c.Advance(d)
}

// TestServe_slackOutage is the outage, end to end through the
// running host: 5 run_failed rules (created with the API) watch 10
// pipelines each; while the fake Slack answers 503 for two minutes and
// then 429 with Retry-After for three more (in simulated time: the host's
// alert engine and notification worker run on app.WithAlertClock and
// app.WithNotifyClock), every pipeline fails and then recovers, one event
// every two simulated seconds: 100 notifications. Nothing gets through
// while Slack is down; after it recovers, the real Slack plugin process
// posts every notification exactly once, each group in the order the
// engine decided, and backoff keeps the refused requests few.
func TestServe_slackOutage(t *testing.T) {
	// Simulated time starts a minute ahead: the runs must end after the
	// rules were created (real time), or they are history and notify
	// nobody (alert.Rule.NotifyFrom).
	t0 := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	clk := notifytest.NewClock(t0)
	// Error level: the plugin warns about every refused post, by design.
	e := startAlertingHost(t, hclog.Error, false, app.WithAlertClock(alert.ClockFunc(clk.Now)), app.WithNotifyClock(clk))
	slack, webhook := startFakeSlack(t, clk.Now)

	access, _ := e.login(t, "admin", adminPassword)
	token := createAPIToken(t, e, access, "lineage", "editor")
	sink := createSlackSink(t, e, access, webhook)
	const groups, perGroup = 5, 10
	for g := range groups {
		createRule(t, e, access, map[string]any{
			"name": fmt.Sprintf("Group %d pipeline failed", g), "severity": "critical",
			"selector":    map[string]any{"pipeline": fmt.Sprintf("G%d_*", g)},
			"condition":   map[string]any{"run_failed": map[string]any{}},
			"annotations": map[string]string{"summary": "{{.Pipeline.Name}} {{.Status}}"},
			"sinks":       []string{sink},
		})
	}

	// Down: 503 for 2 minutes, then 429 asking to wait 5 s until minute 5.
	// (The plugin also pauses its webhook for Retry-After, on its own real
	// clock, which the stepped simulated time outruns: how long after the
	// outage the messages arrive in simulated time says nothing here.)
	outageEnd := t0.Add(5 * time.Minute)
	slack.DownUntil(t0.Add(2*time.Minute), http.StatusServiceUnavailable, 0)
	slack.Inject(slacksim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Second, Until: outageEnd})

	pipeline := func(i int) string { return fmt.Sprintf("G%d_P%02d", i%groups, i/groups) }
	runID := func(kind, i int) string { return fmt.Sprintf("%08d-0000-4000-8000-%012d", kind, i) }
	fail := func(i, kind int) {
		now := clk.Now()
		lineageJob(t, e, token, pipeline(i), "START", runID(kind, i), now.Add(-time.Minute))
		lineageJob(t, e, token, pipeline(i), "FAIL", runID(kind, i), now)
	}
	for i := range groups * perGroup {
		fail(i, 1)
		step(t, clk, 2*time.Second)
	}
	for i := range groups * perGroup {
		now := clk.Now()
		lineageJob(t, e, token, pipeline(i), "START", runID(2, i), now.Add(-30*time.Second))
		lineageJob(t, e, token, pipeline(i), "COMPLETE", runID(2, i), now)
		step(t, clk, 2*time.Second)
	}
	db := e.rawDB(t)
	for clk.Now().Before(outageEnd.Add(-time.Second)) {
		step(t, clk, time.Second)
	}
	if n := len(slack.Messages()); n != 0 {
		t.Fatalf("%d messages got through a down Slack", n)
	}
	if rows := readOutbox(t, db); len(rows) != 2*groups*perGroup {
		t.Fatalf("%d notifications in the outbox by the end of the outage, want %d (a firing and a resolved per pipeline)", len(rows), 2*groups*perGroup)
	}

	// Recovery: step until nothing is pending (then nothing more can be
	// sent, so the counts are final).
	realDeadline := time.Now().Add(3 * time.Minute)
	drain := func(what string) {
		t.Helper()
		for {
			pending := 0
			for _, r := range readOutbox(t, db) {
				if r.State == "pending" {
					pending++
				}
			}
			if pending == 0 {
				return
			}
			if clk.Now().After(t0.Add(3*time.Hour)) || time.Now().After(realDeadline) {
				t.Fatalf("%s: still %d notifications pending %s after the outage began (simulated); %d messages received",
					what, pending, clk.Now().Sub(t0), len(slack.Messages()))
			}
			step(t, clk, time.Second)
		}
	}
	drain("after the outage")
	t.Logf("the outage's %d notifications delivered in %d messages", len(readOutbox(t, db)), len(slack.Messages()))
	for i, m := range slack.Messages() {
		if m.ReceivedAt.Before(outageEnd) {
			t.Errorf("message %d was accepted at %s, during the outage", i, m.ReceivedAt.Format(time.RFC3339))
		}
	}
	// Backoff and Retry-After bound the refused requests: one attempt per
	// group head per second would have made thousands.
	groupKeys := map[string]bool{}
	for _, r := range readOutbox(t, db) {
		groupKeys[r.GroupKey] = true
	}
	refused := 0
	for _, r := range slack.Requests() {
		if r.Status != http.StatusOK {
			refused++
		}
	}
	t.Logf("%d requests refused during the outage, %d groups", refused, len(groupKeys))
	if refused > 40*len(groupKeys) {
		t.Errorf("%d refused requests for %d groups during a 5-minute outage: backoff is not backing off", refused, len(groupKeys))
	}

	// Slack healthy: four pipelines of each group fail again, 15 s apart
	// (longer than the default group interval), so each group now sends
	// several messages, which must come in order too.
	for k := range 4 {
		for g := range groups {
			fail(k*groups+g, 3)
		}
		for range 15 {
			step(t, clk, time.Second)
		}
	}
	drain("after the second wave")

	// Exactly once, and in order within each group: the messages are the
	// groups' notifications, each in one message, a group's in the order
	// decided. (A firing and its resolve that wait in the same message
	// are told as the alert's latest state, resolved, as Alertmanager
	// does; checkDeliveredOnce follows the worker's grouping.)
	rows, msgs := readOutbox(t, db), slack.Messages()
	if len(rows) != 2*groups*perGroup+4*groups {
		t.Errorf("%d notifications in the outbox, want %d", len(rows), 2*groups*perGroup+4*groups)
	}
	for _, r := range rows {
		if r.State != "delivered" {
			t.Errorf("notification %s ended %s, want delivered", r.NotificationID, r.State)
		}
	}
	checkDeliveredOnce(t, rows, msgs)
	t.Logf("%d notifications in %d messages, %s of simulated time", len(rows), len(msgs), clk.Now().Sub(t0))
}
