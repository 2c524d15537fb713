// Package alert owns alert rules and their evaluation: the rule model (JSON
// and YAML, "rules as code"), its validation with field-level problems, and
// the Engine that turns run.changed and metric.appended events, plus a
// periodic tick, into per-series state machines and notification intents.
//
// The package is pure: it reads runs and metric windows through the small
// interfaces declared next to the Engine, takes the time from an injected
// Clock, and hands every transition and notification to an Outbox before it
// moves its own in-memory state. Storage, the HTTP API, silences, grouping
// and delivery belong to other packages; this one decides *what* fires and
// *when*, never how it is sent.
//
// # States
//
// Every (rule, series fingerprint) has its own machine:
//
//	normal ──active──▶ pending ──held for `for`──▶ firing ──inactive──▶ resolved
//	   ▲                  │ inactive                                  │
//	   └──────────────────┴───────────────────────────────────────────┘
//
// A rule without `for` goes straight from normal to firing. Resolved is
// where a series rests after an episode; it behaves like normal (the next
// activation starts a new episode). Only firing and resolved notify.
//
// # Flapping
//
// A series is flapping when it has resolved at least FlapPolicy.Resolves
// times within FlapPolicy.Window. When a flapping series becomes inactive it
// does not resolve: it stays firing ("held") and sends nothing until its
// condition has been inactive for FlapPolicy.Stable without interruption;
// then it resolves with a single notification. Turning active again while
// held sends nothing either, so a flapping pipeline costs its receivers one
// firing and one resolved message per stable period instead of one pair per
// flip.
//
// # Time-driven conditions
//
// Deadline and absence rules, runs still running past a duration_above
// threshold, sliding metric windows, pending `for` timers and held flapping
// series advance on Engine.Tick; a deadline fires at the first tick at or
// after it (tick every second and it fires within a second). A deadline
// counts a success that ended since local midnight of the deadline's day
// (or within Deadline.Window). A deadline that passed before the rule was
// loaded is skipped unless the series' DeadlineAt was restored (a restart
// with persisted state evaluates the deadlines missed while down); a late
// tick that finds a success which came after the deadline does not fire,
// since there is nothing left to act on.
//
// # Held and repeated notifications
//
// A Muter (silences, inhibition; host/alerting) may hold a notification
// back when it is decided: the series remembers it (Muted) and the next
// tick at which nothing mutes it sends it. A resolve whose firing was never
// sent sends nothing. A series still firing Rule.Group.Repeat after its
// last notification is notified again (not while muted).
//
// # Grouping
//
// Each notification carries its group (Notification.GroupKey: the rule
// and the values of Rule.Group.By) and the group's wait and interval
// (Intent); the outbox and its worker (host/notify) gather a group's
// notifications into one message with them.
//
// # Notification ids
//
// Each episode of a series gets the next sequence number; the firing and the
// resolved notification of that episode have ids derived from (profile,
// rule, fingerprint, sequence, status) (and the repeat's number for a
// repeat). The same decision taken twice (an
// event delivered twice, a replica re-evaluating) therefore yields the same
// id, and the outbox can de-duplicate on it.
package alert
