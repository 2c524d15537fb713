package alerting_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alertapi"
	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/collect"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
)

func newRunner(t *testing.T, db *store.DB, b bus.Bus, s *recordingSender, clock *manualClock, leaser alerting.Leaser, tick time.Duration) *alerting.Runner {
	t.Helper()
	r, err := alerting.New(alerting.Config{TickInterval: tick, Engine: alert.Config{Clock: clock}, Leaser: leaser},
		nil, alerting.Deps{DB: db, Bus: b, Sender: s})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunner_reloadsRules: an alert.changed about rules reloads that
// profile's rules. Rule "sync" is loaded from the start and watches the
// same series: once it has fired, the metric event has been evaluated, so
// "late" (stored after the start) not firing means it was not loaded.
func TestRunner_reloadsRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// changed is the alert.changed payload; otherProfile publishes it
		// for another profile.
		changed      alertapi.Changed
		otherProfile bool
		wantLate     string
	}{
		{name: "a rule change reloads the profile's rules",
			changed: alertapi.Changed{Kind: alertapi.ChangedRule, RuleID: "late", Revision: 1}, wantLate: "firing"},
		{name: "a silence change does not reload rules",
			changed: alertapi.Changed{Kind: alertapi.ChangedSilence}, wantLate: ""},
		{name: "a rule change of another profile does not reload this one",
			changed: alertapi.Changed{Kind: alertapi.ChangedRule, RuleID: "late", Revision: 1}, otherProfile: true, wantLate: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx, profileID := tenant(t, db)
				other, err := db.System().Profiles().Create(ctx, "other")
				if err != nil {
					t.Fatal(err)
				}
				storeRule(t, ctx, db, metricRule("sync", "sales.total"), true)
				b := newBus(t)
				sender := &recordingSender{}
				r := newRunner(t, db, b, sender, &manualClock{t: t0}, nil, 0)
				startRunner(t, r)
				waitFor(t, "the runner to subscribe", func() bool { return b.Subscribers() == 1 })

				storeRule(t, ctx, db, metricRule("late", "sales.total"), true)
				target := profileID
				if tc.otherProfile {
					target = other.ID
				}
				publish(t, b, bus.TopicAlertChanged, target, tc.changed)
				appendMetric(t, ctx, db, b, profileID, "sales.total", t0.Add(-time.Minute), 20)

				waitFor(t, "rule sync to fire", func() bool { return stateOf(t, ctx, db, "sync") == "firing" })
				if got := stateOf(t, ctx, db, "late"); got != tc.wantLate {
					t.Errorf("state of the rule stored after the start: %q, want %q", got, tc.wantLate)
				}
				// Delivered end to end through the worker and the Sender.
				want := 1
				if tc.wantLate != "" {
					want = 2
				}
				waitFor(t, "the deliveries", func() bool { return len(sender.all()) >= want })
				time.Sleep(50 * time.Millisecond)
				if got := sender.all(); len(got) != want {
					t.Errorf("deliveries: %d, want %d", len(got), want)
				}
			})
		})
	}
}

// TestRunner_skipsInvalidRules: a stored rule that is unreadable or
// invalid is skipped; the others load and fire; disabled ones do not.
func TestRunner_skipsInvalidRules(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		bad := metricRule("bad", "sales.total")
		bad.Condition.MetricThreshold.Op = "~"
		storeRule(t, ctx, db, bad, true)
		storeRawRule(t, ctx, db, "unreadable", alert.KindMetricThreshold, json.RawMessage(`[1, 2]`), true)
		storeRule(t, ctx, db, metricRule("good", "sales.total"), true)
		storeRule(t, ctx, db, metricRule("off", "sales.total"), false)

		b := newBus(t)
		sender := &recordingSender{}
		r := newRunner(t, db, b, sender, &manualClock{t: t0}, nil, 0)
		startRunner(t, r)
		waitFor(t, "the runner to subscribe", func() bool { return b.Subscribers() == 1 })
		appendMetric(t, ctx, db, b, profileID, "sales.total", t0.Add(-time.Minute), 20)

		waitFor(t, "the valid rule to fire", func() bool { return stateOf(t, ctx, db, "good") == "firing" })
		for _, id := range []string{"bad", "unreadable", "off"} {
			if got := stateOf(t, ctx, db, id); got != "" {
				t.Errorf("rule %s has state %q, want none", id, got)
			}
		}
		waitFor(t, "the valid rule's notification", func() bool { return len(sender.all()) == 1 })
		if s := sender.all()[0]; s.sink != "sink-a" || s.n.RuleID != "good" {
			t.Errorf("delivered %+v", s)
		}

		// An explicit reload keeps skipping the bad rules (no error) and
		// keeps the good rule's series.
		if err := r.LoadProfile(ctx, profileID, false); err != nil {
			t.Fatalf("LoadProfile: %v", err)
		}
	})
}

