package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestSlack_conformanceWebhook(t *testing.T) {
	e := newEnv(t)
	cfg, secrets := e.webhookConfig("")
	plugintest.RunAlertSinkSuite(t, plugintest.AlertSinkSuite[Config]{
		Plugin:      e.plugin(),
		BundleDir:   ".",
		ValidConfig: cfg,
		Secrets:     secrets,
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "no transport", Config: []byte(`{}`), Secrets: map[string]string{}, Field: "/webhook_url"},
			{Name: "both transports", Config: []byte(`{"channel": "C1"}`), Secrets: map[string]string{"webhook_url": e.hook, "bot_token": testBotToken}, Field: "/webhook_url"},
			{Name: "webhook with channel", Config: []byte(`{"channel": "C1"}`), Secrets: secrets, Field: "/channel"},
			{Name: "webhook without path", Config: []byte(`{}`), Secrets: map[string]string{"webhook_url": e.srv.URL}, Field: "/webhook_url"},
			{Name: "bad layout", Config: []byte(`{"layout": "fancy"}`), Secrets: secrets, Field: "/layout"},
		},
	})
}

func TestSlack_conformanceBot(t *testing.T) {
	e := newEnv(t)
	cfg, secrets := e.botConfig("")
	missing := plugintest.SampleNotifications()[0]
	missing.ID, missing.Labels = "to-missing-channel", map[string]string{"slack_channel": "C0DOESNOTEXIST"}
	archived := plugintest.SampleNotifications()[0]
	archived.ID, archived.Labels = "to-archived-channel", map[string]string{"slack_channel": "old-alerts"}
	plugintest.RunAlertSinkSuite(t, plugintest.AlertSinkSuite[Config]{
		Plugin:      e.plugin(),
		BundleDir:   ".",
		ValidConfig: cfg,
		Secrets:     secrets,
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "bot without channel", Config: []byte(`{}`), Secrets: secrets, Field: "/channel"},
			{Name: "not a slack token", Config: []byte(`{"channel": "C1"}`), Secrets: map[string]string{"bot_token": "ghp_notSlack0123456789"}, Field: "/bot_token"},
		},
		Permanent: []sdk.Notification{missing, archived},
	})
}

