package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// expectedIDs is what a first sync at the clock's time must deliver: the
// simulator's runs whose lastUpdated is within the window.
func expectedIDs(t testing.TB, e *testEnv, lookback time.Duration) map[string]bool {
	t.Helper()
	end := e.clock.Now().Add(-settle)
	out := map[string]bool{}
	for _, r := range e.sim.Runs() {
		lu, err := time.Parse(time.RFC3339Nano, r.LastUpdated)
		if err != nil {
			t.Fatal(err)
		}
		if !lu.Before(end.Add(-lookback)) && !lu.After(end) {
			out[r.RunID] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("the simulator has no run in the window")
	}
	return out
}

func sameSet(t testing.TB, what string, got, want map[string]bool) {
	t.Helper()
	var lost, extra []string
	for id := range want {
		if !got[id] {
			lost = append(lost, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	if len(lost) > 0 || len(extra) > 0 {
		t.Errorf("%s: %d runs lost %v, %d unexpected %v", what, len(lost), firstIDs(lost), len(extra), firstIDs(extra))
	}
}

func firstIDs(ids []string) []string {
	slices.Sort(ids)
	if len(ids) > 5 {
		return ids[:5]
	}
	return ids
}

func noDuplicates(t testing.TB, s *plugintest.Sync) {
	t.Helper()
	if _, n := byID(s.Runs()); len(n) != len(s.Runs()) {
		for id, k := range n {
			if k > 1 {
				t.Errorf("run %s delivered %d times in one sync", id, k)
			}
		}
	}
}

// listWith runs one ListRuns through the wire; it returns the committed
// cursor (that of the last batch received) and the runs.
func listWith(t testing.TB, in *plugintest.Instance, cursor string) (string, []sdk.Run, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed := cursor
	var runs []sdk.Run
	err := in.Client.ListRuns(ctx, in.ID(), cursor, 0, func(b sdk.RunBatch) error {
		runs = append(runs, b.Runs...)
		committed = b.NextCursor
		return nil
	})
	return committed, runs, err
}

func ids(runs []sdk.Run) map[string]bool {
	out := map[string]bool{}
	for _, r := range runs {
		out[r.ExternalID] = true
	}
	return out
}

func TestSync_multiPage(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 10, History: 6 * time.Hour}, map[string]any{"initial_lookback": "6h"})
	in := e.served(t)
	want := expectedIDs(t, e, 6*time.Hour)
	full := mustPoll(t, in, "")
	if len(full.Batches) < len(want)/10 {
		t.Errorf("%d runs came in %d batches: want one batch per page of 10", len(want), len(full.Batches))
	}
	noDuplicates(t, full)
	sameSet(t, "multi-page sync", full.IDs(), want)
	for i, b := range full.Batches {
		c, err := parseCursor(b.NextCursor)
		if err != nil {
			t.Fatalf("batch %d cursor %q: %v", i, b.NextCursor, err)
		}
		last := i == len(full.Batches)-1
		if (c.Page == nil) != last {
			t.Errorf("batch %d: page cursor %v; only the last batch ends the window", i, c.Page)
		}
		if last && !c.After.Equal(e.clock.Now().Add(-settle)) {
			t.Errorf("final cursor after %s, want the window end %s", c.After, e.clock.Now().Add(-settle))
		}
	}
	for _, r := range full.Runs() {
		if err := plugintest.ValidateRun(r); err != nil {
			t.Errorf("run %s: %v", r.ExternalID, err)
		}
		if !strings.HasPrefix(r.URL, "https://web.azuresynapse.net/en/monitoring/pipelineruns/"+r.ExternalID+"?workspace=%2Fsubscriptions%2F") {
			t.Errorf("run URL %s does not open the run in Synapse Studio", r.URL)
		}
	}
}

func TestSync_windowsOfAtMostADay(t *testing.T) {
	e := newEnv(t, synapsesim.Options{History: 72 * time.Hour}, map[string]any{"initial_lookback": "3d"})
	in := e.served(t)
	full := mustPoll(t, in, "")
	sameSet(t, "three-day first sync", full.IDs(), expectedIDs(t, e, 72*time.Hour))
	for _, r := range e.sim.Requests() {
		if !strings.HasSuffix(r.Path, "/queryPipelineRuns") {
			continue
		}
		var f runFilter
		_ = json.Unmarshal(r.Body, &f)
		a, _ := time.Parse(time.RFC3339Nano, f.LastUpdatedAfter)
		b, _ := time.Parse(time.RFC3339Nano, f.LastUpdatedBefore)
		if len(f.Filters) == 0 && b.Sub(a) > maxWindow {
			t.Errorf("a sync window spans %s: keep windows to a day", b.Sub(a))
		}
		if r.Query.Get("api-version") != "2020-12-01" {
			t.Errorf("request without api-version: %v", r.Query)
		}
	}
}

func TestSync_throttling(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, status  int
		retryAfter time.Duration
		// wantKind "" means the poll succeeds.
		wantKind sdk.ErrorKind
	}{
		{"429 with Retry-After then success", 2, http.StatusTooManyRequests, 3 * time.Second, ""},
		{"503 without Retry-After then success", 2, http.StatusServiceUnavailable, 0, ""},
		{"429 asking for longer than a poll waits", 1, http.StatusTooManyRequests, 5 * time.Minute, sdk.KindRetryable},
		{"503 that does not end", 20, http.StatusServiceUnavailable, 0, sdk.KindRetryable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, synapsesim.Options{PageSize: 25, History: 3 * time.Hour}, nil)
			in := e.served(t)
			first := mustPoll(t, in, "")
			e.clock.Advance(20 * time.Minute)
			e.sim.FailNext(tc.n, tc.status, tc.retryAfter)
			s, err := plugintest.Poll(in, first.Cursor())
			if tc.wantKind == "" {
				if err != nil {
					t.Fatalf("poll after %d× %d: %v", tc.n, tc.status, err)
				}
				waits := e.sleeps.all()
				if len(waits) != tc.n {
					t.Fatalf("waited %v, want %d waits", waits, tc.n)
				}
				for _, w := range waits {
					if tc.retryAfter > 0 && w != tc.retryAfter {
						t.Errorf("waited %s, want the Retry-After %s", w, tc.retryAfter)
					}
					if tc.retryAfter == 0 && (w <= 0 || w > 30*time.Second) {
						t.Errorf("backoff %s out of bounds", w)
					}
				}
				all := ids(first.Runs())
				for id := range s.IDs() {
					all[id] = true
				}
				sameSet(t, "after throttling", all, expectedIDs(t, e, 3*time.Hour+20*time.Minute))
				return
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != tc.wantKind || !strings.Contains(se.Message, "POST /queryPipelineRuns") {
				t.Fatalf("poll: %v; want a %s error naming the endpoint", err, tc.wantKind)
			}
			if tc.retryAfter > 0 && se.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %s, want %s passed on to the host", se.RetryAfter, tc.retryAfter)
			}
			if len(s.Batches) != 0 {
				t.Errorf("%d batches sent before the failure: the cursor must not move", len(s.Batches))
			}
		})
	}
}

