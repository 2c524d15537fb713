// Package cards owns dashboard card queries: the catalog of the host's
// built-in card types (plugin id "puod"), the queries behind them (over
// the store, bounded by a time range), plugin card queries (forwarded to
// the running plugin that declares the type, for one of the caller's
// sources), and the result cache with its event-driven invalidation.
//
// A card query is POST /api/v1/cards/query
// {"type", "options", "time_range"} → {"frame", "as_of", "cached", "tags"}.
//
// Cache: a result is stored under a key made of the profile, the card
// type, the canonical options, the time range's text and the current
// versions of the tags the card reads (runs, source:S, pipeline:P,
// alerts, all scoped by profile). A run.changed event bumps its profile's
// runs, source and pipeline tags, an alert.changed its alerts tag, so
// every entry that read them is skipped from
// then on: O(1) invalidation, the same on the in-memory cache and Redis.
// Cache failures never fail a query: it is answered uncached.
//
// Metrics (on Deps.Metrics): puod_card_queries_total{type_kind, outcome,
// cached} and the histogram puod_card_query_seconds{type_kind, cached};
// type_kind is builtin or plugin, never a plugin's own card type.
package cards
