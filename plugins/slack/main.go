// Command puod-slack is PUOD's Slack alert sink (plugin puod.slack). It
// posts each notification as a Block Kit message through an incoming
// webhook or a bot token (chat.postMessage), with a matching "resolved"
// message, and maps Slack's answers onto the outbox's outcomes: delivered,
// retryable (429 with its Retry-After, 5xx, timeouts, connection errors) or
// permanent (invalid_payload, channel_not_found, no_service, invalid_token,
// chat.postMessage's ok:false…, with Slack's code and the remedy).
//
// The files split the work by concern: config.go (the sink's settings),
// message.go (notification → Block Kit, within Slack's limits) and sink.go
// (posting, pacing and the answer mapping).
//
// Secrets: the webhook URL (its path is the credential) and the bot token
// never appear in an error or a log line; errors name the transport
// ("incoming webhook", "chat.postMessage"), never the URL.
//
// Idempotency: Slack has no idempotency key for either transport, so a
// notification the host retries after a lost answer (a time-out after Slack
// posted) appears twice; that window is the post's time-out. What the sink
// does send is the notification id: in the block_id of the message's
// context block ("puod_alert:<id>", both transports, visible in the
// message's JSON) and, for chat.postMessage, in the message metadata
// (event_type puod_alert, event_payload.notification_id). Slack stores
// both with the message and does nothing else with them; an app with
// channels:history can find a message by them (conversations.history with
// include_all_metadata). client_msg_id is not a chat.postMessage argument
// (Slack's own clients set it), so it is not sent.
package main

import (
	_ "embed"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// version is the plugin's version; plugin.json says the same.
const version = "0.1.0"

// newPlugin declares the plugin with the given dependencies.
func newPlugin(d deps) sdk.Plugin[Config] {
	return sdk.Plugin[Config]{Manifest: manifest, New: d.newSink}
}

func main() {
	sdk.Serve(newPlugin(deps{}))
}
