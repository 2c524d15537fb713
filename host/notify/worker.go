package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// Sender delivers one notification to one sink (an alert-sink source). It
// answers as a plugin does: sdk.Delivered, sdk.Retryable (with RetryAfter
// when the receiver said so) or sdk.Permanent (with Reason). An error means
// the outcome is unknown (plugin down, deadline): the worker retries.
type Sender interface {
	Notify(ctx context.Context, sinkSourceID string, n sdk.Notification) (sdk.NotifyResult, error)
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, sinkSourceID string, n sdk.Notification) (sdk.NotifyResult, error)

// Notify calls f.
func (f SenderFunc) Notify(ctx context.Context, sinkSourceID string, n sdk.Notification) (sdk.NotifyResult, error) {
	return f(ctx, sinkSourceID, n)
}

// SinkClient is the host side of an alert-sink plugin: *sdk.Client and
// the plugin manager's *plugins.Handle both are.
type SinkClient interface {
	Notify(ctx context.Context, instanceID string, n sdk.Notification) (sdk.NotifyResult, error)
}

// ClientSender sends through alert-sink plugins. Resolve finds the plugin
// serving a sink source and the instance id it knows the source by.
type ClientSender struct {
	Resolve func(ctx context.Context, sinkSourceID string) (c SinkClient, instanceID string, err error)
}

// Notify resolves the sink and calls its plugin.
func (s ClientSender) Notify(ctx context.Context, sinkSourceID string, n sdk.Notification) (sdk.NotifyResult, error) {
	c, instance, err := s.Resolve(ctx, sinkSourceID)
	if err != nil {
		return sdk.NotifyResult{}, fmt.Errorf("sink %s: %w", sinkSourceID, err)
	}
	return c.Notify(ctx, instance, n)
}

// Clock tells the worker the time and wakes it; tests inject a simulated
// one so hours of retries take milliseconds.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config tunes a Worker. The zero value of each field selects its default.
type Config struct {
	// Lease is how long a claimed row is reserved for this worker. It must
	// outlast SendTimeout, or a slow send could be claimed by a second
	// worker and sent twice. A crashed worker's rows wait this long before
	// another worker takes them. Default 2 min.
	Lease time.Duration
	// SendTimeout bounds one call to a sink; an answer that does not come
	// in time is retried (it may have been delivered: that is the
	// documented repeat window). Default 30 s.
	SendTimeout time.Duration
	// PollInterval is how often the worker looks for rows it was not told
	// about (rows written by another replica). Writes through Enqueue wake
	// it at once. Default 1 s.
	PollInterval time.Duration
	// BatchSize is how many groups one claim takes. Default 64.
	BatchSize int
	// GroupSize is the most notifications one message of a group carries
	// (the rest go in the next). Default 100.
	GroupSize int
	// Parallelism is how many sends run at once (different groups only:
	// a group has at most one message in flight). Default 8.
	Parallelism int
	// MinBackoff and MaxBackoff bound the retry delay, which doubles per
	// failed attempt from MinBackoff (with jitter). Defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// MaxAge gives up a row still failing this long after it was written,
	// or after a person sent the dead letter again (dead letter). Default
	// 24 h; negative never gives up.
	MaxAge time.Duration
	// Clock defaults to the system clock.
	Clock Clock
	// Jitter returns a number in [0, 1); default math/rand/v2.
	Jitter func() float64
}

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lease, 2*time.Minute)
	def(&c.SendTimeout, 30*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.MaxAge, 24*time.Hour)
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.GroupSize <= 0 {
		c.GroupSize = 100
	}
	if c.Parallelism <= 0 {
		c.Parallelism = 8
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.Lease <= c.SendTimeout {
		return c, fmt.Errorf("notify worker: lease (%s) must be longer than the send timeout (%s), or a slow send could be claimed again and sent twice", c.Lease, c.SendTimeout)
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		return c, fmt.Errorf("notify worker: backoff bounds %s..%s are not increasing", c.MinBackoff, c.MaxBackoff)
	}
	return c, nil
}

// Worker sends the outbox's due rows. Several workers may share a store.
type Worker struct {
	cfg    Config
	log    hclog.Logger
	outbox *store.Outbox
	sender Sender
	kick   chan struct{}
}

