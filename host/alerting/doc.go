// Package alerting connects the alert pieces into a running service: it
// loads every profile's enabled rules (host/alertapi stores them) into the
// alert Engine, restores the series states saved in alert_states, feeds the
// engine run.changed and metric.appended events and a tick every second,
// writes what the engine decides (Outbox), and runs the notify Worker that
// delivers the outbox through the alert-sink plugins (Sender).
//
// # Writing a decision
//
// Outbox.Write writes an evaluation's notification rows and its series
// states in one transaction (notify.Worker.Record, store.Outbox.Record):
// after a crash both are there or neither is, and a restarted engine that
// finds the old states takes the same decision again with the same
// notification ids, which the outbox ignores if it has them. If the write
// fails, the engine keeps its previous in-memory state and decides again
// on the next event or tick. A rule deleted between the decision and the
// write fails the joint write; the notifications are then written alone
// (they were decided before the deletion) and the states of the other
// rules saved rule by rule.
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