func TestSync_tokenExpiresMidSync(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 10, History: 4 * time.Hour}, map[string]any{"initial_lookback": "4h"})
	in := e.served(t)
	// The tokens expire once two pages were read: the third page's
	// request meets a 401.
	e.onPageQuery(3, e.sim.ExpireTokens)
	_, runs, err := listWith(t, in, "")
	if err != nil {
		t.Fatalf("the sync did not survive the token expiring: %v", err)
	}
	sameSet(t, "sync across a token expiry", ids(runs), expectedIDs(t, e, 4*time.Hour))
	if n := e.sim.CountRequests("/oauth2/v2.0/token"); n != 2 {
		t.Errorf("%d token requests, want 2 (one refresh after the 401)", n)
	}
	unauthorized := 0
	for _, r := range e.sim.Requests() {
		if r.Status == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Errorf("%d answers 401, want 1", unauthorized)
	}
}

func TestSync_refusedCredentialsAreAuthErrors(t *testing.T) {
	t.Run("client secret refused", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
		e.secrets = map[string]string{"client_secret": leakSecret}
		in := e.served(t)
		_, err := plugintest.Poll(in, "")
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindAuth || !strings.Contains(se.Message, "AADSTS7000215") {
			t.Fatalf("poll: %v; want an auth error with Entra's code", err)
		}
		if strings.Contains(err.Error(), leakSecret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	})
	t.Run("static token expired", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, map[string]any{"tenant_id": nil, "client_id": nil, "token_url": nil})
		e.secrets = map[string]string{"access_token": e.sim.IssueToken()}
		in := e.served(t)
		mustPoll(t, in, "")
		e.sim.ExpireTokens()
		e.clock.Advance(time.Minute)
		_, err := plugintest.Poll(in, "")
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindAuth || !strings.Contains(se.Message, "401") {
			t.Fatalf("poll: %v; want an auth error after the one retry", err)
		}
		if strings.Contains(err.Error(), e.secrets["access_token"]) {
			t.Errorf("the error shows the token: %v", err)
		}
	})
}

