package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/silence"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// Enqueuer writes notification intents to the outbox: *notify.Worker.
// Record writes them with the evaluation's states in one transaction;
// Enqueue writes them alone.
type Enqueuer interface {
	Record(ctx context.Context, intents []alert.Intent, states []store.AlertState) (int, error)
	Enqueue(ctx context.Context, intents []alert.Intent) (int, error)
}

// Outbox is the engine's alert.Outbox over the store: notification rows
// and states in one transaction (see the package documentation).
type Outbox struct {
	DB    *store.DB
	Queue Enqueuer
	Log   hclog.Logger
}

var _ alert.Outbox = (*Outbox)(nil)

// Write records one evaluation's outcome: its notifications and states in
// one transaction. If a rule was deleted meanwhile (its states cannot be
// saved), the notifications are written alone — they were decided before
// the deletion — and the states of the rules that remain are saved.
func (o *Outbox) Write(ctx context.Context, b alert.Batch) error {
	if len(b.States) == 0 && len(b.Notifications) == 0 {
		return nil
	}
	pctx := asProfile(ctx, b.ProfileID)
	states := make([]store.AlertState, 0, len(b.States))
	for _, st := range b.States {
		snap, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("alerting: encode state of %s/%s: %w", st.RuleID, st.Fingerprint, err)
		}
		row := store.AlertState{ProfileID: b.ProfileID, RuleID: st.RuleID, Fingerprint: st.Fingerprint, State: string(st.State),
			Labels: st.Labels, Since: st.Since, Snapshot: snap}
		if v, err := strconv.ParseFloat(st.Value, 64); err == nil {
			row.Value = &v
		}
		if !st.LastEvalAt.IsZero() {
			t := st.LastEvalAt
			row.LastEvalAt = &t
		}
		states = append(states, row)
	}
	_, err := o.Queue.Record(pctx, b.Notifications, states)
	if errors.Is(err, store.ErrNotFound) {
		// A rule deleted between the decision and this write: its reload
		// (alert.changed) drops the series. The batch spans every rule of
		// the profile, so keep the notifications and the states of the
		// rules that remain.
		if len(b.Notifications) > 0 {
			if _, err := o.Queue.Enqueue(ctx, b.Notifications); err != nil {
				return fmt.Errorf("alerting: write notifications: %w", err)
			}
		}
		return o.saveByRule(pctx, b.ProfileID, states)
	}
	if err != nil {
		return fmt.Errorf("alerting: write %d notifications and %d alert states: %w", len(b.Notifications), len(states), err)
	}
	return nil
}

// saveByRule saves states one rule at a time, dropping (and logging) the
// states of rules that no longer exist.
func (o *Outbox) saveByRule(ctx context.Context, profileID string, states []store.AlertState) error {
	var order []string
	byRule := map[string][]store.AlertState{}
	for _, st := range states {
		if _, ok := byRule[st.RuleID]; !ok {
			order = append(order, st.RuleID)
		}
		byRule[st.RuleID] = append(byRule[st.RuleID], st)
	}
	for _, id := range order {
		err := o.DB.AlertStates().Save(ctx, byRule[id])
		if errors.Is(err, store.ErrNotFound) {
			o.log().Info("alert states of a rule deleted meanwhile not saved", "profile", profileID, "rule", id, "error", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("alerting: save alert states of rule %s: %w", id, err)
		}
	}
	return nil
}

// Silences returns the compiled silences of ctx's profile in force at now.
// A stored silence that no longer compiles is skipped.
func Silences(ctx context.Context, db *store.DB, now time.Time) (silence.Set, error) {
	rows, err := db.Silences().List(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("alerting: read silences: %w", err)
	}
	var set silence.Set
	for _, r := range rows {
		s := silence.Silence{ID: r.ID, StartsAt: r.StartsAt, EndsAt: r.EndsAt, CreatedBy: r.CreatedBy, Comment: r.Comment}
		if err := json.Unmarshal(r.Matchers, &s.Matchers); err != nil {
			continue
		}
		c, err := silence.Compile(s)
		if err != nil || !c.Active(now) {
			continue
		}
		set = append(set, c)
	}
	return set, nil
}

func (o *Outbox) log() hclog.Logger {
	if o.Log == nil {
		return hclog.NewNullLogger()
	}
	return o.Log
}

// PluginSinks finds plugin handles: *plugins.Manager.
type PluginSinks interface {
	Sink(pluginID string) (notify.SinkClient, error)
}

// SinkSender is the notify.Sender that delivers to alert-sink sources: it
// looks the source up by id and calls its plugin (the instance id of a
// source is its id). The worker bounds each call (notify.Config.SendTimeout).
// Lookups are remembered while the store's sources generation is unchanged
// and for at most sinkLookupTTL (a change made through another replica),
// so a send does not wait for a database read.
func SinkSender(db *store.DB, sinks PluginSinks) notify.Sender {
	c := &sinkLookups{db: db, m: map[string]sinkLookup{}}
	return notify.SenderFunc(func(ctx context.Context, sinkSourceID string, n sdk.Notification) (sdk.NotifyResult, error) {
		src, err := c.get(ctx, sinkSourceID)
		if errors.Is(err, store.ErrNotFound) {
			return sdk.NotifyResult{Outcome: sdk.Permanent,
				Reason: fmt.Sprintf("the alert sink %s does not exist (deleted?): fix the rule's sinks", sinkSourceID)}, nil
		}
		if err != nil {
			return sdk.NotifyResult{}, fmt.Errorf("sink %s: %w", sinkSourceID, err)
		}
		cl, err := sinks.Sink(src.PluginID)
		if err != nil {
			return sdk.NotifyResult{}, fmt.Errorf("sink %s (%s): %w", src.Name, src.PluginID, err)
		}
		return cl.Notify(ctx, src.ID, n)
	})
}

const sinkLookupTTL = 5 * time.Second

type sinkLookup struct {
	src store.Source
	gen uint64
	at  time.Time
}

type sinkLookups struct {
	db *store.DB
	mu sync.Mutex
	m  map[string]sinkLookup
}

func (c *sinkLookups) get(ctx context.Context, id string) (store.Source, error) {
	gen := c.db.Generation(store.GenSources)
	c.mu.Lock()
	l, ok := c.m[id]
	c.mu.Unlock()
	if ok && l.gen == gen && time.Since(l.at) < sinkLookupTTL {
		return l.src, nil
	}
	src, err := c.db.System().Sources().Get(ctx, id)
	if err != nil {
		return store.Source{}, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 {
		clear(c.m)
	}
	c.m[id] = sinkLookup{src: src, gen: gen, at: time.Now()}
	c.mu.Unlock()
	return src, nil
}
