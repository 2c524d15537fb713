package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/app"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/notify"
	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
)

// The host-level alerting tests (deadline, outage, crash) share these
// pieces: a host with only the real puod.slack plugin installed, a fake
// Slack (plugins/sim/slack) it posts to through an incoming webhook, and
// API calls that set up a sink, rules and runs the way a user would.

// startAlertingHost builds and runs a host (app.New with opts, then Run)
// on a fresh SQLite data directory with the puod.slack plugin installed,
// serves it over real TCP and waits until the plugin runs. Its log goes to
// the test's from level on. demo starts it as `puod serve --demo` would.
func startAlertingHost(t *testing.T, level hclog.Level, demo bool, opts ...app.Option) *testEnv {
	t.Helper()
	pluginDir := t.TempDir()
	installFirstParty(t, pluginDir, "slack", "puod.slack", "puod-slack")

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.PluginDir = pluginDir
	cfg.AdminPassword = adminPassword
	cfg.Demo = demo
	ctx, cancel := context.WithCancel(context.Background())
	log := hclog.New(&hclog.LoggerOptions{Name: "puod", Level: level, Output: newTestWriter(t)})
	a, err := app.New(ctx, cfg, log, io.Discard, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("host did not stop within 30s")
		}
	})
	e := &testEnv{cfg: cfg, app: a, srv: srv, client: srv.Client()}
	e.waitPlugin(t, "puod.slack")
	return e
}

// startFakeSlack serves a simulated Slack workspace (now is its clock for
// timed faults; nil is the real clock) and returns it with a new incoming
// webhook URL for #alerts.
func startFakeSlack(t *testing.T, now func() time.Time) (*slacksim.Server, string) {
	t.Helper()
	sl := slacksim.New(slacksim.Options{Now: now})
	srv := httptest.NewServer(sl)
	t.Cleanup(func() { sl.Close(); srv.Close() })
	return sl, sl.WebhookURL(srv.URL, slacksim.DefaultChannel)
}

// createSlackSink creates a puod.slack source posting to webhook, through
// the API (admin). Pacing is lifted (the fake Slack does not rate-limit
// unless told to), so a test's burst of messages is not spread over
// seconds of real time by the plugin's 1-per-second default.
func createSlackSink(t *testing.T, e *testEnv, admin, webhook string) string {
	t.Helper()
	var src struct {
		ID string `json:"id"`
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/sources", token: admin, body: map[string]any{
		"plugin_id": "puod.slack", "name": "Slack #alerts", "poll_interval_seconds": 0,
		"config": map[string]any{"webhook_url": webhook, "max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 5},
	}}), http.StatusCreated).json(t, &src)
	if src.ID == "" {
		t.Fatal("POST /api/v1/sources answered no id")
	}
	return src.ID
}

