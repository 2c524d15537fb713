package slacksim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// DefaultBotToken is the bot token the Web API accepts when Options.BotToken
// is empty. It is fake, like every token of the reference fixtures.
const DefaultBotToken = "xoxb-0000000000-0000000000000-slacksimDefaultBotToken"

// DefaultChannel is the channel of the reference fixtures (#alerts).
const DefaultChannel = "C08P4UDALRT"

// MaxTextLength is where Slack truncates a message's top-level text.
const MaxTextLength = 40000

// Transport is how a message reached the server.
type Transport string

const (
	// Webhook is an incoming-webhook POST.
	Webhook Transport = "webhook"
	// PostMessage is a Web API chat.postMessage call.
	PostMessage Transport = "chat.postMessage"
)

// Channel is a conversation of the simulated workspace.
type Channel struct {
	ID   string // C…
	Name string // without '#'
	// NotJoined: the bot is not a member (chat.postMessage answers
	// not_in_channel). Webhooks are bound to their channel and still post.
	NotJoined bool
	// Archived: posting answers is_archived (Web API) or 410
	// channel_is_archived (webhooks).
	Archived bool
}

// Options configures a server. Every field is optional.
type Options struct {
	// BotToken is the token chat.postMessage and auth.test accept
	// (default DefaultBotToken).
	BotToken string
	// Channels is the workspace's channels (default: DefaultChannel named
	// "alerts", and C08P4UDOPS0 "data-ops").
	Channels []Channel
	// Now is the clock for message timestamps and timed faults (default
	// time.Now).
	Now func() time.Time
	// TeamID is the workspace id used in webhook paths and answers
	// (default T02DADOS01, the fixtures').
	TeamID string
	// OnMessage, when set, is called with every accepted message, without
	// locks held, from the request's goroutine.
	OnMessage func(Message)
}

// Message is one message the server accepted.
type Message struct {
	Transport Transport
	// Channel is the channel id it was posted to.
	Channel string
	// TS is the message timestamp the server assigned (a string, as
	// Slack's).
	TS       string
	ThreadTS string
	// ReplyBroadcast is chat.postMessage's reply_broadcast.
	ReplyBroadcast bool
	Text           string
	// Truncated: the text was longer than MaxTextLength and Slack cut it.
	Truncated   bool
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Metadata    json.RawMessage
	// Body is the request body as received.
	Body       []byte
	ReceivedAt time.Time
}

// Request is one request the server answered, for assertions.
type Request struct {
	Transport Transport // "" for other paths
	Path      string
	Status    int
	// Error is the Slack error code answered ("" when accepted).
	Error string
	// Auth is the Authorization header's scheme and whether the token was
	// accepted: "bearer", "bearer-refused", "form", "" (none).
	Auth string
	// ContentType is the request's Content-Type.
	ContentType string
}

// Server is a simulated Slack workspace. It is an http.Handler; its methods
// are safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	channels map[string]*Channel // by id
	webhooks map[string]string   // path -> channel id
	messages []Message
	requests []Request
	faults   []*Fault
	tsSeq    int64
	waiters  []chan struct{}
	closed   chan struct{}
	close    sync.Once
}

// New returns a server with the configured channels and no webhook.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = DefaultBotToken
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TeamID == "" {
		opts.TeamID = "T02DADOS01"
	}
	if opts.Channels == nil {
		opts.Channels = []Channel{{ID: DefaultChannel, Name: "alerts"}, {ID: "C08P4UDOPS0", Name: "data-ops"}}
	}
	s := &Server{opts: opts, channels: map[string]*Channel{}, webhooks: map[string]string{}, closed: make(chan struct{})}
	for _, c := range opts.Channels {
		c := c
		s.channels[c.ID] = &c
	}
	return s
}

// BotToken is the token the Web API accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// Close releases every request held by a Hang fault. The server keeps
// answering other requests.
func (s *Server) Close() { s.close.Do(func() { close(s.closed) }) }

