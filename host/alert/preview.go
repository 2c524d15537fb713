package alert

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/host/bus"
)

// History is the recorded past of one profile that Backtest replays. It is
// read once, up front, so the replay itself never touches the store, and
// never sees a run in a state it only reached later: Backtest derives what
// each run looked like at every simulated instant from its stored times.
type History interface {
	// Pipelines lists every pipeline of the profile.
	Pipelines(ctx context.Context) ([]Pipeline, error)
	// Runs returns the newest runs, at most limit, with from <= SortAt <
	// to, each as stored now and with its Pipeline; more reports that
	// older runs were left out. pipelineIDs limits the runs to those
	// pipelines; nil means every run, pipeline or not.
	Runs(ctx context.Context, pipelineIDs []string, from, to time.Time, limit int) (runs []Run, more bool, err error)
	// MetricSeries lists the metric series keys with points in [from,
	// to). Only rules over a series glob call it.
	MetricSeries(ctx context.Context, from, to time.Time) ([]string, error)
	// MetricPoints returns the oldest points of series, at most limit,
	// with from <= time < to, oldest first; more reports that newer
	// points were left out.
	MetricPoints(ctx context.Context, series string, from, to time.Time, limit int) (pts []MetricPoint, more bool, err error)
}

// BacktestOptions bound and tune a Backtest.
type BacktestOptions struct {
	// From and To are the window whose firings are counted, [From, To).
	// The replay starts earlier (a warm-up of a day or so, longer for
	// deadline, absence and metric rules) so the window opens with the
	// series in the state they had then.
	From, To time.Time
	// Step is how often the simulated clock ticks, besides the instants
	// something falls due, which get a tick of their own as the live
	// engine's (every second) would: a run running past the threshold, a
	// `for` elapsed, a flapping series stable, an absence or a metric
	// window ending. Deadlines, whole minutes, rely on the step. Default
	// 1m for deadline rules, 15m otherwise.
	Step time.Duration
	// MaxRuns bounds the runs read, warm-up included; beyond it only the
	// newest are replayed and the window is shortened. Default 100,000.
	MaxRuns int
	// MaxPoints bounds the metric points read; beyond it the window ends
	// at the last point read. Default 200,000.
	MaxPoints int
	// MaxEpisodes bounds the episodes listed (the newest are kept);
	// every one is counted. Default 50.
	MaxEpisodes int
	// Compile compiles the rule (an anomaly Detector).
	Compile Options
	// Flap is the live engine's flap damping; zero takes the defaults.
	Flap FlapPolicy
}

// Default bounds of a backtest.
const (
	DefaultBacktestMaxRuns     = 100_000
	DefaultBacktestMaxPoints   = 200_000
	DefaultBacktestMaxEpisodes = 50
)

// BacktestResult is what a rule would have done over a window.
type BacktestResult struct {
	// Fired counts the episodes that reached firing within [From, To).
	Fired int
	// Episodes are the newest of them (at most MaxEpisodes), oldest first.
	Episodes []Episode
	// Daily counts the firings per 24 hours from From (the last bucket may
	// be shorter).
	Daily []int
	// RunsEvaluated counts the runs of the selected pipelines replayed
	// within the window (the warm-up's not included); PointsEvaluated the
	// metric points.
	RunsEvaluated, PointsEvaluated int
	// From and To are the window actually covered: a bound reached moves
	// them (see Notes).
	From, To time.Time
	// Truncated is true when a bound was reached: runs or points left out
	// (Notes say which, for people), or episodes not listed (Fired is
	// larger than len(Episodes)).
	Truncated bool
	Notes     []string
}

// Episode is one firing of one series.
type Episode struct {
	Fingerprint string
	// SourceID, PipelineID and Pipeline name the pipeline of run-based
	// rules; Series the metric series of metric rules.
	SourceID, PipelineID, Pipeline, Series string
	FiredAt                                time.Time
	// ResolvedAt is zero while the episode is still open at To.
	ResolvedAt time.Time
	// Value is the observed value when it fired; Threshold what it was
	// compared with.
	Value, Threshold string
}

// Backtest replays history through a fresh Engine to tell what rule would
// have done between o.From and o.To: how many times it would have fired,
// and when. The rule is compiled as the API does (an invalid rule returns
// Problems), evaluated even when disabled, and nothing is sent or written:
// its Outbox only records.
//
// Each run is fed as the run.changed events it caused, in time order:
// one when it started (as running, with no end) and one when it ended (as
// stored), and the RunReader the engine reads answers as of the simulated
// instant. A simulated clock ticks every Step and at every instant
// something falls due, so deadlines, absence, runs still running past a
// threshold, `for` timers and flap damping behave as live.
//
// The replay checks ctx as it goes and returns its error when it ends.
func Backtest(ctx context.Context, r Rule, h History, o BacktestOptions) (BacktestResult, error) {
	c, err := Compile(r, o.Compile)
	if err != nil {
		return BacktestResult{}, err
	}
	o = o.withDefaults(c.Kind())
	if !o.From.Before(o.To) {
		return BacktestResult{}, fmt.Errorf("backtest: window [%s, %s) is empty", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	b := &backtest{o: o, c: c, h: h, res: BacktestResult{From: o.From, To: o.To}}
	b.start = o.From.Add(-b.warmup())
	if err := b.load(ctx); err != nil {
		return BacktestResult{}, err
	}
	if err := b.replay(ctx, r); err != nil {
		return BacktestResult{}, err
	}
	return b.result(), nil
}

func (o BacktestOptions) withDefaults(kind string) BacktestOptions {
	if o.Step <= 0 {
		o.Step = 15 * time.Minute
		if kind == KindDeadline {
			o.Step = time.Minute
		}
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = DefaultBacktestMaxRuns
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = DefaultBacktestMaxPoints
	}
	if o.MaxEpisodes <= 0 {
		o.MaxEpisodes = DefaultBacktestMaxEpisodes
	}
	return o
}

// backtest is one replay.
type backtest struct {
	o     BacktestOptions
	c     *Compiled
	h     History
	start time.Time // the replay's start: From minus the warm-up

	now    time.Time // the simulated clock
	pipes  []Pipeline
	seenAt []time.Time // pipes[i] exists from seenAt[i] (sorted)
	byPipe map[string][]*replayRun
	series []string
	points map[string][]MetricPoint
	events []replayEvent
	cur    *Run     // the run of the event being delivered
	wake   timeHeap // when something falls due, besides the grid
	stable time.Duration

	res      BacktestResult
	open     map[string]*Episode // by fingerprint and seq
	listed   []*Episode          // the newest episodes, at most 2×MaxEpisodes
	runsCut  bool
	pointCut bool
}

// warmup is how long before From the replay starts, so the window opens
// with the state the live engine had: the failure or slow run before it
// still firing, the last success before a deadline, the last run before
// an absence, a full metric window.
func (b *backtest) warmup() time.Duration {
	const day = 24 * time.Hour
	c := b.c
	w := day
	switch c.kind {
	case KindDeadline:
		w = max(c.deadline.window, day) + day
	case KindAbsence:
		w = min(2*c.interval, 8*day) + b.o.Step
	case KindMetricThreshold:
		w = min(c.metric.window, day)
	}
	return w + min(c.forDur, day)
}

// replayRun is a run as stored, with when its events happen.
type replayRun struct {
	final   Run
	startAt time.Time // the running version is delivered then; zero: none
	endAt   time.Time // the final version is delivered then; zero: never
	firstAt time.Time // when the run first appears
}

// at returns the run as it looked at t; ok is false before it appeared.
func (rr *replayRun) at(t time.Time) (Run, bool) {
	switch {
	case !rr.endAt.IsZero() && !rr.endAt.After(t):
		return rr.final, true
	case !rr.startAt.IsZero() && !rr.startAt.After(t):
		return rr.running(), true
	case rr.endAt.IsZero() && rr.startAt.IsZero() && !rr.firstAt.After(t):
		return rr.final, true // queued or running as stored
	}
	return Run{}, false
}

func (rr *replayRun) running() Run {
	r := rr.final
	r.State, r.EndedAt, r.Duration, r.ErrorMessage = "running", time.Time{}, 0, ""
	return r
}

type eventKind uint8

// At the same instant, runs end before others start and metric points
// come last, as an ingest batch of a poll would order them.
const (
	evEnd eventKind = iota
	evStart
	evAppear
	evMetric
)

type replayEvent struct {
	at     time.Time
	kind   eventKind
	run    *replayRun
	series string
}

// load reads the history the replay needs.
func (b *backtest) load(ctx context.Context) error {
	if b.c.Kind() == KindMetricThreshold || (b.c.Kind() == KindAnomaly && b.c.Rule.Condition.Anomaly.Series != "duration") {
		return b.loadMetrics(ctx)
	}
	return b.loadRuns(ctx)
}

func (b *backtest) loadRuns(ctx context.Context) error {
	all, err := b.h.Pipelines(ctx)
	if err != nil {
		return fmt.Errorf("backtest: list pipelines: %w", err)
	}
	var ids []string
	pipes := make(map[string]Pipeline)
	for _, pl := range all {
		if b.c.sel.matches(pl) {
			ids = append(ids, pl.ID)
			pipes[pl.ID] = pl
		}
	}
	if b.c.sel.matches(Pipeline{}) {
		ids = nil // runs without a pipeline are selected too
	} else if len(ids) == 0 {
		return nil
	}
	runs, more, err := b.h.Runs(ctx, ids, b.start, b.o.To, b.o.MaxRuns)
	if err != nil {
		return fmt.Errorf("backtest: read runs: %w", err)
	}
	if more && len(runs) > 0 {
		b.runsCut = true
		oldest := runs[0].SortAt
		for _, r := range runs {
			oldest = minTime(oldest, r.SortAt)
		}
		b.start = oldest
		if oldest.After(b.res.From) {
			b.res.From = oldest
		}
	}
	b.byPipe = map[string][]*replayRun{}
	firstRun := map[string]time.Time{}
	for _, r := range runs {
		if !b.c.sel.matches(r.Pipeline) || r.SortAt.Before(b.start) || !r.SortAt.Before(b.o.To) {
			continue
		}
		if pl, ok := pipes[r.Pipeline.ID]; ok {
			r.Pipeline = pl
		}
		rr := b.schedule(r)
		b.byPipe[r.Pipeline.ID] = append(b.byPipe[r.Pipeline.ID], rr)
		if t, ok := firstRun[r.Pipeline.ID]; !ok || rr.firstAt.Before(t) {
			firstRun[r.Pipeline.ID] = rr.firstAt
		}
		if !r.SortAt.Before(b.res.From) {
			b.res.RunsEvaluated++
		}
	}
	// A pipeline exists from when PUOD first saw it, or its first run if
	// that is earlier (history imported with the pipeline): deadline and
	// absence rules must not fire for days it did not exist.
	for _, pl := range pipes {
		at := pl.CreatedAt
		if t, ok := firstRun[pl.ID]; ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
		pl.CreatedAt = at
		b.pipes = append(b.pipes, pl)
	}
	sort.Slice(b.pipes, func(i, j int) bool {
		if !b.pipes[i].CreatedAt.Equal(b.pipes[j].CreatedAt) {
			return b.pipes[i].CreatedAt.Before(b.pipes[j].CreatedAt)
		}
		return b.pipes[i].Name < b.pipes[j].Name || (b.pipes[i].Name == b.pipes[j].Name && b.pipes[i].ID < b.pipes[j].ID)
	})
	b.seenAt = make([]time.Time, len(b.pipes))
	for i, pl := range b.pipes {
		b.seenAt[i] = pl.CreatedAt
	}
	slices.SortFunc(b.events, func(x, y replayEvent) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		if x.kind != y.kind {
			return int(x.kind) - int(y.kind)
		}
		if c := x.run.final.SortAt.Compare(y.run.final.SortAt); c != 0 {
			return c
		}
		return strings.Compare(x.run.final.ID, y.run.final.ID)
	})
	return nil
}

// schedule derives a run's events from its stored times: a finished run
// that has a start time is announced running at its start and finished at
// its end; anything else once, as stored, at its sort time.
func (b *backtest) schedule(r Run) *replayRun {
	rr := &replayRun{final: r, firstAt: maxTime(r.SortAt, b.start)}
	if !terminal(r.State) {
		b.events = append(b.events, replayEvent{at: rr.firstAt, kind: evAppear, run: rr})
		return rr
	}
	end := r.EndedAt
	switch {
	case !end.IsZero():
	case !r.StartedAt.IsZero() && r.Duration > 0:
		end = r.StartedAt.Add(r.Duration)
	default:
		end = r.SortAt
	}
	end = maxTime(end, rr.firstAt)
	if !r.StartedAt.IsZero() && end.After(r.StartedAt) && !r.StartedAt.Before(b.start) {
		rr.startAt = r.StartedAt
		rr.firstAt = r.StartedAt
		b.events = append(b.events, replayEvent{at: rr.startAt, kind: evStart, run: rr})
	}
	if end.Before(b.o.To) {
		rr.endAt = end
		b.events = append(b.events, replayEvent{at: end, kind: evEnd, run: rr})
	} else if rr.startAt.IsZero() {
		// Ends after the window and has no start: it never shows.
		rr.firstAt = b.o.To
	}
	return rr
}

func (b *backtest) loadMetrics(ctx context.Context) error {
	window := b.c.metric.window
	keys := []string{b.c.metric.series}
	switch {
	case b.c.kind == KindAnomaly:
		keys = []string{b.c.Rule.Condition.Anomaly.Series}
	case b.c.metric.glob != nil:
		all, err := b.h.MetricSeries(ctx, b.start.Add(-window), b.o.To)
		if err != nil {
			return fmt.Errorf("backtest: list metric series: %w", err)
		}
		keys = keys[:0]
		for _, k := range all {
			if b.c.metric.glob.MatchString(k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	b.points = map[string][]MetricPoint{}
	budget := b.o.MaxPoints
	end := b.o.To
	for _, k := range keys {
		if budget <= 0 {
			b.pointCut = true
			break
		}
		pts, more, err := b.h.MetricPoints(ctx, k, b.start.Add(-window), b.o.To, budget)
		if err != nil {
			return fmt.Errorf("backtest: read metric series %q: %w", k, err)
		}
		budget -= len(pts)
		if more && len(pts) > 0 {
			b.pointCut = true
			end = minTime(end, pts[len(pts)-1].Time.Add(time.Nanosecond))
		}
		b.points[k] = pts
		b.series = append(b.series, k)
	}
	if b.pointCut && end.After(b.res.From) {
		b.res.To = end
	}
	for _, k := range b.series {
		for _, p := range b.points[k] {
			if p.Time.Before(b.start) || !p.Time.Before(b.res.To) {
				continue
			}
			b.events = append(b.events, replayEvent{at: p.Time, kind: evMetric, series: k})
			if !p.Time.Before(b.res.From) {
				b.res.PointsEvaluated++
			}
		}
	}
	slices.SortFunc(b.events, func(x, y replayEvent) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return strings.Compare(x.series, y.series)
	})
	return nil
}

const backtestProfile = "backtest"

// replay runs the events and ticks through a fresh engine.
func (b *backtest) replay(ctx context.Context, r Rule) error {
	// Evaluated even when disabled: the editor asks what it would do.
	// Annotations and sinks do not change what fires; leaving them out
	// spares rendering every message.
	r.Disabled, r.Annotations, r.Sinks = false, nil, nil
	b.open = map[string]*Episode{}
	b.stable = b.o.Flap.withDefaults().Stable
	b.res.Daily = make([]int, max(1, int((b.res.To.Sub(b.res.From)+24*time.Hour-1)/(24*time.Hour))))
	b.now = b.start
	e, err := New(Config{Clock: ClockFunc(func() time.Time { return b.now }), Flap: b.o.Flap, Detector: b.o.Compile.Detector,
		HistoryLimit: 1, DedupeEvents: 1}, hclog.NewNullLogger(), Deps{Runs: (*backtestReader)(b), Metrics: (*backtestReader)(b), Outbox: (*backtestOutbox)(b)})
	if err != nil {
		return err
	}
	if err := e.SetRules(backtestProfile, []Rule{r}); err != nil {
		return err
	}
	end := b.res.To
	step := b.o.Step
	tick := func(at time.Time) error {
		b.now = at
		for len(b.wake) > 0 && !b.wake[0].After(at) {
			heap.Pop(&b.wake)
		}
		return e.Tick(ctx, at)
	}
	if len(b.series) > 0 {
		// The engine re-evaluates on ticks only the series it has heard of.
		if err := e.OnMetricAppended(ctx, metricEvent(b.series)); err != nil {
			return err
		}
	}
	if err := tick(b.start); err != nil {
		return err
	}
	b.wakeAt(b.start.Add(b.c.interval))
	for _, pl := range b.pipes {
		b.wakeAt(pl.CreatedAt.Add(b.c.interval))
	}
	grid := b.start.Truncate(step).Add(step)
	for i, n := 0, 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// The next tick: the grid's, or an instant something falls due
		// (sooner).
		at := grid
		if len(b.wake) > 0 && b.wake[0].Before(at) {
			at = b.wake[0]
		}
		// Events of an instant come before its tick.
		if i < len(b.events) && b.events[i].at.Before(end) && !b.events[i].at.After(at) {
			if err := b.deliver(ctx, e, b.events[i]); err != nil {
				return err
			}
			i++
			continue
		}
		if !at.Before(end) {
			return ctx.Err()
		}
		if err := tick(at); err != nil {
			return err
		}
		for !grid.After(at) {
			grid = grid.Add(step)
		}
	}
}

// deliver hands one event to the engine at its time, and notes when
// what it started falls due.
func (b *backtest) deliver(ctx context.Context, e *Engine, ev replayEvent) error {
	b.now = ev.at
	if ev.kind == evMetric {
		if w := b.c.metric.window; w > 0 {
			// The point leaves the window: the live engine's next tick
			// (every second) sees it gone.
			b.wakeAt(ev.at.Add(w + time.Second))
		}
		return e.OnMetricAppended(ctx, metricEvent([]string{ev.series}))
	}
	run, _ := ev.run.at(ev.at)
	if due := run.StartedAt.Add(b.c.threshold + time.Second); b.c.kind == KindDurationAbove && run.State == "running" &&
		!run.StartedAt.IsZero() && (ev.run.endAt.IsZero() || ev.run.endAt.After(due)) {
		// Still running past the threshold (which the replay knows ahead).
		b.wakeAt(due)
	}
	if b.c.kind == KindAbsence {
		b.wakeAt(run.SortAt.Add(b.c.interval))
	}
	b.cur = &run
	defer func() { b.cur = nil }()
	return e.OnRunChanged(ctx, runEvent(run.ID))
}

// wakeAt asks for a tick at t (not before the simulated time): when a
// `for` elapses, a held flapping series may resolve, a run passes the
// threshold, an absence or a metric window ends. Deadlines, whole minutes,
// fall on the grid.
func (b *backtest) wakeAt(t time.Time) {
	if t.After(b.now) && t.Before(b.res.To) {
		heap.Push(&b.wake, t)
	}
}

// timeHeap is a min-heap of times.
type timeHeap []time.Time

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].Before(h[j]) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *timeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func runEvent(runID string) bus.Event {
	raw, _ := json.Marshal(bus.RunChanged{RunID: runID})
	return bus.Event{Topic: bus.TopicRunChanged, ProfileID: backtestProfile, Payload: raw}
}

func metricEvent(series []string) bus.Event {
	raw, _ := json.Marshal(bus.MetricAppended{Series: series})
	return bus.Event{Topic: bus.TopicMetricAppended, ProfileID: backtestProfile, Payload: raw}
}

func (b *backtest) result() BacktestResult {
	res := b.res
	if n := len(b.listed); n > b.o.MaxEpisodes {
		b.listed = b.listed[n-b.o.MaxEpisodes:]
	}
	res.Episodes = make([]Episode, len(b.listed))
	for i, ep := range b.listed {
		res.Episodes[i] = *ep
	}
	if b.runsCut {
		res.Notes = append(res.Notes, fmt.Sprintf("only the newest %d runs were replayed: the window starts at %s", b.o.MaxRuns, res.From.Format(time.RFC3339)))
	}
	if b.pointCut {
		res.Notes = append(res.Notes, fmt.Sprintf("only %d metric points were replayed: the window ends at %s", b.o.MaxPoints, res.To.Format(time.RFC3339)))
	}
	res.Truncated = b.runsCut || b.pointCut || res.Fired > len(res.Episodes)
	return res
}

// backtestReader is the engine's RunReader and MetricReader during a
// replay: it answers as of the simulated clock.
type backtestReader backtest

var (
	_ RunReader    = (*backtestReader)(nil)
	_ MetricReader = (*backtestReader)(nil)
	_ Outbox       = (*backtestOutbox)(nil)
)

func (br *backtestReader) Run(_ context.Context, _, runID string) (Run, error) {
	if br.cur == nil || br.cur.ID != runID {
		return Run{}, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	return *br.cur, nil
}

// Pipelines lists the selected pipelines that existed at the simulated
// time.
func (br *backtestReader) Pipelines(context.Context, string) ([]Pipeline, error) {
	n := sort.Search(len(br.seenAt), func(i int) bool { return br.seenAt[i].After(br.now) })
	return br.pipes[:n:n], nil
}

// LastRun answers as of the simulated time, from the runs read.
func (br *backtestReader) LastRun(_ context.Context, _, pipelineID string, states ...string) (Run, bool, error) {
	var (
		best  Run
		found bool
	)
	for _, rr := range br.byPipe[pipelineID] {
		r, ok := rr.at(br.now)
		if !ok || (len(states) > 0 && !slices.Contains(states, r.State)) {
			continue
		}
		if !found || r.SortAt.After(best.SortAt) {
			best, found = r, true
		}
	}
	return best, found, nil
}

// MetricWindow returns the points read with from <= time <= to, never
// past the simulated time.
func (br *backtestReader) MetricWindow(_ context.Context, _, series string, from, to time.Time) ([]MetricPoint, error) {
	pts := br.points[series]
	to = minTime(to, br.now)
	i := sort.Search(len(pts), func(i int) bool { return !pts[i].Time.Before(from) })
	j := sort.Search(len(pts), func(i int) bool { return pts[i].Time.After(to) })
	if j < i {
		j = i
	}
	return pts[i:j:j], nil
}

// backtestOutbox records the episodes; nothing is written or sent. It
// reads the transitions, not the notifications: an episode is the series
// entering firing, whatever notifications (repeats, held back ones) the
// engine decides around it.
type backtestOutbox backtest

func (bo *backtestOutbox) Write(_ context.Context, batch Batch) error {
	b := (*backtest)(bo)
	for _, tr := range batch.Transitions {
		// A pending series fires when `for` elapses; a flapping one held
		// firing resolves once stable.
		if tr.To == StatePending {
			b.wakeAt(tr.At.Add(b.c.forDur))
		}
		if tr.To == StateFiring && tr.From == StateFiring {
			b.wakeAt(tr.At.Add(b.stable))
		}
		key := tr.Fingerprint + "/" + strconv.FormatInt(tr.Seq, 10)
		switch {
		case tr.To == StateFiring && tr.From != StateFiring:
			if tr.At.Before(b.res.From) || !tr.At.Before(b.res.To) {
				continue
			}
			ep := &Episode{Fingerprint: tr.Fingerprint, FiredAt: tr.At, Value: tr.Value}
			for _, st := range batch.States {
				if st.Fingerprint == tr.Fingerprint {
					ep.SourceID, ep.PipelineID, ep.Pipeline = st.Labels[LabelSourceID], st.Labels[LabelPipelineID], st.Labels[LabelPipeline]
					ep.Series = st.Labels[LabelSeries]
				}
			}
			for _, in := range batch.Notifications {
				if in.Fingerprint == tr.Fingerprint && in.Seq == tr.Seq {
					ep.Threshold = in.Notification.Threshold
				}
			}
			b.open[key] = ep
			b.res.Fired++
			if i := int(tr.At.Sub(b.res.From) / (24 * time.Hour)); i < len(b.res.Daily) {
				b.res.Daily[i]++
			}
			// Keep the newest; resolving goes through open.
			b.listed = append(b.listed, ep)
			if len(b.listed) >= 2*b.o.MaxEpisodes {
				b.listed = append(b.listed[:0], b.listed[len(b.listed)-b.o.MaxEpisodes:]...)
			}
		case tr.To == StateResolved:
			if ep, ok := b.open[key]; ok {
				ep.ResolvedAt = tr.At
				delete(b.open, key)
			}
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

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
