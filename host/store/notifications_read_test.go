package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

// TestNotifications_filters: every filter of the read side keeps exactly
// the rows it names, in the caller's profile only, newest first.
func TestNotifications_filters(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "ntf-a", identity.RoleEditor)
		other := storetest.Tenant(t, db, "ntf-b", identity.RoleEditor)
		pa, _ := identity.From(ctx)
		pb, _ := identity.From(other)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		row := func(profile, nid, rule, fp, sink, status string, at time.Time) store.NewNotification {
			return store.NewNotification{ProfileID: profile, NotificationID: nid, RuleID: rule, Fingerprint: fp, SinkSourceID: sink,
				GroupKey: rule + "/" + fp, Payload: []byte(`{"id":"` + nid + `","status":"` + status + `","title":"t ` + nid + `"}`), CreatedAt: at}
		}
		ob := db.System().Outbox()
		if _, err := ob.Enqueue(ctx, []store.NewNotification{
			row(pa.ProfileID, "a1", "r1", "fp1", "slack", "firing", t0),
			row(pa.ProfileID, "a2", "r1", "fp1", "mail", "firing", t0),
			row(pa.ProfileID, "a3", "r1", "fp2", "slack", "firing", t0.Add(time.Minute)),
			row(pa.ProfileID, "a4", "r1", "fp1", "slack", "resolved", t0.Add(2*time.Minute)),
			row(pa.ProfileID, "a5", "r2", "fp1", "slack", "firing", t0.Add(3*time.Minute)),
			row(pb.ProfileID, "b1", "r1", "fp1", "slack", "firing", t0),
		}); err != nil {
			t.Fatal(err)
		}
		list := func(f store.NotificationFilter) []string {
			t.Helper()
			rows, _, err := db.Notifications().List(ctx, f, store.Page{})
			if err != nil {
				t.Fatalf("List(%+v): %v", f, err)
			}
			return nids(rows)
		}
		cases := []struct {
			f    store.NotificationFilter
			want []string
		}{
			{store.NotificationFilter{}, []string{"a5", "a4", "a3", "a2", "a1"}},
			{store.NotificationFilter{RuleID: "r1", Fingerprint: "fp1"}, []string{"a4", "a2", "a1"}},
			{store.NotificationFilter{Fingerprint: "fp1"}, []string{"a5", "a4", "a2", "a1"}},
			{store.NotificationFilter{SinkSourceID: "mail"}, []string{"a2"}},
			{store.NotificationFilter{Status: "resolved"}, []string{"a4"}},
			{store.NotificationFilter{Status: "firing", RuleID: "r1"}, []string{"a3", "a2", "a1"}},
			{store.NotificationFilter{Since: t0.Add(time.Minute)}, []string{"a5", "a4", "a3"}},
			{store.NotificationFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"a4", "a3"}},
			{store.NotificationFilter{State: store.NotificationDead}, nil},
			{store.NotificationFilter{RuleID: "%"}, nil},
			{store.NotificationFilter{Fingerprint: "fp_"}, nil},
		}
		for _, c := range cases {
			if got := list(c.f); !slices.Equal(got, c.want) {
				t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
			}
		}
		got, _, err := db.Notifications().List(ctx, store.NotificationFilter{RuleID: "r1", Fingerprint: "fp2"}, store.Page{})
		if err != nil || len(got) != 1 || got[0].Fingerprint != "fp2" || got[0].SinkSourceID != "slack" || got[0].GroupKey != "r1/fp2" {
			t.Fatalf("fp2 = %+v, %v", got, err)
		}
		for _, bad := range []store.NotificationFilter{{State: "lost"}, {Status: "burning"}, {Since: t0, Until: t0}} {
			if _, _, err := db.Notifications().List(ctx, bad, store.Page{}); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("List(%+v) = %v, want ErrInvalid", bad, err)
			}
		}

		// Pages of two: no row twice, none missing, in order.
		var all []string
		page := store.Page{Limit: 2}
		for i := 0; ; i++ {
			rows, next, err := db.Notifications().List(ctx, store.NotificationFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, nids(rows)...)
			if next == "" {
				break
			}
			if i > 5 {
				t.Fatal("pagination does not end")
			}
			page.Cursor = next
		}
		if want := []string{"a5", "a4", "a3", "a2", "a1"}; !slices.Equal(all, want) {
			t.Fatalf("paged = %v, want %v", all, want)
		}
		if _, _, err := db.Notifications().List(ctx, store.NotificationFilter{}, store.Page{Cursor: "not a cursor"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad cursor = %v, want ErrInvalid", err)
		}
		if rows, _, _ := db.Notifications().List(other, store.NotificationFilter{}, store.Page{}); !slices.Equal(nids(rows), []string{"b1"}) {
			t.Fatalf("profile B lists %v, want [b1]", nids(rows))
		}
	})
}

