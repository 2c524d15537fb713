package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/httpx"
)

// deps are what tests replace: the HTTP client and the clock.
type deps struct {
	http *http.Client
	now  func() time.Time
}

// sink is one configured Slack destination.
type sink struct {
	cfg  Config
	log  hclog.Logger
	http *http.Client
	now  func() time.Time

	mu sync.Mutex
	// routes holds, per webhook or channel, the pacing limiter and the time
	// until which Slack asked us to wait (429 Retry-After): the whole route
	// pauses, not just the message that met the 429.
	routes map[string]*route
}

type route struct {
	limiter     *rate.Limiter
	pausedUntil time.Time
}

var (
	_ sdk.AlertSink     = (*sink)(nil)
	_ sdk.HealthChecker = (*sink)(nil)
)

func (d deps) newSink(_ context.Context, cfg Config, env sdk.Env) (any, error) {
	cfg = cfg.withDefaults()
	hc := d.http
	if hc == nil {
		hc = &http.Client{Timeout: cfg.timeout()}
	}
	now := d.now
	if now == nil {
		now = time.Now
	}
	log := env.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &sink{cfg: cfg, log: log, http: hc, now: now, routes: map[string]*route{}}, nil
}

// channelLabels are the notification labels that choose a bot-mode channel,
// most specific first.
var channelLabels = []string{"slack_channel", "channel"}

func (s *sink) channelFor(n sdk.Notification) string {
	for _, k := range channelLabels {
		if c := strings.TrimSpace(n.Labels[k]); c != "" {
			return c
		}
	}
	return s.cfg.Channel
}

// Notify posts one notification. It makes a single attempt: the host's
// outbox retries (with the same notification id) on a retryable answer,
// so retrying here too would only multiply the wait and the risk of a
// repeat.
func (s *sink) Notify(ctx context.Context, n sdk.Notification) error {
	msg := buildMessage(n, s.cfg.Layout)
	key, where := "webhook", "the webhook"
	if s.cfg.botMode() {
		msg.Channel = s.channelFor(n)
		key, where = "channel:"+msg.Channel, "channel "+msg.Channel
		msg.Metadata = &metadata{EventType: "puod_alert", EventPayload: map[string]any{
			"notification_id": n.ID, "status": string(n.Status), "rule_id": n.RuleID, "group_key": n.GroupKey,
		}}
	}
	if err := s.pace(ctx, key, where); err != nil {
		return err
	}
	body, err := encode(msg)
	if err != nil {
		return fmt.Errorf("encode the slack message for notification %s: %w", n.ID, err)
	}
	var outcome error
	if s.cfg.botMode() {
		outcome = s.postMessage(ctx, key, msg.Channel, body)
	} else {
		outcome = s.postWebhook(ctx, key, body)
	}
	if outcome != nil {
		s.log.Warn("slack did not take the notification", "id", n.ID, "status", n.Status, "to", where, "error", outcome.Error())
		return outcome
	}
	s.log.Debug("notification delivered to slack", "id", n.ID, "status", n.Status, "to", where, "bytes", len(body))
	return nil
}

// encode is json.Marshal without HTML escaping: mrkdwn's <url|label> and
// &amp; stay readable in the body (Slack decodes either form).
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// pace waits for the route's turn. When Slack asked us to pause it, or the
// wait would outlast the call, it answers retryable with the delay instead
// of sending.
func (s *sink) pace(ctx context.Context, key, where string) error {
	now := s.now()
	s.mu.Lock()
	r := s.routes[key]
	if r == nil {
		r = &route{limiter: rate.NewLimiter(rate.Limit(s.cfg.MaxMessagesPerSecond), s.cfg.Burst)}
		s.routes[key] = r
	}
	if wait := r.pausedUntil.Sub(now); wait > 0 {
		s.mu.Unlock()
		return sdk.RetryableError(wait, "slack rate limit on %s: paused as slack asked", where)
	}
	res := r.limiter.ReserveN(now, 1)
	s.mu.Unlock()
	wait := res.DelayFrom(now)
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
		res.CancelAt(now)
		return sdk.RetryableError(wait, "pacing posts to %s at %g per second", where, s.cfg.MaxMessagesPerSecond)
	}
	if err := httpx.SleepContext(ctx, wait); err != nil {
		res.CancelAt(now)
		return err
	}
	return nil
}

