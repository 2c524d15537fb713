// Package events serves the bus to browsers as Server-Sent Events
// (GET /api/v1/events), so a dashboard card refreshes when the data it
// shows changed instead of polling.
//
// One Hub per host process holds one bus subscription, whatever the number
// of open streams. It renders each event once, keeps the most recent ones
// in a ring for replay, and hands each to the streams of the event's
// profile: a stream never sees another profile's event.
//
// Delivery follows the bus: best effort, never at the cost of the
// publisher. A browser that reconnects sends the id of the last event it
// saw and gets what it missed from the ring; when that is no longer
// possible (the id is too old, from before a restart, or the browser read
// too slowly and its buffer overflowed), it gets a "reset" event, which
// means "reload everything you show" — the store has the truth.
package events
