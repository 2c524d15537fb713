package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

const (
	// settle keeps the window's end a little in the past, so records
	// still being written are read by the next poll.
	settle = 30 * time.Second
	// overlap re-reads the end of the previous window, for records the
	// service made visible late; the cursor's seen set drops repeats.
	overlap = 5 * time.Minute
	// maxWindow keeps each query short, as the doc advises, to limit
	// paging.
	maxWindow = 24 * time.Hour
	// maxPages bounds one window: a continuation token that never ends is
	// a service bug, not a reason to loop forever.
	maxPages = 10_000
)

// ListRuns sends the runs changed since cursor, one batch per page, each
// with the cursor valid once that page is stored (see cursor.go).
func (c *connector) ListRuns(ctx context.Context, cursorStr string, send func(sdk.RunBatch) error) error {
	cur, err := parseCursor(cursorStr)
	if err != nil {
		// Starting over re-sends the runs of initial_lookback (harmless:
		// the host upserts them) rather than failing every poll.
		c.log.Warn("unreadable cursor: starting over from initial_lookback", "error", err)
		cursorStr = ""
	}
	now := c.now()
	c.resolveWorkspace(ctx)
	p := &poll{c: c, ctx: ctx, send: send, now: now, seen: seenFromCursor(cur), last: cursorStr}

	watermark := cur.After
	if cur.Page != nil {
		if err := p.window(cur.Page.From, cur.Page.To, cur.Page.Token); err != nil {
			return err
		}
		watermark = cur.Page.To
	}
	end := now.Add(-settle)
	from := end.Add(-c.cfg.lookback())
	if !watermark.IsZero() {
		from = watermark.Add(-overlap)
	}
	if oldest := now.Add(-retention); from.Before(oldest) {
		from = oldest
	}
	for from.Before(end) {
		to := from.Add(maxWindow)
		if to.After(end) {
			to = end
		}
		if err := p.window(from, to, ""); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// poll is one ListRuns call.
type poll struct {
	c    *connector
	ctx  context.Context
	send func(sdk.RunBatch) error
	now  time.Time
	// seen: runs sent (by this call, or committed before within the
	// overlap) with their lastUpdated.
	seen seenSet
	// last is the cursor of the last batch sent.
	last string
}

// window reads the runs whose lastUpdated is in [from, to], from the page
// after token ("" for the first page), and sends each page.
func (p *poll) window(from, to time.Time, token string) error {
	restarted := false
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return sdk.DownstreamError(nil, "POST /queryPipelineRuns: more than %d pages for the window %s..%s: the continuation token does not advance", maxPages, formatTime(from), formatTime(to))
		}
		ctx, status := withStatus(p.ctx)
		page, err := p.c.api.queryPipelineRuns(ctx, newFilter(from, to, token, p.c.filters()))
		if err != nil {
			if token != "" && *status == http.StatusBadRequest && !restarted {
				// An expired or refused continuation token: read the
				// window again from its start (re-sending, never skipping).
				p.c.log.Warn("the service refused a continuation token: reading the window again", "from", from, "to", to, "error", err)
				token, restarted = "", true
				continue
			}
			return withContext(err, "sync runs of %s", p.c.host)
		}
		runs, err := p.convert(page.Value)
		if err != nil {
			return err
		}
		next := cursor{After: to}
		horizon := to.Add(-overlap)
		if page.ContinuationToken != nil && *page.ContinuationToken != "" {
			if *page.ContinuationToken == token {
				return sdk.DownstreamError(nil, "malformed response from POST /queryPipelineRuns: the continuation token did not change")
			}
			token = *page.ContinuationToken
			next = cursor{After: from, Page: &pageCursor{From: from, To: to, Token: token}}
		} else {
			token = ""
		}
		next.Seen = p.seen.keep(horizon)
		if err := p.emit(runs, next.encode()); err != nil {
			return err
		}
		if token == "" {
			return nil
		}
	}
}

// emit sends a batch, unless it would say nothing new.
func (p *poll) emit(runs []sdk.Run, next string) error {
	if len(runs) == 0 && next == p.last {
		return nil
	}
	if err := p.send(sdk.RunBatch{Runs: runs, NextCursor: next}); err != nil {
		return err
	}
	p.last = next
	return nil
}

