package main

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	databrickssim "github.com/puod/puod/plugins/sim/databricks"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// checkComplete fails unless the syncs together delivered every run of the
// workspace, and each sync delivered each run at most once.
func checkComplete(t *testing.T, s *sim, syncs ...*plugintest.Sync) {
	t.Helper()
	got := map[string]bool{}
	for i, sy := range syncs {
		once := map[string]bool{}
		for _, r := range sy.Runs() {
			if once[r.ExternalID] {
				t.Errorf("sync %d delivers run %s twice", i, r.ExternalID)
			}
			once[r.ExternalID] = true
			got[r.ExternalID] = true
			if err := plugintest.ValidateRun(r); err != nil {
				t.Errorf("run %s: %v", r.ExternalID, err)
			}
		}
	}
	want := s.runIDs()
	for id := range want {
		if !got[id] {
			t.Errorf("run %s was never delivered", id)
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("run %s delivered but not in the workspace", id)
		}
	}
}

func TestListRuns_multiPage(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, map[string]any{"page_size": 7})
	sy := poll(t, in, "")
	if len(sy.Batches) < 20 {
		t.Errorf("%d runs in %d batches: want one batch per page of 7", len(sy.Runs()), len(sy.Batches))
	}
	checkComplete(t, s, sy)
	// Every runs/list call asked for 7 runs with tasks.
	for _, r := range s.ws.Requests() {
		if strings.HasSuffix(r.Path, "/runs/list") && (!strings.Contains(r.Query, "limit=7") || !strings.Contains(r.Query, "expand_tasks=true")) {
			t.Errorf("runs/list query %q", r.Query)
		}
	}
}

func TestListRuns_rateLimitedThenSuccess(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, nil)
	s.ws.FailNext(2, http.StatusTooManyRequests, 5*time.Second)
	s.ws.Inject(databrickssim.Fault{Kind: databrickssim.Unavailable, Path: "runs/list", After: 3, RetryAfter: 2 * time.Second})
	sy := poll(t, in, "")
	checkComplete(t, s, sy)
	waits := s.waited()
	want := []time.Duration{5 * time.Second, 5 * time.Second, 2 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waited %v, want %v (Retry-After honoured)", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait %d is %s, want the Retry-After %s", i, waits[i], want[i])
		}
	}
	n429 := 0
	for _, r := range s.ws.Requests() {
		if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable {
			n429++
		}
	}
	if n429 != 3 {
		t.Errorf("the workspace answered %d throttled requests, want 3", n429)
	}
}

func TestListRuns_persistentOutageIsRetryable(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, nil)
	s.ws.FailNext(100, http.StatusServiceUnavailable, 0)
	_, err := plugintest.Poll(in, "")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.KindRetryable || !strings.Contains(e.Message, "runs/list") {
		t.Fatalf("a persistent 503 gave %v, want a retryable error naming runs/list", err)
	}
	if len(s.waited()) == 0 {
		t.Errorf("no backoff between attempts")
	}
}

func TestListRuns_tokenExpiryMidSync(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, true, map[string]any{"page_size": 10})
	s.ws.ExpireTokensAfter(3) // after the third page
	sy := poll(t, in, "")
	checkComplete(t, s, sy)
	if n := s.ws.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2: one, then one more after the 401", n)
	}
	n401 := 0
	for _, r := range s.ws.Requests() {
		if r.Status == http.StatusUnauthorized {
			n401++
		}
	}
	if n401 != 1 {
		t.Errorf("%d requests answered 401, want 1", n401)
	}
}

func TestListRuns_tokenRenewedBeforeExpiry(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, true, nil)
	sy := poll(t, in, "")
	s.clock.Advance(56 * time.Minute) // the token has 4 minutes left
	poll(t, in, sy.Cursor())
	if n := s.ws.TokensIssued(); n != 2 {
		t.Errorf("%d tokens issued, want 2", n)
	}
	for _, r := range s.ws.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("%s %s answered 401: the token should have been renewed before it expired", r.Method, r.Path)
		}
	}
}

