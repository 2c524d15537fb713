package main

import (
	"context"
	"net/url"
	"slices"
	"strconv"

	"github.com/puod/puod/sdk"
)

// maxPages bounds one listing, so a server that keeps answering has_more
// cannot hold a poll forever.
const maxPages = 10000

// ListRuns sends the runs new or changed since cur, in three steps:
//
//  1. runs/list from the cursor's start_time_from (first sync: now minus
//     the backfill), every page, with tasks;
//  2. runs that were open (not terminal) and were not in that listing:
//     one runs/list?active_only=true, then runs/get for each open run no
//     longer active, to read how it ended;
//  3. a last batch carrying the final cursor, when it changed.
//
// A page that fails (malformed JSON, an error after httpx's retries) ends
// the poll with that error: the batches already sent carry cursors that
// are valid, and the next poll resumes from the last one stored.
func (c *connector) ListRuns(ctx context.Context, cur string, send func(sdk.RunBatch) error) error {
	st, err := parseCursor(cur)
	if err != nil {
		// Syncing again from the backfill window re-sends runs (the host
		// upserts them) but loses none; failing forever would.
		c.log.Warn("unreadable cursor: syncing again from the backfill window", "error", err.Error())
	}
	first := st == nil
	if first {
		st = newCursor(c.now(), c.cfg.backfill())
	}
	s := &syncState{c: c, cur: st, send: send, hashes: map[int64]string{}, last: cur}
	if err := s.listWindow(ctx); err != nil {
		return err
	}
	if err := s.refreshOpen(ctx, first); err != nil {
		return err
	}
	return s.emit(nil, true)
}

// syncState is one ListRuns call.
type syncState struct {
	c    *connector
	cur  *cursor
	send func(sdk.RunBatch) error
	// hashes are the content hashes of the runs handled in this call: a
	// run met again (overlapping pages, the active listing) is sent again
	// only if it changed in between.
	hashes map[int64]string
	// last is the cursor of the last batch sent (or the one we started
	// from).
	last string
}

// consider converts a run and records it in the cursor. It reports
// whether the run differs from what PUOD already stored.
func (s *syncState) consider(r *apiRun) (sdk.Run, bool) {
	key := strconv.FormatInt(r.RunID, 10)
	prev, had := s.cur.Known[key]
	prevHash, seen := s.hashes[r.RunID]
	if !seen && had {
		prevHash = prev.Hash
	}
	run := s.c.toRun(r, prev.State)
	h := contentHash(run)
	s.hashes[r.RunID] = h
	s.cur.Known[key] = knownRun{Start: r.StartTime, Hash: h, State: run.State, Open: !run.State.Terminal()}
	return run, h != prevHash
}

// emit sends runs with the current cursor. Without runs it sends only the
// final cursor, and only when it changed.
func (s *syncState) emit(runs []sdk.Run, final bool) error {
	if len(runs) == 0 && !final {
		return nil
	}
	s.cur.prune(s.c.cfg.lookback())
	enc := s.cur.encode()
	if len(runs) == 0 && enc == s.last {
		return nil
	}
	if err := s.send(sdk.RunBatch{Runs: runs, NextCursor: enc}); err != nil {
		return err
	}
	s.last = enc
	return nil
}

// listWindow lists runs started since the cursor's watermark (or, resuming
// a listing, between it and the pass's bound), newest first.
func (s *syncState) listWindow(ctx context.Context) error {
	cfg := s.c.cfg
	if s.cur.Pass == nil {
		s.cur.Pass = &pass{}
	}
	q := url.Values{
		"start_time_from": {strconv.FormatInt(s.cur.From, 10)},
		"limit":           {strconv.Itoa(cfg.PageSize)},
		"expand_tasks":    {"true"},
	}
	if s.cur.Pass.To > 0 {
		q.Set("start_time_to", strconv.FormatInt(s.cur.Pass.To, 10))
	}
	token := ""
	for n := 0; ; n++ {
		if n == maxPages {
			return sdk.DownstreamError(nil, "GET %s/runs/list: still has_more after %d pages: the listing does not end", s.c.api.jobsAPI, maxPages)
		}
		page, err := s.c.api.listRunsPage(ctx, q, token)
		if err != nil {
			return err
		}
		var batch []sdk.Run
		for i := range page.Runs {
			r := &page.Runs[i]
			if r.HasMore {
				// 2.2 cut this item's tasks at 100: read them all.
				full, err := s.c.api.getRun(ctx, r.RunID)
				switch {
				case err == nil:
					r = full
				case !runMissing(err):
					return err
				}
			}
			s.cur.see(r.StartTime)
			if run, changed := s.consider(r); changed {
				batch = append(batch, run)
			}
		}
		if !page.HasMore || page.NextPageToken == "" {
			s.cur.completePass(cfg.lookback())
			return s.emit(batch, false)
		}
		if page.NextPageToken == token {
			return sdk.DownstreamError(nil, "GET %s/runs/list: the server answered the same next_page_token twice", s.c.api.jobsAPI)
		}
		if err := s.emit(batch, false); err != nil {
			return err
		}
		token = page.NextPageToken
	}
}

// refreshOpen re-reads the open runs the listing did not cover. On a first
// sync it also picks up active runs older than the backfill window.
func (s *syncState) refreshOpen(ctx context.Context, first bool) error {
	var open []int64
	for key, k := range s.cur.Known {
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			delete(s.cur.Known, key)
			continue
		}
		if _, handled := s.hashes[id]; k.Open && !handled {
			open = append(open, id)
		}
	}
	if len(open) == 0 && !first {
		return nil
	}
	slices.Sort(open)

	// One listing of every active run, whatever its start time.
	q := url.Values{"active_only": {"true"}, "limit": {strconv.Itoa(s.c.cfg.PageSize)}, "expand_tasks": {"true"}}
	token := ""
	for n := 0; ; n++ {
		if n == maxPages {
			return sdk.DownstreamError(nil, "GET %s/runs/list (active_only): still has_more after %d pages", s.c.api.jobsAPI, maxPages)
		}
		page, err := s.c.api.listRunsPage(ctx, q, token)
		if err != nil {
			return err
		}
		var batch []sdk.Run
		for i := range page.Runs {
			r := &page.Runs[i]
			if _, handled := s.hashes[r.RunID]; handled {
				continue
			}
			if run, changed := s.consider(r); changed {
				batch = append(batch, run)
			}
		}
		if err := s.emit(batch, false); err != nil {
			return err
		}
		if !page.HasMore || page.NextPageToken == "" || page.NextPageToken == token {
			break
		}
		token = page.NextPageToken
	}

	// The open runs no longer active have ended (or been deleted).
	var batch []sdk.Run
	for _, id := range open {
		if _, handled := s.hashes[id]; handled {
			continue
		}
		r, err := s.c.api.getRun(ctx, id)
		if runMissing(err) {
			s.c.log.Info("open run no longer exists: it is not polled any more", "run_id", id)
			delete(s.cur.Known, strconv.FormatInt(id, 10))
			continue
		}
		if err != nil {
			return err
		}
		if run, changed := s.consider(r); changed {
			batch = append(batch, run)
		}
		if len(batch) >= s.c.cfg.PageSize {
			if err := s.emit(batch, false); err != nil {
				return err
			}
			batch = nil
		}
	}
	return s.emit(batch, false)
}
