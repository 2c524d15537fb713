package main

import (
	"net/url"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// Config is one Slack sink: an incoming webhook, or a bot token and a
// default channel. Its JSON Schema (plugin.json "config") is derived from
// this struct.
type Config struct {
	// WebhookURL is an incoming webhook. The URL itself is the credential
	// (its path holds the secret), so it is a secret field and never shown.
	// The channel is fixed by the webhook; per-notification channels are
	// ignored in this mode.
	WebhookURL string `json:"webhook_url,omitempty" secret:"true" jsonschema:"format=uri" jsonschema_description:"Incoming webhook URL (https://hooks.slack.com/services/…). Set either this or bot_token."`
	// BotToken is a bot user OAuth token with chat:write, for
	// chat.postMessage: any channel the bot is in, per notification.
	BotToken string `json:"bot_token,omitempty" secret:"true" jsonschema_description:"Bot token (xoxb-…) with the chat:write scope, for chat.postMessage. Set either this or webhook_url."`
	// Channel is where chat.postMessage posts unless a notification names
	// its own (label slack_channel). An id (C…) survives renames.
	Channel string `json:"channel,omitempty" jsonschema:"maxLength=80" jsonschema_description:"Bot mode: channel id (C…, preferred) or name the alerts go to; a notification's slack_channel label overrides it."`
	// APIURL is the Web API root; only tests and local receivers change it.
	APIURL string `json:"api_url,omitempty" jsonschema:"format=uri,pattern=^https?://" jsonschema_description:"Bot mode: Slack Web API base URL (default https://slack.com/api)."`
	// Layout "attachment" puts the details in an attachment with a colour
	// bar for the severity; "blocks" keeps every block at the top level,
	// the reference message shape, readable in every client.
	Layout string `json:"layout,omitempty" jsonschema:"enum=blocks,enum=attachment,default=blocks" jsonschema_description:"blocks: Block Kit at top level (severity shown by emoji); attachment: details in a coloured attachment (severity colour bar)."`
	// TimeoutSeconds bounds one post. A post that times out may still have
	// reached Slack: it is retried, which is the one window for a repeat.
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema:"minimum=1,maximum=120,default=10" jsonschema_description:"Seconds to wait for Slack's answer before retrying later (default 10)."`
	// MaxMessagesPerSecond paces posts per webhook or channel. Slack allows
	// about one per second and may disable an app that keeps ignoring 429.
	MaxMessagesPerSecond float64 `json:"max_messages_per_second,omitempty" jsonschema:"minimum=0.01,maximum=1000,default=1" jsonschema_description:"Posts per second per webhook or channel (Slack allows about 1; bursts of 5 are tolerated; default 1)."`
	// Burst is how many posts may go out back to back before pacing starts.
	Burst int `json:"burst,omitempty" jsonschema:"minimum=1,maximum=1000,default=5" jsonschema_description:"Posts allowed back to back before pacing applies (default 5)."`
}

// Defaults.
const (
	defaultAPIURL   = "https://slack.com/api"
	defaultTimeout  = 10
	defaultRate     = 1
	defaultBurst    = 5
	layoutBlocks    = "blocks"
	layoutAttachmnt = "attachment"
)

// Validate checks what the schema cannot: exactly one transport, a usable
// webhook URL and a channel for bot mode. Messages never repeat a value: a
// secret pasted in the wrong field must not end up in an error.
func (c *Config) Validate() error {
	var fe sdk.FieldErrors
	add := func(field, msg string) { fe = append(fe, sdk.FieldError{Field: field, Message: msg}) }
	hook, bot := strings.TrimSpace(c.WebhookURL) != "", strings.TrimSpace(c.BotToken) != ""
	switch {
	case hook && bot:
		add("/webhook_url", "set either an incoming webhook URL or a bot token, not both")
	case !hook && !bot:
		add("/webhook_url", "set an incoming webhook URL, or a bot token (bot_token) and a channel")
	case hook:
		u, err := url.Parse(strings.TrimSpace(c.WebhookURL))
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("/webhook_url", "must be the incoming webhook's URL, https://hooks.slack.com/services/… (copy it from the app's Incoming Webhooks page)")
		case u.Path == "" || u.Path == "/":
			add("/webhook_url", "has no path: copy the whole webhook URL, including /services/…")
		}
		if c.Channel != "" {
			add("/channel", "a webhook posts to the channel it was created for: leave channel empty, or use a bot token")
		}
	case bot:
		if !strings.HasPrefix(strings.TrimSpace(c.BotToken), "xox") {
			add("/bot_token", "must be a Slack token (xoxb-… for a bot): copy the Bot User OAuth Token from the app's OAuth & Permissions page")
		}
		if strings.TrimSpace(c.Channel) == "" {
			add("/channel", "is required with a bot token: the channel id (C…) or name alerts are posted to")
		}
	}
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || u.Host == "" || u.User != nil {
			add("/api_url", "must be an http(s) URL without credentials, e.g. https://slack.com/api")
		}
	}
	if len(fe) > 0 {
		return fe
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	c.WebhookURL, c.BotToken = strings.TrimSpace(c.WebhookURL), strings.TrimSpace(c.BotToken)
	c.Channel = strings.TrimSpace(c.Channel)
	if c.APIURL == "" {
		c.APIURL = defaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.Layout == "" {
		c.Layout = layoutBlocks
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = defaultTimeout
	}
	if c.MaxMessagesPerSecond == 0 {
		c.MaxMessagesPerSecond = defaultRate
	}
	if c.Burst == 0 {
		c.Burst = defaultBurst
	}
	return c
}

func (c Config) botMode() bool { return c.BotToken != "" }

func (c Config) timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }
