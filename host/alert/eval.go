package alert

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// txn is one evaluation: it works on copies of the series it touches and
// moves them into the engine only once the Outbox accepted its batch.
type txn struct {
	ctx     context.Context
	e       *Engine
	p       *profile
	now     time.Time
	work    map[*ruleState]map[string]*series
	touched []*series // series with transitions, in order
	batch   Batch
	pipes   []Pipeline
	entries []*matchEntry // which rules select pipes[i]
	listed  bool
	running []*pipeCache // pipelines with runs in progress, in key order
	runSeen bool
	// history is set while a run older than its rule's NotifyFrom is
	// evaluated: transitions happen, notifications do not.
	history bool
}

func (e *Engine) begin(ctx context.Context, p *profile, now time.Time) *txn {
	return &txn{ctx: ctx, e: e, p: p, now: now, work: map[*ruleState]map[string]*series{}, batch: Batch{ProfileID: p.id}}
}

// peek returns the series as this evaluation sees it, without copying.
func (t *txn) peek(rs *ruleState, fp string) *series {
	if w, ok := t.work[rs][fp]; ok {
		return w
	}
	return rs.series[fp]
}

// series returns the working copy of a series, creating it in normal.
func (t *txn) series(rs *ruleState, fp string, labels map[string]string) *series {
	if w, ok := t.work[rs][fp]; ok {
		if labels != nil {
			w.Labels = labels
		}
		return w
	}
	var s *series
	if orig, ok := rs.series[fp]; ok {
		s = orig.clone()
	} else {
		s = &series{SeriesState: SeriesState{RuleID: rs.c.Rule.ID, Fingerprint: fp, State: StateNormal, Since: t.now}}
	}
	if labels != nil {
		s.Labels = labels
	}
	if t.work[rs] == nil {
		t.work[rs] = map[string]*series{}
	}
	t.work[rs][fp] = s
	return s
}

func (t *txn) commit(ctx context.Context) error {
	if len(t.batch.Transitions) > 0 || len(t.batch.Notifications) > 0 {
		for _, s := range t.touched {
			t.batch.States = append(t.batch.States, s.snapshot())
		}
		if err := t.e.d.Outbox.Write(ctx, t.batch); err != nil {
			return fmt.Errorf("alert: write %d transitions and %d notifications to the outbox: %w",
				len(t.batch.Transitions), len(t.batch.Notifications), err)
		}
	}
	for rs, m := range t.work {
		maps.Copy(rs.series, m)
	}
	return nil
}

// observation is one evaluated value of a condition.
type observation struct {
	active           bool
	value, threshold string
	data             TemplateData
}

func (t *txn) observe(rs *ruleState, s *series, o observation) {
	s.LastEvalAt = t.now
	s.active = o.active
	s.Value, s.threshold, s.data = o.value, o.threshold, o.data
	t.advance(rs, s)
}

// advance moves a series given its last observed activity and the time.
func (t *txn) advance(rs *ruleState, s *series) {
	switch s.State {
	case StateNormal, StateResolved, "":
		if !s.active {
			return
		}
		s.ActiveSince = t.now
		if rs.c.forDur > 0 {
			t.transition(s, StatePending, "condition active; waiting "+rs.c.forDur.String())
			return
		}
		t.fire(rs, s)
	case StatePending:
		if !s.active {
			s.ActiveSince = time.Time{}
			t.transition(s, StateNormal, "condition inactive before `for` elapsed")
			return
		}
		if t.now.Sub(s.ActiveSince) >= rs.c.forDur {
			t.fire(rs, s)
		}
	case StateFiring:
		if s.active {
			if s.Held {
				s.Held, s.InactiveSince = false, time.Time{}
				t.transition(s, StateFiring, "flapping: active again while held; nothing sent")
			}
			if !t.history && s.Notified == "" && s.Muted == "" {
				// It fired on history (see Rule.NotifyFrom) and a live
				// run confirms it: it is news now, once.
				t.notify(rs, s, sdk.NotificationFiring)
			}
			return
		}
		if s.Held {
			if t.now.Sub(s.InactiveSince) >= t.e.flap.Stable {
				t.resolve(rs, s, "flapping: stable for "+t.e.flap.Stable.String())
			}
			return
		}
		if t.flapping(s) {
			s.Held, s.InactiveSince = true, t.now
			t.transition(s, StateFiring, fmt.Sprintf("flapping: resolve held until inactive for %s", t.e.flap.Stable))
			return
		}
		t.resolve(rs, s, "condition inactive")
	}
}

