package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
)

// Leaser shares evaluation between replicas (collect.Leaser, lease.Redis).
type Leaser interface {
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key string) error
}

// Config tunes the runner. The zero value is usable.
type Config struct {
	// TickInterval is how often time-driven conditions are evaluated.
	// Default 1 s.
	TickInterval time.Duration
	// Engine configures the alert engine (BaseURL, Clock…).
	Engine alert.Config
	// Notify configures the delivery worker.
	Notify notify.Config
	// Leaser, when set, lets one replica at a time evaluate.
	Leaser Leaser
}

// Deps are what the runner reads, writes and calls.
type Deps struct {
	DB  *store.DB
	Bus bus.Bus
	// Sender delivers notifications; SinkSender(DB, ManagerSinks(m)) in
	// the host.
	Sender notify.Sender
}

// Runner evaluates alert rules and delivers their notifications.
type Runner struct {
	cfg    Config
	log    hclog.Logger
	d      Deps
	engine *alert.Engine
	worker *notify.Worker
	outbox *Outbox
	muter  *Muter

	mu     sync.Mutex
	leader bool
}

const leaseKey = "alerting"

// HistoryGrace is how long before a rule's creation a run may have ended
// and still be notified: a failure collected a poll after the rule was
// made is news; last week's are history.
const HistoryGrace = 15 * time.Minute

// New builds a runner; nothing runs until Run.
func New(cfg Config, log hclog.Logger, d Deps) (*Runner, error) {
	if d.DB == nil || d.Bus == nil || d.Sender == nil {
		return nil, errors.New("alerting: DB, Bus and Sender are required")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("alerting")
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = time.Second
	}
	w, err := notify.New(cfg.Notify, log, d.DB.System().Outbox(), d.Sender)
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, log: log, d: d, worker: w}
	r.outbox = &Outbox{DB: d.DB, Queue: w, Log: log}
	r.muter = &Muter{DB: d.DB}
	reader := StoreReader{DB: d.DB}
	r.engine, err = alert.New(cfg.Engine, log, alert.Deps{Runs: reader, Metrics: reader, Outbox: r.outbox, Muter: r.muter})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Engine is the alert engine (for tests and the API's preview).
func (r *Runner) Engine() *alert.Engine { return r.engine }

// Worker is the delivery worker.
func (r *Runner) Worker() *notify.Worker { return r.worker }

// Run evaluates and delivers until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	// Subscribe before loading, so nothing published meanwhile is missed.
	events, cancel := r.d.Bus.Subscribe(bus.TopicRunChanged, bus.TopicMetricAppended, bus.TopicAlertChanged)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.worker.Run(ctx); err != nil {
			r.log.Error("notification worker stopped", "error", err)
		}
	}()
	defer wg.Wait()

	r.lead(ctx)
	tick := time.NewTicker(r.cfg.TickInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if r.isLeader() && r.cfg.Leaser != nil {
				rctx, c := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = r.cfg.Leaser.Release(rctx, leaseKey)
				c()
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			r.handle(ctx, ev)
		case now := <-tick.C:
			if !r.lead(ctx) {
				continue
			}
			if r.cfg.Engine.Clock != nil {
				now = r.cfg.Engine.Clock.Now()
			}
			if err := r.engine.Tick(ctx, now); err != nil && ctx.Err() == nil {
				r.log.Warn("alert tick failed; evaluated again at the next one", "error", err)
			}
		}
	}
}

// lead renews (or takes) the evaluation lease and reports whether this
// replica evaluates. Taking it over reloads every profile from the store.
func (r *Runner) lead(ctx context.Context) bool {
	r.mu.Lock()
	was := r.leader
	r.mu.Unlock()
	now := true
	if r.cfg.Leaser != nil {
		ok, err := r.cfg.Leaser.Acquire(ctx, leaseKey, 10*r.cfg.TickInterval)
		if err != nil {
			r.log.Warn("alert evaluation lease unavailable; not evaluating until it is", "error", err)
		}
		now = ok && err == nil
	}
	if now && !was {
		if err := r.LoadAll(ctx); err != nil {
			r.log.Error("alert rules could not be loaded; retrying at the next tick", "error", err)
			return false
		}
	}
	r.mu.Lock()
	r.leader = now
	r.mu.Unlock()
	return now
}

