package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Page limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Page asks for one page of a list. The zero value asks for the first page
// of DefaultPageLimit items.
type Page struct {
	// Limit is the maximum number of items; 0 means DefaultPageLimit and
	// values above MaxPageLimit are lowered to it.
	Limit int
	// Cursor is the Next value of the previous page, or empty for the first.
	// It is opaque to callers: base64 of the last item's sort key.
	Cursor string
}

// limit returns the effective page size.
func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// decode fills keys from the cursor; it reports false for the first page.
// keys are pointers to the sort-key fields, in sort order.
func (p Page) decode(keys ...any) (bool, error) {
	if p.Cursor == "" {
		return false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil {
		return false, fmt.Errorf("%w: page cursor is not valid: request the first page again", ErrInvalid)
	}
	parts := make([]json.RawMessage, 0, len(keys))
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != len(keys) {
		return false, fmt.Errorf("%w: page cursor is not valid: request the first page again", ErrInvalid)
	}
	for i, k := range keys {
		if err := json.Unmarshal(parts[i], k); err != nil {
			return false, fmt.Errorf("%w: page cursor is not valid: request the first page again", ErrInvalid)
		}
	}
	return true, nil
}

// encodeCursor builds the cursor that resumes after an item with these sort
// key values.
func encodeCursor(keys ...any) string {
	raw, err := json.Marshal(keys)
	if err != nil {
		// Sort keys are strings and integers; this cannot fail.
		panic(fmt.Sprintf("encode page cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// trimPage cuts items fetched with LIMIT limit+1 down to limit and returns
// the cursor for the next page ("" when this was the last page).
func trimPage[T any](items []T, limit int, key func(T) []any) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(key(items[limit-1])...)
}
