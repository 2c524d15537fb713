package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// cursorVersion is the version of the cursor format; a cursor of another
// version is ignored (the sync restarts from the lookback, which re-sends
// runs the host upserts idempotently, but never skips one).
const cursorVersion = 1

// cursor is where the next poll starts. DAG runs are read in windows of
// updated_at, [From, To], page by page (ordered by id). Between polls
// only From is kept: the next window starts there. In the middle of a
// window, Win says which window and how far: the batch just sent ended
// at offset Off of Total runs. An opaque JSON string to the host, e.g.
//
//	{"v":1,"from":"2026-11-17T07:07:55.000000Z"}
//	{"v":1,"from":"2026-11-16T07:10:00Z","win":{"to":"2026-11-17T07:09:55Z","off":200,"total":431}}
type cursor struct {
	V    int        `json:"v"`
	From time.Time  `json:"from"`
	Win  *windowPos `json:"win,omitempty"`
}

// windowPos is a position inside the window [cursor.From, To].
type windowPos struct {
	To time.Time `json:"to"`
	// Off is the offset of the next page; Total the window's
	// total_entries when it was reached (runs leaving the window since
	// shrink it, which shifts later rows back: see syncWindow).
	Off   int `json:"off"`
	Total int `json:"total"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func decodeCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{V: cursorVersion}, nil
	}
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor is not this connector's JSON: %v", err)
	}
	if c.V != cursorVersion {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor version %d, this connector writes %d", c.V, cursorVersion)
	}
	if c.Win != nil && (c.Win.Off < 0 || c.Win.To.Before(c.From)) {
		return cursor{V: cursorVersion}, fmt.Errorf("cursor window is inconsistent")
	}
	return c, nil
}
