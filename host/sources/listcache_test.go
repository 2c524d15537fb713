package sources_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// TestSources_listCacheInvalidation checks the cached list pages: a write
// through this process shows at once, a write the process did not see (as
// through another replica) within the cache's one-second bound, and one
// profile's page is never served to another.
func TestSources_listCacheInvalidation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		admin := e.principal("acme", identity.RoleAdmin)
		other := e.principal("globex", identity.RoleAdmin)
		names := func(who string) []string {
			r := e.do(who, http.MethodGet, "/api/v1/sources", nil)
			e.mustStatus(r, http.StatusOK)
			var page struct{ Sources []sources.Source }
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range page.Sources {
				out = append(out, s.Name)
			}
			return out
		}
		e.create(admin, "first", map[string]any{"greeting": "a"})
		if got := names(admin); len(got) != 1 {
			t.Fatalf("after the first create: %v", got)
		}
		if got := names(other); len(got) != 0 {
			t.Fatalf("another profile sees %v", got)
		}
		e.create(admin, "second", map[string]any{"greeting": "b"})
		if got := names(admin); len(got) != 2 {
			t.Fatalf("a write through this process must show at once, got %v", got)
		}

		// A write this process's counters don't see: straight through a
		// second handle on the same database, as another replica would.
		ctx := e.ctxOf(admin)
		list, _, err := db.Sources().List(ctx, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		replica := storetest.Reopen(t, db)
		if err := replica.Sources().Delete(ctx, list[0].ID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for len(names(admin)) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("a write through another replica still not visible after 3s: %v", names(admin))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