// New builds a worker over the outbox (db.System().Outbox()).
func New(cfg Config, log hclog.Logger, outbox *store.Outbox, sender Sender) (*Worker, error) {
	if outbox == nil || sender == nil {
		return nil, errors.New("notify worker: an outbox and a sender are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Worker{cfg: cfg, log: log.Named("notify"), outbox: outbox, sender: sender, kick: make(chan struct{}, 1)}, nil
}

// Kick wakes the worker to look for due rows now (after a write). It
// never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Rows turns the engine's intents into outbox rows: one per (notification,
// sink), in decision order, all written at at.
func Rows(intents []alert.Intent, at time.Time) ([]store.NewNotification, error) {
	var rows []store.NewNotification
	for _, in := range intents {
		payload, err := json.Marshal(in.Notification)
		if err != nil {
			return nil, fmt.Errorf("encode notification %s: %w", in.Notification.ID, err)
		}
		group := in.Notification.GroupKey
		if group == "" {
			// Keep one series' firing and resolved in order at least.
			group = in.RuleID + "/" + in.Fingerprint
		}
		profile := in.ProfileID
		for _, sink := range in.Sinks {
			rows = append(rows, store.NewNotification{
				ProfileID: profile, NotificationID: in.Notification.ID, RuleID: in.RuleID, Fingerprint: in.Fingerprint,
				SinkSourceID: sink, GroupKey: group, GroupWait: in.GroupWait, GroupInterval: in.GroupInterval,
				Payload: payload, CreatedAt: at,
			})
		}
	}
	return rows, nil
}

// Enqueue writes intents to the outbox (duplicates ignored) and wakes the
// worker. It reports how many rows were new.
func (w *Worker) Enqueue(ctx context.Context, intents []alert.Intent) (int, error) {
	rows, err := Rows(intents, w.cfg.Clock.Now())
	if err != nil {
		return 0, err
	}
	n, err := w.outbox.Enqueue(ctx, rows)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		w.Kick()
	}
	return n, nil
}

// Record writes intents (as Enqueue) and the evaluation's series states
// in one transaction (store.Outbox.Record; ctx carries the profile), and
// wakes the worker.
func (w *Worker) Record(ctx context.Context, intents []alert.Intent, states []store.AlertState) (int, error) {
	rows, err := Rows(intents, w.cfg.Clock.Now())
	if err != nil {
		return 0, err
	}
	n, err := w.outbox.Record(ctx, rows, states)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		w.Kick()
	}
	return n, nil
}

// Run sends due rows until ctx ends. On stop it lets sends already under
// way finish (each within SendTimeout) and records them, releases the rows
// it claimed but did not send, and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	for {
		claimed, err := w.Drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Warn("outbox poll failed; trying again", "error", err)
		}
		wait := w.cfg.PollInterval
		if due, ok, err := w.outbox.NextDue(ctx); err == nil && ok {
			if d := due.Sub(w.cfg.Clock.Now()); d < wait {
				wait = d
			}
		}
		if wait <= 0 {
			if claimed > 0 && err == nil {
				continue
			}
			// Due but not claimable (leased elsewhere at the same
			// instant, or the claim failed): do not spin.
			wait = w.cfg.PollInterval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-w.cfg.Clock.After(wait):
		}
	}
}

// Drain claims and sends rows until none is due, and reports how many it
// claimed. Run calls it; tests call it directly to step simulated time.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		rows, err := w.outbox.ClaimGroups(ctx, w.cfg.Clock.Now(), w.cfg.Lease, w.cfg.BatchSize, w.cfg.GroupSize)
		if err != nil {
			return total, err
		}
		if len(rows) == 0 {
			return total, nil
		}
		total += len(rows)
		w.sendAll(ctx, batches(rows))
	}
	return total, nil
}

// batches splits claimed rows into one batch per group, in order.
func batches(rows []store.Notification) [][]store.Notification {
	type key struct{ profile, sink, group string }
	var order []key
	by := map[key][]store.Notification{}
	for _, r := range rows {
		k := key{r.ProfileID, r.SinkSourceID, r.GroupKey}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], r)
	}
	out := make([][]store.Notification, len(order))
	for i, k := range order {
		out[i] = by[k]
	}
	return out
}

// sendAll sends claimed batches, Parallelism at a time. A batch is one
// group's rows, so parallel sends never reorder a group.
func (w *Worker) sendAll(ctx context.Context, all [][]store.Notification) {
	sem := make(chan struct{}, w.cfg.Parallelism)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		unsent []string
	)
	for _, batch := range all {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			for _, r := range batch {
				unsent = append(unsent, r.ID)
			}
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.send(ctx, batch)
		}()
	}
	wg.Wait()
	if len(unsent) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.outbox.Release(rctx, unsent); err != nil {
			w.log.Warn("could not release unsent notifications; they wait for their lease to end", "count", len(unsent), "error", err)
		}
	}
}

// send sends one group's batch as one message and records the outcome on
// every row of it. A batch the sink refuses for good is sent again one
// notification at a time, so that one bad notification (a payload the sink
// cannot take) does not take the others with it.
func (w *Worker) send(ctx context.Context, batch []store.Notification) {
	// Recording must survive the worker being stopped: a send that went
	// through has to be marked, or it would be sent again.
	rec := context.WithoutCancel(ctx)
	var (
		ok     []store.Notification
		ns     []sdk.Notification
		alerts []string
	)
	for _, row := range batch {
		var n sdk.Notification
		if err := json.Unmarshal(row.Payload, &n); err != nil {
			w.dead(rec, row, fmt.Sprintf("the stored notification is not readable (%v): it cannot be sent", err))
			continue
		}
		key := row.RuleID + "\x00" + row.Fingerprint
		if row.Fingerprint == "" {
			key = row.NotificationID // unknown series: its own alert
		}
		ok, ns, alerts = append(ok, row), append(ns, n), append(alerts, key)
	}
	if len(ok) == 0 {
		return
	}
	if w.attempt(rec, ok, Group(ns, alerts)) != sdk.Permanent || len(ok) == 1 {
		return
	}
	for i := range ok {
		if w.attempt(rec, ok[i:i+1], ns[i]) == sdk.Retryable {
			// The rest of the group waits behind it, in order.
			if err := w.outbox.Release(rec, ids(ok[i+1:])); err != nil {
				w.log.Warn("could not release notifications; they wait for their lease to end", "error", err)
			}
			return
		}
	}
}