// AddWebhook creates an incoming webhook posting to channel (an id) and
// returns its path, /services/<team>/<B…>/<secret>. The secret is random:
// like a real webhook URL, the path is the credential.
func (s *Server) AddWebhook(channel string) string {
	path := fmt.Sprintf("/services/%s/B%s/%s", s.opts.TeamID, randomString(10, upperDigits), randomString(24, alphanumerics))
	s.mu.Lock()
	s.webhooks[path] = channel
	s.mu.Unlock()
	return path
}

// WebhookURL creates an incoming webhook for channel and returns its URL on
// base (the server's address, e.g. an httptest.Server's URL).
func (s *Server) WebhookURL(base, channel string) string {
	return strings.TrimRight(base, "/") + s.AddWebhook(channel)
}

// RemoveWebhook deletes a webhook: later posts to it answer 404 no_service.
func (s *Server) RemoveWebhook(pathOrURL string) {
	path := pathOrURL
	if u, err := url.Parse(pathOrURL); err == nil && u.Path != "" {
		path = u.Path
	}
	s.mu.Lock()
	delete(s.webhooks, path)
	s.mu.Unlock()
}

// APIURL is the Web API base URL on base, to configure a client with
// (chat.postMessage is <APIURL>/chat.postMessage).
func (s *Server) APIURL(base string) string { return strings.TrimRight(base, "/") + "/api" }

// SetChannel adds or replaces a channel (e.g. to archive it).
func (s *Server) SetChannel(c Channel) {
	s.mu.Lock()
	s.channels[c.ID] = &c
	s.mu.Unlock()
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns the answered requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Reset forgets the recorded messages and requests (channels, webhooks and
// faults stay).
func (s *Server) Reset() {
	s.mu.Lock()
	s.messages, s.requests = nil, nil
	s.mu.Unlock()
}

// WaitMessages waits until at least n messages were accepted and returns
// them all, or returns what it has with ctx's error.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			out := append([]Message(nil), s.messages...)
			s.mu.Unlock()
			return out, nil
		}
		ch := make(chan struct{})
		s.waiters = append(s.waiters, ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Messages(), ctx.Err()
		}
	}
}

// ServeHTTP answers one request as Slack does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
	var accepted *Message
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		if accepted != nil {
			s.messages = append(s.messages, *accepted)
			for _, ch := range s.waiters {
				close(ch)
			}
			s.waiters = nil
		}
		s.mu.Unlock()
		if accepted != nil && s.opts.OnMessage != nil {
			s.opts.OnMessage(*accepted)
		}
	}()
	switch {
	case strings.HasPrefix(r.URL.Path, "/services/"):
		rec.Transport = Webhook
		accepted = s.serveWebhook(w, r, &rec)
	case r.URL.Path == "/api/chat.postMessage":
		rec.Transport = PostMessage
		accepted = s.servePostMessage(w, r, &rec)
	case r.URL.Path == "/api/auth.test":
		s.serveAuthTest(w, r, &rec)
	case r.URL.Path == "/" || r.URL.Path == "":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rec.Status = http.StatusOK
		fmt.Fprint(w, "<!doctype html><title>Slack (simulated)</title><p>Simulated Slack: incoming webhooks at /services/…, Web API at /api/chat.postMessage.</p>")
	case strings.HasPrefix(r.URL.Path, "/api/"):
		rec.Error = "unknown_method"
		rec.Status = http.StatusNotFound
		writeAPI(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
	default:
		rec.Status = http.StatusNotFound
		http.NotFound(w, r)
	}
}

// --- incoming webhooks ---

