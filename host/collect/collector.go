package collect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	pb "github.com/puod/puod/proto/puod/plugin/v1"
	"github.com/puod/puod/sdk"
)

// Config tunes the collector. Zero values take the defaults.
type Config struct {
	// Concurrency is how many sources are polled at once, across all
	// profiles (default 4): enough to hide one slow vendor API, few enough
	// that a host with hundreds of sources does not open hundreds of
	// connections or hold hundreds of batches in memory.
	Concurrency int
	// PollTimeout bounds one poll, the whole ListRuns stream included
	// (default 10 min): long enough for a first sync of a large workspace,
	// which then continues from its committed cursor at the next poll if it
	// is cut.
	PollTimeout time.Duration
	// Jitter spreads polls of the same interval: each next poll is at the
	// interval ±Jitter of it (default 0.1), so sources created together do
	// not poll together forever.
	Jitter float64
	// StartSpread spreads the first polls of the sources found at start
	// (or newly created) over up to this long (default 5 s), so a host
	// start does not poll everything at once.
	StartSpread time.Duration
	// RefreshInterval is how often the list of sources is read again, to
	// pick up new, changed and deleted sources (default 10 s).
	RefreshInterval time.Duration
	// BackoffInitial is the delay before retrying a failed poll; it doubles
	// with each consecutive failure up to BackoffMax (defaults 5 s and
	// 10 min). A plugin's RetryAfter is honoured when longer.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// MaxBatch asks plugins for batches of at most this many runs (default
	// 500): one batch is one transaction and sits in memory whole.
	MaxBatch int
	// PipelineRefresh is how often a source's pipeline list (names, tags,
	// links) is fetched again after a successful poll (default 1 h; a
	// negative value never fetches it; runs create their pipelines anyway).
	PipelineRefresh time.Duration
	// WebhookTimeout bounds a plugin's handling of one webhook (default
	// 30 s).
	WebhookTimeout time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	def(&c.PollTimeout, 10*time.Minute)
	if c.Jitter <= 0 || c.Jitter >= 1 {
		c.Jitter = 0.1
	}
	def(&c.StartSpread, 5*time.Second)
	def(&c.RefreshInterval, 10*time.Second)
	def(&c.BackoffInitial, 5*time.Second)
	def(&c.BackoffMax, 10*time.Minute)
	if c.MaxBatch <= 0 {
		c.MaxBatch = 500
	}
	def(&c.PipelineRefresh, time.Hour)
	def(&c.WebhookTimeout, 30*time.Second)
}

// Sealer encrypts the per-source webhook secrets at rest;
// *secrets.Keyring implements it.
type Sealer interface {
	Encrypt(plain, aad []byte) ([]byte, string, error)
	Decrypt(ciphertext []byte, keyID string, aad []byte) ([]byte, error)
}

// Deps are the collector's collaborators. DB, Connectors and Bus are
// required; Keys is required for webhooks and Auth for the lineage
// endpoint (their routes answer 503 without them).
type Deps struct {
	DB         *store.DB
	Connectors Connectors
	Bus        bus.Bus
	Keys       Sealer
	// Auth authenticates POST /api/v1/lineage, which is outside the
	// authenticated route group (see Register).
	Auth api.Authenticator
	// Leaser defaults to a single-process lease table.
	Leaser Leaser
	// Audit records webhook-secret creation and manual syncs; optional.
	Audit *audit.Recorder
	// Registerer receives the collector's metrics; optional.
	Registerer prometheus.Registerer
	// BeforePublish, when set, is called with the run.changed events of a
	// committed batch before they are published (the card cache is
	// invalidated there, so no page refreshing on an event reads a stale
	// card); optional.
	BeforePublish func(ctx context.Context, events []bus.Event)
}

// Collector schedules polls and ingests runs. Its methods are safe for
// concurrent use.
type Collector struct {
	cfg    Config
	log    hclog.Logger
	db     *store.DB
	conns  Connectors
	bus    bus.Bus
	keys   Sealer
	auth   api.Authenticator
	leaser Leaser
	before func(ctx context.Context, events []bus.Event)
	audit  *audit.Recorder
	met    *collectMetrics
	// sem bounds concurrent polls, scheduled and manual alike.
	sem  chan struct{}
	kick chan struct{}

	// life ends when Run returns; background work started by requests
	// (a manual sync answered with 202) runs within it.
	life     context.Context
	stopLife context.CancelFunc

	mu      sync.Mutex
	entries map[string]*entry // by source id
	running bool
	wg      sync.WaitGroup
}

