package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/puod/puod/sdk"
)

// cursorVersion is the current cursor format.
const cursorVersion = 1

// cursor is the opaque position PUOD stores between polls, as JSON:
//
//	{"v":1,"from_ms":1794873000000,
//	 "pass":{"to_ms":1794880000000,"hi_ms":1794892503507},
//	 "known":{"1102963358820017":{"s":1794892503507,"h":"9f1c…","st":"running","o":true}}}
//
// From is the start_time_from of the next listing: the newest start time
// seen minus the lookback, which absorbs clock skew and late inserts.
//
// Pass is a listing in progress. runs/list pages newest first, so the
// watermark cannot move until a listing reaches its last page: a cursor
// stored after page k instead narrows what is left to list, to start
// times in [From, Pass.To], while Pass.Hi remembers the newest start seen,
// which becomes the watermark when the listing completes.
//
// Known holds what PUOD has stored of the runs a future listing may return
// again (the overlap window, the ties at Pass.To) and of every open run:
// start, a hash of the content sent, and the state. A re-listed run whose
// content hash is unchanged is not sent again; an open run (not yet
// terminal) is re-read until it is, through runs/list?active_only and
// runs/get. Every batch carries the cursor that is valid once its runs are
// stored, and never one that passes a run not yet sent.
type cursor struct {
	V     int                 `json:"v"`
	From  int64               `json:"from_ms"`
	Pass  *pass               `json:"pass,omitempty"`
	Known map[string]knownRun `json:"known,omitempty"`
}

type pass struct {
	// To is the inclusive upper bound of what is left to list (0: the
	// listing has not delivered a page yet, no bound).
	To int64 `json:"to_ms,omitempty"`
	// Hi is the newest start time the listing has seen.
	Hi int64 `json:"hi_ms,omitempty"`
}

type knownRun struct {
	Start int64        `json:"s"`
	Hash  string       `json:"h"`
	State sdk.RunState `json:"st"`
	Open  bool         `json:"o,omitempty"`
}

// parseCursor decodes a stored cursor; "" is a first sync (nil, nil).
func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("cursor is not valid JSON: %w", err)
	}
	if c.V != cursorVersion {
		return nil, fmt.Errorf("cursor version %d is not supported (this plugin writes version %d)", c.V, cursorVersion)
	}
	if c.Known == nil {
		c.Known = map[string]knownRun{}
	}
	return &c, nil
}

// newCursor is the cursor of a first sync: backfill from now.
func newCursor(now time.Time, backfill time.Duration) *cursor {
	return &cursor{V: cursorVersion, From: now.Add(-backfill).UnixMilli(), Known: map[string]knownRun{}}
}

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// see records one listed run: it narrows the pass to what is left.
func (c *cursor) see(start int64) {
	if c.Pass == nil {
		return
	}
	if c.Pass.To == 0 || start < c.Pass.To {
		c.Pass.To = start
	}
	if start > c.Pass.Hi {
		c.Pass.Hi = start
	}
}

// completePass moves the watermark once a listing reached its last page.
func (c *cursor) completePass(lookback time.Duration) {
	if c.Pass == nil {
		return
	}
	if c.Pass.Hi > 0 {
		c.From = max(c.From, c.Pass.Hi-lookback.Milliseconds())
	}
	c.Pass = nil
}

// prune forgets the runs no future listing returns: kept are open runs,
// runs in the rest of the current pass ([From, Pass.To]) and runs in the
// next listing's range (from the newest start seen minus the lookback).
func (c *cursor) prune(lookback time.Duration) {
	next := c.From
	if c.Pass != nil && c.Pass.Hi > 0 {
		next = max(c.From, c.Pass.Hi-lookback.Milliseconds())
	}
	for id, k := range c.Known {
		keep := k.Open || k.Start >= next
		if c.Pass != nil && k.Start >= c.From && (c.Pass.To == 0 || k.Start <= c.Pass.To) {
			keep = true
		}
		if !keep {
			delete(c.Known, id)
		}
	}
}

// contentHash identifies what PUOD stored of a run. An active run's
// duration grows with the clock and is left out, so an unchanged running
// run is not re-sent at every poll.
func contentHash(r sdk.Run) string {
	if !r.State.Terminal() {
		r.Duration = 0
	}
	b, _ := json.Marshal(r)
	h := fnv.New64a()
	_, _ = h.Write(b)
	return strconv.FormatUint(h.Sum64(), 16)
}
