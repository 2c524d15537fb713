package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"

	airflowsim "github.com/puod/puod/plugins/sim/airflow"
)

var apis = []airflowsim.API{airflowsim.V1, airflowsim.V2}

// inWindow lists the simulator's runs a full sync at the clock's now must
// deliver: updated by now - settle.
func inWindow(w *world) map[string]bool {
	upper := w.clock.Now().Add(-settle)
	out := map[string]bool{}
	for id, r := range simIDs(w.sim) {
		if !r.UpdatedAt.After(upper) {
			out[id] = true
		}
	}
	return out
}

func missingIDs(want map[string]bool, got map[string]sdk.Run) []string {
	var out []string
	for id := range want {
		if _, ok := got[id]; !ok {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func TestListRuns_multiPage(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, history: 30 * time.Hour, maxPage: 100})
			in := w.instance(t, map[string]any{"page_size": 25})
			s := poll(t, in, "")
			want := inWindow(w)
			got := map[string]sdk.Run{}
			for i, b := range s.Batches {
				if len(b.Runs) > 25 {
					t.Errorf("batch %d has %d runs, above the page size", i, len(b.Runs))
				}
				for _, r := range b.Runs {
					if _, dup := got[r.ExternalID]; dup {
						t.Errorf("run %s sent twice in one sync", r.ExternalID)
					}
					got[r.ExternalID] = r
				}
			}
			if len(want) < 100 || len(got) != len(want) {
				t.Errorf("sync delivered %d runs, the simulator holds %d in the window", len(got), len(want))
			}
			if lost := missingIDs(want, got); len(lost) > 0 {
				t.Errorf("lost runs: %v", lost)
			}
			nonEmpty := 0
			for _, b := range s.Batches {
				if len(b.Runs) > 0 {
					nonEmpty++
				}
			}
			if nonEmpty < 4 {
				t.Errorf("%d runs came in %d non-empty batches: paging was not exercised", len(got), nonEmpty)
			}
			// The requests are the documented ones.
			var lists int
			for _, r := range w.sim.Requests() {
				if strings.HasSuffix(r.Path, "/dags/~/dagRuns") {
					lists++
					q, _ := url.ParseQuery(r.Query)
					if q.Get("order_by") != "id" || q.Get("limit") != "25" || q.Get("updated_at_gte") == "" || q.Get("updated_at_lte") == "" {
						t.Errorf("list request %s?%s lacks the documented parameters", r.Path, r.Query)
					}
				}
			}
			if lists < 5 {
				t.Errorf("only %d list requests", lists)
			}
		})
	}
}

func TestListRuns_retriesRateLimitsAndOutages(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(strconvItoa(status), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: airflowsim.V2, history: 6 * time.Hour})
			in := w.instance(t, map[string]any{"page_size": 20})
			w.sim.FailNext(2, status, 7*time.Second)
			s := poll(t, in, "")
			if got, want := len(s.IDs()), len(inWindow(w)); got != want {
				t.Errorf("after %d answers the sync delivered %d runs, want %d", status, got, want)
			}
			waits := w.waits()
			if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
				t.Errorf("waits %v, want Retry-After (7s) twice", waits)
			}
		})
	}
	t.Run("retry-after too long", func(t *testing.T) {
		w := newWorld(t, worldOpts{api: airflowsim.V1, history: 6 * time.Hour})
		c := w.connector(t, nil)
		w.sim.FailNext(1, 503, 10*time.Minute)
		_, err := collect(context.Background(), c, "")
		var e *sdk.Error
		if !errors.As(err, &e) || e.Kind != sdk.KindRetryable || e.RetryAfter != 10*time.Minute {
			t.Errorf("a 10 minute Retry-After: %v; want a retryable error carrying it", err)
		}
	})
}

func strconvItoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestListRuns_tokenExpiresMidSync(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: 12 * time.Hour})
	in := w.instance(t, map[string]any{"page_size": 10})
	// The version probe, the token, two pages: then every token dies.
	w.sim.AfterRequests(4, w.sim.ExpireTokens)
	s := poll(t, in, "")
	if got, want := len(s.IDs()), len(inWindow(w)); got != want {
		t.Errorf("sync delivered %d runs, want %d", got, want)
	}
	if n := w.sim.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2 (one refresh after the 401)", n)
	}
	var unauthorized int
	for _, r := range w.sim.Requests() {
		if r.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Errorf("%d requests answered 401, want exactly 1", unauthorized)
	}
}

func TestListRuns_tokenExpiresByItself(t *testing.T) {
	// Tokens live 2 minutes: the connector reads exp from the JWT and
	// renews before expiry, without any 401.
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: 6 * time.Hour, ttl: 2 * time.Minute})
	c := w.connector(t, nil)
	if _, err := collect(context.Background(), c, ""); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(90 * time.Second) // within the renewal skew of 60 s
	if _, err := collect(context.Background(), c, ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.sim.Requests() {
		if r.Status == 401 {
			t.Errorf("%s %s answered 401: the token was not renewed before it expired", r.Method, r.Path)
		}
	}
	if n := w.sim.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2", n)
	}
}

func TestListRuns_wrongCredentialsIsAnAuthError(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, history: time.Hour})
			c := w.connector(t, nil)
			c.client.cfg.Password = "not-the-password-123"
			_, err := collect(context.Background(), c, "")
			if !errors.Is(err, sdk.ErrAuth) {
				t.Fatalf("wrong password: %v, want an auth error", err)
			}
			if api == airflowsim.V1 && !strings.Contains(err.Error(), "basic_auth") {
				t.Errorf("Airflow 2 auth error does not name the basic_auth backend: %v", err)
			}
			if strings.Contains(err.Error(), "not-the-password-123") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestListRuns_malformedPage(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, history: 20 * time.Hour})
			in := w.instance(t, map[string]any{"page_size": 20})
			if _, err := in.Client.CheckHealth(context.Background(), in.ID()); err != nil { // warm up: probe and token
				t.Fatal(err)
			}
			w.sim.AfterRequests(3, func() { w.sim.MalformNext(1) })
			first, err := plugintest.Poll(in, "")
			var e *sdk.Error
			if !errors.As(err, &e) || e.Kind != sdk.KindDownstream {
				t.Fatalf("malformed page: %v, want a downstream error", err)
			}
			endpoint := "GET /api/" + string(api) + "/dags/~/dagRuns"
			if !strings.Contains(err.Error(), endpoint) || !strings.Contains(err.Error(), "malformed") {
				t.Errorf("error %q does not name the endpoint %q", err, endpoint)
			}
			if len(first.Batches) == 0 {
				t.Fatalf("no batch before the malformed page")
			}
			committed := first.Cursor()
			// Recovery: the next poll starts from the committed cursor.
			second := poll(t, in, committed)
			got := map[string]sdk.Run{}
			for _, r := range append(first.Runs(), second.Runs()...) {
				got[r.ExternalID] = r
			}
			if lost := missingIDs(inWindow(w), got); len(lost) > 0 {
				t.Errorf("runs lost across the malformed page: %v", lost)
			}
			for id := range second.IDs() {
				if first.IDs()[id] {
					t.Errorf("run %s was sent before the failure and again after it: the cursor did not point past it", id)
				}
			}
		})
	}
}

