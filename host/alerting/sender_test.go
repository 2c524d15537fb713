package alerting_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/puod/puod/host/alert"
	"github.com/puod/puod/host/alerting"
	"github.com/puod/puod/host/notify"
	"github.com/puod/puod/host/plugins"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/host/store/storetest"
	"github.com/puod/puod/sdk"
)

// fakeSinks is the manager-facing PluginSinks: one plugin answering
// result, or err for every lookup.
type fakeSinks struct {
	err    error
	result sdk.NotifyResult

	mu        sync.Mutex
	looked    []string
	instances []string
}

func (f *fakeSinks) Sink(pluginID string) (notify.SinkClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looked = append(f.looked, pluginID)
	if f.err != nil {
		return nil, f.err
	}
	return fakeClient{f}, nil
}

type fakeClient struct{ f *fakeSinks }

func (c fakeClient) Notify(_ context.Context, instanceID string, _ sdk.Notification) (sdk.NotifyResult, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.instances = append(c.f.instances, instanceID)
	return c.f.result, nil
}

// TestSinkSender goes through the notify worker, so each case shows how
// the outbox row ends: delivered, dead (permanent) or pending for a retry.
func TestSinkSender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		deleteSource bool
		sinks        *fakeSinks
		wantState    string
		wantAttempts int
		wantError    string
		wantLookups  int
	}{
		{name: "delivered through the source's plugin", sinks: &fakeSinks{result: sdk.NotifyResult{Outcome: sdk.Delivered}},
			wantState: store.NotificationDelivered, wantLookups: 1},
		{name: "a sink source that no longer exists is a permanent failure", deleteSource: true,
			sinks:     &fakeSinks{result: sdk.NotifyResult{Outcome: sdk.Delivered}},
			wantState: store.NotificationDead, wantAttempts: 1, wantError: "does not exist", wantLookups: 0},
		{name: "an unknown plugin is retried", sinks: &fakeSinks{err: fmt.Errorf("plugin puod.slack: %w", plugins.ErrUnknownPlugin)},
			wantState: store.NotificationPending, wantAttempts: 1, wantError: "unknown plugin", wantLookups: 1},
		{name: "a plugin not running is retried", sinks: &fakeSinks{err: fmt.Errorf("plugin puod.slack: %w", plugins.ErrNotRunning)},
			wantState: store.NotificationPending, wantAttempts: 1, wantError: "not running", wantLookups: 1},
		{name: "the plugin's permanent refusal is a dead letter",
			sinks:     &fakeSinks{result: sdk.NotifyResult{Outcome: sdk.Permanent, Reason: "channel_not_found"}},
			wantState: store.NotificationDead, wantAttempts: 1, wantError: "channel_not_found", wantLookups: 1},
		{name: "the plugin's retryable answer is retried",
			sinks:     &fakeSinks{result: sdk.NotifyResult{Outcome: sdk.Retryable, Reason: "rate limited"}},
			wantState: store.NotificationPending, wantAttempts: 1, wantError: "rate limited", wantLookups: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
				t.Parallel()
				ctx, profileID := tenant(t, db)
				src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.slack", Name: "slack", Enabled: true})
				if err != nil {
					t.Fatal(err)
				}
				if tc.deleteSource {
					if err := db.Sources().Delete(ctx, src.ID); err != nil {
						t.Fatal(err)
					}
				}
				sinks := &fakeSinks{err: tc.sinks.err, result: tc.sinks.result}
				w := newWorker(t, db, alerting.SinkSender(db, sinks))
				in := intent(profileID, "r1", "fp1", 1, sdk.NotificationFiring, nil)
				in.Sinks = []string{src.ID}
				if _, err := w.Enqueue(ctx, []alert.Intent{in}); err != nil {
					t.Fatal(err)
				}
				if _, err := w.Drain(ctx); err != nil {
					t.Fatal(err)
				}
				rows := outboxRows(t, ctx, db)
				if len(rows) != 1 {
					t.Fatalf("rows: %+v", rows)
				}
				r := rows[0]
				if r.State != tc.wantState || r.Attempts != tc.wantAttempts || !strings.Contains(r.LastError, tc.wantError) {
					t.Errorf("row: state %q, attempts %d, last error %q; want %q, %d, containing %q",
						r.State, r.Attempts, r.LastError, tc.wantState, tc.wantAttempts, tc.wantError)
				}
				sinks.mu.Lock()
				defer sinks.mu.Unlock()
				if len(sinks.looked) != tc.wantLookups {
					t.Errorf("plugin lookups: %v, want %d", sinks.looked, tc.wantLookups)
				}
				for _, id := range sinks.looked {
					if id != "puod.slack" {
						t.Errorf("looked up plugin %q, want the source's puod.slack", id)
					}
				}
				for _, id := range sinks.instances {
					if id != src.ID {
						t.Errorf("plugin called for instance %q, want the source id %s", id, src.ID)
					}
				}
			})
		})
	}
}

// TestSinkSender_lookupFollowsChanges: the sender remembers sink lookups,
// but a source deleted after a send is seen at the next one (the store's
// generation moved), not after the cache's TTL.
func TestSinkSender_lookupFollowsChanges(t *testing.T) {
	t.Parallel()
	storetest.ForEachDialect(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx, profileID := tenant(t, db)
		src, err := db.Sources().Create(ctx, store.SourceInput{PluginID: "puod.slack", Name: "slack", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		sinks := &fakeSinks{result: sdk.NotifyResult{Outcome: sdk.Delivered}}
		w := newWorker(t, db, alerting.SinkSender(db, sinks))
		send := func(fp string) store.Notification {
			t.Helper()
			in := intent(profileID, "r1", fp, 1, sdk.NotificationFiring, nil)
			in.Sinks = []string{src.ID}
			if _, err := w.Enqueue(ctx, []alert.Intent{in}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			for _, r := range outboxRows(t, ctx, db) {
				if r.Fingerprint == fp {
					return r
				}
			}
			t.Fatalf("no row for %s", fp)
			return store.Notification{}
		}
		if r := send("fp1"); r.State != store.NotificationDelivered {
			t.Fatalf("first send: %s (%s)", r.State, r.LastError)
		}
		if err := db.Sources().Delete(ctx, src.ID); err != nil {
			t.Fatal(err)
		}
		if r := send("fp2"); r.State != store.NotificationDead || !strings.Contains(r.LastError, "does not exist") {
			t.Fatalf("send after the sink was deleted: %s (%q), want a dead letter saying it does not exist", r.State, r.LastError)
		}
	})
}