func TestSync_malformedPage(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 10, History: 4 * time.Hour}, map[string]any{"initial_lookback": "4h"})
	in := e.served(t)
	var before string
	// The third page comes back malformed, after two pages were sent.
	e.onPageQuery(3, func() { e.sim.MalformNext(1) })
	committed, runs, err := listWith(t, in, "")
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindDownstream || !strings.Contains(se.Message, "POST /queryPipelineRuns") || !strings.Contains(se.Message, "malformed") {
		t.Fatalf("poll over a malformed page: %v; want a downstream error naming POST /queryPipelineRuns", err)
	}
	c, perr := parseCursor(committed)
	if perr != nil || c.Page == nil {
		t.Fatalf("the committed cursor %q should be the second page's", committed)
	}
	// The second page's cursor holds the token the malformed request sent.
	var last struct {
		ContinuationToken string `json:"continuationToken"`
	}
	for _, r := range e.sim.Requests() {
		if r.Path == "/queryPipelineRuns" && !strings.Contains(string(r.Body), "RunGroupId") {
			_ = json.Unmarshal(r.Body, &last)
		}
	}
	if c.Page.Token != last.ContinuationToken {
		t.Fatalf("the committed cursor's token %q is not the one of the malformed page's request %q", c.Page.Token, last.ContinuationToken)
	}
	before = committed
	// The next poll starts from the committed cursor and loses nothing.
	after, runs2, err := listWith(t, in, before)
	if err != nil {
		t.Fatalf("the poll after the malformed page: %v", err)
	}
	all := ids(runs)
	for id := range ids(runs2) {
		all[id] = true
	}
	sameSet(t, "malformed page then recovery", all, expectedIDs(t, e, 4*time.Hour))
	for id := range ids(runs2) {
		if ids(runs)[id] {
			t.Errorf("run %s sent again after the recovery: the committed cursor was past it", id)
		}
	}
	if after == before {
		t.Error("the recovering poll did not move the cursor")
	}
}