func (t *txn) flapping(s *series) bool {
	f := t.e.flap
	if f.Resolves <= 0 {
		return false
	}
	n := 0
	for _, at := range s.Resolves {
		if t.now.Sub(at) < f.Window {
			n++
		}
	}
	return n >= f.Resolves
}

func (t *txn) transition(s *series, to State, reason string) {
	tr := Transition{RuleID: s.RuleID, Fingerprint: s.Fingerprint, Seq: s.Seq, From: s.State, To: to, At: t.now, Value: s.Value, Reason: reason}
	if s.State != to {
		s.Since = t.now
	}
	s.State = to
	s.History = append(s.History, tr)
	if over := len(s.History) - t.e.cfg.HistoryLimit; over > 0 {
		s.History = slices.Delete(s.History, 0, over)
	}
	t.batch.Transitions = append(t.batch.Transitions, tr)
	if !slices.Contains(t.touched, s) {
		t.touched = append(t.touched, s)
	}
}

func (t *txn) fire(rs *ruleState, s *series) {
	s.Seq++
	s.Notified, s.NotifiedAt, s.Repeats = "", time.Time{}, 0
	t.transition(s, StateFiring, "condition active")
	t.notify(rs, s, sdk.NotificationFiring)
}

func (t *txn) resolve(rs *ruleState, s *series, reason string) {
	s.Held, s.InactiveSince = false, time.Time{}
	if !t.history { // flapping is about what happens now, not a replay
		s.Resolves = append(slices.DeleteFunc(s.Resolves, func(at time.Time) bool { return t.now.Sub(at) >= t.e.flap.Window }), t.now)
	}
	t.transition(s, StateResolved, reason)
	t.notify(rs, s, sdk.NotificationResolved)
	s.ActiveSince = time.Time{}
}

// notify sends the notification of a transition, or holds it back while
// the Muter mutes it (release sends it later).
func (t *txn) notify(rs *ruleState, s *series, status sdk.NotificationStatus) {
	if t.history {
		t.transition(s, s.State, fmt.Sprintf("%s not notified: the run ended before the rule existed", status))
		return
	}
	if status == sdk.NotificationResolved && s.Notified != string(sdk.NotificationFiring) {
		// Its firing was never sent (muted throughout): nobody needs to
		// hear that it is over.
		if s.Muted != "" {
			s.Muted, s.MutedAt, s.MutedBy = "", time.Time{}, nil
			t.transition(s, s.State, "resolved while its firing notification was held back; nothing sent")
		}
		return
	}
	if why := t.muted(s); len(why) > 0 {
		s.Muted, s.MutedAt, s.MutedBy = string(status), t.now, why
		t.transition(s, s.State, fmt.Sprintf("%s notification held back: %s", status, strings.Join(why, "; ")))
		return
	}
	t.emit(rs, s, status, 0)
}

// muted asks the Muter. An error mutes nothing: a notification too many
// is better than one lost.
func (t *txn) muted(s *series) []string {
	if t.e.d.Muter == nil {
		return nil
	}
	why, err := t.e.d.Muter.Muted(t.ctx, t.p.id, s.Labels, t.now)
	if err != nil {
		t.e.log.Warn("could not check silences and inhibitions; notifying anyway", "rule", s.RuleID, "series", s.Fingerprint, "error", err)
		return nil
	}
	return why
}

// release sends a held notification once nothing mutes it any more.
func (t *txn) release(rs *ruleState, s *series) {
	if s.Muted == "" || len(t.muted(s)) > 0 {
		return
	}
	status := sdk.NotificationStatus(s.Muted)
	if status == sdk.NotificationFiring && s.State != StateFiring {
		s.Muted, s.MutedAt, s.MutedBy = "", time.Time{}, nil
		return
	}
	t.transition(s, s.State, fmt.Sprintf("%s notification released: no longer silenced or inhibited", status))
	t.emit(rs, s, status, 0)
}

