// Command puod-email is PUOD's e-mail alert sink (plugin puod.email). It
// sends each notification as one e-mail over SMTP, STARTTLS by default,
// with a plain-text and an HTML version rendered from the same data
// (multipart/alternative), a matching "resolved" message, and one message
// listing every alert of a group notification. It maps the server's
// replies onto the outbox's outcomes: delivered, retryable (4xx replies,
// connection errors and time-outs) or permanent (5xx replies such as 550,
// 553, 554, 535 or 530, a certificate that cannot be verified, a server
// without STARTTLS when tls is starttls), with the reply and the remedy.
//
// The files split the work by concern: config.go (the sink's settings),
// message.go and templates/ (notification → MIME message), sink.go (the
// SMTP conversation and the reply mapping), auth.go (PLAIN and LOGIN, only
// over TLS) and ledger.go (which recipients a notification already
// reached).
//
// Security: certificates are always verified, against ca_cert_pem when it
// is set. Credentials are only sent over TLS. The password never appears in
// an error or a log line.
//
// Idempotency: the Message-ID is derived from the notification id, so every
// send of one notification carries the same Message-ID and the same bytes,
// and a receiver that de-duplicates on it drops a repeat. Within one plugin
// process the sink also remembers which recipients a notification reached:
// a retry goes only to the others, and a retry after a lost answer sends
// nothing. The window for a repeat is a time-out after the end of the
// message (the server may have accepted it) or a plugin restart before the
// host recorded the outcome.
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
