package alert_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/sdk"
)

// switchMuter mutes everything while on.
type switchMuter struct {
	mu    sync.Mutex
	on    bool
	asked int
}

func (m *switchMuter) set(on bool) { m.mu.Lock(); defer m.mu.Unlock(); m.on = on }

func (m *switchMuter) Muted(context.Context, string, map[string]string, time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	if m.on {
		return []string{"silence s-1"}, nil
	}
	return nil, nil
}

func slowRule() alert.Rule {
	return baseRule(alert.Condition{DurationAbove: &alert.DurationAbove{Threshold: "5m"}})
}

// TestEngine_mutedFiringIsReleased: a firing decided while muted is held
// (sent nothing, history says why) and sent when the silence ends, with
// the id it would have had; the series never stopped firing.
func TestEngine_mutedFiringIsReleased(t *testing.T) {
	m := &switchMuter{on: true}
	h := newMutedHarness(t, t0, alert.Config{}, m, slowRule())
	h.finish("succeeded", t0, 7*time.Minute)
	if n := h.out.notifications(); len(n) != 0 {
		t.Fatalf("sent %d notifications while silenced", len(n))
	}
	st := h.state()
	if st.State != alert.StateFiring || st.Muted != "firing" || len(st.MutedBy) != 1 {
		t.Fatalf("state while silenced: %s muted=%q by %v, want firing with a held firing notification", st.State, st.Muted, st.MutedBy)
	}
	if last := st.History[len(st.History)-1]; !strings.Contains(last.Reason, "held back: silence s-1") {
		t.Errorf("history does not say why: %q", last.Reason)
	}
	h.tick(h.clock.Now().Add(time.Second))
	if n := h.out.notifications(); len(n) != 0 {
		t.Fatalf("sent %d notifications on a tick while still silenced", len(n))
	}

	m.set(false)
	h.tick(h.clock.Now().Add(time.Second))
	equal(t, "after the silence ended", h.out.statuses(), []string{"firing"})
	h.tick(h.clock.Now().Add(time.Second))
	equal(t, "a second tick", h.out.statuses(), []string{"firing"})
	if st := h.state(); st.Muted != "" || st.Notified != "firing" {
		t.Errorf("after release: muted=%q notified=%q", st.Muted, st.Notified)
	}
	h.finish("succeeded", h.clock.Now(), time.Minute)
	equal(t, "resolve after release", h.out.statuses(), []string{"firing", "resolved"})
}

// TestEngine_resolvedWhileMutedSendsNothing: an episode that fired and
// ended within a silence sends nothing, not even on its end.
func TestEngine_resolvedWhileMutedSendsNothing(t *testing.T) {
	m := &switchMuter{on: true}
	h := newMutedHarness(t, t0, alert.Config{}, m, slowRule())
	h.finish("succeeded", t0, 7*time.Minute)
	h.finish("succeeded", h.clock.Now(), time.Minute)
	m.set(false)
	h.tick(h.clock.Now().Add(time.Second))
	if n := h.out.notifications(); len(n) != 0 {
		t.Fatalf("sent %v for an episode that started and ended silenced", h.out.statuses())
	}
	if st := h.state(); st.State != alert.StateResolved || st.Muted != "" {
		t.Errorf("state %s muted=%q, want resolved with nothing held", st.State, st.Muted)
	}
}

// TestEngine_mutedResolveIsReleased: firing sent, then a silence, then the
// resolve: the resolve is held and sent at the silence's end with the
// time it happened as its end.
func TestEngine_mutedResolveIsReleased(t *testing.T) {
	m := &switchMuter{}
	h := newMutedHarness(t, t0, alert.Config{}, m, slowRule())
	h.finish("succeeded", t0, 7*time.Minute)
	m.set(true)
	h.finish("succeeded", t0.Add(time.Hour), time.Minute)
	resolvedAt := h.clock.Now()
	equal(t, "while silenced", h.out.statuses(), []string{"firing"})
	m.set(false)
	h.tick(resolvedAt.Add(10 * time.Minute))
	equal(t, "after the silence", h.out.statuses(), []string{"firing", "resolved"})
	n := h.out.notifications()[1]
	if !n.EndsAt.Equal(resolvedAt) {
		t.Errorf("resolved notification ends at %s, want when it resolved (%s)", n.EndsAt, resolvedAt)
	}
}

// TestEngine_repeat: a series still firing is notified again after the
// rule's repeat interval, with a new id each time; not while muted, and
// never after "0s".
func TestEngine_repeat(t *testing.T) {
	r := slowRule()
	r.Group = alert.GroupPolicy{Repeat: "1h"}
	m := &switchMuter{}
	h := newMutedHarness(t, t0, alert.Config{}, m, r)
	h.finish("succeeded", t0, 7*time.Minute)
	fired := h.clock.Now()
	h.tick(fired.Add(59 * time.Minute))
	equal(t, "before the repeat interval", h.out.statuses(), []string{"firing"})
	h.tick(fired.Add(time.Hour))
	equal(t, "at the repeat interval", h.out.statuses(), []string{"firing", "firing"})
	m.set(true)
	h.tick(fired.Add(2*time.Hour + time.Minute))
	equal(t, "muted at the second repeat", h.out.statuses(), []string{"firing", "firing"})
	m.set(false)
	h.tick(fired.Add(2*time.Hour + 2*time.Minute))
	ns := h.out.notifications()
	if len(ns) != 3 || ns[0].ID == ns[1].ID || ns[1].ID == ns[2].ID {
		t.Fatalf("repeats: %d notifications with ids %v, want 3 distinct", len(ns), ns)
	}

	never := slowRule()
	never.Group = alert.GroupPolicy{Repeat: "0s"}
	h2 := newHarness(t, t0, alert.Config{}, never)
	h2.finish("succeeded", t0, 7*time.Minute)
	h2.tick(t0.Add(30 * 24 * time.Hour))
	equal(t, "repeat 0s", h2.out.statuses(), []string{"firing"})
}

