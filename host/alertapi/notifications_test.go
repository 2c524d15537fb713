package alertapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
)

// outboxFixture is a profile's outbox as the engine and the worker leave
// it: a rule with three notifications of two series to two sinks, one
// delivered, one dead letter and one pending.
type outboxFixture struct {
	rule                       alertapi.Rule
	slackID                    string
	delivered, dead, pending   string
	deliveredAt, t0, retryTime time.Time
}

type notificationList struct {
	Notifications []alertapi.Notification `json:"notifications"`
	NextCursor    string                  `json:"next_cursor"`
	DeadCount     int                     `json:"dead_count"`
}

func seedOutbox(t *testing.T, e *env, tok string) outboxFixture {
	t.Helper()
	ctx := e.ctxOf(tok)
	p, _ := identity.From(ctx)
	var f outboxFixture
	e.must(e.do(tok, "POST", "/api/v1/alert-rules", slowRule("ETL_Vendas slow "+p.ProfileID)), http.StatusCreated).decode(t, &f.rule)
	src, err := e.db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.slack", Name: "Slack #data", Config: json.RawMessage(`{}`), Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	f.slackID = src.ID
	f.t0 = e.now.Add(-time.Hour)
	payload := func(id, fp string, status sdk.NotificationStatus) []byte {
		b, err := json.Marshal(sdk.Notification{ID: id, Status: status, RuleID: f.rule.ID, RuleName: "name when decided", Severity: "warning",
			Title: "ETL_Vendas took 6m (" + string(status) + ")", Summary: "Run 42 succeeded after 6m.",
			Labels: map[string]string{"pipeline": "ETL_Vendas", "team": "sales"}, PipelineName: "ETL_Vendas", RunExternalID: "42",
			Value: "6m", Threshold: "5m", StartsAt: f.t0})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	row := func(nid, fp, sink string, status sdk.NotificationStatus, at time.Time) store.NewNotification {
		return store.NewNotification{ProfileID: p.ProfileID, NotificationID: nid, RuleID: f.rule.ID, Fingerprint: fp, SinkSourceID: sink,
			GroupKey: f.rule.ID + "/" + fp, Payload: payload(nid, fp, status), CreatedAt: at}
	}
	ob := e.db.System().Outbox()
	if _, err := ob.Enqueue(ctx, []store.NewNotification{
		row("ntf-firing", "fp1", f.slackID, sdk.NotificationFiring, f.t0),
		row("ntf-firing", "fp1", "deleted-sink", sdk.NotificationFiring, f.t0),
		row("ntf-other", "fp2", f.slackID, sdk.NotificationResolved, f.t0.Add(10*time.Minute)),
	}); err != nil {
		t.Fatal(err)
	}
	claimed, err := ob.Claim(ctx, f.t0.Add(10*time.Minute), time.Minute, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	f.delivered, f.dead, f.pending = claimed[0].ID, claimed[1].ID, claimed[2].ID
	f.deliveredAt = f.t0.Add(time.Second)
	if err := ob.MarkDelivered(ctx, f.delivered, f.deliveredAt); err != nil {
		t.Fatal(err)
	}
	if err := ob.MarkRetry(ctx, f.dead, f.t0.Add(2*time.Second), "slack failed (503)"); err != nil {
		t.Fatal(err)
	}
	if err := ob.MarkDead(ctx, f.dead, "incoming webhook: slack refused the message: no_service (HTTP 404)"); err != nil {
		t.Fatal(err)
	}
	f.retryTime = f.t0.Add(15 * time.Minute)
	if err := ob.MarkRetry(ctx, f.pending, f.retryTime, "slack rate limit (429)"); err != nil {
		t.Fatal(err)
	}
	return f
}

func idsOf(ns []alertapi.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func TestHTTP_notificationsList(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)
		f := seedOutbox(t, e, ed)

		var all notificationList
		e.must(e.do(viewer, "GET", "/api/v1/notifications", nil), http.StatusOK).decode(t, &all)
		if got, want := idsOf(all.Notifications), []string{f.pending, f.dead, f.delivered}; !slices.Equal(got, want) {
			t.Fatalf("list = %v, want newest first %v", got, want)
		}
		if all.NextCursor != "" || all.DeadCount != 1 {
			t.Fatalf("next_cursor %q, dead_count %d; want none and 1", all.NextCursor, all.DeadCount)
		}
		pend, dead, deliv := all.Notifications[0], all.Notifications[1], all.Notifications[2]
		if deliv.NotificationID != "ntf-firing" || deliv.RuleID != f.rule.ID || deliv.RuleName != f.rule.Name || deliv.Fingerprint != "fp1" ||
			deliv.AlertID != f.rule.ID+":fp1" || deliv.SinkSourceID != f.slackID || deliv.SinkName != "Slack #data" ||
			deliv.GroupKey != f.rule.ID+"/fp1" || deliv.Status != "firing" || deliv.Title != "ETL_Vendas took 6m (firing)" ||
			deliv.State != "delivered" || deliv.Attempts != 0 || deliv.NextAttemptAt != nil || deliv.DeliveredAt == nil ||
			!deliv.DeliveredAt.Equal(f.deliveredAt) || !deliv.CreatedAt.Equal(f.t0) || deliv.Severity != "warning" {
			t.Errorf("delivered = %+v", deliv)
		}
		if dead.State != "dead" || dead.Attempts != 2 || !strings.Contains(dead.LastError, "no_service") || dead.SinkName != "" ||
			dead.SinkSourceID != "deleted-sink" || dead.NextAttemptAt != nil || dead.DeliveredAt != nil {
			t.Errorf("dead = %+v", dead)
		}
		if pend.State != "pending" || pend.Status != "resolved" || pend.Attempts != 1 || pend.LastError != "slack rate limit (429)" ||
			pend.NextAttemptAt == nil || !pend.NextAttemptAt.Equal(f.retryTime) || pend.AlertID != f.rule.ID+":fp2" {
			t.Errorf("pending = %+v", pend)
		}

		filtered := func(query string) []string {
			t.Helper()
			var l notificationList
			e.must(e.do(viewer, "GET", "/api/v1/notifications?"+query, nil), http.StatusOK).decode(t, &l)
			return idsOf(l.Notifications)
		}
		since := url.QueryEscape(f.t0.Add(time.Minute).Format(time.RFC3339))
		cases := []struct {
			query string
			want  []string
		}{
			{"state=dead", []string{f.dead}},
			{"state=delivered", []string{f.delivered}},
			{"state=pending", []string{f.pending}},
			{"rule_id=" + f.rule.ID + "&fingerprint=fp1", []string{f.dead, f.delivered}},
			{"fingerprint=fp2", []string{f.pending}},
			{"sink=" + f.slackID, []string{f.pending, f.delivered}},
			{"sink=deleted-sink&state=dead", []string{f.dead}},
			{"status=resolved", []string{f.pending}},
			{"status=firing", []string{f.dead, f.delivered}},
			{"since=" + since, []string{f.pending}},
			{"until=" + since, []string{f.dead, f.delivered}},
			{"rule_id=%25", nil},
			{"fingerprint=fp_", nil},
		}
		for _, c := range cases {
			if got := filtered(c.query); !slices.Equal(got, c.want) {
				t.Errorf("?%s = %v, want %v", c.query, got, c.want)
			}
		}

		// Pages: no row twice, none left out, and the cursor moves on.
		var pages []string
		path := "/api/v1/notifications?limit=2"
		for range 3 {
			var l notificationList
			e.must(e.do(viewer, "GET", path, nil), http.StatusOK).decode(t, &l)
			pages = append(pages, idsOf(l.Notifications)...)
			if l.NextCursor == "" {
				break
			}
			path = "/api/v1/notifications?limit=2&cursor=" + url.QueryEscape(l.NextCursor)
		}
		if !slices.Equal(pages, []string{f.pending, f.dead, f.delivered}) {
			t.Fatalf("paged = %v", pages)
		}

		for _, q := range []struct{ query, field string }{
			{"state=lost", "state"}, {"status=burning", "status"}, {"since=yesterday", "since"}, {"limit=0", "limit"},
			{"limit=501", "limit"}, {"cursor=not-a-cursor", "cursor"}, {"colour=red", "colour"}, {"state=dead&state=pending", "state"},
			{"since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", "until"},
		} {
			res := e.do(viewer, "GET", "/api/v1/notifications?"+q.query, nil)
			if res.status != http.StatusBadRequest {
				t.Errorf("?%s: %s, want 400", q.query, res)
				continue
			}
			if eb := res.err(t); eb.Error.Code != "invalid_request" || !slices.Contains(fieldsOf(eb), q.field) || !strings.Contains(eb.Error.Message, q.field) {
				t.Errorf("?%s: %s, want invalid_request naming %s", q.query, res, q.field)
			}
		}
		for _, q := range []string{"rule_id=%00", "sink=%ff"} {
			if res := e.do(viewer, "GET", "/api/v1/notifications?"+q, nil); res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
				t.Errorf("?%s: %s, want 400 JSON", q, res)
			}
		}
	})
}

