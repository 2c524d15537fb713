// Package bus carries domain events between the parts of the host: the
// collector announces changed runs and appended metric points, and the
// consumers (cache invalidation, alert evaluation, the browser's
// Server-Sent Events) react to them.
//
// The Bus interface is deliberately small — Publish and Subscribe — and an
// Event is plain JSON (id, topic, profile, time, payload), so the in-memory
// implementation here and a Redis Streams one for several replicas can be
// swapped without touching publishers or consumers.
//
// Delivery is best effort and at most once: the bus is a signal, not a log.
// What an event announces is already committed to the store before it is
// published, so a consumer that missed events (slow, restarted, or on a
// replica that was down) re-reads the store instead of replaying the bus.
// That is why a slow subscriber loses its oldest events rather than slowing
// down the publisher: ingest must never wait for a browser tab.
package bus
