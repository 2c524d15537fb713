package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/bus"
)

// Config tunes the engine. The zero value is usable.
type Config struct {
	// Clock defaults to the system clock. Events are evaluated at
	// Clock.Now(); Tick takes its time explicitly.
	Clock Clock
	// BaseURL is PUOD's external URL, for the "Run in PUOD" link
	// ("https://puod.example.com"); empty leaves that link out.
	BaseURL string
	// Flap damps flapping series; zero takes the defaults (3 resolves in
	// 1h, held until 15m stable).
	Flap FlapPolicy
	// HistoryLimit bounds the transitions kept per series. Default 50.
	HistoryLimit int
	// Detector evaluates anomaly rules; nil makes them invalid.
	Detector Detector
	// DedupeEvents is how many recent event ids are remembered to drop
	// redelivered events. Default 8192.
	DedupeEvents int
}

// Deps are what the engine reads and writes.
type Deps struct {
	Runs    RunReader
	Metrics MetricReader
	Outbox  Outbox
	// Muter, when set, holds back the notifications it mutes until it no
	// longer does (see the package documentation, Silences).
	Muter Muter
}

// Engine evaluates alert rules of every profile. It is safe for concurrent
// use; evaluations are serialised, so the Outbox sees batches in decision
// order.
type Engine struct {
	cfg   Config
	log   hclog.Logger
	d     Deps
	clock Clock
	flap  FlapPolicy

	mu       sync.Mutex
	profiles map[string]*profile
	seen     *idSet
}

type profile struct {
	id    string
	rules []*ruleState // sorted by id
	pipes map[string]*pipeCache
	// metricSeries are series keys seen in metric.appended events, so glob
	// rules are re-evaluated on ticks as their windows slide.
	metricSeries map[string]struct{}
	// match caches, per pipeline, which rules' selectors select it, by
	// rule index: a run event or a tick then costs a lookup instead of a
	// glob or regex match per rule (with 10,000 rules, matching was most
	// of an event's cost). An entry is for the pipeline's name and tags it
	// was computed with; SetRules clears the cache.
	match map[pipeKey]*matchEntry
	// byPrefix indexes the rules whose selector is a name glob by the
	// glob's literal prefix; scan are the others (regex, no name): a new
	// pipeline is matched against the rules of its name's prefixes and
	// the scan list only.
	byPrefix map[string][]int
	scan     []int
}

type pipeKey struct{ source, id string }

type matchEntry struct {
	name string
	tags []string
	v    []bool // by rule index
	idx  []int  // indices of the rules that select it, ascending
}

// maxMatchCells bounds the match cache: pipelines × rules booleans (16 MB).
const maxMatchCells = 16 << 20

// entry returns which rules select pipeline pl (computed on first use).
func (p *profile) entry(pl Pipeline) *matchEntry {
	k := pipeKey{pl.SourceID, pl.ID}
	e, ok := p.match[k]
	if ok && e.name == pl.Name && slices.Equal(e.tags, pl.Tags) {
		return e
	}
	if p.match == nil || (len(p.match)+1)*len(p.rules) > maxMatchCells {
		p.match = map[pipeKey]*matchEntry{}
	}
	e = &matchEntry{name: pl.Name, tags: slices.Clone(pl.Tags), v: make([]bool, len(p.rules))}
	cands := slices.Clone(p.scan)
	for i := 0; i <= len(pl.Name); i++ {
		cands = append(cands, p.byPrefix[pl.Name[:i]]...)
	}
	slices.Sort(cands)
	for _, i := range cands {
		if p.rules[i].c.sel.matches(pl) {
			e.v[i] = true
			e.idx = append(e.idx, i)
		}
	}
	p.match[k] = e
	return e
}

type ruleState struct {
	idx      int // position in profile.rules
	c        *Compiled
	loadedAt time.Time
	series   map[string]*series
}

// pipeCache is what the engine knows about a pipeline's runs, learnt from
// events and seeded from the RunReader.
type pipeCache struct {
	pipeline               Pipeline
	lastRunAt, lastSuccess time.Time
	seededRun, seededOK    bool
	running                map[string]Run
}