// TestEngine_groupKeyAndTimes: notifications carry the rule's group (by
// rule, or by the chosen labels) and its times for the outbox.
func TestEngine_groupKeyAndTimes(t *testing.T) {
	for _, tc := range []struct {
		group        alert.GroupPolicy
		wantKey      string
		wait, interv time.Duration
	}{
		{alert.GroupPolicy{}, "r1", alert.DefaultGroupWait, alert.DefaultGroupInterval},
		{alert.GroupPolicy{By: []string{"pipeline", "severity"}, Wait: "0s", Interval: "1s"}, "r1|pipeline=ETL_Vendas|severity=warning", 0, time.Second},
	} {
		r := slowRule()
		r.Group = tc.group
		h := newHarness(t, t0, alert.Config{}, r)
		h.finish("succeeded", t0, 7*time.Minute)
		h.out.mu.Lock()
		in := h.out.batches[0].Notifications[0]
		h.out.mu.Unlock()
		if in.Notification.GroupKey != tc.wantKey || in.GroupWait != tc.wait || in.GroupInterval != tc.interv {
			t.Errorf("group %+v: key %q wait %s interval %s, want %q %s %s", tc.group, in.Notification.GroupKey,
				in.GroupWait, in.GroupInterval, tc.wantKey, tc.wait, tc.interv)
		}
		if in.Notification.Status != sdk.NotificationFiring {
			t.Errorf("status %s", in.Notification.Status)
		}
	}
}

func TestCompile_groupPolicy(t *testing.T) {
	r := slowRule()
	r.Group = alert.GroupPolicy{By: []string{"pipeline", "bad-label", "pipeline"}, Wait: "soon", Interval: "-1s", Repeat: "10s"}
	err := r.Validate()
	ps, ok := err.(alert.Problems)
	if !ok {
		t.Fatalf("error %v, want Problems", err)
	}
	want := map[string]bool{"/group/by/1": false, "/group/by/2": false, "/group/wait": false, "/group/interval": false, "/group/repeat": false}
	for _, p := range ps {
		if _, ok := want[p.Field]; ok {
			want[p.Field] = true
		}
	}
	for f, seen := range want {
		if !seen {
			t.Errorf("no problem reported for %s: %v", f, ps)
		}
	}
}

// TestEngine_historyIsNotNotified: runs that ended before the rule's
// NotifyFrom (its creation) move its alerts but notify nobody; the first
// run after it notifies as usual, and the resolve of an episode nobody
// heard of sends nothing.
func TestEngine_historyIsNotNotified(t *testing.T) {
	r := baseRule(alert.Condition{RunFailed: &alert.RunFailed{}})
	r.NotifyFrom = t0.Add(time.Hour)
	h := newHarness(t, t0, alert.Config{}, r)
	h.finish("failed", t0, 10*time.Minute)
	if st := h.state(); st.State != alert.StateFiring || len(h.out.notifications()) != 0 {
		t.Fatalf("an old failure: state %s, %d notifications; want firing and none", st.State, len(h.out.notifications()))
	}
	if last := h.state().History; !strings.Contains(last[len(last)-1].Reason, "before the rule existed") {
		t.Errorf("history does not say why nothing was sent: %+v", last[len(last)-1])
	}
	h.finish("succeeded", t0.Add(2*time.Hour), time.Minute)
	equal(t, "resolve of an unnotified episode", h.out.statuses(), nil)
	h.finish("failed", t0.Add(3*time.Hour), time.Minute)
	equal(t, "a failure after the rule existed", h.out.statuses(), []string{"firing"})

	// Many old episodes: none notified, and they do not make the series
	// look flapping; left firing, the next live failure notifies it once.
	h2 := newHarness(t, t0, alert.Config{}, r)
	for i := range 10 {
		h2.finish("failed", t0.Add(time.Duration(2*i)*time.Minute), 10*time.Second)
		h2.finish("succeeded", t0.Add(time.Duration(2*i+1)*time.Minute), 10*time.Second)
	}
	h2.finish("failed", t0.Add(30*time.Minute), 10*time.Second)
	if st := h2.state(); st.State != alert.StateFiring || len(st.Resolves) != 0 || len(h2.out.notifications()) != 0 {
		t.Fatalf("after old episodes: state %s, %d resolves counted, %d notifications; want firing, 0, 0", st.State, len(st.Resolves), len(h2.out.notifications()))
	}
	h2.finish("failed", t0.Add(2*time.Hour), time.Minute)
	h2.finish("failed", t0.Add(3*time.Hour), time.Minute)
	equal(t, "live failures of an alert history left firing", h2.out.statuses(), []string{"firing"})
	h2.finish("succeeded", t0.Add(4*time.Hour), time.Minute)
	equal(t, "and its live resolve", h2.out.statuses(), []string{"firing", "resolved"})
}
