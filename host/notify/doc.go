// Package notify delivers the notifications outbox: it turns the alert
// engine's intents into outbox rows (Enqueue) and runs the Worker that
// sends due rows through the alert-sink plugins, with retries, and records
// each outcome.
//
// # Guarantees
//
// Every notification is a row (store.Outbox) before anything is sent, so a
// crash or a Slack outage delays a notification, never loses it. Rows are
// de-duplicated on (profile, notification id, sink): the engine's ids are
// stable per transition, so a retried write adds nothing.
//
// Delivery is at least once, and exactly once outside one window: the row
// is marked delivered right after the sink reports success, with nothing
// else in between (no logging, no other row, a context that a stopping
// worker does not cancel). A crash of the host between the sink's success
// and that one UPDATE is the only way a notification is sent twice; a sink
// that times out after Slack posted (the plugin cannot know) is the same
// window seen from the other side. Sinks receive the stable notification id
// so that a receiver able to de-duplicate can.
//
// # Order
//
// Rows are grouped by (profile, sink, group key); the group key is the
// notification's GroupKey, or its rule and series when it has none. A row
// is sent only when no older row of its group is still pending (or goes in
// the same message, after it): a group delivers one message at a time, in
// the order the engine decided, so "resolved" never overtakes its
// "firing". A row waiting for a
// retry holds its group back; a dead letter does not. Different groups are
// independent and sent in parallel.
//
// # Grouping
//
// A row's first attempt is set when it is written (store.Outbox.Enqueue),
// as Alertmanager groups: GroupWait after the decision, so that others of
// its group decided meanwhile can join it; no sooner than GroupInterval
// after the group's last message; and together with the group's rows that
// already wait. The worker claims a group's first row with the due rows
// right behind it (ClaimGroups) and sends them as ONE message (Group):
// one notification goes as it is; several make a group message whose
// Alerts list them, an alert's latest notification only. The outcome is
// recorded on every row. A message refused for good is sent again one
// notification at a time, so that one notification the sink cannot take
// does not make the others dead letters.
//
// # Retries
//
// A retryable answer (or an error: plugin down, deadline) schedules the
// next attempt with exponential backoff with jitter, 1 s doubling to 5 min,
// or the sink's Retry-After when that is later. A permanent answer makes
// the row a dead letter with the sink's reason, never retried and visible
// through store.Notifications. A row still failing MaxAge after it was
// written is given up as a dead letter too.
//
// # Several workers
//
// Workers (in one process or in several replicas) share the outbox through
// leases: Claim leases a row for Lease, longer than the per-call deadline,
// so two workers never send the same row at once; a crashed worker's rows
// come back when their leases end. A worker that stops cleanly releases
// the rows it did not send.
package notify