// filters narrows the query to the configured pipelines.
func (c *connector) filters() []queryFilter {
	if len(c.cfg.Pipelines) == 0 {
		return nil
	}
	return []queryFilter{{Operand: "PipelineName", Operator: "In", Values: c.cfg.Pipelines}}
}

// convert turns a page into runs, skipping versions already sent.
func (p *poll) convert(page []pipelineRun) ([]sdk.Run, error) {
	out := make([]sdk.Run, 0, len(page))
	for _, v := range page {
		if p.seen.sent(v.RunID, v.LastUpdated.Time) {
			continue
		}
		r, err := p.c.toRun(p.ctx, v, p.now)
		if err != nil {
			return nil, err
		}
		p.seen[v.RunID] = v.LastUpdated.Time
		out = append(out, r)
	}
	return out, nil
}

// toRun maps a pipeline run, with its activity runs when the config asks
// for them and its attempt number when it is a recovery re-run.
func (c *connector) toRun(ctx context.Context, v pipelineRun, now time.Time) (sdk.Run, error) {
	mapped, known := pipelineRunState(v.Status)
	state := c.states.resolve("pipeline run", v.RunID, v.Status, mapped, known)
	r := sdk.Run{
		ExternalID: v.RunID, PipelineExternalID: v.PipelineName, PipelineName: v.PipelineName,
		State: state, RawState: v.Status, ErrorMessage: v.Message, URL: c.runURL(v.RunID),
		EndedAt: v.RunEnd.Time, Attempt: 1, Attributes: map[string]string{},
	}
	if state == sdk.StateQueued {
		r.QueuedAt = v.RunStart.Time
	} else {
		r.StartedAt = v.RunStart.Time
	}
	switch {
	case v.DurationInMs != nil && *v.DurationInMs >= 0:
		r.Duration = time.Duration(*v.DurationInMs) * time.Millisecond
	case !v.RunEnd.IsZero() && !v.RunStart.IsZero() && v.RunEnd.After(v.RunStart.Time):
		r.Duration = v.RunEnd.Sub(v.RunStart.Time)
	}
	if v.RunGroupID != "" {
		r.Attributes["run_group_id"] = v.RunGroupID
	}
	if v.InvokedBy != nil {
		if v.InvokedBy.Name != "" {
			r.Attributes["invoked_by"] = v.InvokedBy.Name
		}
		if v.InvokedBy.InvokedByType != "" {
			r.Attributes["invoked_by_type"] = v.InvokedBy.InvokedByType
		}
	}
	for k, raw := range v.Parameters {
		r.Attributes["param."+k] = paramString(raw)
	}
	if len(v.Annotations) > 0 {
		tags := make([]string, len(v.Annotations))
		for i, a := range v.Annotations {
			tags[i] = paramString(a)
		}
		r.Attributes["annotations"] = strings.Join(tags, ",")
	}
	// isLatest is not kept: the service flips it without touching the
	// run's lastUpdated, so a stored copy would go stale. run_group_id and
	// Attempt say the same durably.
	if v.RunGroupID != "" && v.RunGroupID != v.RunID {
		n, err := c.attempt(ctx, v, now)
		if err != nil {
			return sdk.Run{}, err
		}
		r.Attempt = n
	}
	if c.wantsActivities(state) {
		if err := c.addActivities(ctx, &r, v, now); err != nil {
			return sdk.Run{}, err
		}
	}
	return r, nil
}

func (c *connector) wantsActivities(s sdk.RunState) bool {
	switch c.cfg.activityMode() {
	case activityRunsAll:
		return true
	case activityRunsFailed:
		return s == sdk.StateFailed
	}
	return false
}