// entry is the collector's state of one source.
type entry struct {
	id, profileID string
	interval      time.Duration
	enabled       bool
	// pollable is false for built-in push-only sources.
	pollable bool
	next     time.Time
	failures int
	// busy is held (a one-slot channel) while a poll of the source runs, so
	// a scheduled poll and "sync now" never overlap.
	busy chan struct{}
	// inScheduledPoll stops the scheduler from starting the source twice.
	inScheduledPoll bool
	pipelinesAt     time.Time
	// latest is the newest run activity seen, for the lag.
	latest time.Time
}

// New returns a collector; nothing runs before Run.
func New(cfg Config, log hclog.Logger, d Deps) (*Collector, error) {
	switch {
	case d.DB == nil:
		return nil, errors.New("collect: no store")
	case d.Connectors == nil:
		return nil, errors.New("collect: no connectors (plugin manager)")
	case d.Bus == nil:
		return nil, errors.New("collect: no event bus")
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg.setDefaults()
	if d.Leaser == nil {
		d.Leaser = NewLocalLeases().Owner(randomID())
	}
	met, err := newCollectMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	return &Collector{
		life: life, stopLife: stop,
		cfg: cfg, log: log.Named("collect"), db: d.DB, conns: d.Connectors, bus: d.Bus, keys: d.Keys, auth: d.Auth,
		leaser: d.Leaser, before: d.BeforePublish, audit: d.Audit, met: met,
		sem: make(chan struct{}, cfg.Concurrency), kick: make(chan struct{}, 1), entries: map[string]*entry{},
	}, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SystemPrincipal is the internal principal the collector acts with in a
// source's profile: it is no user, and it is scoped to that profile like
// any caller.
func SystemPrincipal(ctx context.Context, profileID string) context.Context {
	return identity.With(ctx, identity.Principal{UserID: "system", Username: "puod-collector", ProfileID: profileID,
		Role: identity.RoleAdmin, Via: "system"})
}

// Built-in push-only sources have plugin ids with this prefix; they are
// never polled.
const builtinPrefix = "builtin."

// Run schedules polls until ctx ends, then waits for the polls in flight
// (which end with ctx) and returns. Call it once.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("collect: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer c.releaseLeases()
	defer c.wg.Wait()
	defer c.stopLife()

	timer := time.NewTimer(0)
	defer timer.Stop()
	var nextRefresh time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.kick:
		}
		now := time.Now()
		if !now.Before(nextRefresh) {
			if err := c.refresh(ctx, now); err != nil && ctx.Err() == nil {
				c.log.Error("could not read the sources; polls continue with the last known list", "error", err)
			}
			nextRefresh = now.Add(c.cfg.RefreshInterval)
		}
		wake := c.dispatch(ctx, now)
		if wake.IsZero() || wake.After(nextRefresh) {
			wake = nextRefresh
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(wake), 10*time.Millisecond))
	}
}

