package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// TestSecrets_neverInErrorsOrLogs drives both transports through every
// failure with distinctive secrets and scans what a person could read: the
// errors the sink returns (in-process, before the SDK's redaction, which
// would hide a leak), the reasons and health messages the host receives,
// configuration problems, and the captured log.
func TestSecrets_neverInErrorsOrLogs(t *testing.T) {
	e := newEnv(t)
	hookSecret := e.hook[strings.LastIndex(e.hook, "/")+1:]
	const wrongToken = "xoxb-3333333333-4444444444444-LeakCanaryWrongToken7"
	dead := httptest.NewServer(nil)
	dead.Close()
	deadHook := dead.URL + "/services/T0/B0/LeakCanaryDeadWebhookSecret42"
	secrets := map[string]string{
		"webhook_url": e.hook, "webhook secret": hookSecret, "bot_token": testBotToken,
		"wrong bot_token": wrongToken, "dead webhook_url": deadHook, "dead webhook secret": "LeakCanaryDeadWebhookSecret42",
	}
	tr := &plugintest.Transcript{}
	ctx := context.Background()
	logs := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace, JSONFormat: true})

	type config struct {
		name    string
		cfg     string
		secrets map[string]string
	}
	api := e.sl.APIURL(e.srv.URL)
	configs := []config{
		{"webhook", `{"max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 1}`, map[string]string{"webhook_url": e.hook}},
		{"dead webhook", `{"max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 1}`, map[string]string{"webhook_url": deadHook}},
		{"bot", `{"max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 1, "channel": "alerts", "api_url": "` + api + `"}`, map[string]string{"bot_token": testBotToken}},
		{"wrong token", `{"max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 1, "channel": "alerts", "api_url": "` + api + `"}`, map[string]string{"bot_token": wrongToken}},
		{"dead api", `{"max_messages_per_second": 1000, "burst": 1000, "timeout_seconds": 1, "channel": "alerts", "api_url": "` + dead.URL + `"}`, map[string]string{"bot_token": testBotToken}},
	}
	faults := []*slacksim.Fault{
		nil, {Status: 503}, {Status: 429, RetryAfter: time.Second}, {Error: "rollup_error"}, {Error: "invalid_payload"},
		{Error: "no_service"}, {Error: "invalid_token"}, {Error: "channel_not_found"}, {Error: "invalid_auth"},
		{Error: "missing_scope"}, {Error: "invalid_blocks"}, {Error: "internal_error"}, {Hang: true},
	}
	for _, c := range configs {
		var cfg Config
		merged := map[string]any{}
		_ = json.Unmarshal([]byte(c.cfg), &merged)
		for k, v := range c.secrets {
			merged[k] = v
		}
		raw, _ := json.Marshal(merged)
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		inst, err := deps{}.newSink(ctx, cfg, sdk.Env{InstanceID: c.name, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		s := inst.(*sink)
		s.cfg.MaxMessagesPerSecond, s.cfg.Burst = 1000, 1000
		id := e.configure(t, json.RawMessage(c.cfg), c.secrets)
		for _, f := range faults {
			for _, n := range []sdk.Notification{firing(), resolved()} {
				e.sl.ClearFaults()
				if f != nil {
					e.sl.Inject(*f)
				}
				s.routes = map[string]*route{} // forget pauses
				tr.RecordError(c.name+" Notify (in process)", s.Notify(ctx, n))
				h, herr := s.CheckHealth(ctx)
				tr.RecordError(c.name+" CheckHealth (in process)", herr)
				tr.Record(c.name+" health (in process)", h.Message)

				e.sl.ClearFaults()
				if f != nil {
					e.sl.Inject(*f)
				}
				n.ID += "-wire"
				res, err := e.client.Notify(ctx, id, n)
				tr.RecordError(c.name+" Notify", err)
				tr.Record(c.name+" Notify reason", res.Reason)
			}
		}
		h, err := e.client.CheckHealth(ctx, id)
		tr.RecordError(c.name+" CheckHealth", err)
		tr.Record(c.name+" health", h.Message)
	}

	// Secrets in the wrong fields, as a user pasting in a hurry would.
	for _, bad := range []string{
		`{"channel": "` + testBotToken + `"}`,
		`{"api_url": "` + e.hook + `", "channel": "C1"}`,
		`{"webhook_url": "` + testBotToken + `"}`,
		`{"bot_token": "` + e.hook + `", "channel": "C1"}`,
		`{"webhook_url": "not a url ` + hookSecret + `"}`,
	} {
		for _, sec := range []map[string]string{nil, {"bot_token": testBotToken}} {
			fes, err := e.client.ValidateConfig(ctx, []byte(bad), sec)
			tr.RecordError("ValidateConfig", err)
			for _, fe := range fes {
				tr.Record("field error "+fe.Field, fe.Message)
			}
			err = e.client.Configure(ctx, sdk.InstanceConfig{ID: "bad", Revision: 1, Config: []byte(bad), Secrets: sec})
			tr.RecordError("Configure", err)
		}
	}

	tr.Record("sink log", logs.String())
	tr.Record("plugin log", e.logs.String())
	if len(tr.Entries()) < 100 || !strings.Contains(logs.String(), "slack did not take the notification") {
		t.Fatalf("the test saw too little (%d texts): it checks nothing", len(tr.Entries()))
	}
	plugintest.CheckNoSecrets(t, secrets, tr.Entries())
}
