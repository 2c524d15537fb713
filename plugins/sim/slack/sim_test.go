package slacksim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); srv.Close() })
	return s, srv
}

type answer struct {
	status      int
	contentType string
	retryAfter  string
	body        string
}

func post(t *testing.T, target, contentType, token string, body []byte) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), string(b)}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s differs:\n got %s\nwant %s", what, got, want)
	}
}

func TestServer_acceptsTheReferenceMessages(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	alert := fixture(t, "block-kit-alert-example.json")

	hook := s.WebhookURL(srv.URL, DefaultChannel)
	if a := post(t, hook, "application/json", "", alert); a.status != 200 || a.body != "ok" {
		t.Fatalf("webhook: %+v", a)
	}

	var body map[string]any
	_ = json.Unmarshal(alert, &body)
	body["channel"] = DefaultChannel
	withChannel, _ := json.Marshal(body)
	a := post(t, s.APIURL(srv.URL)+"/chat.postMessage", "application/json; charset=utf-8", s.BotToken(), withChannel)
	var ok struct {
		OK      bool   `json:"ok"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
		Warning string `json:"warning"`
	}
	if err := json.Unmarshal([]byte(a.body), &ok); err != nil || a.status != 200 || !ok.OK || ok.Channel != DefaultChannel || ok.TS == "" || ok.Warning != "" {
		t.Fatalf("chat.postMessage: %+v", a)
	}

	reply := fixture(t, "chat-postmessage-request.json")
	a = post(t, s.APIURL(srv.URL)+"/chat.postMessage", "application/json", s.BotToken(), reply)
	if !strings.Contains(a.body, `"warning":"missing_charset"`) || !strings.Contains(a.body, `"thread_ts":"1794886369.004500"`) {
		t.Errorf("threaded reply without charset: %+v", a)
	}

	msgs := s.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	var want struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	_ = json.Unmarshal(alert, &want)
	for i, m := range msgs[:2] {
		sameJSON(t, "blocks", m.Blocks, want.Blocks)
		if m.Channel != DefaultChannel {
			t.Errorf("message %d in %s", i, m.Channel)
		}
	}
	if msgs[0].Transport != Webhook || msgs[1].Transport != PostMessage || msgs[1].TS != ok.TS {
		t.Errorf("transports/ts: %+v", msgs[:2])
	}
	if r := msgs[2]; r.ThreadTS != "1794886369.004500" || !r.ReplyBroadcast {
		t.Errorf("reply: thread %q broadcast %v", r.ThreadTS, r.ReplyBroadcast)
	}
}

// TestServer_webhookErrors: every row of the reference table, as a fault.
func TestServer_webhookErrors(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	hook := s.WebhookURL(srv.URL, DefaultChannel)
	var rows []struct {
		Status      int               `json:"http_status"`
		ContentType string            `json:"content_type"`
		Headers     map[string]string `json:"headers"`
		Body        string            `json:"body"`
	}
	if err := json.Unmarshal(fixture(t, "webhook-error-responses.json"), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Body == "ok" {
			continue
		}
		f := Fault{Error: r.Body}
		if ra := r.Headers["Retry-After"]; ra != "" {
			f.RetryAfter = time.Second
		}
		s.Inject(f)
		a := post(t, hook, "application/json", "", []byte(`{"text": "hi"}`))
		if a.status != r.Status || a.body != r.Body || a.contentType != r.ContentType || a.retryAfter != r.Headers["Retry-After"] {
			t.Errorf("%s: got %+v, want %d %s %q", r.Body, a, r.Status, r.ContentType, r.Headers["Retry-After"])
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages accepted through faults", n)
	}
	for _, tc := range []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"unknown webhook", srv.URL + "/services/T02DADOS01/B0/unknown", `{"text": "hi"}`, 404, "no_service"},
		{"not json", hook, `{text`, 400, "invalid_payload"},
		{"no text", hook, `{"unfurl_links": false}`, 400, "no_text"},
		{"header too long", hook, `{"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "` + strings.Repeat("h", 151) + `"}}]}`, 400, "invalid_payload"},
	} {
		if a := post(t, tc.target, "application/json", "", []byte(tc.body)); a.status != tc.status || a.body != tc.code {
			t.Errorf("%s: %+v, want %d %s", tc.name, a, tc.status, tc.code)
		}
	}
	s.SetChannel(Channel{ID: DefaultChannel, Name: "alerts", Archived: true})
	if a := post(t, hook, "application/json", "", []byte(`{"text": "hi"}`)); a.status != 410 || a.body != "channel_is_archived" {
		t.Errorf("archived: %+v", a)
	}
}

func TestServer_postMessageErrors(t *testing.T) {
	s, srv := newTestServer(t, Options{Channels: []Channel{{ID: DefaultChannel, Name: "alerts"}, {ID: "C2", Name: "closed", NotJoined: true}, {ID: "C3", Name: "old", Archived: true}}})
	api := s.APIURL(srv.URL) + "/chat.postMessage"
	const ct = "application/json; charset=utf-8"
	tok := s.BotToken()
	msg := func(channel string) []byte { return []byte(`{"channel": "` + channel + `", "text": "hi"}`) }
	for _, tc := range []struct {
		name   string
		fault  *Fault
		token  string
		body   []byte
		status int
		code   string
		retry  string
	}{
		{"ok by name", nil, tok, msg("#alerts"), 200, "", ""},
		{"not authed", nil, "", msg("alerts"), 200, "not_authed", ""},
		{"invalid auth", nil, "xoxb-nope", msg("alerts"), 200, "invalid_auth", ""},
		{"unknown channel", nil, tok, msg("C404"), 200, "channel_not_found", ""},
		{"not in channel", nil, tok, msg("C2"), 200, "not_in_channel", ""},
		{"archived", nil, tok, msg("old"), 200, "is_archived", ""},
		{"no text", nil, tok, []byte(`{"channel": "alerts"}`), 200, "no_text", ""},
		{"ratelimited", &Fault{Error: "ratelimited", RetryAfter: 30 * time.Second}, tok, msg("alerts"), 429, "ratelimited", "30"},
		{"503", &Fault{Status: 503}, tok, msg("alerts"), 503, "service_unavailable", ""},
		{"ok:false", &Fault{Error: "channel_not_found"}, tok, msg("alerts"), 200, "channel_not_found", ""},
		{"webhook-only fault", &Fault{Error: "no_service", Transport: Webhook}, tok, msg("alerts"), 200, "", ""},
	} {
		s.ClearFaults()
		if tc.fault != nil {
			s.Inject(*tc.fault)
		}
		a := post(t, api, ct, tc.token, tc.body)
		var got struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != tc.status || got.Error != tc.code || got.OK != (tc.code == "") || a.retryAfter != tc.retry {
			t.Errorf("%s: %+v, want %d %q", tc.name, a, tc.status, tc.code)
		}
	}

	// Block Kit validation answers the fixture's shape.
	a := post(t, api, ct, tok, []byte(`{"channel": "alerts", "text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "`+strings.Repeat("h", 151)+`"}}]}`))
	var inv struct {
		OK       bool     `json:"ok"`
		Error    string   `json:"error"`
		Errors   []string `json:"errors"`
		Metadata struct {
			Messages []string `json:"messages"`
		} `json:"response_metadata"`
	}
	_ = json.Unmarshal([]byte(a.body), &inv)
	if inv.Error != "invalid_blocks" || len(inv.Errors) != 1 || inv.Errors[0] != "must be less than 151 characters [json-pointer:/blocks/0/text/text]" || inv.Metadata.Messages[0] != "[ERROR] "+inv.Errors[0] {
		t.Errorf("invalid blocks: %s", a.body)
	}

	// A form body with the token in it, as older clients send.
	form := url.Values{"token": {tok}, "channel": {"alerts"}, "text": {"from a form"}}
	if a := post(t, api, "application/x-www-form-urlencoded", "", []byte(form.Encode())); !strings.Contains(a.body, `"ok":true`) {
		t.Errorf("form: %+v", a)
	}
	if r := s.Requests(); r[len(r)-1].Auth != "form" {
		t.Errorf("auth %q", r[len(r)-1].Auth)
	}
}

func TestServer_limits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		blocks string
		want   string
	}{
		{"too many blocks", "[" + strings.TrimSuffix(strings.Repeat(`{"type": "divider"},`, 51), ",") + "]", "no more than 50 items allowed [json-pointer:/blocks]"},
		{"section text", `[{"type": "section", "text": {"type": "mrkdwn", "text": "` + strings.Repeat("s", 3001) + `"}}]`, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"},
		{"field", `[{"type": "section", "fields": [{"type": "mrkdwn", "text": "` + strings.Repeat("f", 2001) + `"}]}]`, "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"},
		{"fields", `[{"type": "section", "fields": [` + strings.TrimSuffix(strings.Repeat(`{"type": "mrkdwn", "text": "f"},`, 11), ",") + `]}]`, "no more than 10 items allowed [json-pointer:/blocks/0/fields]"},
		{"button url", `[{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"}, "url": "https://x/` + strings.Repeat("u", 3000) + `"}]}]`, "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"},
		{"button text", `[{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "` + strings.Repeat("b", 76) + `"}, "url": "https://x"}]}]`, "must be between 1 and 75 characters [json-pointer:/blocks/0/elements/0/text/text]"},
		{"block id", `[{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]`, "duplicate block_id [json-pointer:/blocks/1/block_id]"},
		{"emoji counts twice", `[{"type": "header", "text": {"type": "plain_text", "text": "` + strings.Repeat("🚨", 76) + `"}}]`, "must be less than 151 characters [json-pointer:/blocks/0/text/text]"},
	} {
		probs := ValidateBlocks(json.RawMessage(tc.blocks))
		if len(probs) != 1 || probs[0] != tc.want {
			t.Errorf("%s: %v, want [%s]", tc.name, probs, tc.want)
		}
	}
	s, srv := newTestServer(t, Options{})
	long := strings.Repeat("t", MaxTextLength+10)
	body, _ := json.Marshal(map[string]string{"text": long})
	if a := post(t, s.WebhookURL(srv.URL, DefaultChannel), "application/json", "", body); a.status != 200 {
		t.Fatalf("%+v", a)
	}
	if m := s.Messages()[0]; !m.Truncated || len(m.Text) != MaxTextLength {
		t.Errorf("long text: truncated %v, %d chars", m.Truncated, len(m.Text))
	}
}

// TestServer_outageInSimulatedTime: DownUntil follows the server's clock.
func TestServer_outageInSimulatedTime(t *testing.T) {
	now := time.Date(2026, 11, 17, 3, 0, 0, 0, time.UTC)
	s, srv := newTestServer(t, Options{Now: func() time.Time { return now }})
	hook := s.WebhookURL(srv.URL, DefaultChannel)
	s.DownUntil(now.Add(2*time.Minute), http.StatusServiceUnavailable, 0)
	s.DownUntil(now.Add(5*time.Minute), http.StatusTooManyRequests, 10*time.Second)
	for _, step := range []struct {
		advance time.Duration
		status  int
	}{{0, 503}, {time.Minute, 503}, {time.Minute, 429}, {2 * time.Minute, 429}, {time.Minute, 200}} {
		now = now.Add(step.advance)
		if a := post(t, hook, "application/json", "", []byte(`{"text": "hi"}`)); a.status != step.status {
			t.Errorf("at %s: %+v, want %d", now.Format("15:04"), a, step.status)
		}
	}
}

func TestServer_hang(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	hook := s.WebhookURL(srv.URL, DefaultChannel)
	s.HangNext(2)
	client := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	if _, err := client.Post(hook, "application/json", strings.NewReader(`{"text": "hi"}`)); err == nil {
		t.Fatal("a hanging request answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the client waited %s", d)
	}
	// Close releases a request still hanging.
	done := make(chan answer, 1)
	go func() { done <- post(t, hook, "application/json", "", []byte(`{"text": "hi"}`)) }()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case a := <-done:
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("released request: %+v, want 503", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if msgs, err := s.WaitMessages(ctx, 1); err == nil || len(msgs) != 0 {
		t.Errorf("WaitMessages: %d, %v", len(msgs), err)
	}
}