func TestListRuns_authRefusedOnce(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	c := plugintest.Serve(t, newPlugin(s.deps()))
	cfg, _ := s.config(false, nil)
	in := plugintest.Configure(t, c, sdk.InstanceConfig{ID: "bad", Revision: 1, Config: cfg, Secrets: map[string]string{"token": "dapi-revoked-0000"}})
	_, err := plugintest.Poll(in, "")
	if !errors.Is(err, sdk.ErrAuth) {
		t.Fatalf("a refused token gave %v, want an auth error", err)
	}
	if n := s.ws.CountRequests("runs/list"); n != 2 {
		t.Errorf("runs/list was called %d times, want 2 (one retry after the 401)", n)
	}

	cfg, _ = s.config(true, nil)
	in = plugintest.Configure(t, c, sdk.InstanceConfig{ID: "bad-oauth", Revision: 1, Config: cfg, Secrets: map[string]string{"client_secret": "wrong-secret-value"}})
	if _, err := plugintest.Poll(in, ""); !errors.Is(err, sdk.ErrAuth) || !strings.Contains(err.Error(), "client") {
		t.Errorf("refused client credentials gave %v, want an auth error about them", err)
	}
}

func TestListRuns_malformedPage(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, map[string]any{"page_size": 10})
	s.ws.MalformNextPage(3)
	first, err := plugintest.Poll(in, "")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.KindDownstream || !strings.Contains(e.Message, "/jobs/runs/list") || !strings.Contains(e.Message, "malformed") {
		t.Fatalf("a malformed page gave %v, want a downstream error naming GET …/jobs/runs/list", err)
	}
	if len(first.Batches) != 3 {
		t.Fatalf("%d batches before the malformed page, want the 3 good pages", len(first.Batches))
	}
	// The cursor stored is the last good batch's: the next poll resumes
	// there and loses nothing.
	second := poll(t, in, first.Cursor())
	checkComplete(t, s, first, second)
	for _, r := range second.Runs() {
		if _, dup := runByID(first, r.ExternalID); dup {
			t.Errorf("run %s sent again after the malformed page though it had not changed", r.ExternalID)
		}
	}
}

func TestListRuns_overlappingPagesAndReplay(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, map[string]any{"page_size": 10})
	s.ws.SetPageOverlap(4)
	full := poll(t, in, "")
	checkComplete(t, s, full)

	// Replaying the final cursor delivers nothing: nothing changed.
	again := poll(t, in, full.Cursor())
	if n := len(again.Runs()); n != 0 {
		t.Errorf("a replay of the final cursor delivers %d runs", n)
	}
	// Replaying an old cursor resends only what came after it.
	mid := full.Batches[len(full.Batches)/2]
	rest := poll(t, in, mid.NextCursor)
	before := &plugintest.Sync{Batches: full.Batches[:len(full.Batches)/2+1]}
	checkComplete(t, s, before, rest)
	for _, r := range rest.Runs() {
		if _, dup := runByID(before, r.ExternalID); dup {
			t.Errorf("run %s, stored before the replayed cursor, is sent again unchanged", r.ExternalID)
		}
	}
}

