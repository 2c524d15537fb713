// Package alerting connects the alert pieces into a running service: it
// loads every profile's enabled rules (host/alertapi stores them) into the
// alert Engine, restores the series states saved in alert_states, feeds the
// engine run.changed and metric.appended events and a tick every second,
// writes what the engine decides (Outbox), and runs the notify Worker that
// delivers the outbox through the alert-sink plugins (Sender).
//
// # Writing a decision
//
// The store offers no transaction spanning the outbox and alert_states, so
// Outbox.Write writes in a fixed order: first the notification rows
// (notify.Worker.Enqueue, one transaction, duplicates ignored), then the
// series states (AlertStates().Save, one transaction). A crash between the
// two leaves the old states in alert_states: the restarted engine takes
// the same decision again with the same notification ids, and the outbox
// ignores the rows it already has. The reverse order could lose a
// notification (state saved as firing, row never written), so it is not
// used. If either write fails, Write fails and the engine keeps its
// previous in-memory state and decides again on the next event or tick.
//
// # Silences and inhibition
//
// Muter is the engine's alert.Muter: a notification is held back while a
// silence in force matches its labels, or while the source of its series
// (label source_id) is unhealthy (health status error): a source that
// cannot be polled makes its pipelines look late or absent, and its own
// health already says what is wrong. The engine keeps a held notification
// in the series' state (Muted, MutedBy, and a transition in its history)
// and sends it, with the id it would have had, at the first tick where
// nothing mutes it any more; an episode that fires and resolves while
// muted sends nothing. The Muter reads each profile's silences and source
// health at most once a second; a silence created or expired through the
// API (alert.changed, kind silence) is obeyed at once.
//
// # Reloading
//
// An alert.changed event of kind "rule" reloads the rules of its profile;
// series of rules that remain keep their state. Invalid stored rules are
// skipped (logged), the others load.
//
// # Several replicas
//
// With a Leaser (Redis), one replica at a time evaluates: it holds the
// lease "alerting" and renews it every tick; the others ignore events and
// reload everything from the store when they take over. The delivery
// worker runs on every replica: the outbox's claims keep two workers from
// sending the same row.
package alerting