// TestNotifications_retry: a dead letter goes back to pending, due now,
// with its attempts and reason kept; the worker's claim takes it again.
// Anything else is refused.
func TestNotifications_retry(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "retry-a", identity.RoleEditor)
		other := storetest.Tenant(t, db, "retry-b", identity.RoleEditor)
		p, _ := identity.From(ctx)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ob := db.System().Outbox()
		if _, err := ob.Enqueue(ctx, []store.NewNotification{
			{ProfileID: p.ProfileID, NotificationID: "d1", RuleID: "r1", Fingerprint: "fp", SinkSourceID: "s", GroupKey: "g", CreatedAt: t0},
			{ProfileID: p.ProfileID, NotificationID: "p1", RuleID: "r1", Fingerprint: "fp", SinkSourceID: "s", GroupKey: "g2", CreatedAt: t0},
		}); err != nil {
			t.Fatal(err)
		}
		claimed, err := ob.Claim(ctx, t0, time.Minute, 10)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claim = %v, %v", nids(claimed), err)
		}
		d1, p1 := claimed[0], claimed[1]
		if err := ob.MarkRetry(ctx, d1.ID, t0, "503"); err != nil {
			t.Fatal(err)
		}
		if err := ob.MarkDead(ctx, d1.ID, "channel_not_found"); err != nil {
			t.Fatal(err)
		}
		if err := ob.Release(ctx, []string{p1.ID}); err != nil {
			t.Fatal(err)
		}

		if _, err := db.Notifications().Retry(other, d1.ID, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Retry by another profile = %v, want ErrNotFound", err)
		}
		if n, _ := ob.Get(ctx, d1.ID); n.State != store.NotificationDead {
			t.Fatalf("another profile's retry changed the row: %+v", n)
		}
		if _, err := db.Notifications().Retry(ctx, "no-such-row", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Retry(missing) = %v, want ErrNotFound", err)
		}
		cur, err := db.Notifications().Retry(ctx, p1.ID, t0)
		if !errors.Is(err, store.ErrNotDead) || !errors.Is(err, store.ErrConflict) || cur.State != store.NotificationPending {
			t.Fatalf("Retry(pending) = %+v, %v; want the row and ErrNotDead", cur, err)
		}

		now := t0.Add(time.Hour)
		got, err := db.Notifications().Retry(ctx, d1.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.NotificationPending || got.Attempts != 2 || got.LastError != "channel_not_found" || !got.NextAttemptAt.Equal(now) || got.DeliveredAt != nil {
			t.Fatalf("retried = %+v; want pending at %v with 2 attempts and the reason kept", got, now)
		}
		if _, err := db.Notifications().Retry(ctx, d1.ID, now); !errors.Is(err, store.ErrNotDead) {
			t.Fatalf("second Retry = %v, want ErrNotDead", err)
		}
		if c, _ := ob.Claim(ctx, now.Add(-time.Second), time.Minute, 10); slices.Contains(nids(c), "d1") {
			t.Fatalf("claimed before its new due time: %v", nids(c))
		}
		c, err := ob.Claim(ctx, now, time.Minute, 10)
		if err != nil || !slices.Contains(nids(c), "d1") {
			t.Fatalf("claim at the retry time = %v, %v; want d1", nids(c), err)
		}
		if dead, _ := db.Notifications().CountDead(ctx); dead != 0 {
			t.Fatalf("CountDead after the retry = %d, want 0", dead)
		}
	})
}
