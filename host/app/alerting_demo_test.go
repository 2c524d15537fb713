package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// TestServe_demoAlert is the demo: with --demo the host provisions
// the fake Slack as a puod.slack source and the seed rule "duration of
// ETL_Vendas > 5 min → Slack"; an ETL_Vendas run of 6 minutes (sent as
// OpenLineage events with controlled times, so nothing depends on the
// simulators' random runs) produces exactly one message at the fake
// Slack, through the outbox and the real Slack plugin process, and a fast
// run then produces one resolved message. Only the Slack plugin is
// installed, so the connector simulators add no runs.
func TestServe_demoAlert(t *testing.T) {
	e := startAlertingHost(t, hclog.Warn, true)
	a := e.app
	slack := a.Demo().Slack

	// Wait for the Slack source and the seed rule.
	db := a.Store()
	prof, err := db.System().Profiles().ByName(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	tenant := identity.With(context.Background(), identity.Principal{UserID: "test", ProfileID: prof.ID, Role: identity.RoleAdmin})
	waitFor(t, "the demo's Slack source and seed rule", func() bool {
		rules, err := db.AlertRules().List(tenant)
		if err != nil || len(rules) != 1 {
			return false
		}
		srcs, _, err := db.Sources().List(tenant, store.Page{})
		return err == nil && len(srcs) == 1 && srcs[0].PluginID == "puod.slack" && strings.Contains(string(rules[0].Spec), srcs[0].ID)
	})
	e.waitPlugin(t, "puod.slack")

	access, _ := e.login(t, "admin", adminPassword)
	token := createAPIToken(t, e, access, "lineage", "editor")
	now := time.Now().UTC()
	lineageAt(t, e, token, "START", "11111111-1111-4111-8111-111111111111", now.Add(-7*time.Minute))
	lineageAt(t, e, token, "COMPLETE", "11111111-1111-4111-8111-111111111111", now.Add(-time.Minute))

	msgs := waitMessages(t, slack.Messages, 1)
	// Nothing more arrives for the same episode (the tick keeps running).
	time.Sleep(2 * time.Second)
	if got := slack.Messages(); len(got) != 1 {
		t.Fatalf("after a slow run: %d Slack messages, want exactly 1: %+v", len(got), got)
	}
	if !strings.Contains(msgs[0].Text+string(msgs[0].Body), "ETL_Vendas") {
		t.Errorf("firing message does not name the pipeline: %+v", msgs[0])
	}

	lineageAt(t, e, token, "START", "22222222-2222-4222-8222-222222222222", time.Now().UTC().Add(-30*time.Second))
	lineageAt(t, e, token, "COMPLETE", "22222222-2222-4222-8222-222222222222", time.Now().UTC())
	msgs = waitMessages(t, slack.Messages, 2)
	time.Sleep(2 * time.Second)
	if got := slack.Messages(); len(got) != 2 {
		t.Fatalf("after a fast run: %d Slack messages, want 2 (firing, resolved)", len(got))
	}
	if body := strings.ToLower(msgs[1].Text + string(msgs[1].Body)); !strings.Contains(body, "resolved") {
		t.Errorf("second message is not a resolved one: %+v", msgs[1])
	}

	// Silenced: the next slow run fires (the state says so) but its
	// notification is held, not written to the outbox, so nothing can
	// reach Slack.
	var sil struct {
		ID string `json:"id"`
	}
	must(t, e.do(t, req{method: "POST", path: "/api/v1/silences", token: access, body: map[string]any{
		"matchers": []any{map[string]any{"name": "team", "op": "=", "value": "data-sales"}},
		"ends_at":  time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "comment": "maintenance of ETL_Vendas"}}), http.StatusCreated).json(t, &sil)
	// It must start after the fast run to be the pipeline's latest, so it
	// reports an end in the (near) future to last six minutes.
	now = time.Now().UTC()
	lineageAt(t, e, token, "START", "33333333-3333-4333-8333-333333333333", now)
	lineageAt(t, e, token, "COMPLETE", "33333333-3333-4333-8333-333333333333", now.Add(6*time.Minute))
	waitFor(t, "the silenced alert to fire", func() bool {
		sts, err := db.AlertStates().List(tenant, store.AlertStateFilter{State: "firing"})
		return err == nil && len(sts) == 1
	})
	ns := e.tableCounts(t)["notifications"]
	if ns != 2 {
		t.Errorf("outbox rows after a silenced firing: %d, want 2 (the earlier firing and resolved)", ns)
	}
	time.Sleep(2 * time.Second)
	if got := slack.Messages(); len(got) != 2 {
		t.Fatalf("a silenced alert reached Slack: %d messages, want 2", len(got))
	}
	var alerts struct {
		Alerts []struct {
			State      string            `json:"state"`
			HeldStatus string            `json:"held_status"`
			HeldBy     []string          `json:"held_by"`
			Labels     map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	must(t, e.do(t, req{method: "GET", path: "/api/v1/alerts", token: access}), http.StatusOK).json(t, &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].HeldStatus != "firing" || len(alerts.Alerts[0].HeldBy) != 1 ||
		!strings.Contains(alerts.Alerts[0].HeldBy[0], sil.ID) {
		t.Fatalf("the API does not show the held notification and its silence: %+v", alerts.Alerts)
	}

	// Expiring the silence resumes it: the held firing is sent.
	must(t, e.do(t, req{method: "DELETE", path: "/api/v1/silences/" + sil.ID, token: access}), http.StatusNoContent)
	msgs = waitMessages(t, slack.Messages, 3)
	if body := msgs[2].Text + string(msgs[2].Body); !strings.Contains(body, "ETL_Vendas") || strings.Contains(strings.ToLower(msgs[2].Text), "resolved") {
		t.Errorf("after the silence: third message is not the held firing: %+v", msgs[2])
	}

	// Inhibition: while the pipeline's source is unhealthy, its alert's
	// resolve is held; when the source recovers it is sent.
	sourceID := alerts.Alerts[0].Labels["source_id"]
	if err := db.Sources().UpdateHealth(tenant, sourceID, store.SourceHealth{Status: store.HealthError, LastError: "vendor API unreachable"}); err != nil {
		t.Fatal(err)
	}
	now = time.Now().UTC().Add(7 * time.Minute) // after the silenced run's (future) end
	lineageAt(t, e, token, "START", "44444444-4444-4444-8444-444444444444", now)
	lineageAt(t, e, token, "COMPLETE", "44444444-4444-4444-8444-444444444444", now.Add(30*time.Second))
	waitFor(t, "the inhibited alert to resolve", func() bool {
		sts, err := db.AlertStates().List(tenant, store.AlertStateFilter{State: "resolved"})
		return err == nil && len(sts) == 1
	})
	time.Sleep(2 * time.Second)
	if got := slack.Messages(); len(got) != 3 {
		t.Fatalf("an alert of an unhealthy source reached Slack: %d messages, want 3", len(got))
	}
	must(t, e.do(t, req{method: "GET", path: "/api/v1/alerts", token: access}), http.StatusOK).json(t, &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].HeldStatus != "resolved" || len(alerts.Alerts[0].HeldBy) != 1 ||
		!strings.Contains(alerts.Alerts[0].HeldBy[0], "vendor API unreachable") {
		t.Fatalf("the API does not show the inhibited resolve: %+v", alerts.Alerts)
	}
	if err := db.Sources().UpdateHealth(tenant, sourceID, store.SourceHealth{Status: store.HealthOK}); err != nil {
		t.Fatal(err)
	}
	msgs = waitMessages(t, slack.Messages, 4)
	if body := strings.ToLower(msgs[3].Text + string(msgs[3].Body)); !strings.Contains(body, "resolved") {
		t.Errorf("after the source recovered: fourth message is not the resolve: %+v", msgs[3])
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s still waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitMessages[M any](t *testing.T, list func() []M, n int) []M {
	t.Helper()
	var got []M
	waitFor(t, "Slack messages", func() bool { got = list(); return len(got) >= n })
	return got
}

// lineageAt sends one OpenLineage event of ETL_Vendas at a chosen time.
func lineageAt(t *testing.T, e *testEnv, token, eventType, runID string, at time.Time) {
	t.Helper()
	must(t, e.do(t, req{method: "POST", path: "/api/v1/lineage", token: token, body: map[string]any{
		"eventType": eventType, "eventTime": at.Format(time.RFC3339Nano), "producer": "https://example.com/alert-demo-test",
		"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"run":       map[string]any{"runId": runID}, "job": map[string]any{"namespace": "demo", "name": "ETL_Vendas"}}}), http.StatusOK)
}