func TestHTTP_notificationGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	viewer := e.member("acme", identity.RoleViewer)
	f := seedOutbox(t, e, ed)
	var d alertapi.NotificationDetail
	e.must(e.do(viewer, "GET", "/api/v1/notifications/"+f.dead, nil), http.StatusOK).decode(t, &d)
	if d.ID != f.dead || d.State != "dead" || d.Payload == nil || d.Payload.ID != "ntf-firing" || d.Payload.Labels["pipeline"] != "ETL_Vendas" ||
		d.Payload.Summary != "Run 42 succeeded after 6m." || d.Payload.Value != "6m" || d.Payload.Threshold != "5m" || !d.Payload.StartsAt.Equal(f.t0) {
		t.Fatalf("detail = %+v (payload %+v)", d, d.Payload)
	}
	for _, id := range []string{"no-such-id", "'%20OR%201=1%20--", "%25"} {
		res := e.do(viewer, "GET", "/api/v1/notifications/"+id, nil)
		if res.status != http.StatusNotFound || res.err(t).Error.Code != "not_found" {
			t.Errorf("GET %s: %s, want 404 JSON", id, res)
		}
	}
	// Ids no row can have are refused before the store sees them.
	for _, id := range []string{"%00", "%ff"} {
		if res := e.do(viewer, "GET", "/api/v1/notifications/"+id, nil); res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
			t.Errorf("GET %s: %s, want 400 JSON", id, res)
		}
	}
	if res := e.do(viewer, "GET", "/api/v1/notifications/"+f.dead+"?x=1", nil); res.status != http.StatusBadRequest {
		t.Errorf("unknown query parameter: %s", res)
	}
}

