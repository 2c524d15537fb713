package alerting_test

import (
	"context"
	"errors"
	"testing"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
)

// firingBatch is one decision: series fp of rule fires, notified to two
// sinks.
func firingBatch(profileID, ruleID, fp string, labels map[string]string) alert.Batch {
	return alert.Batch{
		ProfileID: profileID,
		States: []alert.SeriesState{{RuleID: ruleID, Fingerprint: fp, State: alert.StateFiring, Labels: labels,
			Value: "12", Since: t0, ActiveSince: t0, Seq: 1, LastEvalAt: t0}},
		Notifications: []alert.Intent{intent(profileID, ruleID, fp, 1, sdk.NotificationFiring, labels)},
	}
}

func intent(profileID, ruleID, fp string, seq int64, status sdk.NotificationStatus, labels map[string]string) alert.Intent {
	return alert.Intent{ProfileID: profileID, RuleID: ruleID, Fingerprint: fp, Seq: seq,
		Sinks: []string{"sink-a", "sink-b"},
		Notification: sdk.Notification{ID: ruleID + "/" + fp + "/" + string(status), Status: status, RuleID: ruleID,
			Labels: labels, StartsAt: t0}}
}

// spyQueue is the Enqueuer between the Outbox and the real worker: it
// can fail, and counts the calls.
type spyQueue struct {
	inner            alerting.Enqueuer
	fail             error
	records, enqueue int
}

func (q *spyQueue) Record(ctx context.Context, in []alert.Intent, states []store.AlertState) (int, error) {
	q.records++
	if q.fail != nil {
		return 0, q.fail
	}
	return q.inner.Record(ctx, in, states)
}

func (q *spyQueue) Enqueue(ctx context.Context, in []alert.Intent) (int, error) {
	q.enqueue++
	if q.fail != nil {
		return 0, q.fail
	}
	return q.inner.Enqueue(ctx, in)
}

func newWorker(t *testing.T, db *store.DB, s notify.Sender) *notify.Worker {
	t.Helper()
	w, err := notify.New(notify.Config{}, nil, db.System().Outbox(), s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestOutbox_write(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"team": "data-sales", "alertname": "rule r1"}
	cases := []struct {
		name string
		// prepare runs after the rule r1 is stored, before the writes.
		prepare  func(t *testing.T, ctx context.Context, db *store.DB)
		writeErr error
		writes   int
		wantErr  bool
		wantRows int
		// wantState is r1's stored state; wantRecords and wantEnqueues
		// count the two ways of writing.
		wantState                 string
		wantRecords, wantEnqueues int
	}{
		{name: "notifications and states are written together", writes: 1, wantRows: 2, wantState: "firing", wantRecords: 1},
		{name: "a failed write saves neither", writes: 1, writeErr: errors.New("disk full"),
			wantErr: true, wantRows: 0, wantState: "", wantRecords: 1},
		{name: "the same batch written twice makes no duplicate rows", writes: 2, wantRows: 2, wantState: "firing", wantRecords: 2},
		{name: "states of a rule deleted meanwhile are dropped without error",
			prepare: func(t *testing.T, ctx context.Context, db *store.DB) {
				if err := db.AlertRules().Delete(ctx, "r1"); err != nil {
					t.Fatal(err)
				}
			},
			// The decision was taken before the deletion: its rows are
			// written (alone, once the joint write failed), its state is not.
			writes: 1, wantRows: 2, wantState: "", wantRecords: 1, wantEnqueues: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx, profileID := tenant(t, db)
				storeRule(t, ctx, db, metricRule("r1", "sales.total"), true)
				if tc.prepare != nil {
					tc.prepare(t, ctx, db)
				}
				q := &spyQueue{inner: newWorker(t, db, &recordingSender{}), fail: tc.writeErr}
				o := &alerting.Outbox{DB: db, Queue: q}
				b := firingBatch(profileID, "r1", "fp1", labels)
				for i := range tc.writes {
					err := o.Write(context.Background(), b)
					if (err != nil) != tc.wantErr {
						t.Fatalf("write %d: error %v, want error: %v", i+1, err, tc.wantErr)
					}
				}
				rows := outboxRows(t, ctx, db)
				if len(rows) != tc.wantRows {
					t.Fatalf("outbox rows: %d, want %d: %+v", len(rows), tc.wantRows, rows)
				}
				for _, r := range rows {
					if r.NotificationID != "r1/fp1/firing" || r.RuleID != "r1" || r.State != store.NotificationPending {
						t.Errorf("row %+v", r)
					}
				}
				if got := stateOf(t, ctx, db, "r1"); got != tc.wantState {
					t.Errorf("stored state %q, want %q", got, tc.wantState)
				}
				if q.records != tc.wantRecords || q.enqueue != tc.wantEnqueues {
					t.Errorf("joint writes %d, notification-only writes %d; want %d, %d", q.records, q.enqueue, tc.wantRecords, tc.wantEnqueues)
				}
			})
		})
	}
}

// TestOutbox_atomic: the notifications and the states of an evaluation
// are one transaction: when the states cannot be written (a snapshot the
// store refuses), no notification row is left behind either.
func TestOutbox_atomic(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		storeRule(t, ctx, db, metricRule("r1", "sales.total"), true)
		w := newWorker(t, db, &recordingSender{})
		b := firingBatch(profileID, "r1", "fp1", nil)
		rows, err := notify.Rows(b.Notifications, t0)
		if err != nil {
			t.Fatal(err)
		}
		bad := []store.AlertState{{ProfileID: profileID, RuleID: "r1", Fingerprint: "fp1", State: "firing", Since: t0,
			Snapshot: []byte("{not json")}}
		if _, err := db.System().Outbox().Record(ctx, rows, bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Record with a bad state = %v, want ErrInvalid", err)
		}
		if got := outboxRows(t, ctx, db); len(got) != 0 {
			t.Fatalf("%d notification rows written by a failed joint write", len(got))
		}
		if _, err := w.Record(ctx, b.Notifications, nil); err != nil {
			t.Fatalf("the same rows alone: %v", err)
		}
		if got := outboxRows(t, ctx, db); len(got) != 2 {
			t.Fatalf("rows after a good write: %d, want 2", len(got))
		}
	})
}

// TestOutbox_deletedRuleKeepsOtherStates: one evaluation decides for two
// rules of a profile; one was deleted before the write. The other rule's
// state must still be saved (a batch spans every rule of the profile).
func TestOutbox_deletedRuleKeepsOtherStates(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		storeRule(t, ctx, db, metricRule("gone", "sales.total"), true)
		storeRule(t, ctx, db, metricRule("kept", "sales.total"), true)
		o := &alerting.Outbox{DB: db, Queue: newWorker(t, db, &recordingSender{})}
		b := firingBatch(profileID, "gone", "fp1", nil)
		k := firingBatch(profileID, "kept", "fp1", nil)
		b.States = append(b.States, k.States...)
		b.Notifications = append(b.Notifications, k.Notifications...)
		if err := db.AlertRules().Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if got := stateOf(t, ctx, db, "kept"); got != "firing" {
			t.Errorf("state of the rule that still exists: %q, want firing", got)
		}
		if got := stateOf(t, ctx, db, "gone"); got != "" {
			t.Errorf("state of the deleted rule: %q, want none", got)
		}
		if rows := outboxRows(t, ctx, db); len(rows) != 4 {
			t.Errorf("outbox rows: %d, want 4", len(rows))
		}
	})
}