// TestSlack_answers drives both transports through every answer Slack (or
// the network) can give and checks the outcome the host sees.
func TestSlack_answers(t *testing.T) {
	e := newEnv(t)
	type want struct {
		outcome    sdk.NotifyOutcome
		retryAfter time.Duration
		reason     string // the reason contains it
	}
	cases := []struct {
		name   string
		bot    bool
		fault  *slacksim.Fault
		labels map[string]string
		setup  func(t *testing.T) (cfg json.RawMessage, secrets map[string]string) // overrides the config
		want   want
	}{
		{name: "webhook ok", want: want{outcome: sdk.Delivered}},
		{name: "webhook 503", fault: &slacksim.Fault{Status: 503}, want: want{sdk.Retryable, 0, "503"}},
		{name: "webhook 503 with Retry-After", fault: &slacksim.Fault{Status: 503, RetryAfter: 20 * time.Second}, want: want{sdk.Retryable, 20 * time.Second, "503"}},
		{name: "webhook 500 rollup_error", fault: &slacksim.Fault{Error: "rollup_error"}, want: want{sdk.Retryable, 0, "rollup_error"}},
		{name: "webhook 429 Retry-After", fault: &slacksim.Fault{Status: 429, RetryAfter: 7 * time.Second}, want: want{sdk.Retryable, 7 * time.Second, "rate limit"}},
		{name: "webhook invalid_payload", fault: &slacksim.Fault{Error: "invalid_payload"}, want: want{sdk.Permanent, 0, "invalid_payload (HTTP 400)"}},
		{name: "webhook no_text", fault: &slacksim.Fault{Error: "no_text"}, want: want{sdk.Permanent, 0, "no_text (HTTP 400)"}},
		{name: "webhook invalid_token", fault: &slacksim.Fault{Error: "invalid_token"}, want: want{sdk.Permanent, 0, "invalid_token (HTTP 403): the webhook URL is not valid"}},
		{name: "webhook action_prohibited", fault: &slacksim.Fault{Error: "action_prohibited"}, want: want{sdk.Permanent, 0, "action_prohibited (HTTP 403)"}},
		{name: "webhook no_service", fault: &slacksim.Fault{Error: "no_service"}, want: want{sdk.Permanent, 0, "no_service (HTTP 404): the webhook was disabled or removed"}},
		{name: "webhook channel_not_found", fault: &slacksim.Fault{Error: "channel_not_found"}, want: want{sdk.Permanent, 0, "channel_not_found (HTTP 404)"}},
		{name: "webhook channel_is_archived", fault: &slacksim.Fault{Error: "channel_is_archived"}, want: want{sdk.Permanent, 0, "channel_is_archived (HTTP 410)"}},
		{name: "webhook hangs", fault: &slacksim.Fault{Hang: true}, want: want{sdk.Retryable, 0, "did not answer within 1s"}},
		{name: "webhook removed", setup: func(t *testing.T) (json.RawMessage, map[string]string) {
			hook := e.sl.WebhookURL(e.srv.URL, slacksim.DefaultChannel)
			e.sl.RemoveWebhook(hook)
			return json.RawMessage(`{"timeout_seconds": 1}`), map[string]string{"webhook_url": hook}
		}, want: want{sdk.Permanent, 0, "no_service"}},
		{name: "webhook unreachable", setup: func(t *testing.T) (json.RawMessage, map[string]string) {
			dead := httptest.NewServer(nil)
			dead.Close()
			return json.RawMessage(`{"timeout_seconds": 1}`), map[string]string{"webhook_url": dead.URL + "/services/T1/B1/deadsecretpath0000"}
		}, want: want{sdk.Retryable, 0, "cannot reach slack"}},

		{name: "bot ok", bot: true, want: want{outcome: sdk.Delivered}},
		{name: "bot ok to a channel by label", bot: true, labels: map[string]string{"slack_channel": "#data-ops"}, want: want{outcome: sdk.Delivered}},
		{name: "bot 429 ratelimited", bot: true, fault: &slacksim.Fault{Error: "ratelimited", RetryAfter: 30 * time.Second}, want: want{sdk.Retryable, 30 * time.Second, "rate limit"}},
		{name: "bot 503", bot: true, fault: &slacksim.Fault{Status: 503}, want: want{sdk.Retryable, 0, "503"}},
		{name: "bot ok:false internal_error", bot: true, fault: &slacksim.Fault{Error: "internal_error"}, want: want{sdk.Retryable, 0, "internal_error"}},
		{name: "bot ok:false service_unavailable", bot: true, fault: &slacksim.Fault{Error: "service_unavailable"}, want: want{sdk.Retryable, 0, "service_unavailable"}},
		{name: "bot ok:false channel_not_found", bot: true, fault: &slacksim.Fault{Error: "channel_not_found"}, want: want{sdk.Permanent, 0, "channel_not_found (ok:false): invite the bot to C08P4UDALRT"}},
		{name: "bot unknown channel", bot: true, labels: map[string]string{"slack_channel": "C0NOPE"}, want: want{sdk.Permanent, 0, "channel_not_found"}},
		{name: "bot not in channel", bot: true, labels: map[string]string{"slack_channel": "private-ops"}, want: want{sdk.Permanent, 0, "not_in_channel"}},
		{name: "bot archived channel", bot: true, labels: map[string]string{"slack_channel": "C0ARCHIVED0"}, want: want{sdk.Permanent, 0, "is_archived"}},
		{name: "bot ok:false missing_scope", bot: true, fault: &slacksim.Fault{Error: "missing_scope"}, want: want{sdk.Permanent, 0, "missing_scope"}},
		{name: "bot ok:false invalid_blocks", bot: true, fault: &slacksim.Fault{Error: "invalid_blocks"}, want: want{sdk.Permanent, 0, "invalid_blocks"}},
		{name: "bot ok:false no_service", bot: true, fault: &slacksim.Fault{Error: "no_service"}, want: want{sdk.Permanent, 0, "no_service"}},
		{name: "bot invalid_auth", bot: true, setup: func(t *testing.T) (json.RawMessage, map[string]string) {
			cfg, _ := e.botConfig("")
			return cfg, map[string]string{"bot_token": "xoxb-9999-wrong-token-LeakCanary2"}
		}, want: want{sdk.Permanent, 0, "invalid_auth (ok:false): the bot token was refused"}},
		{name: "bot hangs", bot: true, fault: &slacksim.Fault{Hang: true}, want: want{sdk.Retryable, 0, "did not answer within 1s"}},
		{name: "bot unreachable", bot: true, setup: func(t *testing.T) (json.RawMessage, map[string]string) {
			dead := httptest.NewServer(nil)
			dead.Close()
			return json.RawMessage(`{"channel": "C1", "timeout_seconds": 1, "api_url": "` + dead.URL + `/api"}`), map[string]string{"bot_token": testBotToken}
		}, want: want{sdk.Retryable, 0, "cannot reach slack"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sl.ClearFaults()
			e.sl.Reset()
			var cfg json.RawMessage
			var secrets map[string]string
			switch {
			case tc.setup != nil:
				cfg, secrets = tc.setup(t)
			case tc.bot:
				cfg, secrets = e.botConfig(`"timeout_seconds": 1`)
			default:
				cfg, secrets = e.webhookConfig(`"timeout_seconds": 1`)
			}
			id := e.configure(t, cfg, secrets)
			if tc.fault != nil {
				e.sl.Inject(*tc.fault)
			}
			n := firing()
			if tc.labels != nil {
				n.Labels = tc.labels
			}
			res := e.notify(t, id, n)
			if res.Outcome != tc.want.outcome {
				t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, tc.want.outcome)
			}
			if res.RetryAfter != tc.want.retryAfter {
				t.Errorf("retry after %s, want %s", res.RetryAfter, tc.want.retryAfter)
			}
			if !strings.Contains(res.Reason, tc.want.reason) {
				t.Errorf("reason %q does not contain %q", res.Reason, tc.want.reason)
			}
			msgs := e.sl.Messages()
			if tc.want.outcome == sdk.Delivered && len(msgs) != 1 {
				t.Errorf("slack received %d messages, want 1", len(msgs))
			}
			if tc.want.outcome != sdk.Delivered && len(msgs) != 0 {
				t.Errorf("slack received %d messages for a refused notification", len(msgs))
			}
		})
	}
}