// createRule creates an alert rule through the API and returns its id.
func createRule(t *testing.T, e *testEnv, token string, rule map[string]any) string {
	t.Helper()
	var r struct {
		ID string `json:"id"`
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/alert-rules", token: token, body: rule}), http.StatusCreated).json(t, &r)
	if r.ID == "" {
		t.Fatal("POST /api/v1/alert-rules answered no id")
	}
	return r.ID
}

// lineageJob sends one OpenLineage RunEvent of job (namespace "alerting")
// at a chosen time.
func lineageJob(t *testing.T, e *testEnv, token, job, eventType, runID string, at time.Time) {
	t.Helper()
	must(t, e.do(t, req{method: "POST", path: "/api/v1/lineage", token: token, body: map[string]any{
		"eventType": eventType, "eventTime": at.Format(time.RFC3339Nano), "producer": "https://example.com/alerting-host-test",
		"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":       map[string]any{"runId": runID}, "job": map[string]any{"namespace": "alerting", "name": job}}}), http.StatusOK)
}

// outboxRow is what the tests read of a notifications row.
type outboxRow struct {
	NotificationID, RuleID, Fingerprint, State, GroupKey, Payload string
	Seq                                                           int64
	Attempts                                                      int
	// ClaimedUntil is the end of a worker's lease on the row (zero when
	// not claimed).
	ClaimedUntil time.Time
}

// readOutbox reads every outbox row, oldest first, from the SQLite file of
// a data directory (read-only, so it works while a host runs and after one
// was killed).
func readOutbox(t *testing.T, db *sql.DB) []outboxRow {
	t.Helper()
	// SQLite keeps times as unix microseconds (host/store/times.go).
	rows, err := db.Query(`SELECT notification_id, COALESCE(rule_id, ''), fingerprint, state, group_key, payload_json, seq,
		attempts, COALESCE(claimed_until, 0) FROM notifications ORDER BY seq`)
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var claimed int64
		if err := rows.Scan(&r.NotificationID, &r.RuleID, &r.Fingerprint, &r.State, &r.GroupKey, &r.Payload, &r.Seq,
			&r.Attempts, &claimed); err != nil {
			t.Fatalf("read the outbox: %v", err)
		}
		if claimed > 0 {
			r.ClaimedUntil = time.UnixMicro(claimed)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	return out
}

// messagesWith returns the indexes of the messages whose body carries the
// notification id (the puod.slack plugin puts it in the context block and
// its block_id), so a message gathering several alerts counts for each.
func messagesWith(msgs []slacksim.Message, id string) []int {
	var out []int
	for i, m := range msgs {
		if strings.Contains(string(m.Body), id) {
			out = append(out, i)
		}
	}
	return out
}

// messageIDs are the notification ids a message carries in its block ids
// ("puod_alert:<id>"): the id of the notification or group message sent,
// and any others the plugin chose to put there.
func messageIDs(m slacksim.Message) map[string]bool {
	out := map[string]bool{}
	for _, sub := range blockIDPattern.FindAllStringSubmatch(string(m.Body), -1) {
		out[sub[1]] = true
	}
	return out
}

var blockIDPattern = regexp.MustCompile(`"block_id":\s*"puod_alert:([^"]+)"`)

// checkDeliveredOnce checks that the messages a sink accepted carry the
// outbox's notifications (rows of that one sink) exactly once and, within
// each group, in the order they were decided. The worker sends a group's
// due rows, a run without gaps from the group's first undelivered one, as
// one message (notify.Group, which keeps only the latest notification of
// each alert and derives the message id from those). So, walking the
// messages in arrival order, each must be the message of the next run of
// some group's rows, and in the end every row must be covered: a message
// sent twice, a group out of order or a lost notification breaks the walk.
func checkDeliveredOnce(t testing.TB, rows []outboxRow, msgs []slacksim.Message) {
	t.Helper()
	groups := map[string][]outboxRow{}
	var order []string
	for _, r := range rows {
		if _, ok := groups[r.GroupKey]; !ok {
			order = append(order, r.GroupKey)
		}
		groups[r.GroupKey] = append(groups[r.GroupKey], r)
	}
	next := map[string]int{}
	for i, m := range msgs {
		carried := messageIDs(m)
		matched := false
		for _, g := range order {
			rs, from := groups[g], next[g]
			// The longest run whose message id the message carries.
			best := 0
			for to := from + 1; to <= len(rs); to++ {
				if carried[groupMessageID(t, rs[from:to])] {
					best = to
				}
			}
			if best > 0 {
				next[g], matched = best, true
				break
			}
		}
		if !matched {
			t.Errorf("Slack message %d (ids %v) is not the next message of any group: a repeat or out of order; text %q",
				i, carried, m.Text)
		}
	}
	for _, g := range order {
		if rs := groups[g]; next[g] < len(rs) {
			t.Errorf("group %s: %d of its %d notifications never reached Slack (from %s on)", g, len(rs)-next[g], len(rs), rs[next[g]].NotificationID)
		}
	}
}

// groupMessageID is the id of the message the worker makes of rows (as
// host/notify's worker keys alerts: rule and series).
func groupMessageID(t testing.TB, rows []outboxRow) string {
	t.Helper()
	ns := make([]sdk.Notification, len(rows))
	alerts := make([]string, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.Payload), &ns[i]); err != nil {
			t.Fatalf("notification %s: %v", r.NotificationID, err)
		}
		alerts[i] = r.RuleID + "\x00" + r.Fingerprint
		if r.Fingerprint == "" {
			alerts[i] = r.NotificationID
		}
	}
	return notify.Group(ns, alerts).ID
}