func TestHTTP_notificationRetry(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		ed := e.member("acme", identity.RoleEditor)
		viewer := e.member("acme", identity.RoleViewer)
		f := seedOutbox(t, e, ed)

		if res := e.do(viewer, "POST", "/api/v1/notifications/"+f.dead+"/retry", nil); res.status != http.StatusForbidden || res.err(t).Error.Code != "forbidden" {
			t.Fatalf("viewer retry: %s, want 403", res)
		}
		for id, want := range map[string]string{f.delivered: "was delivered", f.pending: "is pending"} {
			res := e.do(ed, "POST", "/api/v1/notifications/"+id+"/retry", nil)
			if res.status != http.StatusConflict {
				t.Fatalf("retry of %s: %s, want 409", id, res)
			}
			if eb := res.err(t); eb.Error.Code != "conflict" || !strings.Contains(eb.Error.Message, want) || !strings.Contains(eb.Error.Message, "only a dead notification can be retried") {
				t.Errorf("retry of %s: message %q", id, eb.Error.Message)
			}
		}
		if res := e.do(ed, "POST", "/api/v1/notifications/"+f.dead+"/retry", `{"force":true}`); res.status != http.StatusBadRequest {
			t.Fatalf("retry with a body: %s, want 400", res)
		}
		if res := e.do(ed, "POST", "/api/v1/notifications/no-such-id/retry", nil); res.status != http.StatusNotFound || res.err(t).Error.Code != "not_found" {
			t.Errorf("retry of an unknown id: %s, want 404 JSON", res)
		}
		if res := e.do(ed, "POST", "/api/v1/notifications/%00/retry", nil); res.status != http.StatusBadRequest || res.err(t).Error.Code != "invalid_request" {
			t.Errorf("retry of a malformed id: %s, want 400 JSON", res)
		}

		var n alertapi.Notification
		e.must(e.do(ed, "POST", "/api/v1/notifications/"+f.dead+"/retry", nil), http.StatusOK).decode(t, &n)
		if n.ID != f.dead || n.State != "pending" || n.Attempts != 2 || !strings.Contains(n.LastError, "no_service") ||
			n.NextAttemptAt == nil || !n.NextAttemptAt.Equal(e.now) {
			t.Fatalf("retried = %+v; want pending now, attempts and reason kept", n)
		}
		// The worker's claim takes it at once.
		c, err := db.System().Outbox().Claim(t.Context(), e.now, time.Minute, 10)
		if err != nil || !slices.Contains(func() []string {
			var ids []string
			for _, r := range c {
				ids = append(ids, r.ID)
			}
			return ids
		}(), f.dead) {
			t.Fatalf("claim after the retry = %+v, %v", c, err)
		}
		if res := e.do(ed, "POST", "/api/v1/notifications/"+f.dead+"/retry", nil); res.status != http.StatusConflict {
			t.Fatalf("second retry: %s, want 409", res)
		}
		var l notificationList
		e.must(e.do(viewer, "GET", "/api/v1/notifications?state=dead", nil), http.StatusOK).decode(t, &l)
		if len(l.Notifications) != 0 || l.DeadCount != 0 {
			t.Fatalf("dead letters after the retry: %+v", l)
		}

		ch := e.bus.changes(t)
		if len(ch) == 0 {
			t.Fatal("nothing published")
		}
		if last := ch[len(ch)-1]; last.Kind != alertapi.ChangedNotification || last.NotificationID != f.dead || last.RuleID != f.rule.ID ||
			last.AlertID != f.rule.ID+":fp1" {
			t.Fatalf("published %+v", last)
		}
		entries, _, err := db.Audit().List(e.ctxOf(ed), store.AuditFilter{Action: alertapi.ActionNotificationRetry}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, en := range entries {
			outcomes[en.Outcome]++
			if en.Outcome == "success" && en.ObjectID != f.dead {
				t.Errorf("audited success on %s, want %s", en.ObjectID, f.dead)
			}
		}
		// One success; the refusals the handler saw (409 ×3, the body's
		// 400, the unknown id's 404) are audited as failures.
		if outcomes["success"] != 1 || outcomes["failure"] != 5 {
			t.Fatalf("audit outcomes = %v", outcomes)
		}
	})
}

