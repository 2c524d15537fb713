// Package cache stores card results for a short time so that a dashboard
// opened by many people, or refreshed often, costs one query per card and
// not one per viewer.
//
// Invalidation is by tag and O(1): a tag (for example "p1:source:S", as the
// caller prefixes tags by profile) has a version counter, callers embed the
// current versions of the tags a result read in its key, and an event that
// changes that data bumps the tag. Entries under the old versions are never
// read again and simply expire with their TTL; nothing has to enumerate
// them.
//
// Two implementations share the Cache contract (and one test suite,
// cachetest): Memory, bounded by entries and bytes with LRU eviction, for a
// single process; and Redis, so several replicas share one view of results
// and tag versions. A cache is an optimisation, never a dependency: callers
// answer uncached when a call fails, and Redis stops trying for a short
// back-off window after a failure (returning ErrUnavailable at once) so a
// Redis that is down does not add its timeouts to every query.
package cache