// New builds an engine. Runs and Outbox are required; Metrics only when
// metric rules are used.
func New(cfg Config, log hclog.Logger, d Deps) (*Engine, error) {
	if d.Runs == nil || d.Outbox == nil {
		return nil, errors.New("alert engine: Deps.Runs and Deps.Outbox are required")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = 50
	}
	if cfg.DedupeEvents <= 0 {
		cfg.DedupeEvents = 8192
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Engine{
		cfg: cfg, log: log.Named("alert"), d: d, clock: cfg.Clock, flap: cfg.Flap.withDefaults(),
		profiles: map[string]*profile{}, seen: newIDSet(cfg.DedupeEvents),
	}, nil
}

// SetRules replaces the rules of a profile. Every rule is compiled first;
// if any is invalid nothing changes (build, then swap). Series of rules
// that remain keep their state; series of removed rules are dropped
// without notification.
func (e *Engine) SetRules(profileID string, rules []Rule) error {
	compiled := make([]*Compiled, 0, len(rules))
	var errs []error
	ids := map[string]bool{}
	for i, r := range rules {
		c, err := Compile(r, Options{Detector: e.cfg.Detector})
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i, r.ID, err))
			continue
		}
		if ids[r.ID] {
			errs = append(errs, fmt.Errorf("rule %d: id %q is used twice", i, r.ID))
			continue
		}
		ids[r.ID] = true
		compiled = append(compiled, c)
	}
	if len(errs) > 0 {
		return fmt.Errorf("set alert rules of profile %s: %w", profileID, errors.Join(errs...))
	}
	slices.SortFunc(compiled, func(a, b *Compiled) int { return strings.Compare(a.Rule.ID, b.Rule.ID) })

	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.profile(profileID)
	old := map[string]*ruleState{}
	for _, rs := range p.rules {
		old[rs.c.Rule.ID] = rs
	}
	now := e.clock.Now()
	next := make([]*ruleState, 0, len(compiled))
	for _, c := range compiled {
		rs := &ruleState{c: c, loadedAt: now, series: map[string]*series{}}
		if o, ok := old[c.Rule.ID]; ok {
			rs.loadedAt, rs.series = o.loadedAt, o.series
		}
		next = append(next, rs)
	}
	p.byPrefix, p.scan = map[string][]int{}, nil
	for i, rs := range next {
		rs.idx = i
		if sel := rs.c.sel; sel.indexed {
			p.byPrefix[sel.prefix] = append(p.byPrefix[sel.prefix], i)
		} else {
			p.scan = append(p.scan, i)
		}
	}
	p.rules, p.match = next, nil
	return nil
}

// Restore puts back series states saved from an earlier process (the
// alert_states rows), after SetRules. States of unknown rules are ignored.
func (e *Engine) Restore(profileID string, states []SeriesState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.profile(profileID)
	for _, st := range states {
		for _, rs := range p.rules {
			if rs.c.Rule.ID == st.RuleID {
				s := &series{SeriesState: st}
				s = s.clone()
				if s.State == StateFiring && s.Notified == "" && s.Muted == "" {
					// Saved before Notified was recorded: the firing
					// notification went out then.
					s.Notified, s.NotifiedAt = string(StateFiring), s.Since
				}
				s.active = st.State == StatePending || (st.State == StateFiring && !st.Held)
				rs.series[st.Fingerprint] = s
			}
		}
	}
}

// States returns a snapshot of the profile's series, by rule and
// fingerprint.
func (e *Engine) States(profileID string) []SeriesState {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.profiles[profileID]
	if !ok {
		return nil
	}
	var out []SeriesState
	for _, rs := range p.rules {
		for _, fp := range sortedKeys(rs.series) {
			out = append(out, rs.series[fp].snapshot())
		}
	}
	return out
}

func (e *Engine) profile(id string) *profile {
	p, ok := e.profiles[id]
	if !ok {
		p = &profile{id: id, pipes: map[string]*pipeCache{}, metricSeries: map[string]struct{}{}}
		e.profiles[id] = p
	}
	return p
}