// pause records Slack's Retry-After for the route.
func (s *sink) pause(key string, d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	until := s.now().Add(d)
	s.mu.Lock()
	if r := s.routes[key]; r != nil && until.After(r.pausedUntil) {
		r.pausedUntil = until
	}
	s.mu.Unlock()
}

// post sends body and reads at most 4 MiB of the answer (chat.postMessage
// echoes the whole message back, blocks included). Errors name the
// transport, never the URL: a webhook URL's path is its secret.
func (s *sink) post(ctx context.Context, what, target string, body []byte, token string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, nil, sdk.ConfigError("", "%s: the configured URL is not usable: check it", what)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "puod-slack/"+version)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, nil, transportError(ctx, what, s.cfg.timeout(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, transportError(ctx, what, s.cfg.timeout(), err)
	}
	return resp, data, nil
}

// transportError maps a failed exchange to a retryable error. The host's own
// cancellation is returned as such (the host knows why it cancelled).
func transportError(ctx context.Context, what string, timeout time.Duration, err error) error {
	if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
		return parent
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL may be a webhook: never repeat it
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return sdk.RetryableError(0, "%s: slack did not answer within %s; retrying later (the message may have been posted)", what, timeout)
	}
	return sdk.RetryableError(0, "%s: cannot reach slack: %s", what, err.Error())
}

// postWebhook posts to the incoming webhook. Its answers are plain text:
// "ok", or an error code with a real HTTP status.
func (s *sink) postWebhook(ctx context.Context, key string, body []byte) error {
	const what = "incoming webhook"
	resp, data, err := s.post(ctx, what, s.cfg.WebhookURL, body, "")
	if err != nil {
		return err
	}
	code := answerCode(data)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if code != "ok" {
			// Not Slack's "ok": a proxy, most likely. Sending again could
			// post twice, so it counts as delivered, loudly.
			s.log.Warn("slack webhook answered 2xx without ok", "http_status", resp.StatusCode, "answer", code)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := httpx.RetryAfter(resp.Header, s.now())
		s.pause(key, wait)
		return sdk.RetryableError(wait, "%s: slack rate limit (429 %s): the webhook pauses until slack's Retry-After", what, code)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return sdk.RetryableError(httpx.RetryAfter(resp.Header, s.now()), "%s: slack failed (%d %s); retrying later", what, resp.StatusCode, code)
	}
	return sdk.PermanentError("%s: slack refused the message: %s (HTTP %d): %s", what, code, resp.StatusCode, webhookRemedy(code))
}

// apiAnswer is chat.postMessage's JSON answer.
type apiAnswer struct {
	OK       bool     `json:"ok"`
	Error    string   `json:"error"`
	Warning  string   `json:"warning"`
	Channel  string   `json:"channel"`
	TS       string   `json:"ts"` // a string: a float would lose precision
	Needed   string   `json:"needed"`
	Errors   []string `json:"errors"`
	Metadata struct {
		Messages []string `json:"messages"`
	} `json:"response_metadata"`
}

// retryableAPIErrors are the ok:false codes that are Slack's trouble, not
// the request's.
var retryableAPIErrors = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// postMessage calls chat.postMessage. Slack answers HTTP 200 even on
// failure (except rate limiting): the JSON ok field decides.
func (s *sink) postMessage(ctx context.Context, key, channel string, body []byte) error {
	const what = "chat.postMessage"
	resp, data, err := s.post(ctx, what, s.cfg.APIURL+"/chat.postMessage", body, s.cfg.BotToken)
	if err != nil {
		return err
	}
	var a apiAnswer
	jsonErr := json.Unmarshal(data, &a)
	if jsonErr != nil {
		a.Error = answerCode(data)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := httpx.RetryAfter(resp.Header, s.now())
		s.pause(key, wait)
		return sdk.RetryableError(wait, "%s: slack rate limit on channel %s (429 %s): pausing the channel until slack's Retry-After", what, channel, a.Error)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return sdk.RetryableError(httpx.RetryAfter(resp.Header, s.now()), "%s: slack failed (%d %s); retrying later", what, resp.StatusCode, a.Error)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return sdk.PermanentError("%s: slack refused the call: %s (HTTP %d): %s", what, a.Error, resp.StatusCode, apiRemedy(a, channel))
	case jsonErr != nil:
		// 200 without JSON is not Slack speaking (a proxy or a captive
		// portal): the message was not posted.
		return sdk.RetryableError(0, "%s: the answer was not slack's JSON (HTTP %d)", what, resp.StatusCode)
	case a.OK:
		if a.Warning != "" {
			s.log.Debug("slack accepted the message with a warning", "warning", a.Warning, "channel", a.Channel)
		}
		return nil
	case retryableAPIErrors[a.Error]:
		return sdk.RetryableError(httpx.RetryAfter(resp.Header, s.now()), "%s: slack failed (%s); retrying later", what, a.Error)
	}
	if a.Error == "" {
		a.Error = "unknown_error"
	}
	return sdk.PermanentError("%s: slack refused the message: %s (ok:false): %s", what, a.Error, apiRemedy(a, channel))
}

