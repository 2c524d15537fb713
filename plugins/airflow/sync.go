package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/puod/puod/sdk"
)

const (
	// settle keeps the window's end a little in the past: a run updated
	// just before "now" may not be committed (or the server's clock may
	// lag ours).
	settle = 5 * time.Second
	// overlap re-reads the end of the previous window at the live edge,
	// for runs whose update committed after that window was read.
	overlap = 2 * time.Minute
	// liveEdge is how close to now a window's end must be for the next
	// window to overlap it.
	liveEdge = 10 * time.Minute
	// maxWindow splits a long catch-up into windows whose ends are
	// committed cursors.
	maxWindow = 24 * time.Hour
	// maxShiftRetries bounds the re-reads of a window that shrank.
	maxShiftRetries = 5
)

// ListRuns sends the DAG runs updated since the cursor, window by window
// of updated_at and page by page within a window (ordered by id), each
// page one batch whose cursor points just past it.
func (c *connector) ListRuns(ctx context.Context, cursorStr string, send func(sdk.RunBatch) error) error {
	cur, err := decodeCursor(cursorStr)
	if err != nil {
		c.log.Warn("ignoring the stored cursor: syncing again from the lookback (runs are re-sent, none skipped)", "reason", err.Error())
	}
	if _, _, err := c.client.ready(ctx); err != nil {
		return err
	}
	now := c.now().UTC()
	upper := now.Add(-settle).Truncate(time.Microsecond)
	if cur.From.IsZero() && cur.Win == nil {
		cur.From = now.AddDate(0, 0, -c.cfg.LookbackDays).Truncate(time.Second)
	}
	// sent holds what this poll already sent, so the overlaps between
	// windows and pages do not send a run twice unchanged.
	sent := map[string]string{}
	for {
		var w windowPos
		if cur.Win != nil {
			w = *cur.Win
		} else {
			if !cur.From.Before(upper) {
				return nil
			}
			w = windowPos{To: minTime(cur.From.Add(maxWindow), upper), Total: -1}
		}
		if err := c.syncWindow(ctx, cur.From, w, now, sent, send); err != nil {
			return err
		}
		if !w.To.Before(upper) {
			return nil // reached the live edge
		}
		cur = cursor{V: cursorVersion, From: nextFrom(w.To, now)}
	}
}

// nextFrom is where the window after one ending at to starts.
func nextFrom(to, now time.Time) time.Time {
	if now.Sub(to) < liveEdge {
		return to.Add(-overlap)
	}
	return to
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// syncWindow reads the window [from, w.To] from offset w.Off to its end.
//
// Offsets over changing data: a run of the window updated again after
// w.To leaves the window, which shifts the rows after it back, so the next
// page would skip as many rows. Runs cannot enter the window (its end is
// in the past), so the shrinking of total_entries bounds the shift: the
// page is read again that many rows earlier, and the rows already sent
// are dropped.
func (c *connector) syncWindow(ctx context.Context, from time.Time, w windowPos, now time.Time, sent map[string]string, send func(sdk.RunBatch) error) error {
	shifts := 0
	for {
		api, page, total, err := c.client.listRunsUpdated(ctx, from, w.To, w.Off, c.cfg.PageSize)
		if err != nil {
			if errors.Is(err, sdk.ErrAuth) || errors.Is(err, sdk.ErrConfig) || errors.Is(err, sdk.ErrPermanent) {
				return err
			}
			return annotate(err, "list DAG runs updated between %s and %s (offset %d)", apiTimeParam(from), apiTimeParam(w.To), w.Off)
		}
		if w.Total >= 0 && total < w.Total && w.Off > 0 && shifts < maxShiftRetries {
			shifts++
			w.Off = max(0, w.Off-(w.Total-total))
			w.Total = total
			continue
		}
		w.Total = total
		var batch []sdk.Run
		for _, r := range page {
			if r.DagID == "" || r.DagRunID == "" {
				return sdk.DownstreamError(nil, "malformed response from GET %s: a DAG run without dag_id or dag_run_id", c.client.path(api, "dags", "~", "dagRuns"))
			}
			if !c.wantDAG(r.DagID) {
				continue
			}
			run := c.toRun(api, r)
			if c.wantTasks(run) {
				if err := c.withTasks(ctx, api, &run); err != nil {
					return err
				}
			}
			key := runKey(run)
			if sent[run.ExternalID] == key {
				continue
			}
			sent[run.ExternalID] = key
			batch = append(batch, run)
		}
		w.Off += len(page)
		last := len(page) == 0 || w.Off >= total
		next := cursor{V: cursorVersion, From: from, Win: &windowPos{To: w.To, Off: w.Off, Total: w.Total}}
		if last {
			next = cursor{V: cursorVersion, From: nextFrom(w.To, now)}
		}
		if err := send(sdk.RunBatch{Runs: batch, NextCursor: next.encode()}); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

func runKey(r sdk.Run) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func jsonString(raw json.RawMessage, s *string) bool {
	return json.Unmarshal(raw, s) == nil
}
