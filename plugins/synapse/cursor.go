package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// The cursor is opaque to the host: versioned JSON.
//
//	{"v":1,"after":"2026-11-17T05:20:00Z","seen":{"<runId>":"<lastUpdated>",...}}
//	{"v":1,"after":"…","page":{"from":"…","to":"…","token":"<continuationToken>"},"seen":{…}}
//
// after is the watermark: every run whose lastUpdated is at or before it
// has been sent. The next poll reads the window [after - overlap, now -
// settle]: the overlap catches records the service made visible late, and
// seen (runs already sent whose lastUpdated falls in the overlap, with that
// lastUpdated) keeps the overlap from sending them again. A run that changed
// since has a newer lastUpdated and is sent again: that is how running runs
// reach their final state.
//
// page is set while a window is read page by page: the pages before token
// have been sent. The service's continuation token is a position, not an
// offset, so resuming from it neither skips nor repeats; if the service
// refuses it (expired), the window is read again from its start.
const cursorVersion = 1

type cursor struct {
	V     int               `json:"v"`
	After time.Time         `json:"after"`
	Page  *pageCursor       `json:"page,omitempty"`
	Seen  map[string]string `json:"seen,omitempty"`
}

type pageCursor struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Token string    `json:"token"`
}

// maxSeen bounds the cursor's size; past it only the newest are kept (the
// others may be sent once more, which the host's upsert absorbs).
const maxSeen = 2000

// parseCursor reads a cursor; "" is the first sync.
func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return cursor{V: cursorVersion}, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor is not this plugin's JSON: %w", err)
	}
	if c.V != cursorVersion {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor version %d is not %d (written by another version of the plugin)", c.V, cursorVersion)
	}
	if c.Page != nil && (c.Page.Token == "" || !c.Page.From.Before(c.Page.To)) {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor has an invalid page")
	}
	return c, nil
}

// seenSet holds the runs already sent with the lastUpdated they had.
type seenSet map[string]time.Time

func seenFromCursor(c cursor) seenSet {
	out := seenSet{}
	for id, s := range c.Seen {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			out[id] = t
		}
	}
	return out
}

// sent reports whether this version of the run (or a newer one) was sent.
func (s seenSet) sent(id string, lastUpdated time.Time) bool {
	t, ok := s[id]
	return ok && !lastUpdated.After(t)
}

// keep returns the entries the next poll may meet again: lastUpdated at
// or after horizon, at most maxSeen of them (the newest).
func (s seenSet) keep(horizon time.Time) map[string]string {
	type entry struct {
		id string
		t  time.Time
	}
	var es []entry
	for id, t := range s {
		if !t.Before(horizon) {
			es = append(es, entry{id, t})
		}
	}
	if len(es) == 0 {
		return nil
	}
	if len(es) > maxSeen {
		sort.Slice(es, func(i, j int) bool {
			if !es[i].t.Equal(es[j].t) {
				return es[i].t.After(es[j].t)
			}
			return es[i].id < es[j].id
		})
		es = es[:maxSeen]
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		out[e.id] = e.t.UTC().Format(time.RFC3339Nano)
	}
	return out
}

func (c cursor) encode() string {
	c.V = cursorVersion
	c.After = c.After.UTC()
	if c.Page != nil {
		p := *c.Page
		p.From, p.To = p.From.UTC(), p.To.UTC()
		c.Page = &p
	}
	b, _ := json.Marshal(c)
	return string(b)
}
