package cards_test

import (
	"context"
	"testing"
	"time"

	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// With Redis, a replica answers hot cards from a near (in-process) cache.
// Another replica's ingest bumps the shared tags; this replica's near cache
// follows when the event arrives (Observe, called by the event hub
// before any browser sees the event).
func TestQuery_nearCache(t *testing.T) {
	shared := cache.NewMemory(cache.MemoryConfig{}, nil) // stands for Redis
	near := cache.NewMemory(cache.MemoryConfig{}, nil)
	e := newEnv(t, storetest.OpenSQLite(t), shared, nil, func(d *cards.Deps) {
		d.Near = near
	})
	p, _ := identity.From(e.ctx)
	etl := card(cards.TypeSuccessRate, map[string]any{"pipeline_id": e.pipes["etl"]})
	if a := e.query("a", etl); a.status != 200 || a.Cached {
		t.Fatalf("first query: %s", a.raw)
	}
	if a := e.query("a", etl); !a.Cached {
		t.Fatalf("second query not cached: %s", a.raw)
	}

	// Another replica ingests a failed run of etl: it bumps the shared
	// tags, then publishes run.changed.
	st := t0.Add(6 * time.Hour)
	res, err := e.db.Runs().Ingest(e.ctx, store.IngestBatch{SourceID: e.source, Runs: []store.RunUpsert{{ExternalID: "r6", PipelineExternalID: "etl",
		RunData: store.RunData{State: store.RunFailed, StartedAt: &st}}}})
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Changed[0]
	ev, err := bus.NewEvent(bus.TopicRunChanged, p.ProfileID, bus.RunChanged{SourceID: e.source, PipelineID: ch.PipelineID, RunID: ch.RunID, State: ch.State, New: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Bump(context.Background(), p.ProfileID+":runs", p.ProfileID+":source:"+e.source, p.ProfileID+":pipeline:"+ch.PipelineID); err != nil {
		t.Fatal(err)
	}
	// Until the event arrives, this replica may serve its near entry (for
	// NearTTL at most).
	if a := e.query("a", etl); !a.Cached || a.field("failed")[0] != 1.0 {
		t.Fatalf("before the event: %s", a.raw)
	}
	e.svc.Observe(ev)
	a := e.query("a", etl)
	if a.Cached || a.field("failed")[0] != 2.0 {
		t.Fatalf("after the event the card must be recomputed with the new run: %s", a.raw)
	}
	if a := e.query("a", etl); !a.Cached {
		t.Fatalf("the fresh answer was not cached again: %s", a.raw)
	}
	// A run of another pipeline leaves the card in the near cache.
	other, _ := bus.NewEvent(bus.TopicRunChanged, p.ProfileID, bus.RunChanged{SourceID: e.source, PipelineID: e.pipes["load"], RunID: e.runs["r4"]})
	e.svc.Observe(other)
	if a := e.query("a", etl); !a.Cached {
		t.Fatalf("an event of another pipeline invalidated the card: %s", a.raw)
	}
	// This replica's own ingest: Invalidate bumps both caches.
	st = t0.Add(7 * time.Hour)
	res, err = e.db.Runs().Ingest(e.ctx, store.IngestBatch{SourceID: e.source, Runs: []store.RunUpsert{{ExternalID: "r7", PipelineExternalID: "etl",
		RunData: store.RunData{State: store.RunFailed, StartedAt: &st}}}})
	if err != nil {
		t.Fatal(err)
	}
	ch = res.Changed[0]
	ev, _ = bus.NewEvent(bus.TopicRunChanged, p.ProfileID, bus.RunChanged{SourceID: e.source, PipelineID: ch.PipelineID, RunID: ch.RunID, State: ch.State, New: true})
	e.svc.Invalidate(context.Background(), ev)
	if a := e.query("a", etl); a.Cached || a.field("failed")[0] != 3.0 {
		t.Fatalf("after Invalidate the card must be recomputed: %s", a.raw)
	}
}