func TestListRuns_overlappingPagesAndReplayedCursor(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: 20 * time.Hour})
	in := w.instance(t, map[string]any{"page_size": 20})
	w.sim.OverlapPages(3)
	s := poll(t, in, "")
	seen := map[string]int{}
	for _, r := range s.Runs() {
		seen[r.ExternalID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("run %s sent %d times in one sync with overlapping pages", id, n)
		}
	}
	want := inWindow(w)
	if len(seen) != len(want) {
		t.Errorf("overlapping pages: %d runs, want %d", len(seen), len(want))
	}
	w.sim.OverlapPages(0)

	// Replay an intermediate cursor twice: the same runs, nothing lost.
	mid := s.Batches[len(s.Batches)/2]
	before := map[string]sdk.Run{}
	for _, b := range s.Batches[:len(s.Batches)/2+1] {
		for _, r := range b.Runs {
			before[r.ExternalID] = r
		}
	}
	a, b := poll(t, in, mid.NextCursor), poll(t, in, mid.NextCursor)
	if len(a.Runs()) != len(b.Runs()) {
		t.Errorf("replaying cursor %s gives %d then %d runs", mid.NextCursor, len(a.Runs()), len(b.Runs()))
	}
	for _, r := range a.Runs() {
		before[r.ExternalID] = r
	}
	if lost := missingIDs(want, before); len(lost) > 0 {
		t.Errorf("runs before the cursor plus runs after it lose %v", lost)
	}
}

// TestListRuns_runLeavesWindowBetweenPages: a run of page 1 is updated
// while the connector reads page 2, which shifts the window's rows back
// by one; the connector must notice and not skip the row that moved onto
// page 1.
func TestListRuns_runLeavesWindowBetweenPages(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V1, history: 3 * time.Hour})
	c := w.connector(t, map[string]any{"page_size": 10})
	if _, err := c.CheckHealth(context.Background()); err != nil {
		t.Fatal(err)
	}
	from := w.clock.Now().Add(-2 * time.Hour)
	var first airflowsim.Run
	for _, r := range w.sim.Runs() { // id order
		if !r.UpdatedAt.Before(from) {
			first = r
			break
		}
	}
	want := map[string]bool{}
	for id, r := range simIDs(w.sim) {
		if !r.UpdatedAt.Before(from) && !r.UpdatedAt.After(w.clock.Now().Add(-settle)) {
			want[id] = true
		}
	}
	w.sim.AfterRequests(1, func() { _ = w.sim.TouchRun(first.DagID, first.RunID) })
	cur := cursor{V: cursorVersion, From: from}.encode()
	bs, err := collect(context.Background(), c, cur)
	if err != nil {
		t.Fatal(err)
	}
	got := runIDs(bs)
	if lost := missingIDs(want, got); len(lost) > 0 {
		t.Errorf("a run leaving the window made the sync skip %v", lost)
	}
	if countRuns(bs) != len(got) {
		t.Errorf("%d runs sent, %d distinct: re-reads were not de-duplicated", countRuns(bs), len(got))
	}
}