func TestListRuns_runningThenFinished(t *testing.T) {
	s := newSim(t, simOpts{})
	job := s.ws.AddJob(databrickssim.Job{Name: "ETL_Vendas", Tasks: []string{"extract", "load"}})
	id, err := s.ws.StartRun(job)
	if err != nil {
		t.Fatal(err)
	}
	in := s.serve(t, false, nil)
	ext := itoa(id)

	p1 := poll(t, in, "")
	r, ok := runByID(p1, ext)
	if !ok || r.State != sdk.StateRunning || !r.EndedAt.IsZero() || len(r.Tasks) != 2 {
		t.Fatalf("first poll: %+v", r)
	}
	// Nothing changed: nothing is sent, although the run is re-read.
	s.clock.Advance(time.Minute)
	p2 := poll(t, in, p1.Cursor())
	if n := len(p2.Runs()); n != 0 {
		t.Errorf("an unchanged running run is sent again (%d runs)", n)
	}
	// Newer runs move the listing window past it…
	s.clock.Advance(time.Hour)
	other, _ := s.ws.AddRun(databrickssim.RunSpec{JobID: job, Duration: 5 * time.Minute})
	p2b := poll(t, in, p2.Cursor())
	if _, ok := runByID(p2b, itoa(other)); !ok {
		t.Fatalf("the newer run was not listed")
	}
	// …and it ends: runs/get reads how.
	s.clock.Advance(2 * time.Hour)
	if err := s.ws.FinishRun(id, "FAILED", "[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added by a concurrent update. Please try the operation again."); err != nil {
		t.Fatal(err)
	}
	p3 := poll(t, in, p2b.Cursor())
	r, ok = runByID(p3, ext)
	if !ok || r.State != sdk.StateFailed || r.RawState != "TERMINATED/FAILED" || r.EndedAt.IsZero() || r.Duration != 3*time.Hour+time.Minute {
		t.Fatalf("after it finished: %+v", r)
	}
	if !strings.Contains(r.ErrorMessage, "DELTA_CONCURRENT_APPEND") {
		t.Errorf("error message %q", r.ErrorMessage)
	}
	if s.ws.CountRequests("runs/get") == 0 {
		t.Errorf("the ended run was not read with runs/get")
	}
	// Closed: it is not read again.
	gets := s.ws.CountRequests("runs/get")
	p4 := poll(t, in, p3.Cursor())
	if len(p4.Runs()) != 0 || s.ws.CountRequests("runs/get") != gets {
		t.Errorf("a finished run is still polled")
	}

	// A repair reuses the run id: the run goes back to running, then
	// succeeds. Runs older than the window are caught by webhooks only; a
	// recent one is re-listed.
	id2, _ := s.ws.StartRun(job)
	s.clock.Advance(2 * time.Minute)
	_ = s.ws.FinishRun(id2, "FAILED", "boom")
	p5 := poll(t, in, p4.Cursor())
	s.clock.Advance(time.Minute)
	_ = s.ws.RepairRun(id2)
	p6 := poll(t, in, p5.Cursor())
	if r, ok := runByID(p6, itoa(id2)); !ok || r.State != sdk.StateRunning {
		t.Errorf("repaired run: %+v (found %v)", r, ok)
	}
	s.clock.Advance(time.Minute)
	_ = s.ws.FinishRun(id2, "SUCCESS", "")
	p7 := poll(t, in, p6.Cursor())
	if r, ok := runByID(p7, itoa(id2)); !ok || r.State != sdk.StateSucceeded {
		t.Errorf("repaired run after success: %+v (found %v)", r, ok)
	}
}

func TestListRuns_deletedOpenRunIsDropped(t *testing.T) {
	s := newSim(t, simOpts{})
	job := s.ws.AddJob(databrickssim.Job{Name: "ingest_clientes"})
	id, _ := s.ws.StartRun(job)
	in := s.serve(t, false, nil)
	p1 := poll(t, in, "")
	s.clock.Advance(2 * time.Hour)
	_ = s.ws.DeleteRun(id)
	p2 := poll(t, in, p1.Cursor())
	if strings.Contains(p2.Cursor(), itoa(id)) {
		t.Errorf("the deleted run is still in the cursor: %s", p2.Cursor())
	}
	gets := s.ws.CountRequests("runs/get")
	poll(t, in, p2.Cursor())
	if s.ws.CountRequests("runs/get") != gets {
		t.Errorf("a deleted run is still polled")
	}
}