func (c *Collector) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// refresh reads every source of every profile and updates the schedule:
// new sources are polled soon (spread over a few seconds), changed
// intervals apply from the next poll, deleted sources are forgotten.
func (c *Collector) refresh(ctx context.Context, now time.Time) error {
	seen := map[string]bool{}
	page := store.Page{Limit: store.MaxPageLimit}
	var all []store.Source
	for {
		srcs, next, err := c.db.System().Sources().List(ctx, page)
		if err != nil {
			return err
		}
		all = append(all, srcs...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, src := range all {
		seen[src.ID] = true
		e := c.entryLocked(src)
		interval := time.Duration(src.PollIntervalSeconds) * time.Second
		if e.next.IsZero() || (interval > 0 && e.interval == 0) {
			// First sight (or polling just turned on): soon, spread.
			e.next = now.Add(time.Duration(mrand.Int64N(int64(max(min(interval, c.cfg.StartSpread), time.Millisecond)))))
		} else if interval > 0 && interval < e.interval && e.failures == 0 {
			// A shorter interval applies now, not after the old one.
			e.next = minTime(e.next, now.Add(c.jitter(interval)))
		}
		e.interval, e.enabled = interval, src.Enabled
		e.pollable = !strings.HasPrefix(src.PluginID, builtinPrefix)
	}
	for id, e := range c.entries {
		if !seen[id] && !e.inScheduledPoll && len(e.busy) == 0 {
			delete(c.entries, id)
			c.met.lag.DeleteLabelValues(id)
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// entryLocked returns the entry of src, creating it. c.mu is held.
func (c *Collector) entryLocked(src store.Source) *entry {
	e := c.entries[src.ID]
	if e == nil {
		e = &entry{id: src.ID, profileID: src.ProfileID, busy: make(chan struct{}, 1)}
		c.entries[src.ID] = e
	}
	return e
}

// dispatch starts the due polls while there is capacity, oldest due first,
// and returns when the next idle source is due (zero when none).
func (c *Collector) dispatch(ctx context.Context, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []*entry
	var wake time.Time
	for _, e := range c.entries {
		if !e.enabled || !e.pollable || e.interval <= 0 || e.inScheduledPoll || len(e.busy) > 0 {
			continue
		}
		if !e.next.After(now) {
			due = append(due, e)
		} else if wake.IsZero() || e.next.Before(wake) {
			wake = e.next
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].next.Before(due[j].next) })
	for _, e := range due {
		select {
		case c.sem <- struct{}{}:
		default:
			// At capacity: the rest stays due, and a finishing poll wakes
			// the loop.
			return wake
		}
		e.inScheduledPoll = true
		c.wg.Add(1)
		go c.scheduledPoll(ctx, e)
	}
	return wake
}

// scheduledPoll runs one poll for the scheduler and schedules the next.
func (c *Collector) scheduledPoll(ctx context.Context, e *entry) {
	defer c.wg.Done()
	defer func() { <-c.sem }()
	var res SyncResult
	var err error
	select {
	case e.busy <- struct{}{}:
		res, err = c.pollLocked(ctx, e)
		<-e.busy
	default:
		// A manual sync is running; it schedules the next poll.
		err = errBusy
	}
	c.mu.Lock()
	e.inScheduledPoll = false
	switch {
	case errors.Is(err, errBusy):
		// The manual sync schedules the next poll when it ends.
		e.next = time.Now().Add(time.Second)
	case ctx.Err() == nil:
		c.scheduleLocked(e, res, err)
	}
	c.mu.Unlock()
	c.wake()
}

var errBusy = errors.New("a poll of this source is running")

// scheduleLocked sets the next poll after one ended. c.mu is held.
func (c *Collector) scheduleLocked(e *entry, res SyncResult, err error) {
	now := time.Now()
	if err == nil {
		e.failures = 0
		if e.interval > 0 {
			e.next = now.Add(c.jitter(e.interval))
		}
		return
	}
	e.failures++
	e.next = now.Add(c.backoff(e.failures, retryAfter(err)))
}

// jitter spreads d by ±Jitter.
func (c *Collector) jitter(d time.Duration) time.Duration {
	f := 1 + c.cfg.Jitter*(2*mrand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// backoff is the delay after the n-th consecutive failure: BackoffInitial
// doubling up to BackoffMax, ±20% jitter, and never less than a RetryAfter
// the plugin asked for.
func (c *Collector) backoff(n int, retryAfter time.Duration) time.Duration {
	d := float64(c.cfg.BackoffInitial) * math.Pow(2, float64(min(n-1, 30)))
	d = min(d, float64(c.cfg.BackoffMax))
	d *= 1 + 0.2*(2*mrand.Float64()-1)
	return max(time.Duration(d), retryAfter)
}

// retryAfter returns the delay a retryable plugin error asks for.
func retryAfter(err error) time.Duration {
	var se *sdk.Error
	if errors.As(err, &se) && se.Kind == sdk.KindRetryable {
		return se.RetryAfter
	}
	return 0
}

// SyncResult is the outcome of one poll.
type SyncResult struct {
	SourceID string `json:"source_id"`
	// Batches and Runs count what the plugin sent; Changed the runs that
	// were new or changed.
	Batches int `json:"batches"`
	Runs    int `json:"runs"`
	Changed int `json:"changed"`
	// Cursor is the source's cursor after the poll.
	Cursor   string        `json:"cursor"`
	Duration time.Duration `json:"duration_ns"`
	// Skipped says why nothing was polled (another replica owns the
	// source), empty otherwise.
	Skipped string `json:"skipped,omitempty"`
}

// Errors of SyncNow.
var (
	// ErrNotPollable: the source is disabled or push-only.
	ErrNotPollable = errors.New("source cannot be polled")
	// ErrLeased: another replica polls this source.
	ErrLeased = errors.New("source is polled by another replica")
)

// SyncNow polls a source of the caller's profile now and returns when the
// poll ends (or ctx does). A poll of the source already running is waited
// for first, so the result includes everything up to now. The next
// scheduled poll is one interval later.
func (c *Collector) SyncNow(ctx context.Context, sourceID string) (SyncResult, error) {
	src, err := c.db.Sources().Get(ctx, sourceID)
	if err != nil {
		return SyncResult{}, err
	}
	if !src.Enabled {
		return SyncResult{}, fmt.Errorf("%w: source %s is disabled: enable it first", ErrNotPollable, sourceID)
	}
	if strings.HasPrefix(src.PluginID, builtinPrefix) {
		return SyncResult{}, fmt.Errorf("%w: source %s only receives pushed events", ErrNotPollable, sourceID)
	}
	c.mu.Lock()
	e := c.entryLocked(src)
	c.mu.Unlock()
	select {
	case e.busy <- struct{}{}:
	case <-ctx.Done():
		return SyncResult{}, ctx.Err()
	}
	defer func() { <-e.busy }()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return SyncResult{}, ctx.Err()
	}
	res, err := c.pollLocked(ctx, e)
	<-c.sem
	c.mu.Lock()
	c.scheduleLocked(e, res, err)
	c.mu.Unlock()
	c.wake()
	if err == nil && res.Skipped != "" {
		return res, fmt.Errorf("%w: %s", ErrLeased, res.Skipped)
	}
	return res, err
}

// leaseTTL is how long a source's lease lasts: two intervals, so the owner
// keeps the source from one poll to the next, within [1 min, 30 min] so a
// dead replica's sources move on in bounded time. A long poll renews it as
// it goes.
func (c *Collector) leaseTTL(e *entry) time.Duration {
	c.mu.Lock()
	interval := e.interval
	c.mu.Unlock()
	return min(max(2*interval, time.Minute), 30*time.Minute)
}

func leaseKey(sourceID string) string { return "source/" + sourceID }

// releaseLeases gives up the leases of every known source when the
// collector stops, so another replica takes them over at once.
func (c *Collector) releaseLeases() {
	c.mu.Lock()
	ids := make([]string, 0, len(c.entries))
	for id := range c.entries {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		_ = c.leaser.Release(ctx, leaseKey(id))
	}
}

// pollLocked polls one source; its busy slot is held. It reads the source
// fresh (cursor, plugin, enabled), streams the plugin's batches into the
// store — each with its cursor, in one transaction — publishes the
// changes, and records the source's health.
func (c *Collector) pollLocked(ctx context.Context, e *entry) (SyncResult, error) {
	start := time.Now()
	res := SyncResult{SourceID: e.id}
	pctx := SystemPrincipal(ctx, e.profileID)
	src, err := c.db.Sources().Get(pctx, e.id)
	if errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("poll source %s: deleted: %w", e.id, err)
	}
	if err != nil {
		return res, fmt.Errorf("poll source %s: %w", e.id, err)
	}
	if !src.Enabled {
		res.Skipped = "disabled"
		return res, nil
	}
	ttl := c.leaseTTL(e)
	ok, err := c.leaser.Acquire(ctx, leaseKey(e.id), ttl)
	if err != nil {
		return res, fmt.Errorf("poll source %s: lease: %w", e.id, err)
	}
	if !ok {
		res.Skipped = "another replica holds the lease of this source"
		c.met.polls.WithLabelValues("skipped").Inc()
		return res, nil
	}
	res.Cursor = src.Cursor
	pollCtx, cancel := context.WithTimeout(pctx, c.cfg.PollTimeout)
	defer cancel()
	var storeErr error
	leasedAt := time.Now()
	err = c.conns.ListRuns(pollCtx, src.PluginID, src.ID, src.Cursor, c.cfg.MaxBatch, func(b *pb.RunBatch) error {
		if time.Since(leasedAt) > ttl/3 {
			// A long first sync: keep the source, or stop if another
			// replica took it (what is stored so far stays).
			ok, err := c.leaser.Acquire(ctx, leaseKey(e.id), ttl)
			if err == nil && !ok {
				err = ErrLeased
			}
			if err != nil {
				storeErr = fmt.Errorf("renew lease: %w", err)
				return storeErr
			}
			leasedAt = time.Now()
		}
		runs := runsFromProto(b.GetRuns())
		var cursor *string
		// An empty cursor, or the one the poll started from (the SDK
		// repeats it on the parts of a split batch), moves nothing.
		if nc := b.GetNextCursor(); nc != "" && nc != res.Cursor {
			cursor = &nc
		}
		if len(runs) == 0 && cursor == nil {
			return nil
		}
		ir, err := c.ingest(pctx, src.ID, runs, cursor, nil)
		if err != nil {
			storeErr = err
			return err
		}
		res.Batches++
		res.Runs += len(runs)
		res.Changed += len(ir.Changed)
		if cursor != nil {
			res.Cursor = *cursor
		}
		c.noteLatest(e, ir.Latest)
		return nil
	})
	res.Duration = time.Since(start)
	c.met.duration.Observe(res.Duration.Seconds())
	if ctx.Err() != nil {
		// Shutting down: the cursor is committed up to the last batch and
		// the source's health is not the plugin's fault.
		return res, ctx.Err()
	}
	if storeErr != nil {
		err = storeErr
	}
	if err != nil {
		c.met.polls.WithLabelValues("error").Inc()
		err = fmt.Errorf("poll source %s (plugin %s): %w", src.ID, src.PluginID, err)
		c.log.Warn("poll failed", "source", src.ID, "plugin", src.PluginID, "runs", res.Runs, "error", err)
		c.recordHealth(pctx, src, res, err)
		return res, err
	}
	c.met.polls.WithLabelValues("ok").Inc()
	c.syncPipelines(pctx, e, src)
	c.recordHealth(pctx, src, res, nil)
	c.log.Debug("poll done", "source", src.ID, "runs", res.Runs, "changed", res.Changed, "took", res.Duration)
	return res, nil
}

func (c *Collector) noteLatest(e *entry, t time.Time) {
	if t.IsZero() {
		return
	}
	c.mu.Lock()
	if t.After(e.latest) {
		e.latest = t
	}
	c.mu.Unlock()
}

// recordHealth stores the outcome of a poll as the source's health: the
// last success, the last error, and the lag (now minus the newest run
// activity known).
func (c *Collector) recordHealth(ctx context.Context, src store.Source, res SyncResult, pollErr error) {
	now := store.Now()
	h := src.Health
	if pollErr != nil {
		msg := pollErr.Error()
		h.Status, h.Message, h.LastErrorAt, h.LastError = store.HealthError, msg, &now, msg
		if res.Batches > 0 {
			h.Status = store.HealthDegraded
			h.Message = fmt.Sprintf("%d runs stored before the poll failed: %s", res.Runs, msg)
		}
	} else {
		h.Status, h.LastSuccessAt = store.HealthOK, &now
		h.Message = fmt.Sprintf("%d runs received, %d new or changed", res.Runs, res.Changed)
		if lag, ok := c.lag(ctx, src.ID, now); ok {
			lag = lag.Round(time.Second)
			h.Lag = &lag
			h.Message += fmt.Sprintf("; newest run activity %s ago (lag)", lag)
		}
	}
	if err := c.db.Sources().UpdateHealth(ctx, src.ID, h); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Error("could not record source health", "source", src.ID, "error", err)
	}
}

// lag is now minus the newest run activity of the source: the newest seen
// in this process, else the newest run start in the store.
func (c *Collector) lag(ctx context.Context, sourceID string, now time.Time) (time.Duration, bool) {
	c.mu.Lock()
	e := c.entries[sourceID]
	var latest time.Time
	if e != nil {
		latest = e.latest
	}
	c.mu.Unlock()
	if latest.IsZero() {
		t, ok, err := c.db.Runs().Newest(ctx, sourceID)
		if err != nil || !ok {
			return 0, false
		}
		latest = t
		if e != nil {
			c.noteLatest(e, t)
		}
	}
	lag := max(now.Sub(latest), 0)
	c.met.lag.WithLabelValues(sourceID).Set(lag.Seconds())
	return lag, true
}

// syncPipelines refreshes a source's pipeline metadata now and then. A
// plugin that cannot list pipelines is not an error: runs create theirs.
func (c *Collector) syncPipelines(ctx context.Context, e *entry, src store.Source) {
	if c.cfg.PipelineRefresh < 0 {
		return
	}
	c.mu.Lock()
	due := e.pipelinesAt.IsZero() || time.Since(e.pipelinesAt) >= c.cfg.PipelineRefresh
	if due {
		e.pipelinesAt = time.Now()
	}
	c.mu.Unlock()
	if !due {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, c.cfg.WebhookTimeout)
	defer cancel()
	ps, err := c.conns.ListPipelines(lctx, src.PluginID, src.ID)
	if err != nil {
		if !errors.Is(err, sdk.ErrUnimplemented) {
			c.log.Info("could not list the source's pipelines", "source", src.ID, "error", err)
		}
		return
	}
	in := make([]store.PipelineInput, 0, len(ps))
	for _, p := range ps {
		if p.ExternalID == "" {
			continue
		}
		in = append(in, store.PipelineInput{ExternalID: p.ExternalID, Name: p.Name, Tags: p.Tags, URL: p.URL, Attributes: p.Attributes})
	}
	if _, err := c.db.Pipelines().Sync(ctx, src.ID, in); err != nil {
		c.log.Warn("could not store the source's pipelines", "source", src.ID, "error", err)
	}
}

// ingest stores one batch of a source in the profile of ctx's principal and
// publishes a run.changed event per changed run, after the commit.
func (c *Collector) ingest(ctx context.Context, sourceID string, runs []store.RunUpsert, cursor *string, merge store.MergeFunc) (store.IngestResult, error) {
	res, err := c.db.Runs().Ingest(ctx, store.IngestBatch{SourceID: sourceID, Runs: runs, Cursor: cursor, Merge: merge})
	if err != nil {
		return res, err
	}
	c.met.received.Add(float64(res.Received))
	c.met.changed.Add(float64(len(res.Changed)))
	p, _ := identity.From(ctx)
	events := make([]bus.Event, 0, len(res.Changed))
	for _, ch := range res.Changed {
		ev, err := bus.NewEvent(bus.TopicRunChanged, p.ProfileID, bus.RunChanged{
			SourceID: sourceID, PipelineID: ch.PipelineID, PipelineExternalID: ch.PipelineExternalID, RunID: ch.RunID,
			ExternalID: ch.ExternalID, State: ch.State, PreviousState: ch.PreviousState, New: ch.New,
		})
		if err != nil {
			c.log.Warn("could not publish run changes", "source", sourceID, "error", err)
			return res, nil
		}
		events = append(events, ev)
	}
	if c.before != nil && len(events) > 0 {
		c.before(ctx, events)
	}
	for _, ev := range events {
		if err := c.bus.Publish(ctx, ev); err != nil {
			// The runs are stored; consumers re-read the store. Say it once
			// per batch.
			c.log.Warn("could not publish run changes", "source", sourceID, "error", err)
			break
		}
	}
	return res, nil
}

// collectMetrics are the collector's Prometheus metrics.
type collectMetrics struct {
	polls    *prometheus.CounterVec
	received prometheus.Counter
	changed  prometheus.Counter
	duration prometheus.Histogram
	lag      *prometheus.GaugeVec
}

func newCollectMetrics(reg prometheus.Registerer) (*collectMetrics, error) {
	m := &collectMetrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "puod_collect_polls_total", Help: "Source polls by outcome (ok, error, skipped).",
		}, []string{"outcome"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_collect_runs_received_total", Help: "Runs received from polls, webhooks and lineage events.",
		}),
		changed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "puod_collect_run_changes_total", Help: "Runs stored as new or changed (run.changed events).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "puod_collect_poll_duration_seconds", Help: "Duration of source polls.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 600},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "puod_collect_source_lag_seconds", Help: "Time since the newest run activity of each polled source.",
		}, []string{"source_id"}),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{m.polls, m.received, m.changed, m.duration, m.lag} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("collect: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// IngestPushed stores runs a plugin pushed for one of its sources outside
// a poll (sdk.HostServices.EmitRuns), like a webhook's: without moving the
// cursor, with run.changed events for what changed. Its signature is
// pluginhost.RunSink's. src must be the plugin's own source (pluginhost
// checks it).
func (c *Collector) IngestPushed(ctx context.Context, src store.Source, runs []sdk.Run) error {
	if !src.Enabled {
		return sdk.PermanentError("source %s is disabled: its runs are not collected", src.ID)
	}
	if len(runs) == 0 {
		return nil
	}
	_, err := c.ingest(SystemPrincipal(ctx, src.ProfileID), src.ID, runsFromSDK(runs), nil, nil)
	if errors.Is(err, store.ErrInvalid) {
		return sdk.PermanentError("%v", err)
	}
	return err
}