func TestSync_overlappingPagesAndReplayedCursor(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 10, History: 4 * time.Hour}, map[string]any{"initial_lookback": "4h"})
	in := e.served(t)
	want := expectedIDs(t, e, 4*time.Hour)
	e.sim.OverlapNextPages(100, 4)
	full := mustPoll(t, in, "")
	noDuplicates(t, full)
	sameSet(t, "sync over overlapping pages", full.IDs(), want)

	// Replaying an old cursor (the host lost a commit) re-sends only runs
	// already seen, and with the earlier batches nothing is lost.
	for _, k := range []int{0, 2, len(full.Batches) - 2} {
		replay := mustPoll(t, in, full.Batches[k].NextCursor)
		got := map[string]bool{}
		for _, b := range full.Batches[:k+1] {
			for _, r := range b.Runs {
				got[r.ExternalID] = true
			}
		}
		for _, r := range replay.Runs() {
			if !want[r.ExternalID] {
				t.Errorf("replay from batch %d delivers unknown run %s", k, r.ExternalID)
			}
			got[r.ExternalID] = true
		}
		sameSet(t, "replay", got, want)
	}
	if again := mustPoll(t, in, full.Cursor()); len(again.Runs()) != 0 {
		t.Errorf("replaying the final cursor re-sends %d unchanged runs", len(again.Runs()))
	}
}

func TestSync_runningThenFinished(t *testing.T) {
	e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
	in := e.served(t)
	id, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "ETL_Vendas", Parameters: map[string]string{"p_data_ref": "2026-11-17"}})
	done, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "pl_customers_sync", Duration: 20 * time.Second})
	e.clock.Advance(time.Minute)
	first := mustPoll(t, in, "")
	runs, _ := byID(first.Runs())
	r, ok := runs[id]
	if !ok || r.State != sdk.StateRunning || r.RawState != "InProgress" || !r.EndedAt.IsZero() || r.Duration != 0 || !r.StartedAt.Equal(t0) {
		t.Fatalf("running run: %+v", r)
	}
	if r.Attributes["param.p_data_ref"] != "2026-11-17" || r.Attributes["invoked_by_type"] != "Manual" || r.Attempt != 1 {
		t.Errorf("attributes %v attempt %d", r.Attributes, r.Attempt)
	}
	if runs[done].State != sdk.StateSucceeded {
		t.Errorf("finished run: %+v", runs[done])
	}

	e.clock.Advance(6 * time.Minute)
	if err := e.sim.FinishRun(id, "Succeeded", ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	second := mustPoll(t, in, first.Cursor())
	if len(second.Runs()) != 1 {
		t.Fatalf("second poll sent %d runs, want only the one that changed", len(second.Runs()))
	}
	r = second.Runs()[0]
	if r.ExternalID != id || r.State != sdk.StateSucceeded || !r.EndedAt.Equal(t0.Add(7*time.Minute)) || r.Duration != 7*time.Minute {
		t.Fatalf("finished run: %+v", r)
	}
	e.clock.Advance(time.Hour)
	if third := mustPoll(t, in, second.Cursor()); len(third.Runs()) != 0 || third.Cursor() == second.Cursor() {
		t.Errorf("a quiet hour: %d runs, cursor moved %v", len(third.Runs()), third.Cursor() != second.Cursor())
	}
}

func TestSync_cancellingAndUnknownStatuses(t *testing.T) {
	e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
	in := e.served(t)
	queued, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "ETL_Vendas", Status: "Queued"})
	odd, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "pl_orders_incremental", Status: "Hibernating"})
	cancelled, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "pl_customers_sync"})
	e.clock.Advance(time.Minute)
	s := mustPoll(t, in, "")
	runs, _ := byID(s.Runs())
	if r := runs[queued]; r.State != sdk.StateQueued || !r.QueuedAt.Equal(t0) || !r.StartedAt.IsZero() {
		t.Errorf("queued run: %+v", r)
	}
	if r := runs[odd]; r.State != sdk.StateRunning || r.RawState != "Hibernating" {
		t.Errorf("unknown status on first sight: %+v, want running with the raw value", r)
	}
	_ = e.sim.SetStatus(queued, "Throttled", "")
	_ = e.sim.CancelRun(cancelled)
	e.clock.Advance(40 * time.Second)
	_ = e.sim.SetStatus(cancelled, "Canceling", "") // still cancelling at this poll
	e.clock.Advance(40 * time.Second)
	s2 := mustPoll(t, in, s.Cursor())
	runs, _ = byID(s2.Runs())
	if r := runs[queued]; r.State != sdk.StateQueued || r.RawState != "Throttled" {
		t.Errorf("unknown status after queued: %+v, want queued kept with the raw value", r)
	}
	if r := runs[cancelled]; r.State != sdk.StateCancelled || r.RawState != "Canceling" || !r.EndedAt.IsZero() {
		t.Errorf("cancelling run: %+v", r)
	}
	_ = e.sim.FinishRun(cancelled, "Cancelled", "")
	e.clock.Advance(time.Minute)
	runs, _ = byID(mustPoll(t, in, s2.Cursor()).Runs())
	if r := runs[cancelled]; r.State != sdk.StateCancelled || r.RawState != "Cancelled" || r.EndedAt.IsZero() {
		t.Errorf("cancelled run: %+v", r)
	}
}

