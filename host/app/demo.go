package app

import (
	"context"
	"fmt"
	"time"

	"github.com/puod/puod/host/demo"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/sources"
	"github.com/puod/puod/host/store"
)

// provisionDemo creates (or repoints, since the simulators listen on new
// ports at every start) one source per simulator in the default profile,
// once the connector plugin of each is running.
func (a *App) provisionDemo(ctx context.Context, d *demo.Demo, srcs *sources.Service) error {
	prof, err := a.db.System().Profiles().ByName(ctx, "default")
	if err != nil {
		return fmt.Errorf("demo: find the default profile: %w", err)
	}
	ctx = identity.With(ctx, identity.Principal{UserID: "system", Username: "demo", ProfileID: prof.ID, Role: identity.RoleAdmin, Via: "system"})
	existing := map[string]sources.Source{}
	for page := (store.Page{Limit: 500}); ; {
		list, next, err := srcs.List(ctx, page)
		if err != nil {
			return err
		}
		for _, s := range list {
			existing[s.Name] = s
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	poll := 15
	for _, sim := range d.Simulators {
		if err := a.waitRunning(ctx, sim.PluginID, time.Minute); err != nil {
			a.log.Warn("demo source not created: its plugin is not running; run 'make build' to build the plugins", "plugin", sim.PluginID, "error", err)
			continue
		}
		cfg, err := sim.SourceConfig()
		if err != nil {
			return err
		}
		in := sources.Input{PluginID: sim.PluginID, Name: sim.SourceName, Config: cfg, PollIntervalSeconds: &poll}
		if cur, ok := existing[sim.SourceName]; ok {
			_, err = srcs.Update(ctx, cur.ID, cur.Revision, in)
		} else {
			_, err = srcs.Create(ctx, in)
		}
		if err != nil {
			return fmt.Errorf("demo: source %q: %w", sim.SourceName, err)
		}
		a.log.Info("demo source ready", "source", sim.SourceName, "simulator", sim.URL)
	}
	return nil
}

func (a *App) waitRunning(ctx context.Context, pluginID string, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		_, err := a.plugins.Plugin(pluginID)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
