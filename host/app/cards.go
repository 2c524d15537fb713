package app

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/cache"
	"github.com/puod/puod/host/cards"
	"github.com/puod/puod/host/config"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
)

// newCards builds the card query service with its cache: Redis when
// PUOD_REDIS_URL is set (shared by every replica), else in memory.
func newCards(ctx context.Context, cfg config.Config, log hclog.Logger, db *store.DB, m *plugins.Manager, reg prometheus.Registerer) (*cards.Service, cards.Cache, error) {
	var c, near cards.Cache
	if cfg.RedisURL != "" {
		r, err := cache.NewRedis(ctx, cfg.RedisURL, log, reg)
		if err != nil {
			return nil, nil, err
		}
		c = r
		// Hot cards answer from process memory without a round trip;
		// App.invalidateCards and the event hub keep it in step.
		near = cache.NewMemory(cache.MemoryConfig{MaxEntries: 2000, MaxBytes: 32 << 20}, nil)
	} else {
		c = cache.NewMemory(cache.MemoryConfig{}, reg)
	}
	svc, err := cards.New(cards.Config{CallTimeout: cfg.Plugins.CallTimeout}, log, cards.Deps{
		// No Bus: the collector invalidates before it publishes
		// (App.invalidateCards), once per event for every replica.
		DB: db, Cache: c, Near: near, Plugins: cards.ManagerPlugins(m), Metrics: reg,
	})
	if err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	return svc, c, nil
}