func TestSync_recoveryRerunsAndActivities(t *testing.T) {
	e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
	e.sim.AddPipeline(synapsesim.DefaultScenario()[0]) // pl_sales_load, its definition only
	e.clock.Set(t0.Add(-3 * time.Hour))
	const msg = "Operation on target Lookup_Watermark failed: the watermark table is locked"
	orig, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "pl_sales_load", Duration: 7 * time.Minute, FinalStatus: "Failed", Message: msg})
	e.clock.Advance(30 * time.Minute)
	rerun1, _ := e.sim.StartRun(synapsesim.RunSpec{RecoveryOf: orig, Duration: 2 * time.Minute, FinalStatus: "Failed", Message: msg})
	e.clock.Advance(30 * time.Minute)
	rerun2, _ := e.sim.StartRun(synapsesim.RunSpec{RecoveryOf: orig})
	e.clock.Set(t0)
	in := e.served(t)
	runs, _ := byID(mustPoll(t, in, "").Runs())
	for _, tc := range []struct {
		id      string
		attempt int
		state   sdk.RunState
	}{{orig, 1, sdk.StateFailed}, {rerun1, 2, sdk.StateFailed}, {rerun2, 3, sdk.StateRunning}} {
		r := runs[tc.id]
		if r.Attempt != tc.attempt || r.State != tc.state || r.Attributes["run_group_id"] != orig {
			t.Errorf("run %s: attempt %d state %s group %s; want attempt %d, %s, group %s", tc.id, r.Attempt, r.State, r.Attributes["run_group_id"], tc.attempt, tc.state, orig)
		}
	}
	r := runs[orig]
	if r.ErrorMessage != msg || len(r.Tasks) != 1 || r.Tasks[0].Name != "Lookup_Watermark" || r.Tasks[0].State != sdk.StateFailed ||
		r.Tasks[0].ErrorMessage != "the watermark table is locked" || r.Attributes["failed_activity"] != "Lookup_Watermark" {
		t.Errorf("failed run with its activities: %+v", r)
	}
	if len(runs[rerun2].Tasks) != 0 {
		t.Errorf("activity runs fetched for a running run with activity_runs=failed")
	}
}

func TestSync_cursorRobustness(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PageSize: 10, History: 2 * time.Hour}, map[string]any{"initial_lookback": "2h"})
	in := e.served(t)
	want := expectedIDs(t, e, 2*time.Hour)
	for _, bad := range []string{"not json", `{"v":9,"after":"2026-11-17T00:00:00Z"}`, `{"v":1,"after":"2026-11-17T00:00:00Z","page":{"from":"2026-11-17T01:00:00Z","to":"2026-11-17T00:00:00Z","token":"x"}}`} {
		s := mustPoll(t, in, bad)
		sameSet(t, "unreadable cursor "+bad, s.IDs(), want)
	}
	// An expired continuation token: the window is read again from its
	// start, nothing lost.
	full := mustPoll(t, in, "")
	c, _ := parseCursor(full.Batches[1].NextCursor)
	c.Page.Token = "+RID:~expired#RT:9"
	s, err := plugintest.Poll(in, c.encode())
	if err != nil {
		t.Fatalf("poll with a refused continuation token: %v", err)
	}
	got := map[string]bool{}
	for _, b := range full.Batches[:2] {
		for _, r := range b.Runs {
			got[r.ExternalID] = true
		}
	}
	for id := range s.IDs() {
		got[id] = true
	}
	sameSet(t, "after a refused continuation token", got, want)
}

