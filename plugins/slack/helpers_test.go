package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	slacksim "github.com/puod/puod/plugins/sim/slack"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// Distinctive fake secrets, so a leak is unmistakable.
const testBotToken = "xoxb-1111111111-2222222222222-LeakCanaryBotTokenZ9"

// env is a simulated Slack served over real HTTP, and the plugin served
// in-process over go-plugin's gRPC transport, its log captured.
type env struct {
	sl     *slacksim.Server
	srv    *httptest.Server
	client *sdk.Client
	logs   *syncBuffer
	hook   string // an incoming webhook URL for #alerts
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{sl: slacksim.New(slacksim.Options{BotToken: testBotToken, Channels: []slacksim.Channel{
		{ID: slacksim.DefaultChannel, Name: "alerts"},
		{ID: "C08P4UDOPS0", Name: "data-ops"},
		{ID: "C0NOTJOIN00", Name: "private-ops", NotJoined: true},
		{ID: "C0ARCHIVED0", Name: "old-alerts", Archived: true},
	}})}
	e.srv = httptest.NewServer(e.sl)
	t.Cleanup(func() { e.sl.Close(); e.srv.Close() })
	e.hook = e.sl.WebhookURL(e.srv.URL, slacksim.DefaultChannel)
	e.logs = &syncBuffer{}
	e.client = plugintest.Serve(t, e.plugin())
	return e
}

func (e *env) plugin() sdk.Plugin[Config] {
	p := newPlugin(deps{})
	p.Logger = hclog.New(&hclog.LoggerOptions{Name: "puod.slack", Output: e.logs, Level: hclog.Trace, JSONFormat: true})
	return p
}

// webhookConfig is a webhook-mode configuration (extra: more JSON fields).
func (e *env) webhookConfig(extra string) (json.RawMessage, map[string]string) {
	cfg := `{` + extra + `}`
	return json.RawMessage(cfg), map[string]string{"webhook_url": e.hook}
}

func (e *env) botConfig(extra string) (json.RawMessage, map[string]string) {
	cfg := `{"channel": "` + slacksim.DefaultChannel + `", "api_url": "` + e.sl.APIURL(e.srv.URL) + `"`
	if extra != "" {
		cfg += ", " + extra
	}
	return json.RawMessage(cfg + `}`), map[string]string{"bot_token": testBotToken}
}

var instanceSeq struct {
	sync.Mutex
	n int
}

// configure configures a fresh instance (its own pacing and pauses).
func (e *env) configure(t *testing.T, cfg json.RawMessage, secrets map[string]string) string {
	t.Helper()
	instanceSeq.Lock()
	instanceSeq.n++
	id := fmt.Sprintf("sink-%d", instanceSeq.n)
	instanceSeq.Unlock()
	if err := e.client.Configure(context.Background(), sdk.InstanceConfig{ID: id, Revision: 1, Config: cfg, Secrets: secrets}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return id
}

func (e *env) notify(t *testing.T, id string, n sdk.Notification) sdk.NotifyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.client.Notify(ctx, id, n)
	if err != nil {
		t.Fatalf("Notify(%s): %v", n.ID, err)
	}
	return res
}

// firing and resolved are the reference scenario's alert.
func firing() sdk.Notification { f, _ := plugintest.ReferenceAlert(); return f }

func resolved() sdk.Notification { _, r := plugintest.ReferenceAlert(); return r }

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
