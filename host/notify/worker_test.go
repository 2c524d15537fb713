package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/notify/notifytest"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
)

// The puod.slack plugin is a main package and cannot be imported to run
// in-process from here, so these tests send through webhookSender: a
// minimal Slack incoming-webhook client over real HTTP to the simulated
// Slack (plugins/sim/slack), mapping its answers as the plugin does (200
// delivered; 429 and 5xx retryable with Retry-After; other codes
// permanent). Messages are counted at the fake.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// webhookSender posts to a (simulated) Slack incoming webhook.
type webhookSender struct {
	url string
	hc  *http.Client
}

func (s webhookSender) Notify(ctx context.Context, sink string, n sdk.Notification) (sdk.NotifyResult, error) {
	// One line per alert: "id title".
	lines := []string{n.ID + " " + n.Title}
	if len(n.Alerts) > 0 {
		lines = lines[:0]
		for _, a := range n.Alerts {
			lines = append(lines, a.ID+" "+a.Title)
		}
	}
	body, _ := json.Marshal(map[string]any{"text": strings.Join(lines, "\n")})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return sdk.NotifyResult{}, fmt.Errorf("post to slack: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	code := strings.TrimSpace(string(raw))
	var after time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		after = time.Duration(secs) * time.Second
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return sdk.NotifyResult{Outcome: sdk.Delivered}, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return sdk.NotifyResult{Outcome: sdk.Retryable, RetryAfter: after, Reason: fmt.Sprintf("slack %d %s", resp.StatusCode, code)}, nil
	}
	return sdk.NotifyResult{Outcome: sdk.Permanent, Reason: fmt.Sprintf("slack refused the message (%d %s)", resp.StatusCode, code)}, nil
}

type env struct {
	db    *store.DB
	ctx   context.Context
	prof  string
	clock *notifytest.Clock
	sl    *slacksim.Server
	send  webhookSender
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	ctx := storetest.Tenant(t, db, "notify", identity.RoleEditor)
	p, _ := identity.From(ctx)
	e := &env{db: db, ctx: ctx, prof: p.ProfileID, clock: notifytest.NewClock(t0)}
	e.sl = slacksim.New(slacksim.Options{Now: e.clock.Now})
	srv := httptest.NewServer(e.sl)
	t.Cleanup(func() { e.sl.Close(); srv.Close() })
	e.send = webhookSender{url: e.sl.WebhookURL(srv.URL, slacksim.DefaultChannel), hc: &http.Client{Timeout: 5 * time.Second}}
	return e
}

