package alerting

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/silence"
	"github.com/puod/puod/host/store"
)

// Muter is the engine's alert.Muter over the store: a notification is held
// back while a silence in force matches its labels, or while the source
// its series belongs to (label source_id) is unhealthy (inhibition: a
// source that cannot be polled makes its pipelines look late or absent,
// and its own health already says what is wrong).
//
// The engine asks on every decision and, for held notifications, on every
// tick, so each profile's silences and source health are read from the
// store at most once per TTL; Invalidate (a silence was created or
// expired early) drops the copy so the next question reads again.
type Muter struct {
	DB *store.DB
	// TTL bounds how stale the copy may be. Default 1 s: a source's health
	// changes at most once per poll.
	TTL time.Duration

	mu    sync.Mutex
	cache map[string]muteView
}

var _ alert.Muter = (*Muter)(nil)

type muteView struct {
	loaded    time.Time // wall clock, for the TTL
	silences  silence.Set
	unhealthy map[string]string // source id → why
}

// Muted implements alert.Muter.
func (m *Muter) Muted(ctx context.Context, profileID string, labels map[string]string, at time.Time) ([]string, error) {
	v, err := m.view(ctx, profileID, at)
	if err != nil {
		return nil, err
	}
	var why []string
	for _, id := range v.silences.Muting(labels, at) {
		why = append(why, "silence "+id)
	}
	if reason, ok := v.unhealthy[labels[alert.LabelSourceID]]; ok {
		why = append(why, reason)
	}
	return why, nil
}

// Invalidate forgets what was read of a profile.
func (m *Muter) Invalidate(profileID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cache, profileID)
}

func (m *Muter) view(ctx context.Context, profileID string, at time.Time) (muteView, error) {
	ttl := m.TTL
	if ttl <= 0 {
		ttl = time.Second
	}
	m.mu.Lock()
	v, ok := m.cache[profileID]
	m.mu.Unlock()
	if ok && time.Since(v.loaded) < ttl {
		return v, nil
	}
	pctx := asProfile(ctx, profileID)
	// Muting checks each silence's span at the time asked, so a silence
	// that ends is obeyed to the second even from a copy.
	set, err := Silences(pctx, m.DB, at)
	if err != nil {
		return muteView{}, err
	}
	unhealthy, err := unhealthySources(pctx, m.DB)
	if err != nil {
		return muteView{}, err
	}
	v = muteView{loaded: time.Now(), silences: set, unhealthy: unhealthy}
	m.mu.Lock()
	if m.cache == nil {
		m.cache = map[string]muteView{}
	}
	m.cache[profileID] = v
	m.mu.Unlock()
	return v, nil
}

// unhealthySources lists the profile's enabled sources whose last poll
// failed, with the reason a held notification shows.
func unhealthySources(ctx context.Context, db *store.DB) (map[string]string, error) {
	out := map[string]string{}
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		srcs, next, err := db.Sources().List(ctx, page)
		if err != nil {
			return nil, fmt.Errorf("alerting: read source health: %w", err)
		}
		for _, s := range srcs {
			if s.Enabled && s.Health.Status == store.HealthError {
				out[s.ID] = fmt.Sprintf("inhibited: source %q is unhealthy (%s)", s.Name, cmp.Or(s.Health.LastError, s.Health.Message, "its last poll failed"))
			}
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}