func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request, rec *Request) *Message {
	answer := func(status int, code string) *Message {
		rec.Status, rec.Error = status, code
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, code)
		return nil
	}
	if r.Method != http.MethodPost {
		return answer(http.StatusMethodNotAllowed, "invalid_method")
	}
	if f, ok := s.takeFault(Webhook); ok {
		if f.Hang {
			s.hang(w, r)
			rec.Status, rec.Error = 0, "hang"
			return nil
		}
		status, code := f.answer(Webhook)
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterValue(f.RetryAfter))
		}
		return answer(status, code)
	}
	s.mu.Lock()
	chID, ok := s.webhooks[r.URL.Path]
	var ch *Channel
	if ok {
		ch = s.channels[chID]
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return answer(http.StatusNotFound, "no_service")
	case ch == nil:
		return answer(http.StatusNotFound, "channel_not_found")
	case ch.Archived:
		return answer(http.StatusGone, "channel_is_archived")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return answer(http.StatusBadRequest, "invalid_payload")
	}
	payload := body
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		// Slack's legacy form: payload=<json>.
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return answer(http.StatusBadRequest, "invalid_payload")
		}
		payload = []byte(form.Get("payload"))
	}
	var m wireMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return answer(http.StatusBadRequest, "invalid_payload")
	}
	if m.Text == "" && isEmptyJSON(m.Blocks) && isEmptyJSON(m.Attachments) {
		return answer(http.StatusBadRequest, "no_text")
	}
	if probs := validateMessage(m); len(probs) > 0 {
		return answer(http.StatusBadRequest, "invalid_payload")
	}
	msg := s.accept(Webhook, chID, m, body)
	rec.Status = http.StatusOK
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
	return msg
}

// --- Web API ---

func (s *Server) servePostMessage(w http.ResponseWriter, r *http.Request, rec *Request) *Message {
	fail := func(status int, code string, extra map[string]any) *Message {
		rec.Status, rec.Error = status, code
		body := map[string]any{"ok": false, "error": code}
		for k, v := range extra {
			body[k] = v
		}
		writeAPI(w, status, body)
		return nil
	}
	if r.Method != http.MethodPost {
		return fail(http.StatusOK, "invalid_request", nil)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return fail(http.StatusOK, "invalid_form_data", nil)
	}
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	var m wireMessage
	formToken := ""
	switch mt {
	case "application/json":
		if err := json.Unmarshal(body, &m); err != nil {
			return fail(http.StatusOK, "invalid_json", nil)
		}
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fail(http.StatusOK, "invalid_form_data", nil)
		}
		formToken = form.Get("token")
		m = wireMessage{
			Channel: form.Get("channel"), Text: form.Get("text"), ThreadTS: form.Get("thread_ts"),
			ReplyBroadcast: form.Get("reply_broadcast") == "true",
		}
		if b := form.Get("blocks"); b != "" {
			m.Blocks = json.RawMessage(b)
		}
		if a := form.Get("attachments"); a != "" {
			m.Attachments = json.RawMessage(a)
		}
	default:
		return fail(http.StatusOK, "invalid_form_data", nil)
	}
	// Authentication comes first, as on Slack: a bad token never learns
	// whether a channel exists.
	token := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token, rec.Auth = strings.TrimPrefix(h, "Bearer "), "bearer"
	} else if formToken != "" {
		token, rec.Auth = formToken, "form"
	}
	switch {
	case token == "":
		return fail(http.StatusOK, "not_authed", nil)
	case token != s.opts.BotToken:
		rec.Auth += "-refused"
		return fail(http.StatusOK, "invalid_auth", nil)
	}
	if f, ok := s.takeFault(PostMessage); ok {
		if f.Hang {
			s.hang(w, r)
			rec.Status, rec.Error = 0, "hang"
			return nil
		}
		status, code := f.answer(PostMessage)
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterValue(f.RetryAfter))
		}
		return fail(status, code, nil)
	}
	ch := s.channel(m.Channel)
	switch {
	case m.Channel == "":
		return fail(http.StatusOK, "channel_not_found", nil)
	case ch == nil:
		return fail(http.StatusOK, "channel_not_found", nil)
	case ch.Archived:
		return fail(http.StatusOK, "is_archived", nil)
	case ch.NotJoined:
		return fail(http.StatusOK, "not_in_channel", nil)
	}
	if m.Text == "" && isEmptyJSON(m.Blocks) && isEmptyJSON(m.Attachments) {
		return fail(http.StatusOK, "no_text", nil)
	}
	if probs := validateMessage(m); len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = "[ERROR] " + p
		}
		return fail(http.StatusOK, "invalid_blocks", map[string]any{"errors": probs, "response_metadata": map[string]any{"messages": msgs}})
	}
	msg := s.accept(PostMessage, ch.ID, m, body)
	rec.Status = http.StatusOK
	answer := map[string]any{
		"ok": true, "channel": ch.ID, "ts": msg.TS,
		"message": map[string]any{"type": "message", "bot_id": "B08PUODB0T", "user": "U08PUODB0T", "ts": msg.TS, "text": msg.Text, "team": s.opts.TeamID},
	}
	if msg.ThreadTS != "" {
		answer["message"].(map[string]any)["thread_ts"] = msg.ThreadTS
	}
	if !isEmptyJSON(msg.Blocks) {
		answer["message"].(map[string]any)["blocks"] = msg.Blocks
	}
	if mt == "application/json" && params["charset"] == "" {
		answer["warning"] = "missing_charset"
		answer["response_metadata"] = map[string]any{"warnings": []string{"missing_charset"}}
	}
	writeAPI(w, http.StatusOK, answer)
	return msg
}