// TestRunner_lease: two replicas share a lease table; only the holder
// evaluates. When it stops (releasing the lease) the other takes over and
// restores the saved states from the store.
func TestRunner_lease(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		storeRule(t, ctx, db, metricRule("r1", "sales.total"), true)
		b := newBus(t)
		sender := &recordingSender{}
		leases := collect.NewLocalLeases()
		clock := &manualClock{t: t0}
		const tick = 100 * time.Millisecond
		ra := newRunner(t, db, b, sender, clock, leases.Owner("a"), tick)
		rb := newRunner(t, storetest.Reopen(t, db), b, sender, clock, leases.Owner("b"), tick)
		stopA := startRunner(t, ra)
		waitFor(t, "runner a to subscribe", func() bool { return b.Subscribers() == 1 })
		stopB := startRunner(t, rb)
		waitFor(t, "runner b to subscribe", func() bool { return b.Subscribers() == 2 })

		appendMetric(t, ctx, db, b, profileID, "sales.total", t0.Add(-time.Minute), 20)
		waitFor(t, "the rule to fire", func() bool { return stateOf(t, ctx, db, "r1") == "firing" })
		waitFor(t, "the notification", func() bool { return len(sender.all()) == 1 })
		// Let several ticks pass: the follower still evaluates nothing.
		time.Sleep(5 * tick)

		leader, follower, stopLeader := ra, rb, stopA
		if len(ra.Engine().States(profileID)) == 0 {
			leader, follower, stopLeader = rb, ra, stopB
		}
		if n := len(leader.Engine().States(profileID)); n != 1 {
			t.Fatalf("leader's series: %d, want 1", n)
		}
		if n := len(follower.Engine().States(profileID)); n != 0 {
			t.Fatalf("follower's series: %d, want 0 (it must not evaluate)", n)
		}
		if got := sender.all(); len(got) != 1 {
			t.Errorf("deliveries: %d, want 1", len(got))
		}

		stopLeader()
		waitFor(t, "the follower to take over with the saved state", func() bool {
			sts := follower.Engine().States(profileID)
			return len(sts) == 1 && sts[0].State == alert.StateFiring && sts[0].Seq == 1
		})
		// The new leader evaluates: the series resolves once the value
		// drops below the threshold (window max over 1h, so move the
		// clock past the old point).
		clock.Set(t0.Add(2 * time.Hour))
		appendMetric(t, ctx, db, b, profileID, "sales.total", t0.Add(2*time.Hour-time.Minute), 1)
		waitFor(t, "the rule to resolve", func() bool { return stateOf(t, ctx, db, "r1") == "resolved" })
		waitFor(t, "the resolved notification", func() bool { return len(sender.all()) == 2 })
	})
}

// TestRunner_historyGrace: with a rule stored now, a failed run that ended
// an hour before is history (its alert moves, nobody is notified), one
// that ended within HistoryGrace before is news.
func TestRunner_historyGrace(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		rule := alert.Rule{ID: "fails", Name: "pipeline failed", Severity: alert.SeverityCritical,
			Condition: alert.Condition{RunFailed: &alert.RunFailed{}}, Sinks: []string{"sink-a"}}
		spec, err := json.Marshal(rule)
		if err != nil {
			t.Fatal(err)
		}
		storeRawRule(t, ctx, db, rule.ID, alert.KindRunFailed, spec, true)
		src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.airflow", Name: "airflow", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		b := newBus(t)
		sender := &recordingSender{}
		now := time.Now()
		r := newRunner(t, db, b, sender, &manualClock{t: now}, nil, 0)
		startRunner(t, r)
		waitFor(t, "the runner to subscribe", func() bool { return b.Subscribers() == 1 })

		failAt := func(pipeline string, ended time.Time) {
			t.Helper()
			start := ended.Add(-time.Minute)
			res, err := db.Runs().Ingest(ctx, store.IngestBatch{SourceID: src.ID, Runs: []store.RunUpsert{{
				ExternalID: pipeline + "-1", PipelineExternalID: pipeline,
				RunData: store.RunData{State: store.RunFailed, StartedAt: &start, EndedAt: &ended}}}})
			if err != nil || len(res.Changed) != 1 {
				t.Fatalf("ingest: %+v, %v", res, err)
			}
			c := res.Changed[0]
			publish(t, b, bus.TopicRunChanged, profileID, bus.RunChanged{SourceID: src.ID, PipelineID: c.PipelineID,
				RunID: c.RunID, ExternalID: c.ExternalID, State: c.State})
		}
		failAt("old", now.Add(-time.Hour))
		failAt("recent", now.Add(-alerting.HistoryGrace/3))
		waitFor(t, "both alerts to fire", func() bool {
			sts, err := db.AlertStates().List(ctx, store.AlertStateFilter{State: "firing"})
			return err == nil && len(sts) == 2
		})
		waitFor(t, "the delivery", func() bool { return len(sender.all()) >= 1 })
		time.Sleep(200 * time.Millisecond)
		got := sender.all()
		if len(got) != 1 || got[0].n.PipelineName != "recent" {
			t.Fatalf("delivered %+v, want only the recent failure's notification", got)
		}
	})
}