// repeatDue says whether a firing series has gone Repeat without a message.
func (t *txn) repeatDue(rs *ruleState, s *series) bool {
	r := rs.c.group.repeat
	return r > 0 && s.State == StateFiring && !s.Held && s.Muted == "" &&
		s.Notified == string(sdk.NotificationFiring) && t.now.Sub(s.NotifiedAt) >= r
}

// repeat re-sends the firing notification of a series still firing; a
// muted one waits (and is asked again on the next tick).
func (t *txn) repeat(rs *ruleState, s *series) {
	if !t.repeatDue(rs, s) || len(t.muted(s)) > 0 {
		return
	}
	s.Repeats++
	t.transition(s, s.State, fmt.Sprintf("still firing after %s: notification repeated", rs.c.group.repeat))
	t.emit(rs, s, sdk.NotificationFiring, s.Repeats)
}

// emit renders the notification of a series and adds it to the batch.
func (t *txn) emit(rs *ruleState, s *series, status sdk.NotificationStatus, repeat int) {
	r := rs.c.Rule
	d := s.data
	d.Rule = RuleData{ID: r.ID, Name: r.Name, Severity: r.Severity}
	d.Status = string(status)
	d.Labels = maps.Clone(s.Labels)
	d.Value, d.Threshold = s.Value, s.threshold
	ann := rs.c.render(d)
	subject := d.Series
	if d.Pipeline != nil {
		subject = d.Pipeline.Name
	}
	title, body := ann["summary"], ann["description"]
	if title == "" {
		title = r.Name
		if subject != "" {
			title += ": " + subject
		}
		if status == sdk.NotificationResolved {
			title = "Resolved: " + title
		}
	}
	if body == "" {
		body = defaultDescription(rs.c, d)
	}
	n := sdk.Notification{
		ID:     notificationID(t.p.id, r.ID, s.Fingerprint, s.Seq, string(status), repeat),
		Status: status, RuleID: r.ID, RuleName: r.Name, Severity: r.Severity,
		Title: title, Summary: body, Labels: d.Labels, Annotations: ann,
		Value: d.Value, Threshold: d.Threshold, StartsAt: s.ActiveSince, Links: d.Links,
		GroupKey: rs.c.groupKey(s.Labels),
	}
	if d.Pipeline != nil {
		n.PipelineName = d.Pipeline.Name
	}
	if d.Run != nil {
		n.RunExternalID = d.Run.ExternalID
	}
	if status == sdk.NotificationResolved {
		n.EndsAt = t.now
		if s.Muted == string(status) && !s.MutedAt.IsZero() {
			n.EndsAt = s.MutedAt // released late: it ended when it was decided
		}
	}
	s.Notified, s.NotifiedAt = string(status), t.now
	s.Muted, s.MutedAt, s.MutedBy = "", time.Time{}, nil
	t.batch.Notifications = append(t.batch.Notifications, Intent{
		ProfileID: t.p.id, RuleID: r.ID, Fingerprint: s.Fingerprint, Seq: s.Seq,
		Sinks: slices.Clone(r.Sinks), Notification: n,
		GroupWait: rs.c.group.wait, GroupInterval: rs.c.group.interval,
	})
}

// groupKey names the group of a notification: the rule, and the values of
// its group-by labels.
func (c *Compiled) groupKey(labels map[string]string) string {
	if len(c.group.by) == 0 {
		return c.Rule.ID
	}
	var b strings.Builder
	b.WriteString(c.Rule.ID)
	for _, l := range c.group.by {
		b.WriteString("|")
		b.WriteString(l)
		b.WriteString("=")
		b.WriteString(labels[l])
	}
	return b.String()
}