// TestSlack_rateLimitPausesTheRoute: after a 429 the sink does not hit Slack
// again for that webhook or channel until Retry-After passed.
func TestSlack_rateLimitPausesTheRoute(t *testing.T) {
	e := newEnv(t)
	for _, bot := range []bool{false, true} {
		e.sl.Reset()
		cfg, secrets := e.webhookConfig("")
		if bot {
			cfg, secrets = e.botConfig("")
		}
		id := e.configure(t, cfg, secrets)
		e.sl.Inject(slacksim.Fault{Status: 429, RetryAfter: 30 * time.Second})
		first := e.notify(t, id, firing())
		second := e.notify(t, id, resolved())
		if first.Outcome != sdk.Retryable || first.RetryAfter != 30*time.Second {
			t.Fatalf("bot=%v: first answer %+v, want retryable after 30s", bot, first)
		}
		if second.Outcome != sdk.Retryable || second.RetryAfter <= 25*time.Second || second.RetryAfter > 30*time.Second {
			t.Fatalf("bot=%v: second answer %+v, want retryable for the rest of the pause", bot, second)
		}
		if n := len(e.sl.Requests()); n != 1 {
			t.Errorf("bot=%v: slack saw %d requests, want 1 (the route is paused)", bot, n)
		}
		if bot {
			// Another channel is not paused.
			other := firing()
			other.Labels = map[string]string{"slack_channel": "data-ops"}
			if res := e.notify(t, id, other); res.Outcome != sdk.Delivered {
				t.Errorf("another channel: %+v, want delivered", res)
			}
		}
	}
}

// TestSlack_pacing: beyond the burst, posts wait for their turn; a wait
// longer than the call may last answers retryable instead.
func TestSlack_pacing(t *testing.T) {
	e := newEnv(t)
	cfg, secrets := e.webhookConfig(`"max_messages_per_second": 0.01, "burst": 2`)
	id := e.configure(t, cfg, secrets)
	for i := 0; i < 2; i++ {
		if res := e.notify(t, id, firing()); res.Outcome != sdk.Delivered {
			t.Fatalf("post %d: %+v", i, res)
		}
	}
	res := e.notify(t, id, firing())
	if res.Outcome != sdk.Retryable || res.RetryAfter < 90*time.Second {
		t.Fatalf("third post: %+v, want retryable after ~100s", res)
	}
	if n := len(e.sl.Messages()); n != 2 {
		t.Errorf("slack received %d messages, want 2", n)
	}
}