func (r *Runner) isLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

func (r *Runner) handle(ctx context.Context, ev bus.Event) {
	if !r.isLeader() {
		return
	}
	var err error
	switch ev.Topic {
	case bus.TopicRunChanged:
		err = r.engine.OnRunChanged(ctx, ev)
	case bus.TopicMetricAppended:
		err = r.engine.OnMetricAppended(ctx, ev)
	case bus.TopicAlertChanged:
		var c alertapi.Changed
		if err = ev.Decode(&c); err == nil {
			switch c.Kind {
			case alertapi.ChangedRule:
				err = r.LoadProfile(ctx, ev.ProfileID, false)
			case alertapi.ChangedSilence:
				// Held notifications go out on the next tick once their
				// silence is gone; new ones are held at once.
				r.muter.Invalidate(ev.ProfileID)
			case alertapi.ChangedNotification:
				r.worker.Kick() // a dead letter sent again: now, not at the next poll
			}
		}
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("alert event not evaluated", "topic", ev.Topic, "event", ev.ID, "error", err)
	}
}

// LoadAll loads the rules and saved states of every profile.
func (r *Runner) LoadAll(ctx context.Context) error {
	var errs []error
	for page := (store.Page{Limit: store.MaxPageLimit}); ; {
		ps, next, err := r.d.DB.System().Profiles().List(ctx, page)
		if err != nil {
			return fmt.Errorf("alerting: list profiles: %w", err)
		}
		for _, p := range ps {
			if err := r.LoadProfile(ctx, p.ID, true); err != nil {
				errs = append(errs, err)
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return errors.Join(errs...)
}

// LoadProfile replaces the engine's rules of a profile with its enabled
// stored rules; restore also puts back the saved series states.
func (r *Runner) LoadProfile(ctx context.Context, profileID string, restore bool) error {
	pctx := asProfile(ctx, profileID)
	rows, err := r.d.DB.AlertRules().List(pctx)
	if err != nil {
		return fmt.Errorf("alerting: rules of profile %s: %w", profileID, err)
	}
	var rules []alert.Rule
	for _, row := range rows {
		if !row.Enabled {
			continue
		}
		var rule alert.Rule
		if err := json.Unmarshal(row.Spec, &rule); err != nil {
			r.log.Error("stored alert rule is unreadable; skipped", "rule", row.ID, "error", err)
			continue
		}
		rule.ID = row.ID
		// Runs that ended well before the rule existed are history (see
		// alert.Rule.NotifyFrom); a failure of the last minutes is news.
		rule.NotifyFrom = row.CreatedAt.Add(-HistoryGrace)
		if err := rule.Validate(); err != nil {
			r.log.Error("stored alert rule is invalid; skipped", "rule", row.ID, "error", err)
			continue
		}
		rules = append(rules, rule)
	}
	if err := r.engine.SetRules(profileID, rules); err != nil {
		return err
	}
	if !restore {
		return nil
	}
	rows2, err := r.d.DB.AlertStates().List(pctx, store.AlertStateFilter{})
	if err != nil {
		return fmt.Errorf("alerting: alert states of profile %s: %w", profileID, err)
	}
	states := make([]alert.SeriesState, 0, len(rows2))
	for _, row := range rows2 {
		var st alert.SeriesState
		if err := json.Unmarshal(row.Snapshot, &st); err != nil || st.RuleID == "" {
			r.log.Warn("saved alert state is unreadable; the series starts afresh", "rule", row.RuleID, "fingerprint", row.Fingerprint)
			continue
		}
		states = append(states, st)
	}
	r.engine.Restore(profileID, states)
	return nil
}

// ManagerSinks adapts the plugin manager to PluginSinks.
func ManagerSinks(m *plugins.Manager) PluginSinks { return managerSinks{m} }

type managerSinks struct{ m *plugins.Manager }

func (s managerSinks) Sink(pluginID string) (notify.SinkClient, error) {
	h, err := s.m.Plugin(pluginID)
	if err != nil {
		return nil, err
	}
	return h, nil
}
