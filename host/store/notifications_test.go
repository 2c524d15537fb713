package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func TestOutbox_lifecycle(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "outbox-a", identity.RoleEditor)
		other := storetest.Tenant(t, db, "outbox-b", identity.RoleEditor)
		p, _ := identity.From(ctx)
		ob := db.System().Outbox()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		row := func(nid, group string) store.NewNotification {
			return store.NewNotification{ProfileID: p.ProfileID, NotificationID: nid, RuleID: "r1", SinkSourceID: "sink-1",
				GroupKey: group, Payload: []byte(`{"id":"` + nid + `"}`), CreatedAt: t0}
		}
		batch := []store.NewNotification{row("n1", "g1"), row("n2", "g1"), row("n3", "g2")}
		if n, err := ob.Enqueue(ctx, batch); err != nil || n != 3 {
			t.Fatalf("Enqueue = %d, %v; want 3 rows", n, err)
		}
		// The engine retries a write with the same ids: nothing is added.
		if n, err := ob.Enqueue(ctx, batch); err != nil || n != 0 {
			t.Fatalf("second Enqueue = %d, %v; want 0 new rows", n, err)
		}
		if _, err := ob.Enqueue(ctx, []store.NewNotification{{ProfileID: p.ProfileID, NotificationID: "x", CreatedAt: t0}}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Enqueue without a sink = %v, want ErrInvalid", err)
		}

		claimed, err := ob.Claim(ctx, t0, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := nids(claimed); len(got) != 2 || got[0] != "n1" || got[1] != "n3" {
			t.Fatalf("first claim = %v, want the head of each group [n1 n3]", got)
		}
		if again, err := ob.Claim(ctx, t0, time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claim while leased = %v, %v; want nothing", nids(again), err)
		}
		n1, n3 := claimed[0], claimed[1]
		if due, ok, err := ob.NextDue(ctx); err != nil || !ok || !due.Equal(t0.Add(time.Minute)) {
			t.Fatalf("NextDue = %v, %v, %v; want the end of the lease", due, ok, err)
		}
		if err := ob.MarkDelivered(ctx, n1.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := ob.MarkDelivered(ctx, n1.ID, t0.Add(time.Hour)); err != nil {
			t.Fatalf("second MarkDelivered = %v, want a no-op", err)
		}
		if got, _ := ob.Get(ctx, n1.ID); got.State != store.NotificationDelivered || got.DeliveredAt == nil || !got.DeliveredAt.Equal(t0) {
			t.Fatalf("n1 after two marks = %+v, want delivered at the first mark", got)
		}
		if err := ob.MarkDelivered(ctx, "no-such-row", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MarkDelivered(missing) = %v, want ErrNotFound", err)
		}
		// n2 is now its group's head.
		claimed, err = ob.Claim(ctx, t0, time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].NotificationID != "n2" {
			t.Fatalf("claim after n1 delivered = %v, %v; want [n2]", nids(claimed), err)
		}
		n2 := claimed[0]
		if err := ob.MarkRetry(ctx, n2.ID, t0.Add(30*time.Second), "slack 503"); err != nil {
			t.Fatal(err)
		}
		if c, _ := ob.Claim(ctx, t0.Add(29*time.Second), time.Minute, 10); len(c) != 0 {
			t.Fatalf("claim before the retry time = %v, want nothing", nids(c))
		}
		c, _ := ob.Claim(ctx, t0.Add(30*time.Second), time.Minute, 10)
		if len(c) != 1 || c[0].Attempts != 1 || c[0].LastError != "slack 503" {
			t.Fatalf("claim at the retry time = %+v, want n2 with 1 attempt", c)
		}
		if err := ob.Release(ctx, []string{c[0].ID}); err != nil {
			t.Fatal(err)
		}
		if c, _ := ob.Claim(ctx, t0.Add(30*time.Second), time.Minute, 10); len(c) != 1 {
			t.Fatalf("claim after release = %v, want n2 again", nids(c))
		}
		if err := ob.MarkDead(ctx, n3.ID, "channel_not_found"); err != nil {
			t.Fatal(err)
		}
		if err := ob.MarkRetry(ctx, n3.ID, t0, "late"); err != nil {
			t.Fatalf("MarkRetry of a dead row = %v, want a no-op", err)
		}

		dead, err := db.Notifications().CountDead(ctx)
		if err != nil || dead != 1 {
			t.Fatalf("CountDead = %d, %v; want 1", dead, err)
		}
		if d, _ := db.Notifications().CountDead(other); d != 0 {
			t.Fatalf("CountDead of another profile = %d, want 0", d)
		}
		list, next, err := db.Notifications().List(ctx, store.NotificationFilter{}, store.Page{Limit: 2})
		if err != nil || next == "" {
			t.Fatalf("List = %v, %q, %v", nids(list), next, err)
		}
		rest, next2, err := db.Notifications().List(ctx, store.NotificationFilter{}, store.Page{Limit: 2, Cursor: next})
		if err != nil || next2 != "" {
			t.Fatalf("List page 2 = %v, %q, %v", nids(rest), next2, err)
		}
		if got := nids(append(list, rest...)); len(got) != 3 || got[0] != "n3" || got[2] != "n1" {
			t.Fatalf("List = %v, want newest first [n3 n2 n1]", got)
		}
		deadList, _, _ := db.Notifications().List(ctx, store.NotificationFilter{State: store.NotificationDead}, store.Page{})
		if len(deadList) != 1 || deadList[0].LastError != "channel_not_found" || deadList[0].Attempts != 1 {
			t.Fatalf("dead letters = %+v, want n3 with its reason", deadList)
		}
		if l, _, _ := db.Notifications().List(other, store.NotificationFilter{}, store.Page{}); len(l) != 0 {
			t.Fatalf("another profile lists %v", nids(l))
		}
		if _, err := db.Notifications().Get(other, n1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get of another profile's row = %v, want ErrNotFound", err)
		}
	})
}

// TestOutbox_concurrentClaims: two handles (two replicas) claiming at once
// never get the same row.
func TestOutbox_concurrentClaims(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := storetest.Tenant(t, db, "outbox-c", identity.RoleEditor)
		p, _ := identity.From(ctx)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var rows []store.NewNotification
		for i := range 200 {
			id := "n" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			rows = append(rows, store.NewNotification{ProfileID: p.ProfileID, NotificationID: id, SinkSourceID: "s",
				GroupKey: id, CreatedAt: t0})
		}
		if _, err := db.System().Outbox().Enqueue(ctx, rows); err != nil {
			t.Fatal(err)
		}
		replicas := []*store.Outbox{db.System().Outbox(), storetest.Reopen(t, db).System().Outbox()}
		seen := make(chan string, 400)
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				ob := replicas[i%2]
				for {
					c, err := ob.Claim(ctx, t0, time.Minute, 7)
					if err != nil || len(c) == 0 {
						errs <- err
						return
					}
					for _, n := range c {
						seen <- n.ID
					}
				}
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		close(seen)
		got := map[string]int{}
		for id := range seen {
			got[id]++
			if got[id] > 1 {
				t.Fatalf("row %s claimed twice", id)
			}
		}
		if len(got) != 200 {
			t.Fatalf("claimed %d rows, want 200", len(got))
		}
	})
}

func nids(ns []store.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.NotificationID
	}
	return out
}
