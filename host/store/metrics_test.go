package store_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestMetrics_appendAndRange(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
		other := storetest.Tenant(t, db, "other", identity.RoleEditor)
		m := db.Metrics()
		day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
		n, err := m.Append(ctx, []store.MetricPoint{
			{Series: "sales.volume", Time: day(0), Value: 10, Labels: map[string]string{"region": "sul"}},
			{Series: "sales.volume", Time: day(1), Value: 11},
			{Series: "sales.volume", Time: day(1), Value: 12}, // same time: the last one wins
			{Series: "orders", Time: day(0), Value: 3},
		})
		if err != nil || n != 3 {
			t.Fatalf("Append = %d, %v; want 3 points", n, err)
		}
		// Replay with a new value replaces, never duplicates.
		if _, err := m.Append(ctx, []store.MetricPoint{{Series: "sales.volume", Time: day(0), Value: 10.5}}); err != nil {
			t.Fatal(err)
		}
		pts, err := m.Range(ctx, "sales.volume", time.Time{}, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 2 || pts[0].Value != 10.5 || pts[1].Value != 12 || !pts[0].Time.Equal(day(0)) || len(pts[0].Labels) != 0 {
			t.Fatalf("Range = %+v", pts)
		}
		if pts, _ := m.Range(ctx, "sales.volume", day(1), day(2), 0); len(pts) != 1 {
			t.Fatalf("Range [day1, day2) = %+v, want one point", pts)
		}
		if pts, _ := m.Range(other, "sales.volume", time.Time{}, time.Time{}, 0); len(pts) != 0 {
			t.Fatalf("another profile reads %d points", len(pts))
		}
	})
}

// TestMetrics_invalidPointRejectsBatch: one bad point stores nothing.
func TestMetrics_invalidPointRejectsBatch(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	ctx := storetest.Tenant(t, db, "acme", identity.RoleEditor)
	for name, bad := range map[string]store.MetricPoint{
		"no series": {Time: t0, Value: 1},
		"no time":   {Series: "s", Value: 1},
		"NaN":       {Series: "s", Time: t0, Value: math.NaN()},
		"infinite":  {Series: "s", Time: t0, Value: math.Inf(1)},
	} {
		_, err := db.Metrics().Append(ctx, []store.MetricPoint{{Series: "ok", Time: t0, Value: 1}, bad})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if pts, _ := db.Metrics().Range(ctx, "ok", time.Time{}, time.Time{}, 0); len(pts) != 0 {
		t.Fatalf("a rejected batch stored %d points", len(pts))
	}
}
