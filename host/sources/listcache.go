package sources

import (
	"sync"
	"time"
)

// listCache keeps encoded GET /sources pages. Listing sources is the
// dashboard's and the collector UI's most frequent read and its rows
// change rarely, so a page is encoded once and served until the store's
// sources generation moves (any source write in this process) or it is a
// second old (a write through another replica).
type listCache struct {
	mu      sync.Mutex
	entries map[string]listEntry
}

type listEntry struct {
	body []byte
	gen  uint64
	exp  time.Time
}

const (
	listCacheTTL = time.Second
	// listCacheMax bounds memory: past it the cache starts over.
	listCacheMax = 4096
)

func (lc *listCache) get(key string, gen uint64, now time.Time) ([]byte, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	e, ok := lc.entries[key]
	if !ok || e.gen != gen || !now.Before(e.exp) {
		return nil, false
	}
	return e.body, true
}

func (lc *listCache) put(key string, gen uint64, now time.Time, body []byte) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.entries == nil || len(lc.entries) >= listCacheMax {
		lc.entries = map[string]listEntry{}
	}
	lc.entries[key] = listEntry{body: body, gen: gen, exp: now.Add(listCacheTTL)}
}
