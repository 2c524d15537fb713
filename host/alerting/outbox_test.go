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
// records what alert_states held when the notifications were written, and
// can fail.
type spyQueue struct {
	inner         alerting.Enqueuer
	db            *store.DB
	ctx           context.Context
	fail          error
	statesAtWrite []int
}

func (q *spyQueue) Enqueue(ctx context.Context, in []alert.Intent) (int, error) {
	sts, err := q.db.AlertStates().List(q.ctx, store.AlertStateFilter{})
	if err != nil {
		return 0, err
	}
	q.statesAtWrite = append(q.statesAtWrite, len(sts))
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
		prepare    func(t *testing.T, ctx context.Context, db *store.DB)
		enqueueErr error
		writes     int
		wantErr    bool
		wantRows   int
		wantState  string
		// wantStatesAtWrite: alert_states rows seen by each Enqueue.
		wantStatesAtWrite []int
	}{
		{name: "notification rows are written before the states", writes: 1, wantRows: 2, wantState: "firing",
			wantStatesAtWrite: []int{0}},
		{name: "a failed notification write saves no state", writes: 1, enqueueErr: errors.New("disk full"),
			wantErr: true, wantRows: 0, wantState: "", wantStatesAtWrite: []int{0}},
		{name: "the same batch written twice makes no duplicate rows", writes: 2, wantRows: 2, wantState: "firing",
			wantStatesAtWrite: []int{0, 1}},
		{name: "states of a rule deleted meanwhile are dropped without error",
			prepare: func(t *testing.T, ctx context.Context, db *store.DB) {
				if err := db.AlertRules().Delete(ctx, "r1"); err != nil {
					t.Fatal(err)
				}
			},
			// The decision was taken before the deletion: its rows are
			// written (notifications first), its state is not.
			writes: 1, wantRows: 2, wantState: "", wantStatesAtWrite: []int{0}},
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
				q := &spyQueue{inner: newWorker(t, db, &recordingSender{}), db: db, ctx: ctx, fail: tc.enqueueErr}
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
				if !equalInts(q.statesAtWrite, tc.wantStatesAtWrite) {
					t.Errorf("alert states present when the notifications were written: %v, want %v",
						q.statesAtWrite, tc.wantStatesAtWrite)
				}
			})
		})
	}
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

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