// attempt numbers a recovery re-run within its group: 1 + the runs of the
// group that started before it.
func (c *connector) attempt(ctx context.Context, v pipelineRun, now time.Time) (int, error) {
	c.mu.Lock()
	n, ok := c.attempts[v.RunID]
	c.mu.Unlock()
	if ok {
		return n, nil
	}
	filters := []queryFilter{{Operand: "RunGroupId", Operator: "Equals", Values: []string{v.RunGroupID}}}
	members := map[string]time.Time{}
	token := ""
	for pages := 0; ; pages++ {
		if pages == 100 {
			return 0, sdk.DownstreamError(nil, "malformed response from POST /queryPipelineRuns: the continuation token does not advance")
		}
		page, err := c.api.queryPipelineRuns(ctx, newFilter(now.Add(-retention), now, token, filters))
		if err != nil {
			return 0, withContext(err, "find the attempts of run group %s", v.RunGroupID)
		}
		for _, m := range page.Value {
			members[m.RunID] = m.RunStart.Time
		}
		if page.ContinuationToken == nil || *page.ContinuationToken == "" || *page.ContinuationToken == token {
			break
		}
		token = *page.ContinuationToken
	}
	n = 1
	for id, start := range members {
		if id != v.RunID && (start.Before(v.RunStart.Time) || (start.Equal(v.RunStart.Time) && id < v.RunID)) {
			n++
		}
	}
	c.mu.Lock()
	if len(c.attempts) >= memoryLimit {
		c.attempts = map[string]int{}
	}
	c.attempts[v.RunID] = n
	c.mu.Unlock()
	return n, nil
}

// addActivities fetches the run's activity runs as tasks, names the
// failing activity, and sums Copy counters into the run's metrics.
func (c *connector) addActivities(ctx context.Context, r *sdk.Run, v pipelineRun, now time.Time) error {
	from := v.RunStart.Add(-time.Minute)
	if v.RunStart.IsZero() {
		from = v.LastUpdated.Add(-maxWindow)
	}
	acts, err := c.api.queryActivityRuns(ctx, v.PipelineName, v.RunID, from, now)
	var nf *sdk.Error
	if errors.As(err, &nf) && nf.Kind == sdk.KindNotFound {
		// The run vanished (retention) between the two calls.
		c.log.Debug("activity runs not found", "run", v.RunID, "error", err)
		return nil
	}
	if err != nil {
		return withContext(err, "read activity runs of run %s", v.RunID)
	}
	sort.SliceStable(acts, func(i, j int) bool {
		if !acts[i].ActivityRunStart.Equal(acts[j].ActivityRunStart.Time) {
			return acts[i].ActivityRunStart.Before(acts[j].ActivityRunStart.Time)
		}
		return acts[i].ActivityRunID < acts[j].ActivityRunID
	})
	metrics := map[string]float64{}
	var failed *activityRun
	for i := range acts {
		a := &acts[i]
		mapped, known := activityRunState(a.Status)
		mapped = c.states.resolve("activity run", a.ActivityRunID, a.Status, mapped, known)
		t := sdk.TaskRun{
			ExternalID: a.ActivityRunID, Name: a.ActivityName, State: mapped, RawState: a.Status,
			StartedAt: a.ActivityRunStart.Time, EndedAt: a.ActivityRunEnd.Time, Attempt: 1,
		}
		if a.RetryAttempt != nil && *a.RetryAttempt > 0 {
			t.Attempt = 1 + *a.RetryAttempt
		}
		if a.Error != nil {
			t.ErrorMessage = a.Error.Message
		}
		if mapped == sdk.StateFailed && (failed == nil || !a.ActivityRunStart.Before(failed.ActivityRunStart.Time)) {
			failed = a
		}
		if a.ActivityType == "Copy" {
			copyMetrics(metrics, a.Output)
		}
		r.Tasks = append(r.Tasks, t)
	}
	if len(metrics) > 0 {
		r.Metrics = metrics
	}
	if failed != nil {
		r.Attributes["failed_activity"] = failed.ActivityName
		r.Attributes["failed_activity_type"] = failed.ActivityType
		if failed.Error != nil {
			if failed.Error.ErrorCode != "" {
				r.Attributes["error_code"] = string(failed.Error.ErrorCode)
			}
			if failed.Error.FailureType != "" {
				r.Attributes["failure_type"] = failed.Error.FailureType
			}
			if r.ErrorMessage == "" && failed.Error.Message != "" {
				r.ErrorMessage = fmt.Sprintf("Operation on target %s failed: %s", failed.ActivityName, failed.Error.Message)
			}
		}
		if failed.RetryAttempt != nil {
			r.Attributes["failed_activity_attempts"] = strconv.Itoa(1 + *failed.RetryAttempt)
		}
	}
	return nil
}
