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
// # Silences
//
// Silences are applied when a notification is decided, in Outbox.Write: a
// notification whose labels a silence in force at that moment mutes is not
// written to the outbox at all, so it can never be sent; the series' state
// and its transition history are still saved (the alert is firing, only
// quiet), and the host logs the notification id with the silences that
// muted it. A silence created after a notification was decided does not
// recall it. A series still firing when its silence ends is not notified
// again until its next transition (re-notification on expiry is a later
// step).
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
