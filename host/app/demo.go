package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/puod/puod/host/demo"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/plugins"
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
	var slackID string
	for _, sim := range d.Simulators {
		poll := 15
		if sim.Sink {
			poll = 0 // an alert sink has nothing to poll
		}
		if err := a.waitRunning(ctx, sim.PluginID, time.Minute); err != nil {
			a.log.Warn("demo source not created: its plugin is not running; run 'make build' to build the plugins", "plugin", sim.PluginID, "error", err)
			continue
		}
		cfg, err := sim.SourceConfig()
		if err != nil {
			return err
		}
		in := sources.Input{PluginID: sim.PluginID, Name: sim.SourceName, Config: cfg, PollIntervalSeconds: &poll}
		var src sources.Source
		if cur, ok := existing[sim.SourceName]; ok {
			src, err = srcs.Update(ctx, cur.ID, cur.Revision, in)
		} else {
			src, err = srcs.Create(ctx, in)
		}
		if err != nil {
			return fmt.Errorf("demo: source %q: %w", sim.SourceName, err)
		}
		if sim.Sink {
			slackID = src.ID
		}
		a.log.Info("demo source ready", "source", sim.SourceName, "simulator", sim.URL)
	}
	if slackID == "" {
		return nil
	}
	// The seed rule notifies the demo's Slack source, whose id is known
	// only now; it loads as rules as code into the default profile.
	dir := filepath.Join(a.cfg.DataDir, "demo-rules")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: rules folder: %w", err)
	}
	rules := strings.ReplaceAll(string(demo.SeedRules), demo.SeedSinkPlaceholder, slackID)
	if err := os.WriteFile(filepath.Join(dir, "etl_vendas.yaml"), []byte(rules), 0o600); err != nil {
		return fmt.Errorf("demo: write the seed rule: %w", err)
	}
	rep, err := a.alerts.LoadRulesInto(ctx, prof.ID, dir, nil)
	if err != nil {
		return fmt.Errorf("demo: load the seed rule: %w", err)
	}
	if len(rep.Skipped) > 0 {
		return fmt.Errorf("demo: seed rule not loaded: %s", strings.Join(rep.Skipped, "; "))
	}
	a.log.Info("demo alert rule ready", "rules", rep.Loaded)
	return nil
}

func (a *App) waitRunning(ctx context.Context, pluginID string, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		_, err := a.plugins.Plugin(pluginID)
		if err == nil {
			return nil
		}
		// Not installed at all (the plugins were scanned at start): no
		// point in waiting.
		if errors.Is(err, plugins.ErrUnknownPlugin) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
