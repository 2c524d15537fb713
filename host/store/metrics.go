package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/puod/puod/host/identity"
)

// Limits of a metric point.
const (
	MaxSeriesLength = 200
	MaxMetricLabels = 32
)

// MetricPoint is one value of a business metric series (e.g. daily sales
// volume). A series has at most one value per time: appending a point at a
// time already stored replaces its value and labels.
type MetricPoint struct {
	Series string
	Time   time.Time
	Value  float64
	Labels map[string]string
}

// Validate reports the first problem of a point, or nil.
func (p MetricPoint) Validate() error {
	switch {
	case strings.TrimSpace(p.Series) == "":
		return fmt.Errorf("%w: series is empty", ErrInvalid)
	case len(p.Series) > MaxSeriesLength:
		return fmt.Errorf("%w: series is longer than %d bytes", ErrInvalid, MaxSeriesLength)
	case p.Time.IsZero():
		return fmt.Errorf("%w: time is missing", ErrInvalid)
	case math.IsNaN(p.Value) || math.IsInf(p.Value, 0):
		return fmt.Errorf("%w: value must be a finite number", ErrInvalid)
	case len(p.Labels) > MaxMetricLabels:
		return fmt.Errorf("%w: more than %d labels", ErrInvalid, MaxMetricLabels)
	}
	return nil
}

// Metrics is the profile-scoped metric-point repository.
type Metrics struct{ db *DB }

// Metrics returns the profile-scoped metric-point repository.
func (db *DB) Metrics() *Metrics { return &Metrics{db: db} }

// metricChunk bounds the rows of one multi-row upsert (5 parameters each).
const metricChunk = 1000

// Append stores points in the caller's profile in one transaction: all or
// none. Any invalid point fails the whole call with ErrInvalid naming its
// index; a point at a (series, time) already stored replaces it, so a
// replayed push is idempotent. It returns how many distinct points were
// stored.
func (r *Metrics) Append(ctx context.Context, points []MetricPoint) (int, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return 0, fmt.Errorf("append metric points: %w", err)
	}
	type key struct {
		series string
		ts     int64
	}
	idx := map[key]int{}
	rows := make([]MetricPoint, 0, len(points))
	for i, pt := range points {
		if err := pt.Validate(); err != nil {
			return 0, fmt.Errorf("append metric points: point %d: %w", i, err)
		}
		pt.Time = normTime(pt.Time)
		k := key{pt.Series, pt.Time.UnixMicro()}
		// A multi-row upsert may not touch a row twice: the last point of
		// a (series, time) in the batch wins, as it would one by one.
		if j, dup := idx[k]; dup {
			rows[j] = pt
			continue
		}
		idx[k] = len(rows)
		rows = append(rows, pt)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	err = r.db.inTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(rows); start += metricChunk {
			part := rows[start:min(start+metricChunk, len(rows))]
			args := make([]any, 0, len(part)*5)
			for _, pt := range part {
				args = append(args, p.ProfileID, pt.Series, pt.Time, pt.Value, mustJSON(pt.Labels, "{}"))
			}
			_, err := exec(ctx, tx, `INSERT INTO metric_points (profile_id, series, ts, value, labels_json) VALUES `+
				strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?), `, len(part)), ", ")+`
				ON CONFLICT (profile_id, series, ts) DO UPDATE SET value = excluded.value, labels_json = excluded.labels_json`, args...)
			if err != nil {
				return fmt.Errorf("upsert metric points: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("append metric points: %w", err)
	}
	return len(rows), nil
}

// Range returns the points of one series with from <= time < to (zero
// bounds are open), oldest first, at most limit (Page limits apply).
func (r *Metrics) Range(ctx context.Context, series string, from, to time.Time, limit int) ([]MetricPoint, error) {
	p, err := identity.Require(ctx)
	if err != nil {
		return nil, fmt.Errorf("read metric points: %w", err)
	}
	where, args := []string{`profile_id = ?`, `series = ?`}, []any{p.ProfileID, series}
	if !from.IsZero() {
		where, args = append(where, `ts >= ?`), append(args, from)
	}
	if !to.IsZero() {
		where, args = append(where, `ts < ?`), append(args, to)
	}
	rows, err := query(ctx, r.db.x, `SELECT series, ts, value, labels_json FROM metric_points WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY ts LIMIT ?`, append(args, Page{Limit: limit}.limit())...)
	if err != nil {
		return nil, fmt.Errorf("read metric points of %q: %w", series, err)
	}
	pts, err := collect(rows, func(rs rowScanner) (MetricPoint, error) {
		var (
			pt     MetricPoint
			labels string
		)
		if err := rs.Scan(&pt.Series, timeDest{&pt.Time}, &pt.Value, &labels); err != nil {
			return MetricPoint{}, mapErr(err)
		}
		if err := json.Unmarshal([]byte(labels), &pt.Labels); err != nil {
			return MetricPoint{}, fmt.Errorf("labels: %w", err)
		}
		return pt, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read metric points of %q: %w", series, err)
	}
	return pts, nil
}