func TestSync_pipelineFilter(t *testing.T) {
	e := newEnv(t, synapsesim.Options{History: 6 * time.Hour}, map[string]any{"pipelines": []string{"ETL_Vendas", "pl_customers_sync"}, "initial_lookback": "6h"})
	in := e.served(t)
	s := mustPoll(t, in, "")
	if len(s.Runs()) == 0 {
		t.Fatal("no run")
	}
	for _, r := range s.Runs() {
		if r.PipelineExternalID != "ETL_Vendas" && r.PipelineExternalID != "pl_customers_sync" {
			t.Errorf("run of %s delivered despite the filter", r.PipelineExternalID)
		}
	}
	ps, err := in.Client.ListPipelines(context.Background(), in.ID())
	if err != nil || len(ps) != 2 {
		t.Fatalf("pipelines: %v %v", ps, err)
	}
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/queryPipelineRuns") && !strings.Contains(string(r.Body), `"operand":"RunGroupId"`) &&
			!strings.Contains(string(r.Body), `"operand":"PipelineName","operator":"In"`) {
			t.Errorf("run query without the pipeline filter: %s", r.Body)
		}
	}
}

func TestPipelines_list(t *testing.T) {
	e := newEnv(t, synapsesim.Options{PipelinesPageSize: 2}, nil)
	in := e.served(t)
	ps := plugintest.CheckPipelines(t, in)
	if len(ps) != len(synapsesim.DefaultScenario()) {
		t.Fatalf("%d pipelines over nextLink pages, want %d", len(ps), len(synapsesim.DefaultScenario()))
	}
	for _, p := range ps {
		if p.ExternalID == "pl_sales_load" {
			if p.Attributes["folder"] != "vendas" || !slices.Contains(p.Tags, "dominio:vendas") || p.Attributes["activities"] != "3" ||
				!strings.HasPrefix(p.URL, "https://web.azuresynapse.net/en/authoring/orchestrate/pipeline/pl_sales_load?workspace=%2Fsubscriptions%2F") {
				t.Errorf("pl_sales_load: %+v", p)
			}
		}
	}
}

func TestSync_activityRunsModes(t *testing.T) {
	for _, tc := range []struct {
		mode                string
		runningTasks, fails bool
	}{{"all", true, true}, {"failed", false, true}, {"none", false, false}} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, synapsesim.Options{NoScenario: true}, map[string]any{"activity_runs": tc.mode})
			running, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "ETL_Vendas"})
			failed, _ := e.sim.StartRun(synapsesim.RunSpec{Pipeline: "ETL_Vendas", Duration: 10 * time.Second, FinalStatus: "Failed", Message: "Operation on target Run_ETL_Vendas failed: boom"})
			e.clock.Advance(time.Minute)
			runs, _ := byID(mustPoll(t, e.served(t), "").Runs())
			if got := len(runs[running].Tasks) > 0; got != tc.runningTasks {
				t.Errorf("running run has tasks: %v, want %v", got, tc.runningTasks)
			}
			if got := len(runs[failed].Tasks) > 0; got != tc.fails {
				t.Errorf("failed run has tasks: %v, want %v", got, tc.fails)
			}
			if tc.runningTasks && runs[running].Tasks[0].State != sdk.StateRunning {
				t.Errorf("the running activity: %+v", runs[running].Tasks[0])
			}
		})
	}
}