// An unknown vendor state keeps the previous state (running on first
// sight) and is logged once with its raw value.
func TestListRuns_unknownState(t *testing.T) {
	s := newSim(t, simOpts{})
	job := s.ws.AddJob(databrickssim.Job{Name: "etl"})
	a, _ := s.ws.StartRun(job)
	var logs bytes.Buffer
	c := s.direct(t, false, nil, sdk.Env{Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	pollDirect := func(cursor string) *plugintest.Sync {
		t.Helper()
		sy := &plugintest.Sync{From: cursor}
		if err := c.ListRuns(t.Context(), cursor, func(b sdk.RunBatch) error { sy.Batches = append(sy.Batches, b); return nil }); err != nil {
			t.Fatal(err)
		}
		return sy
	}
	p1 := pollDirect("")
	if r, _ := runByID(p1, itoa(a)); r.State != sdk.StateRunning {
		t.Fatalf("run a: %+v", r)
	}
	// Seen as running, now in a state nobody knows: still running.
	s.clock.Advance(time.Minute)
	_ = s.ws.FinishRun(a, "FAILED", "x")
	_ = s.ws.SetRunState(a, "TERMINATED", "QUANTUM_FAILURE")
	// First sight of an unknown state: running.
	b, _ := s.ws.StartRun(job)
	_ = s.ws.SetRunState(b, "HIBERNATING", "")
	p2 := pollDirect(p1.Cursor())
	ra, _ := runByID(p2, itoa(a))
	rb, _ := runByID(p2, itoa(b))
	if ra.State != sdk.StateRunning || ra.RawState != "TERMINATED/QUANTUM_FAILURE" {
		t.Errorf("run a: state %s raw %s, want the previous state running and the raw value", ra.State, ra.RawState)
	}
	if rb.State != sdk.StateRunning || rb.RawState != "HIBERNATING" {
		t.Errorf("run b: state %s raw %s, want running on first sight", rb.State, rb.RawState)
	}
	// Still open: polled again, logged no more.
	s.clock.Advance(time.Minute)
	pollDirect(p2.Cursor())
	for _, raw := range []string{"QUANTUM_FAILURE", "HIBERNATING"} {
		if n := strings.Count(logs.String(), raw); n != 1 {
			t.Errorf("raw state %s logged %d times, want once:\n%s", raw, n, logs.String())
		}
	}
	// Back to a known state: it ends.
	_ = s.ws.SetRunState(a, "TERMINATED", "SUCCESS")
	p4 := pollDirect(p2.Cursor())
	if r, _ := runByID(p4, itoa(a)); r.State != sdk.StateSucceeded {
		t.Errorf("run a after a known state: %+v", r)
	}
}

func TestListRuns_unreadableCursorStartsOver(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, nil)
	for _, bad := range []string{"not json", `{"v":99}`} {
		sy := poll(t, in, bad)
		checkComplete(t, s, sy)
	}
}

func TestListRuns_api21(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	in := s.serve(t, false, map[string]any{"api_version": "2.1"})
	checkComplete(t, s, poll(t, in, ""))
	for _, r := range s.ws.Requests() {
		if strings.HasPrefix(r.Path, "/api/2.2") {
			t.Errorf("api_version 2.1 called %s", r.Path)
		}
	}
}

// The workspace keeps running; every poll brings the new and changed runs,
// never twice the same content.
func TestListRuns_liveWorkspace(t *testing.T) {
	s := newSim(t, simOpts{scenario: true, history: 3 * time.Hour})
	in := s.serve(t, false, nil)
	cursor := ""
	latest := map[string]sdk.Run{}
	for range 40 {
		sy := poll(t, in, cursor)
		for _, r := range sy.Runs() {
			if old, ok := latest[r.ExternalID]; ok && contentHash(old) == contentHash(r) {
				t.Errorf("run %s sent again unchanged", r.ExternalID)
			}
			latest[r.ExternalID] = r
		}
		cursor = sy.Cursor()
		s.clock.Advance(7 * time.Minute)
	}
	s.clock.Advance(2 * time.Hour) // let every run end
	sy := poll(t, in, cursor)
	for _, r := range sy.Runs() {
		latest[r.ExternalID] = r
	}
	ids := s.runIDs()
	for id := range ids {
		r, ok := latest[id]
		if !ok {
			t.Errorf("run %s never delivered", id)
			continue
		}
		life, result, _ := s.ws.RunState(mustInt(t, id))
		if _, raw, _ := mapState(&apiState{LifeCycleState: life, ResultState: result}, nil); raw != r.RawState {
			t.Errorf("run %s: PUOD has %s, the workspace %s", id, r.RawState, raw)
		}
	}
	if len(cursor) > 20000 {
		t.Errorf("the cursor grew to %d bytes", len(cursor))
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var v int64
	for _, c := range s {
		v = v*10 + int64(c-'0')
	}
	return v
}