func defaultDescription(c *Compiled, d TemplateData) string {
	resolved := d.Status == string(sdk.NotificationResolved)
	switch c.kind {
	case KindRunFailed:
		if d.Run != nil {
			return fmt.Sprintf("Run %s ended %s.", d.Run.ExternalID, d.Run.State)
		}
	case KindDurationAbove:
		if resolved {
			return fmt.Sprintf("Latest run took %s, within %s.", d.Value, d.Threshold)
		}
		return fmt.Sprintf("Run took %s, above %s.", d.Value, d.Threshold)
	case KindDeadline:
		if resolved {
			return "Succeeded: " + d.Value + "."
		}
		return fmt.Sprintf("Not succeeded by %s.", d.Threshold)
	case KindAbsence:
		if resolved {
			return "A run arrived."
		}
		return fmt.Sprintf("No run for %s (expected within %s).", d.Value, d.Threshold)
	}
	return fmt.Sprintf("Value %s, threshold %s.", d.Value, d.Threshold)
}

// --- run-based conditions ---------------------------------------------

func runLabels(c *Compiled, pl Pipeline) map[string]string {
	l := maps.Clone(c.Rule.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[LabelAlertName] = c.Rule.Name
	l[LabelSeverity] = c.Rule.Severity
	l[LabelSourceID] = pl.SourceID
	l[LabelPipelineID] = pl.ID
	l[LabelPipeline] = pl.Name
	return l
}

func pipelineFP(pl Pipeline) string { return fingerprint("pipeline", pl.SourceID, pl.ID) }

func (t *txn) runData(pl Pipeline, r *Run) TemplateData {
	d := TemplateData{Pipeline: &PipelineData{ID: pl.ID, SourceID: pl.SourceID, ExternalID: pl.ExternalID, Name: pl.Name, URL: pl.URL, Tags: pl.Tags}}
	if r == nil {
		return d
	}
	d.Run = &RunData{ID: r.ID, ExternalID: r.ExternalID, State: r.State, ErrorMessage: r.ErrorMessage, URL: r.URL,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, Duration: runDuration(*r, t.now)}
	if t.e.cfg.BaseURL != "" {
		d.Links = append(d.Links, sdk.Link{Title: "Run in PUOD", URL: t.e.cfg.BaseURL + "/runs/" + r.ID})
	}
	if r.URL != "" {
		d.Links = append(d.Links, sdk.Link{Title: "Run in vendor console", URL: r.URL})
	}
	return d
}

// runDuration is the reported duration, else ended−started, else (while
// running) the elapsed time.
func runDuration(r Run, now time.Time) time.Duration {
	switch {
	case r.Duration > 0:
		return r.Duration
	case !r.StartedAt.IsZero() && !r.EndedAt.IsZero():
		return r.EndedAt.Sub(r.StartedAt)
	case r.State == "running" && !r.StartedAt.IsZero():
		return now.Sub(r.StartedAt)
	}
	return 0
}

func terminal(state string) bool {
	switch state {
	case "succeeded", "failed", "cancelled", "skipped", "timed_out":
		return true
	}
	return false
}

func (t *txn) evalRun(ctx context.Context, rs *ruleState, run Run) error {
	c := rs.c
	o := observation{data: t.runData(run.Pipeline, &run)}
	switch c.kind {
	case KindRunFailed:
		switch {
		case slices.Contains(c.failStates, run.State):
			o.active = true
		case run.State == "succeeded":
		default:
			return nil
		}
		o.value = run.State
	case KindDurationAbove:
		d := runDuration(run, t.now)
		switch {
		case terminal(run.State) && d > 0:
			o.active = d > c.threshold
		case run.State == "running" && d > c.threshold:
			o.active = true
		default:
			return nil
		}
		o.value, o.threshold = d.Round(time.Second).String(), c.threshold.String()
	case KindDeadline:
		if run.State != "succeeded" {
			return nil
		}
		occ, ok := c.deadline.last(t.now)
		if !ok || successAt(run).Before(c.deadline.windowStart(occ)) {
			return nil
		}
		o.value = "succeeded at " + successAt(run).In(c.deadline.loc).Format("2006-01-02 15:04 MST")
		o.threshold = c.deadline.describe(occ)
	case KindAbsence:
		o.value, o.threshold = "0s", c.interval.String()
	case KindAnomaly:
		if !terminal(run.State) {
			return nil
		}
		v, err := c.detector.Evaluate(ctx, AnomalyInput{ProfileID: t.p.id, Rule: c.Rule, Pipeline: &run.Pipeline, Run: &run, Series: "duration", Now: t.now})
		if err != nil {
			return fmt.Errorf("alert: anomaly rule %s: %w", c.Rule.ID, err)
		}
		o.active, o.value, o.threshold = v.Anomalous, v.Value, v.Expected
	default:
		return nil
	}
	fp := pipelineFP(run.Pipeline)
	if prev := t.peek(rs, fp); prev != nil {
		m := prev.mark
		if m.id == run.ID && m.state == run.State {
			return nil // the same run in the same state: a duplicate
		}
		if m.id != "" && m.id != run.ID && run.SortAt.Before(m.sortAt) {
			return nil // an older run than the one already evaluated
		}
	}
	s := t.series(rs, fp, runLabels(c, run.Pipeline))
	s.mark = runMark{id: run.ID, state: run.State, sortAt: run.SortAt}
	if from := c.Rule.NotifyFrom; !from.IsZero() && terminal(run.State) && successAt(run).Before(from) {
		t.history = true
		defer func() { t.history = false }()
	}
	t.observe(rs, s, o)
	return nil
}

// --- metric conditions --------------------------------------------------

func (t *txn) evalMetric(ctx context.Context, rs *ruleState, key string) error {
	c := rs.c
	fp := fingerprint("series", key)
	labels := maps.Clone(c.Rule.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelAlertName], labels[LabelSeverity], labels[LabelSeries] = c.Rule.Name, c.Rule.Severity, key
	o := observation{data: TemplateData{Series: key}}
	switch c.kind {
	case KindMetricThreshold:
		m := c.metric
		if (m.glob != nil && !m.glob.MatchString(key)) || (m.glob == nil && key != m.series) {
			return nil
		}
		if t.e.d.Metrics == nil {
			return fmt.Errorf("alert: rule %s reads metrics but the engine has no MetricReader", c.Rule.ID)
		}
		pts, err := t.e.d.Metrics.MetricWindow(ctx, t.p.id, key, t.now.Add(-m.window), t.now)
		if err != nil {
			return fmt.Errorf("alert: rule %s: read %s over %s: %w", c.Rule.ID, key, m.window, err)
		}
		v, ok := aggregate(pts, m.agg)
		o.active = ok && compare(v, m.op, m.value)
		o.value = "no data"
		if ok {
			o.value = formatFloat(v)
		}
		o.threshold = formatFloat(m.value)
	case KindAnomaly:
		if c.Rule.Condition.Anomaly.Series != key {
			return nil
		}
		v, err := c.detector.Evaluate(ctx, AnomalyInput{ProfileID: t.p.id, Rule: c.Rule, Series: key, Now: t.now})
		if err != nil {
			return fmt.Errorf("alert: anomaly rule %s: %w", c.Rule.ID, err)
		}
		o.active, o.value, o.threshold = v.Anomalous, v.Value, v.Expected
	default:
		return nil
	}
	if !o.active && t.peek(rs, fp) == nil {
		return nil // nothing to resolve, nothing to remember
	}
	t.observe(rs, t.series(rs, fp, labels), o)
	return nil
}

// aggregate reduces a window; ok is false when the aggregate is undefined
// (avg, max or min of no points).
func aggregate(pts []MetricPoint, agg string) (v float64, ok bool) {
	switch agg {
	case AggCount:
		return float64(len(pts)), true
	case AggSum:
		for _, p := range pts {
			v += p.Value
		}
		return v, true
	}
	if len(pts) == 0 {
		return 0, false
	}
	switch agg {
	case AggAvg:
		for _, p := range pts {
			v += p.Value
		}
		return v / float64(len(pts)), true
	case AggMax:
		v = math.Inf(-1)
		for _, p := range pts {
			v = max(v, p.Value)
		}
		return v, true
	case AggMin:
		v = math.Inf(1)
		for _, p := range pts {
			v = min(v, p.Value)
		}
		return v, true
	}
	return 0, false
}

func compare(v float64, op string, threshold float64) bool {
	switch op {
	case ">":
		return v > threshold
	case ">=":
		return v >= threshold
	case "<":
		return v < threshold
	case "<=":
		return v <= threshold
	}
	return false
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// --- time-driven conditions ---------------------------------------------

// last returns the newest deadline at or before now on a scheduled day.
func (d deadlineSpec) last(now time.Time) (time.Time, bool) {
	l := now.In(d.loc)
	for i := 0; i <= 7; i++ {
		at := time.Date(l.Year(), l.Month(), l.Day()-i, d.hour, d.minute, 0, 0, d.loc)
		if !at.After(now) && d.days[at.Weekday()] {
			return at, true
		}
	}
	return time.Time{}, false
}

// windowStart is the earliest success that counts for the deadline at.
func (d deadlineSpec) windowStart(at time.Time) time.Time {
	if d.window > 0 {
		return at.Add(-d.window)
	}
	l := at.In(d.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, d.loc)
}

func (d deadlineSpec) describe(at time.Time) string {
	return at.In(d.loc).Format("2006-01-02 15:04") + " " + d.loc.String()
}

func (t *txn) pipelines(ctx context.Context) ([]Pipeline, error) {
	if t.listed {
		return t.pipes, nil
	}
	ps, err := t.e.d.Runs.Pipelines(ctx, t.p.id)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	t.pipes, t.listed = ps, true
	t.entries = make([]*matchEntry, len(ps))
	for i, pl := range ps {
		t.entries[i] = t.p.entry(pl)
	}
	return ps, nil
}

// runningPipes lists the pipelines with runs in progress, once per
// evaluation.
func (t *txn) runningPipes() []*pipeCache {
	if !t.runSeen {
		for _, key := range sortedKeys(t.p.pipes) {
			if pc := t.p.pipes[key]; len(pc.running) > 0 {
				t.running = append(t.running, pc)
			}
		}
		t.runSeen = true
	}
	return t.running
}

func (t *txn) tick(ctx context.Context) error {
	for _, rs := range t.p.rules {
		if rs.c.Rule.Disabled {
			continue
		}
		var err error
		switch rs.c.kind {
		case KindDeadline:
			err = t.tickDeadline(ctx, rs)
		case KindAbsence:
			err = t.tickAbsence(ctx, rs)
		case KindDurationAbove:
			t.tickRunning(rs)
		case KindMetricThreshold:
			err = t.tickMetric(ctx, rs)
		}
		if err != nil {
			return err
		}
		t.advanceDue(rs)
	}
	return nil
}

// advanceDue moves pending series whose `for` elapsed and held series that
// became stable, sends held notifications nothing mutes any more, and
// repeats those due.
func (t *txn) advanceDue(rs *ruleState) {
	fps := sortedKeys(rs.series)
	for fp := range t.work[rs] {
		if _, ok := rs.series[fp]; !ok {
			fps = append(fps, fp)
		}
	}
	for _, fp := range fps {
		s := t.peek(rs, fp)
		due := s.State == StatePending || s.Held
		if !due && s.Muted == "" && !t.repeatDue(rs, s) {
			continue
		}
		w := t.series(rs, fp, nil)
		if due {
			t.advance(rs, w)
		}
		t.release(rs, w)
		t.repeat(rs, w)
	}
}

func (t *txn) tickDeadline(ctx context.Context, rs *ruleState) error {
	d := rs.c.deadline
	occ, ok := d.last(t.now)
	if !ok {
		return nil
	}
	ps, err := t.pipelines(ctx)
	if err != nil {
		return err
	}
	for j, pl := range ps {
		if !t.entries[j].v[rs.idx] {
			continue
		}
		fp := pipelineFP(pl)
		prev := t.peek(rs, fp)
		switch {
		case prev != nil && !prev.DeadlineAt.IsZero():
			if !prev.DeadlineAt.Before(occ) {
				continue // this occurrence was evaluated
			}
		case occ.Before(rs.loadedAt):
			// Missed before the rule existed (or before this engine
			// started without restored state): not this rule's business.
			continue
		}
		pc := t.p.pipe(pl)
		if !pc.seededOK {
			r, found, err := t.e.d.Runs.LastRun(ctx, t.p.id, pl.ID, "succeeded")
			if err != nil {
				return fmt.Errorf("last successful run of pipeline %s: %w", pl.ID, err)
			}
			if found && successAt(r).After(pc.lastSuccess) {
				pc.lastSuccess = successAt(r)
			}
			pc.seededOK = true
		}
		o := observation{active: pc.lastSuccess.Before(d.windowStart(occ)), data: t.runData(pl, nil), threshold: d.describe(occ)}
		o.value = "no success since " + d.windowStart(occ).In(d.loc).Format("2006-01-02 15:04")
		if !o.active {
			o.value = "succeeded at " + pc.lastSuccess.In(d.loc).Format("2006-01-02 15:04 MST")
		}
		s := t.series(rs, fp, runLabels(rs.c, pl))
		s.DeadlineAt = occ
		t.observe(rs, s, o)
	}
	return nil
}

func (t *txn) tickAbsence(ctx context.Context, rs *ruleState) error {
	ps, err := t.pipelines(ctx)
	if err != nil {
		return err
	}
	for j, pl := range ps {
		if !t.entries[j].v[rs.idx] {
			continue
		}
		pc := t.p.pipe(pl)
		if !pc.seededRun {
			r, found, err := t.e.d.Runs.LastRun(ctx, t.p.id, pl.ID)
			if err != nil {
				return fmt.Errorf("last run of pipeline %s: %w", pl.ID, err)
			}
			if found && r.SortAt.After(pc.lastRunAt) {
				pc.lastRunAt = r.SortAt
			}
			pc.seededRun = true
		}
		ref := pc.lastRunAt
		if ref.IsZero() {
			ref = pl.CreatedAt
			if rs.loadedAt.After(ref) {
				ref = rs.loadedAt
			}
		}
		gap := t.now.Sub(ref)
		o := observation{active: gap >= rs.c.interval, value: gap.Round(time.Second).String(), threshold: rs.c.interval.String(), data: t.runData(pl, nil)}
		fp := pipelineFP(pl)
		if !o.active && t.peek(rs, fp) == nil {
			continue
		}
		t.observe(rs, t.series(rs, fp, runLabels(rs.c, pl)), o)
	}
	return nil
}

// tickRunning fires duration rules on runs still running past the
// threshold, without waiting for them to end.
func (t *txn) tickRunning(rs *ruleState) {
	for _, pc := range t.runningPipes() {
		if !t.p.entry(pc.pipeline).v[rs.idx] {
			continue
		}
		var longest *Run
		for _, id := range sortedKeys(pc.running) {
			r := pc.running[id]
			if longest == nil || r.StartedAt.Before(longest.StartedAt) {
				longest = &r
			}
		}
		el := t.now.Sub(longest.StartedAt)
		if el <= rs.c.threshold {
			continue
		}
		fp := pipelineFP(pc.pipeline)
		if s := t.peek(rs, fp); s != nil && s.active && s.mark.id == longest.ID {
			continue // already active on this run
		}
		if s := t.peek(rs, fp); s != nil && s.mark.id != "" && s.mark.id != longest.ID && longest.SortAt.Before(s.mark.sortAt) {
			continue
		}
		s := t.series(rs, fp, runLabels(rs.c, pc.pipeline))
		s.mark = runMark{id: longest.ID, state: longest.State, sortAt: longest.SortAt}
		t.observe(rs, s, observation{active: true, value: el.Round(time.Second).String() + " (running)", threshold: rs.c.threshold.String(), data: t.runData(pc.pipeline, longest)})
	}
}

func (t *txn) tickMetric(ctx context.Context, rs *ruleState) error {
	keys := map[string]struct{}{}
	for k := range t.p.metricSeries {
		keys[k] = struct{}{}
	}
	for _, s := range rs.series {
		if k := s.Labels[LabelSeries]; k != "" {
			keys[k] = struct{}{}
		}
	}
	for _, k := range sortedKeys(keys) {
		if err := t.evalMetric(ctx, rs, k); err != nil {
			return err
		}
	}
	return nil
}