// TestHTTP_notificationsOtherProfile: another profile's notifications are
// not listed, not found and cannot be retried.
func TestHTTP_notificationsOtherProfile(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		e := newEnv(t, db)
		a := e.member("alpha", identity.RoleEditor)
		b := e.member("bravo", identity.RoleAdmin)
		f := seedOutbox(t, e, a)
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/notifications/" + f.dead},
			{"POST", "/api/v1/notifications/" + f.dead + "/retry"},
			{"GET", "/api/v1/notifications/" + f.delivered},
		} {
			res := e.do(b, c.method, c.path, nil)
			if res.status != http.StatusNotFound || res.err(t).Error.Code != "not_found" {
				t.Errorf("B %s %s: %s, want 404", c.method, c.path, res)
			}
		}
		for _, q := range []string{"", "?rule_id=" + f.rule.ID, "?sink=" + f.slackID, "?state=dead"} {
			var l notificationList
			res := e.must(e.do(b, "GET", "/api/v1/notifications"+q, nil), http.StatusOK)
			res.decode(t, &l)
			if len(l.Notifications) != 0 || l.DeadCount != 0 || strings.Contains(string(res.body), f.rule.ID) {
				t.Errorf("B lists A's notifications with %q: %s", q, res.body)
			}
		}
		var d alertapi.NotificationDetail
		e.must(e.do(a, "GET", "/api/v1/notifications/"+f.dead, nil), http.StatusOK).decode(t, &d)
		if d.State != "dead" {
			t.Fatalf("B's retry changed A's dead letter: %+v", d)
		}
	})
}

// TestHTTP_notificationMetrics: /metrics counts the outbox by state, dead
// letters included.
func TestHTTP_notificationMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.OpenSQLite(t))
	ed := e.member("acme", identity.RoleEditor)
	seedOutbox(t, e, ed)
	res := e.must(e.do("", "GET", "/metrics", nil), http.StatusOK)
	for _, want := range []string{`puod_notifications{state="dead"} 1`, `puod_notifications{state="delivered"} 1`, `puod_notifications{state="pending"} 1`} {
		if !strings.Contains(string(res.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