// CheckHealth tests the token (auth.test) in bot mode. A webhook cannot be
// tested without posting, so webhook mode reports what it can.
func (s *sink) CheckHealth(ctx context.Context) (sdk.Health, error) {
	if !s.cfg.botMode() {
		return sdk.Health{Status: sdk.HealthOK, Message: "incoming webhook configured (Slack offers no way to test a webhook without posting)"}, nil
	}
	resp, data, err := s.post(ctx, "auth.test", s.cfg.APIURL+"/auth.test", []byte("{}"), s.cfg.BotToken)
	if err != nil {
		return sdk.Health{Status: sdk.HealthError, Message: err.Error()}, nil
	}
	var a struct {
		apiAnswer
		Team string `json:"team"`
		User string `json:"user"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &a) != nil {
		return sdk.Health{Status: sdk.HealthDegraded, Message: fmt.Sprintf("auth.test answered HTTP %d", resp.StatusCode)}, nil
	}
	if !a.OK {
		return sdk.Health{Status: sdk.HealthError, Message: "auth.test: " + a.Error + ": " + apiRemedy(a.apiAnswer, s.cfg.Channel)}, nil
	}
	return sdk.Health{Status: sdk.HealthOK, Message: fmt.Sprintf("bot token valid (workspace %s, user %s); posting to %s", a.Team, a.User, s.cfg.Channel)}, nil
}

// answerCode is a short, printable rendering of an answer body: Slack's
// error codes are lower-case words; anything else is cut.
func answerCode(data []byte) string {
	s := strings.TrimSpace(string(data))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return s
}

func webhookRemedy(code string) string {
	switch code {
	case "invalid_payload", "no_text", "invalid_blocks", "too_many_attachments", "missing_text_or_fallback_or_attachments":
		return "slack found the message malformed: a bug in the puod.slack message builder, please report it"
	case "invalid_token":
		return "the webhook URL is not valid: create a new incoming webhook and update this sink"
	case "no_service", "no_service_id", "no_team", "team_disabled":
		return "the webhook was disabled or removed: create a new incoming webhook and update this sink"
	case "channel_not_found":
		return "the webhook's channel no longer exists: create a webhook for an existing channel"
	case "channel_is_archived":
		return "the webhook's channel is archived: unarchive it or create a webhook for another channel"
	case "action_prohibited":
		return "a workspace admin restricts posting to this channel: ask them, or use another channel"
	case "posting_to_general_channel_denied":
		return "admins restricted posting to the general channel: create a webhook for another channel"
	case "user_not_found":
		return "the message mentions a user who does not exist"
	}
	return "see Slack's incoming-webhook errors"
}

func apiRemedy(a apiAnswer, channel string) string {
	switch a.Error {
	case "channel_not_found", "not_in_channel":
		return fmt.Sprintf("invite the bot to %s (/invite @app) or fix the channel id", channel)
	case "is_archived":
		return fmt.Sprintf("%s is archived: unarchive it or choose another channel", channel)
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission", "ekm_access_denied":
		return "the bot token was refused: reinstall the Slack app and set its new bot token"
	case "missing_scope":
		needed := a.Needed
		if needed == "" {
			needed = "chat:write"
		}
		return "add the scope " + needed + " to the Slack app and reinstall it"
	case "restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel":
		return "a workspace admin restricts posting there: ask them, or choose another channel"
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long", "no_text", "too_many_attachments", "invalid_arguments", "invalid_json", "json_not_object", "invalid_form_data":
		detail := strings.Join(append(append([]string{}, a.Errors...), a.Metadata.Messages...), "; ")
		if detail != "" {
			detail = " (" + answerCode([]byte(detail)) + ")"
		}
		return "slack found the message malformed" + detail + ": a bug in the puod.slack message builder, please report it"
	}
	return "see the chat.postMessage error list in Slack's documentation"
}