func (e *env) worker(t *testing.T, db *store.DB) *notify.Worker {
	t.Helper()
	w, err := notify.New(notify.Config{Clock: e.clock, SendTimeout: 5 * time.Second, Lease: time.Minute},
		hclog.New(&hclog.LoggerOptions{Output: t.Output(), Level: hclog.Warn}), db.System().Outbox(), e.send)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (e *env) intent(id, group string) alert.Intent {
	return alert.Intent{ProfileID: e.prof, RuleID: "rule-" + group, Fingerprint: "fp-" + id, Sinks: []string{"slack-1"},
		Notification: sdk.Notification{ID: id, Status: sdk.NotificationFiring, RuleID: "rule-" + group, Title: "alert " + id, GroupKey: group}}
}

// delivered returns the notification ids in the order the fake accepted
// them (the alerts of a group message in its order), and fails on a
// duplicate.
func (e *env) delivered(t *testing.T) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	for _, msg := range e.messages() {
		for _, id := range msg {
			if seen[id] {
				t.Errorf("notification %s reached slack twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// messages returns, per message the fake accepted, the notification ids
// it carried.
func (e *env) messages() [][]string {
	var out [][]string
	for _, m := range e.sl.Messages() {
		var ids []string
		for _, line := range strings.Split(m.Text, "\n") {
			id, _, _ := strings.Cut(line, " ")
			ids = append(ids, id)
		}
		out = append(out, ids)
	}
	return out
}

func (e *env) states(t *testing.T) map[string]int {
	t.Helper()
	m, err := e.db.System().Outbox().CountByState(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWorker_slackDown(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := e.worker(t, db)
		// Down for 5 minutes of simulated time: 503 for two, then 429
		// with Retry-After 30 s.
		e.sl.DownUntil(t0.Add(2*time.Minute), http.StatusServiceUnavailable, 0)
		e.sl.Inject(slacksim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second, Until: t0.Add(5 * time.Minute)})

		const total, groups = 100, 5
		want := map[string][]string{}
		for i := range total {
			group := fmt.Sprintf("g%d", i%groups)
			id := fmt.Sprintf("n%03d", i)
			want[group] = append(want[group], id)
			if _, err := w.Enqueue(e.ctx, []alert.Intent{e.intent(id, group)}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Drain(e.ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Second) // 100 alerts over 200 s of the outage
		}
		if n := len(e.sl.Messages()); n != 0 {
			t.Fatalf("%d messages got through a down slack", n)
		}
		for e.clock.Now().Before(t0.Add(30*time.Minute)) && e.states(t)[store.NotificationPending] > 0 {
			e.clock.Advance(time.Second)
			if _, err := w.Drain(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		got := e.delivered(t)
		if len(got) != total {
			t.Fatalf("%d of %d notifications delivered by %s; states %v", len(got), total, e.clock.Now().Sub(t0), e.states(t))
		}
		perGroup := map[string][]string{}
		for _, id := range got {
			var i int
			fmt.Sscanf(id, "n%03d", &i)
			g := fmt.Sprintf("g%d", i%groups)
			perGroup[g] = append(perGroup[g], id)
		}
		for g, ids := range want {
			if fmt.Sprint(perGroup[g]) != fmt.Sprint(ids) {
				t.Errorf("group %s delivered in order %v, want %v", g, perGroup[g], ids)
			}
		}
		if s := e.states(t); s[store.NotificationDelivered] != total {
			t.Errorf("outbox states %v, want %d delivered", s, total)
		}
		// Backoff (and Retry-After) bound the refused requests: polling
		// every second would have made hundreds.
		refused := 0
		for _, r := range e.sl.Requests() {
			if r.Status != http.StatusOK {
				refused++
			}
		}
		if refused > 40*groups {
			t.Errorf("%d refused requests during a 5-minute outage: backoff is not backing off", refused)
		}
		t.Logf("all delivered %s after the start of the outage; %d refused requests", e.clock.Now().Sub(t0), refused)
	})
}

func TestWorker_permanentIsDeadLetter(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := e.worker(t, db)
		// The group's message is refused, then "bad" sent alone: each
		// notification gets its own verdict.
		e.sl.RefuseNext(2, "channel_not_found")
		if _, err := w.Enqueue(e.ctx, []alert.Intent{e.intent("bad", "g"), e.intent("next", "g")}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := w.Drain(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		dead, _, err := db.Notifications().List(e.ctx, store.NotificationFilter{State: store.NotificationDead}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].NotificationID != "bad" || !strings.Contains(dead[0].LastError, "channel_not_found") {
			t.Fatalf("dead letters = %+v, want 'bad' with slack's reason", dead)
		}
		if n, _ := db.Notifications().CountDead(e.ctx); n != 1 {
			t.Fatalf("CountDead = %d, want 1", n)
		}
		// A dead letter does not hold its group back.
		if got := e.delivered(t); fmt.Sprint(got) != "[next]" {
			t.Fatalf("delivered %v, want [next]", got)
		}
		// Never retried.
		requests := len(e.sl.Requests())
		for range 10 {
			e.clock.Advance(10 * time.Minute)
			if _, err := w.Drain(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.sl.Requests()); n != requests {
			t.Fatalf("a dead letter was sent again (%d requests, was %d)", n, requests)
		}
	})
}

// TestWorker_crash: one worker stops (cancelled) with notifications
// pending, another dies holding leases (as after kill -9); a new worker on
// the same database delivers everything once.
func TestWorker_crash(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.sl.DownUntil(t0.Add(time.Minute), http.StatusServiceUnavailable, 0)
		first := e.worker(t, db)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error, 1)
		go func() { done <- first.Run(ctx) }()
		var intents []alert.Intent
		for i := range 20 {
			intents = append(intents, e.intent(fmt.Sprintf("c%02d", i), fmt.Sprintf("g%d", i%4)))
		}
		if _, err := first.Enqueue(e.ctx, intents); err != nil {
			t.Fatal(err)
		}
		// The first worker tries the four group heads, then waits.
		waitFor(t, func() bool { return len(e.sl.Requests()) >= 4 && e.clock.Pending() > 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// A second process claimed rows and was killed before sending:
		// its leases are left behind.
		e.clock.Advance(time.Minute)
		other := storetest.Reopen(t, db)
		held, err := other.System().Outbox().Claim(e.ctx, e.clock.Now(), time.Minute, 2)
		if err != nil || len(held) == 0 {
			t.Fatalf("claim by the doomed process = %v, %v", len(held), err)
		}

		restarted := e.worker(t, storetest.Reopen(t, db))
		ctx2, cancel2 := context.WithCancel(e.ctx)
		defer cancel2()
		go func() { done <- restarted.Run(ctx2) }()
		deadline := e.clock.Now().Add(time.Hour)
		for e.states(t)[store.NotificationPending] > 0 && e.clock.Now().Before(deadline) {
			waitFor(t, func() bool { return e.clock.Pending() > 0 })
			e.clock.Advance(time.Second)
		}
		cancel2()
		<-done
		if got := e.delivered(t); len(got) != len(intents) {
			t.Fatalf("delivered %d of %d after the restart: %v (states %v)", len(got), len(intents), got, e.states(t))
		}
		// Written again (the engine retrying its last write): nothing new.
		if n, err := restarted.Enqueue(e.ctx, intents); err != nil || n != 0 {
			t.Fatalf("re-enqueue = %d, %v; want 0", n, err)
		}
		e.clock.Advance(time.Hour)
		if _, err := restarted.Drain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.delivered(t); len(got) != len(intents) {
			t.Fatalf("%d messages after re-enqueue, want %d", len(got), len(intents))
		}
	})
}

func TestWorker_backoff(t *testing.T) {
	w, err := notify.New(notify.Config{Jitter: func() float64 { return 0.999999 }}, nil, (&store.DB{}).System().Outbox(),
		notify.SenderFunc(func(context.Context, string, sdk.Notification) (sdk.NotifyResult, error) {
			return sdk.NotifyResult{}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{{1, 500 * time.Millisecond, time.Second}, {2, time.Second, 2 * time.Second}, {4, 4 * time.Second, 8 * time.Second},
		{9, 150 * time.Second, 5 * time.Minute}, {40, 150 * time.Second, 5 * time.Minute}} {
		if d := w.Backoff(tc.attempt); d < tc.min || d > tc.max {
			t.Errorf("Backoff(%d) = %s, want in [%s, %s]", tc.attempt, d, tc.min, tc.max)
		}
	}
	if _, err := notify.New(notify.Config{Lease: time.Second, SendTimeout: time.Minute}, nil, (&store.DB{}).System().Outbox(),
		notify.SenderFunc(nil)); err == nil {
		t.Error("a lease shorter than the send timeout was accepted")
	}
}

// waitFor polls cond in real time (the worker runs in a goroutine).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// TestWorker_groups: notifications of a group decided within its wait go
// in one message; the next message of the group waits for the interval;
// an alert's firing and resolve in one message count once (its latest);
// another group is not held back by this one's interval.
func TestWorker_groups(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := e.worker(t, db)
		in := func(id, group, fp string, status sdk.NotificationStatus) alert.Intent {
			i := e.intent(id, group)
			i.Fingerprint, i.Notification.Status = fp, status
			i.GroupWait, i.GroupInterval = 2*time.Second, 10*time.Second
			return i
		}
		step := func(at time.Duration, intents ...alert.Intent) {
			t.Helper()
			e.clock.Advance(t0.Add(at).Sub(e.clock.Now()))
			if len(intents) > 0 {
				if _, err := w.Enqueue(e.ctx, intents); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.Drain(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		want := func(what string, msgs ...string) {
			t.Helper()
			var got []string
			for _, m := range e.messages() {
				got = append(got, strings.Join(m, "+"))
			}
			if fmt.Sprint(got) != fmt.Sprint(msgs) {
				t.Fatalf("%s: messages %v, want %v", what, got, msgs)
			}
		}
		step(0, in("a1", "g", "fp1", sdk.NotificationFiring))
		want("during the group wait")
		step(time.Second, in("a2", "g", "fp2", sdk.NotificationFiring))
		step(2 * time.Second)
		want("at the end of the wait", "a1+a2")
		step(3*time.Second, in("a3", "g", "fp3", sdk.NotificationFiring), in("b1", "other", "fpb", sdk.NotificationFiring))
		step(5 * time.Second)
		want("within the interval; another group has its own", "a1+a2", "b1")
		step(11 * time.Second)
		want("just before the interval ends", "a1+a2", "b1")
		step(12 * time.Second)
		want("when the interval ends", "a1+a2", "b1", "a3")
		step(60*time.Second, in("a4", "g", "fp4", sdk.NotificationFiring), in("a4r", "g", "fp4", sdk.NotificationResolved))
		step(62 * time.Second)
		want("firing and resolve of one alert together", "a1+a2", "b1", "a3", "a4r")
		if s := e.states(t); s[store.NotificationDelivered] != 6 {
			t.Errorf("outbox states %v, want all 6 rows delivered", s)
		}
	})
}

// TestWorker_retriedDeadLetterGetsANewAge: a dead letter older than
// MaxAge, sent again by a person, is retried on a transient failure (its
// age counts from the retry) and then delivered.
func TestWorker_retriedDeadLetterGetsANewAge(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		w := e.worker(t, db)
		e.sl.RefuseNext(1, "channel_not_found")
		if _, err := w.Enqueue(e.ctx, []alert.Intent{e.intent("old", "g")}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Drain(e.ctx); err != nil {
			t.Fatal(err)
		}
		dead, _, err := db.Notifications().List(e.ctx, store.NotificationFilter{State: store.NotificationDead}, store.Page{})
		if err != nil || len(dead) != 1 {
			t.Fatalf("dead letters = %v, %v", len(dead), err)
		}
		e.clock.Advance(48 * time.Hour) // far past MaxAge (24 h)
		if _, err := db.Notifications().Retry(e.ctx, dead[0].ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.sl.DownUntil(e.clock.Now().Add(time.Second), http.StatusServiceUnavailable, 0)
		if _, err := w.Drain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if row, _ := db.System().Outbox().Get(e.ctx, dead[0].ID); row.State != store.NotificationPending {
			t.Fatalf("after a 503 the retried dead letter is %s (%q), want pending for another attempt", row.State, row.LastError)
		}
		e.clock.Advance(time.Minute)
		if _, err := w.Drain(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.delivered(t); fmt.Sprint(got) != "[old]" {
			t.Fatalf("delivered %v, want [old]", got)
		}
	})
}