func (s *Server) serveAuthTest(w http.ResponseWriter, r *http.Request, rec *Request) {
	token := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token, rec.Auth = strings.TrimPrefix(h, "Bearer "), "bearer"
	}
	rec.Status = http.StatusOK
	switch {
	case token == "":
		rec.Error = "not_authed"
		writeAPI(w, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
	case token != s.opts.BotToken:
		rec.Auth, rec.Error = "bearer-refused", "invalid_auth"
		writeAPI(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
	default:
		writeAPI(w, http.StatusOK, map[string]any{
			"ok": true, "url": "https://dados.slack.com/", "team": "Dados", "user": "puod",
			"team_id": s.opts.TeamID, "user_id": "U08PUODB0T", "bot_id": "B08PUODB0T",
		})
	}
}

// channel resolves an id, a name or a #name; nil when unknown.
func (s *Server) channel(ref string) *Channel {
	ref = strings.TrimPrefix(ref, "#")
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[ref]; ok {
		cp := *c
		return &cp
	}
	for _, c := range s.channels {
		if c.Name == ref {
			cp := *c
			return &cp
		}
	}
	return nil
}

// wireMessage is the part of a message body the server reads.
type wireMessage struct {
	Channel        string          `json:"channel"`
	Text           string          `json:"text"`
	Blocks         json.RawMessage `json:"blocks"`
	Attachments    json.RawMessage `json:"attachments"`
	ThreadTS       string          `json:"thread_ts"`
	ReplyBroadcast bool            `json:"reply_broadcast"`
	Metadata       json.RawMessage `json:"metadata"`
}

func (s *Server) accept(t Transport, channel string, m wireMessage, body []byte) *Message {
	now := s.opts.Now()
	s.mu.Lock()
	s.tsSeq++
	ts := fmt.Sprintf("%d.%06d", now.Unix(), s.tsSeq%1000000)
	s.mu.Unlock()
	text, truncated := m.Text, false
	if units := utf16.Encode([]rune(text)); len(units) > MaxTextLength {
		text, truncated = string(utf16.Decode(units[:MaxTextLength])), true
	}
	return &Message{
		Transport: t, Channel: channel, TS: ts, ThreadTS: m.ThreadTS, ReplyBroadcast: m.ReplyBroadcast,
		Text: text, Truncated: truncated, Blocks: m.Blocks, Attachments: m.Attachments, Metadata: m.Metadata,
		Body: bytes.Clone(body), ReceivedAt: now,
	}
}

// hang holds a request until its client gives up or Close releases it;
// a released request answers 503, as a server going away would.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closed:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "service_unavailable")
	}
}

func writeAPI(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func isEmptyJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null" || s == "[]"
}

const (
	upperDigits   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
