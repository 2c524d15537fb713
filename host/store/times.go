package store

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Times: PostgreSQL columns are TIMESTAMPTZ (microsecond precision), SQLite
// columns are INTEGER unix microseconds, so both sort numerically, index well
// and hold the same precision. Callers of this package pass and receive plain
// time.Time; the conversion happens in two places only: encodeArgs on the way
// in, timeDest/nullTimeDest on the way out.

// Now returns the current time as the store keeps it: UTC, truncated to
// microseconds, so it compares Equal to what a later read returns.
func Now() time.Time { return normTime(time.Now()) }

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// encodeArgs rewrites time.Time and *time.Time arguments into the column
// encoding of q's dialect. Other arguments pass unchanged.
func encodeArgs(q sqlx.ExtContext, args []any) []any {
	sqlite := q.DriverName() == "sqlite"
	enc := func(t time.Time) any {
		if sqlite {
			return t.UnixMicro()
		}
		return normTime(t)
	}
	out := args
	copied := false
	for i, a := range args {
		var v any
		switch t := a.(type) {
		case time.Time:
			v = enc(t)
		case *time.Time:
			if t == nil {
				v = nil
			} else {
				v = enc(*t)
			}
		default:
			continue
		}
		if !copied {
			out = append([]any(nil), args...)
			copied = true
		}
		out[i] = v
	}
	return out
}

// decodeTime accepts what either driver returns for a time column.
func decodeTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case int64:
		return time.UnixMicro(v).UTC(), nil
	case time.Time:
		return normTime(v), nil
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	}
	return time.Time{}, fmt.Errorf("scan time: unsupported column value %T", src)
}

// parseTimeText covers values written by hand (e.g. an operator's UPDATE in
// the sqlite3 shell) so a read does not fail on them.
func parseTimeText(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return normTime(t), nil
		}
	}
	return time.Time{}, fmt.Errorf("scan time: cannot parse %q", s)
}

// timeDest scans a NOT NULL time column into *t.
type timeDest struct{ t *time.Time }

var _ sql.Scanner = timeDest{}

func (d timeDest) Scan(src any) error {
	if src == nil {
		*d.t = time.Time{}
		return nil
	}
	t, err := decodeTime(src)
	if err != nil {
		return err
	}
	*d.t = t
	return nil
}

// nullTimeDest scans a nullable time column into *t (nil for NULL).
type nullTimeDest struct{ t **time.Time }

var _ sql.Scanner = nullTimeDest{}

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	t, err := decodeTime(src)
	if err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// timePtr normalises an optional time for writing.
func timePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}