// attempt sends msg for rows and records the outcome, except a permanent
// refusal of several rows, which it leaves to the caller. It reports the
// outcome (an error counts as retryable unless it is sdk.ErrPermanent).
func (w *Worker) attempt(rec context.Context, rows []store.Notification, msg sdk.Notification) sdk.NotifyOutcome {
	sctx, cancel := context.WithTimeout(rec, w.cfg.SendTimeout)
	res, err := w.sender.Notify(sctx, rows[0].SinkSourceID, msg)
	cancel()
	if err == nil && res.Outcome == sdk.Delivered {
		// The repeat window: nothing but these UPDATEs between the sink's
		// success and the marks.
		for _, row := range rows {
			w.delivered(rec, row)
		}
		return sdk.Delivered
	}
	outcome, reason, retryAfter := sdk.Retryable, "", time.Duration(0)
	switch {
	case err != nil && errors.Is(err, sdk.ErrPermanent):
		outcome, reason = sdk.Permanent, err.Error()
	case err != nil:
		reason = err.Error()
	case res.Outcome == sdk.Permanent:
		outcome, reason = sdk.Permanent, res.Reason
		if reason == "" {
			reason = "the sink refused the notification permanently (no reason given)"
		}
	default:
		reason, retryAfter = res.Reason, res.RetryAfter
		if reason == "" {
			reason = "the sink asked to retry later (no reason given)"
		}
	}
	if outcome == sdk.Permanent {
		if len(rows) == 1 {
			w.dead(rec, rows[0], reason)
		}
		return outcome
	}
	// One delay for the whole batch, so that it stays one message.
	delay := max(w.Backoff(rows[0].Attempts+1), retryAfter)
	for _, row := range rows {
		w.retry(rec, row, delay, reason)
	}
	return outcome
}

func ids(rows []store.Notification) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// delivered marks the row, retrying briefly: a lost mark means a repeat
// once the lease ends.
func (w *Worker) delivered(ctx context.Context, row store.Notification) {
	at := w.cfg.Clock.Now()
	var err error
	for attempt := range 3 {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = w.outbox.MarkDelivered(mctx, row.ID, at)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	w.log.Error("notification delivered but not recorded: it will be sent again when its lease ends",
		"id", row.ID, "notification", row.NotificationID, "error", err)
}

// retry schedules the next attempt of row in delay (the backoff, or the
// sink's Retry-After when later), or gives it up when it is too old.
func (w *Worker) retry(ctx context.Context, row store.Notification, delay time.Duration, reason string) {
	now := w.cfg.Clock.Now()
	since := row.CreatedAt
	if row.RetriedAt != nil && row.RetriedAt.After(since) {
		since = *row.RetriedAt // sent again by a person: a new MaxAge
	}
	if w.cfg.MaxAge > 0 && now.Sub(since) >= w.cfg.MaxAge {
		w.dead(ctx, row, fmt.Sprintf("gave up after %s and %d attempts; last error: %s", w.cfg.MaxAge, row.Attempts+1, reason))
		return
	}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.outbox.MarkRetry(mctx, row.ID, now.Add(delay), reason); err != nil {
		w.log.Warn("could not record a failed attempt; the row is retried when its lease ends", "id", row.ID, "error", err)
		return
	}
	w.log.Debug("notification will be retried", "id", row.ID, "sink", row.SinkSourceID, "attempt", row.Attempts+1, "in", delay, "reason", reason)
}

func (w *Worker) dead(ctx context.Context, row store.Notification, reason string) {
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.outbox.MarkDead(mctx, row.ID, reason); err != nil {
		w.log.Warn("could not record a dead letter; the row is tried again when its lease ends", "id", row.ID, "error", err)
		return
	}
	w.log.Error("notification given up (dead letter)", "id", row.ID, "notification", row.NotificationID,
		"sink", row.SinkSourceID, "reason", reason)
}

// Backoff is the delay before retry number attempt (1 for the first
// retry): MinBackoff doubling per attempt, capped at MaxBackoff, with
// "equal jitter" (between half and all of it) so that rows failing
// together do not retry together.
func (w *Worker) Backoff(attempt int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	half := d / 2
	return half + time.Duration(w.cfg.Jitter()*float64(d-half))
}