// TestSlack_transports checks what each transport sends: the webhook body
// without a channel; chat.postMessage with the bearer token, the channel
// (instance or label), charset, and the notification id in metadata.
func TestSlack_transports(t *testing.T) {
	e := newEnv(t)

	cfg, secrets := e.webhookConfig("")
	hookID := e.configure(t, cfg, secrets)
	n := firing()
	n.Labels = map[string]string{"slack_channel": "data-ops"} // ignored: a webhook has its channel
	if res := e.notify(t, hookID, n); res.Outcome != sdk.Delivered {
		t.Fatalf("webhook: %+v", res)
	}
	msgs := e.sl.Messages()
	if len(msgs) != 1 || msgs[0].Transport != slacksim.Webhook || msgs[0].Channel != slacksim.DefaultChannel {
		t.Fatalf("webhook message: %+v", msgs)
	}
	var body map[string]any
	if err := json.Unmarshal(msgs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"channel", "metadata"} {
		if _, ok := body[k]; ok {
			t.Errorf("webhook body has %q: a webhook ignores it", k)
		}
	}
	if body["unfurl_links"] != false || body["unfurl_media"] != false {
		t.Errorf("webhook body unfurls: %v %v", body["unfurl_links"], body["unfurl_media"])
	}

	e.sl.Reset()
	cfg, secrets = e.botConfig("")
	botID := e.configure(t, cfg, secrets)
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{nil, slacksim.DefaultChannel},
		{map[string]string{"slack_channel": "data-ops"}, "C08P4UDOPS0"},
		{map[string]string{"channel": "#data-ops"}, "C08P4UDOPS0"},
	} {
		n := firing()
		n.Labels = tc.labels
		if res := e.notify(t, botID, n); res.Outcome != sdk.Delivered {
			t.Fatalf("bot %v: %+v", tc.labels, res)
		}
		msgs := e.sl.Messages()
		got := msgs[len(msgs)-1]
		if got.Transport != slacksim.PostMessage || got.Channel != tc.want {
			t.Errorf("bot %v: posted to %s via %s, want %s", tc.labels, got.Channel, got.Transport, tc.want)
		}
		var md struct {
			EventType    string            `json:"event_type"`
			EventPayload map[string]string `json:"event_payload"`
		}
		if err := json.Unmarshal(got.Metadata, &md); err != nil || md.EventType != "puod_alert" || md.EventPayload["notification_id"] != n.ID || md.EventPayload["status"] != "firing" {
			t.Errorf("metadata %s (err %v), want puod_alert with notification_id %s", got.Metadata, err, n.ID)
		}
	}
	for _, r := range e.sl.Requests() {
		if r.Auth != "bearer" || r.ContentType != "application/json; charset=utf-8" {
			t.Errorf("request %s: auth %q content type %q", r.Path, r.Auth, r.ContentType)
		}
	}
}

func TestSlack_health(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		bot    bool
		token  string
		status sdk.HealthStatus
		msg    string
	}{
		{"webhook", false, "", sdk.HealthOK, "webhook configured"},
		{"bot", true, testBotToken, sdk.HealthOK, "bot token valid"},
		{"bot refused", true, "xoxb-refused-LeakCanary3", sdk.HealthError, "invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, secrets := e.webhookConfig("")
			if tc.bot {
				cfg, _ = e.botConfig("")
				secrets = map[string]string{"bot_token": tc.token}
			}
			id := e.configure(t, cfg, secrets)
			h, err := e.client.CheckHealth(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tc.status || !strings.Contains(h.Message, tc.msg) {
				t.Errorf("health %s %q, want %s containing %q", h.Status, h.Message, tc.status, tc.msg)
			}
		})
	}
}

// TestSlack_outage: Slack down for minutes of simulated time, first 503
// then 429; every notification is retryable until the outage ends, then
// delivered exactly once.
func TestSlack_outage(t *testing.T) {
	e := newEnv(t)
	clock := time.Now()
	e.sl = slacksim.New(slacksim.Options{BotToken: testBotToken, Now: func() time.Time { return clock }})
	srv := httptest.NewServer(e.sl)
	defer srv.Close()
	hook := e.sl.WebhookURL(srv.URL, slacksim.DefaultChannel)
	e.sl.DownUntil(clock.Add(time.Minute), http.StatusServiceUnavailable, 0)
	e.sl.DownUntil(clock.Add(2*time.Minute), http.StatusTooManyRequests, 0)
	id := e.configure(t, json.RawMessage(`{"max_messages_per_second": 1000, "burst": 1000}`), map[string]string{"webhook_url": hook})
	n := firing()
	for _, want := range []string{"503", "rate limit"} {
		if res := e.notify(t, id, n); res.Outcome != sdk.Retryable || !strings.Contains(res.Reason, want) {
			t.Fatalf("during the outage: %+v, want retryable %q", res, want)
		}
		clock = clock.Add(time.Minute)
		e.sl.ClearFaults()
		if want == "503" {
			e.sl.DownUntil(clock.Add(time.Minute), http.StatusTooManyRequests, 0)
		}
	}
	// The sink paused the webhook after the 429 (1 s without Retry-After):
	// the sink's clock is the real one, so wait it out.
	time.Sleep(1100 * time.Millisecond)
	if res := e.notify(t, id, n); res.Outcome != sdk.Delivered {
		t.Fatalf("after the outage: %+v", res)
	}
	if got := len(e.sl.Messages()); got != 1 {
		t.Errorf("%d messages, want 1", got)
	}
}