func TestListRuns_runningThenFinished(t *testing.T) {
	for _, api := range apis {
		t.Run(string(api), func(t *testing.T) {
			w := newWorld(t, worldOpts{api: api, history: 2 * time.Hour})
			in := w.instance(t, nil)
			r, err := w.sim.AddRun(airflowsim.RunSpec{DagID: "dag_vendas_export", State: "running", User: "ana.souza",
				QueuedAt: w.clock.Now().Add(-3 * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			id := r.DagID + "/" + r.RunID
			w.clock.Advance(time.Minute)
			s1 := poll(t, in, "")
			got1 := runsOf(s1)[id]
			if got1.State != sdk.StateRunning || !got1.EndedAt.IsZero() || got1.RawState != "running" {
				t.Fatalf("first poll: %+v, want running without end", got1)
			}
			w.clock.Advance(9 * time.Minute)
			if err := w.sim.FinishRun(r.DagID, r.RunID, "failed"); err != nil {
				t.Fatal(err)
			}
			end := w.clock.Now()
			w.clock.Advance(time.Minute)
			s2 := poll(t, in, s1.Cursor())
			got2, ok := runsOf(s2)[id]
			if !ok {
				t.Fatalf("the next poll does not bring the finished run %s", id)
			}
			if got2.State != sdk.StateFailed || !got2.EndedAt.Equal(end) || got2.Duration <= 0 {
				t.Errorf("second poll: state %s ended %v duration %v; want failed, ended %v", got2.State, got2.EndedAt, got2.Duration, end)
			}
			if !strings.Contains(got2.ErrorMessage, "failed") || len(got2.Tasks) == 0 {
				t.Errorf("failed run without its failing task: %q, %d tasks", got2.ErrorMessage, len(got2.Tasks))
			}
		})
	}
}

func runsOf(s interface{ Runs() []sdk.Run }) map[string]sdk.Run {
	out := map[string]sdk.Run{}
	for _, r := range s.Runs() {
		out[r.ExternalID] = r
	}
	return out
}

func TestListRuns_unknownStateKeepsThePreviousOne(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: time.Hour})
	c := w.connector(t, nil)
	var logs strings.Builder
	c.states = newStateTracker(hclogTo(&logs))
	known, _ := w.sim.AddRun(airflowsim.RunSpec{DagID: "dag_vendas_export", State: "queued"})
	fresh, _ := w.sim.AddRun(airflowsim.RunSpec{DagID: "dag_vendas_export", RunID: "manual__fresh", State: "queued"})
	w.clock.Advance(time.Minute)
	bs, err := collect(context.Background(), c, "")
	if err != nil {
		t.Fatal(err)
	}
	cur := lastCursor("", bs)
	_ = w.sim.SetRunState(known.DagID, known.RunID, "paused_by_operator")
	_ = w.sim.SetRunState(fresh.DagID, fresh.RunID, "paused_by_operator")
	w.clock.Advance(time.Minute)
	// A new run seen first with the unknown value.
	third, _ := w.sim.AddRun(airflowsim.RunSpec{DagID: "dag_vendas_export", RunID: "manual__third", State: "paused_by_operator"})
	w.clock.Advance(time.Minute)
	bs, err = collect(context.Background(), c, cur)
	if err != nil {
		t.Fatal(err)
	}
	got := runIDs(bs)
	if r := got[known.DagID+"/"+known.RunID]; r.State != sdk.StateQueued || r.RawState != "paused_by_operator" {
		t.Errorf("known run: %s (raw %q), want its previous state queued with the raw value kept", r.State, r.RawState)
	}
	if r := got[third.DagID+"/"+third.RunID]; r.State != sdk.StateRunning || r.RawState != "paused_by_operator" {
		t.Errorf("run first seen with an unknown state: %s (raw %q), want running", r.State, r.RawState)
	}
	if n := strings.Count(logs.String(), "paused_by_operator"); n != 1 {
		t.Errorf("the unknown value is logged %d times, want once: %s", n, logs.String())
	}
}

func TestListRuns_dagFilterAndPercentEncoding(t *testing.T) {
	w := newWorld(t, worldOpts{api: airflowsim.V2, history: 8 * 24 * time.Hour})
	c := w.connector(t, map[string]any{"dag_ids": []string{"dag_finance_close"}, "task_instances": "all"})
	bs, err := collect(context.Background(), c, "")
	if err != nil {
		t.Fatal(err)
	}
	got := runIDs(bs)
	if len(got) == 0 {
		t.Fatal("no dag_finance_close runs")
	}
	for id, r := range got {
		if r.PipelineExternalID != "dag_finance_close" {
			t.Errorf("run %s of another DAG", id)
		}
		if len(r.Tasks) != 4 {
			t.Errorf("run %s has %d tasks, want 4", id, len(r.Tasks))
		}
	}
	var encoded int
	for _, r := range w.sim.Requests() {
		if strings.HasSuffix(r.Path, "/taskInstances") {
			if !strings.Contains(r.Path, "%3A") || !strings.Contains(r.Path, "%2B00%3A00") || r.Status != 200 {
				t.Errorf("task instance request %s (%d): the run id is not percent-encoded", r.Path, r.Status)
			}
			encoded++
		}
	}
	if encoded != len(got) {
		t.Errorf("%d task instance requests for %d runs", encoded, len(got))
	}
}

func hclogTo(b *strings.Builder) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: b, Level: hclog.Warn})
}