// OnRunChanged evaluates the run-based rules of the event's profile
// against the run it announces. A redelivered event (same id) and an event
// for a run older than the one a series last saw change nothing.
func (e *Engine) OnRunChanged(ctx context.Context, ev bus.Event) error {
	if ev.Topic != bus.TopicRunChanged {
		return fmt.Errorf("alert: OnRunChanged got a %q event", ev.Topic)
	}
	if e.seenEvent(ev.ID) || !e.hasRules(ev.ProfileID) {
		return nil
	}
	var rc bus.RunChanged
	if err := ev.Decode(&rc); err != nil {
		return err
	}
	run, err := e.d.Runs.Run(ctx, ev.ProfileID, rc.RunID)
	if errors.Is(err, ErrNotFound) {
		e.log.Debug("run of event gone; skipped", "event", ev.ID, "run", rc.RunID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert: read run %s of event %s: %w", rc.RunID, ev.ID, err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen.has(ev.ID) {
		return nil
	}
	p := e.profile(ev.ProfileID)
	now := e.clock.Now()
	e.learnRun(p, run)
	t := e.begin(ctx, p, now)
	for _, i := range p.entry(run.Pipeline).idx {
		rs := p.rules[i]
		if rs.c.Rule.Disabled || !rs.c.runBased() {
			continue
		}
		if err := t.evalRun(ctx, rs, run); err != nil {
			return err
		}
	}
	if err := t.commit(ctx); err != nil {
		return err
	}
	e.seen.add(ev.ID)
	return nil
}

// OnMetricAppended evaluates the metric rules whose series received
// points.
func (e *Engine) OnMetricAppended(ctx context.Context, ev bus.Event) error {
	if ev.Topic != bus.TopicMetricAppended {
		return fmt.Errorf("alert: OnMetricAppended got a %q event", ev.Topic)
	}
	if e.seenEvent(ev.ID) || !e.hasRules(ev.ProfileID) {
		return nil
	}
	var ma bus.MetricAppended
	if err := ev.Decode(&ma); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen.has(ev.ID) {
		return nil
	}
	p := e.profile(ev.ProfileID)
	for _, s := range ma.Series {
		p.metricSeries[s] = struct{}{}
	}
	t := e.begin(ctx, p, e.clock.Now())
	for _, rs := range p.rules {
		if rs.c.Rule.Disabled {
			continue
		}
		for _, key := range ma.Series {
			if err := t.evalMetric(ctx, rs, key); err != nil {
				return err
			}
		}
	}
	if err := t.commit(ctx); err != nil {
		return err
	}
	e.seen.add(ev.ID)
	return nil
}

// Tick evaluates what depends on the passage of time: deadlines, absence,
// runs still running past a duration threshold, sliding metric windows,
// pending series whose `for` elapsed and held flapping series that became
// stable. Call it often (every second); it is cheap when nothing is due.
// A deadline fires at the first tick at or after it.
func (e *Engine) Tick(ctx context.Context, now time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, id := range sortedKeys(e.profiles) {
		p := e.profiles[id]
		if len(p.rules) == 0 {
			continue
		}
		t := e.begin(ctx, p, now)
		if err := t.tick(ctx); err != nil {
			errs = append(errs, fmt.Errorf("alert tick of profile %s: %w", id, err))
			continue
		}
		if err := t.commit(ctx); err != nil {
			errs = append(errs, fmt.Errorf("alert tick of profile %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) seenEvent(id string) bool {
	if id == "" {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen.has(id)
}

func (e *Engine) hasRules(profileID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.profiles[profileID]
	return ok && len(p.rules) > 0
}

// learnRun updates the pipeline cache with a run from an event.
func (e *Engine) learnRun(p *profile, r Run) {
	pc := p.pipe(r.Pipeline)
	if r.SortAt.After(pc.lastRunAt) {
		pc.lastRunAt = r.SortAt
	}
	if r.State == "succeeded" {
		if at := successAt(r); at.After(pc.lastSuccess) {
			pc.lastSuccess = at
		}
	}
	if r.State == "running" && !r.StartedAt.IsZero() {
		pc.running[r.ID] = r
	} else {
		delete(pc.running, r.ID)
	}
}

func (p *profile) pipe(pl Pipeline) *pipeCache {
	key := pl.SourceID + "\x00" + pl.ID
	pc, ok := p.pipes[key]
	if !ok {
		pc = &pipeCache{running: map[string]Run{}}
		p.pipes[key] = pc
	}
	pc.pipeline = pl
	return pc
}

func successAt(r Run) time.Time {
	if !r.EndedAt.IsZero() {
		return r.EndedAt
	}
	return r.SortAt
}

func (c *Compiled) runBased() bool {
	switch c.kind {
	case KindMetricThreshold:
		return false
	case KindAnomaly:
		return c.Rule.Condition.Anomaly.Series == "duration"
	}
	return true
}

func (s selector) matches(p Pipeline) bool {
	if len(s.sources) > 0 && !slices.Contains(s.sources, p.SourceID) {
		return false
	}
	if s.name != nil && !s.name.MatchString(p.Name) {
		return false
	}
	for _, t := range s.tags {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	return true
}

// idSet remembers the last n ids.
type idSet struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newIDSet(n int) *idSet {
	return &idSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (s *idSet) has(id string) bool {
	_, ok := s.ids[id]
	return ok
}

func (s *idSet) add(id string) {
	if id == "" || s.has(id) {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
}
