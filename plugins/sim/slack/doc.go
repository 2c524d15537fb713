// Package slacksim is a local Slack receiver: it answers incoming-webhook
// POSTs and the Web API's chat.postMessage (and auth.test) in Slack's real
// formats, as documented in the project's API reference (apis/slack.md),
// records every message it accepts, and can be told to fail. The puod.slack
// alert sink's tests use it, and `puod serve --demo` uses it as "the local
// Slack receiver".
//
// What it reproduces:
//
//   - incoming webhooks at /services/T…/B…/<secret> answer plain text: 200
//     "ok", or a short code with a real HTTP status (400 invalid_payload,
//     400 no_text, 403 invalid_token, 404 no_service, 404
//     channel_not_found, 410 channel_is_archived, 429 with Retry-After,
//     500 rollup_error). An unknown webhook path answers 404 no_service;
//   - chat.postMessage at /api/chat.postMessage takes a bot token
//     (Authorization: Bearer, or a "token" form field), a JSON body (with
//     or without charset: without it the answer carries the
//     missing_charset warning) or a form body, and always answers HTTP 200
//     with {"ok": …} except when rate limited (429 + Retry-After,
//     {"ok":false,"error":"ratelimited"}). Channels are resolved by id or
//     name; unknown, not-joined and archived channels give
//     channel_not_found, not_in_channel and is_archived. A successful post
//     answers {"ok":true,"channel","ts","message"} with ts as a string;
//   - Block Kit is checked against Slack's documented limits (≤ 50 blocks,
//     header ≤ 150, section text ≤ 3000, ≤ 10 fields of ≤ 2000, ≤ 25
//     actions, button text ≤ 75 and url ≤ 3000, unique block_id ≤ 255):
//     a violation answers invalid_blocks (Web API, with errors[] and
//     response_metadata.messages[] as in the fixture) or 400
//     invalid_payload (webhooks). Top-level text over 40,000 characters is
//     truncated, as Slack does, and the message is marked Truncated.
//
// Faults (Inject, FailNext, RefuseNext, HangNext, DownUntil) make requests
// answer 503, 429 with Retry-After, any Slack error code (with the status
// each transport really uses: a webhook's 404 no_service, the Web API's 200
// ok:false), or hang until the client gives up. A fault can last a number
// of requests or until a time of the server's clock (Options.Now), for
// outages in simulated time.
//
// Use:
//
//	sl := slacksim.New(slacksim.Options{})          // channel C08P4UDALRT (#alerts), bot token slacksim.DefaultBotToken
//	srv := httptest.NewServer(sl)                    // or any http.Server
//	hook := sl.WebhookURL(srv.URL, "C08P4UDALRT")    // a new incoming webhook for #alerts
//	sl.FailNext(3, http.StatusServiceUnavailable, 0) // Slack is down for three requests
//	msgs, _ := sl.WaitMessages(ctx, 1)               // what reached the channel
package slacksim
