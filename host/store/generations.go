package store

import (
	"sync"
	"sync/atomic"
)

// Generation kinds: what a cache built on the store keys its entries with.
const (
	// GenSources changes with every write to sources.
	GenSources = "sources"
	// GenIdentity changes with every write to users, memberships and API
	// tokens: who may act where.
	GenIdentity = "identity"
)

// generations are per-kind counters bumped after each write of that kind
// in this process. A cache stores the generation it read at and treats an
// entry as stale once the counter moved, which makes invalidation O(1).
// Writes made by other replicas do not bump them: caches built on them
// also bound an entry's age (a second), which bounds the staleness across
// replicas.
type generations struct {
	m sync.Map // kind → *atomic.Uint64
}

func (g *generations) counter(kind string) *atomic.Uint64 {
	if c, ok := g.m.Load(kind); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := g.m.LoadOrStore(kind, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// Generation returns the current generation of a kind (GenSources, ...).
func (db *DB) Generation(kind string) uint64 { return db.gens.counter(kind).Load() }

func (db *DB) bump(kind string) { db.gens.counter(kind).Add(1) }
