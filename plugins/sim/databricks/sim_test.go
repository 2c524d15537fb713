package databrickssim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puod/puod/plugins/sim/reference"
)

const testPAT = "dapi-sim-test-0123456789abcdef"

// fixtureNow is shortly after the reference scenario's last run started.
var fixtureNow = time.Date(2026, 11, 17, 5, 20, 0, 0, time.UTC)

func newTestServer(t *testing.T, opts Options) (*Workspace, *httptest.Server) {
	t.Helper()
	ws := New(opts)
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	return ws, srv
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, u, bearer string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %v: %s", err, a)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return reflect.DeepEqual(va, vb)
}

func TestFixtures_sameAsReference(t *testing.T) {
	dir := reference.FixturesDir(t, "databricks")
	for _, name := range FixtureNames() {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := Fixture(name)
		if !bytes.Equal(got, want) {
			t.Errorf("embedded fixture %s differs from the reference's", name)
		}
	}
}

// The world's own types must carry every field of the fixtures: decoding
// and encoding a fixture gives it back.
func TestTypes_roundTripFixtures(t *testing.T) {
	cases := []struct {
		file string
		v    any
	}{
		{"jobs-list.json", &jobsListJSON{}},
		{"runs-list-page1.json", &runsListJSON{}},
		{"runs-list-page2.json", &runsListJSON{}},
		{"runs-get-failed.json", &runJSON{}},
		{"error-invalid-parameter.json", &errorJSON{}},
	}
	for _, c := range cases {
		raw, _ := Fixture(c.file)
		if err := json.Unmarshal(raw, c.v); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		back, _ := json.Marshal(c.v)
		if !jsonEqual(t, raw, back) {
			t.Errorf("%s does not survive a round trip through the simulator's types:\n got %s\nwant %s", c.file, back, raw)
		}
	}
}

func TestFixtureMode_exactRequests(t *testing.T) {
	_, srv := newTestServer(t, Options{Token: testPAT, Fixtures: true, Now: NewManualClock(fixtureNow).Now})
	for _, fr := range fixtureRoutes {
		q := url.Values{}
		for k, v := range fr.query {
			q.Set(k, v)
		}
		a := call(t, http.MethodGet, srv.URL+fr.path+"?"+q.Encode(), testPAT, nil)
		want, _ := Fixture(fr.file)
		if a.status != fr.status || !bytes.Equal(a.body, want) {
			t.Errorf("%s?%s: got %d %s, want %d and %s verbatim", fr.path, q.Encode(), a.status, a.body, fr.status, fr.file)
		}
	}
	// The same request without credentials is refused, fixture or not.
	if a := call(t, http.MethodGet, srv.URL+"/api/2.1/jobs/list?limit=20", "", nil); a.status != http.StatusUnauthorized {
		t.Errorf("an unauthenticated fixture request answered %d", a.status)
	}
}

// Outside the exact fixture requests the world answers from the same data:
// listing the reference window through 2.2 gives the fixtures' runs.
func TestFixtureMode_worldServesTheFixtureData(t *testing.T) {
	_, srv := newTestServer(t, Options{Token: testPAT, Fixtures: true, Now: NewManualClock(fixtureNow).Now, ConsoleURL: "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"})
	var got []json.RawMessage
	token := ""
	for {
		u := srv.URL + "/api/2.2/jobs/runs/list?start_time_from=1794873600000&limit=3"
		if token != "" {
			u += "&page_token=" + url.QueryEscape(token)
		}
		a := call(t, http.MethodGet, u, testPAT, nil)
		if a.status != 200 {
			t.Fatalf("runs/list: %d %s", a.status, a.body)
		}
		var page struct {
			Runs          []json.RawMessage `json:"runs"`
			HasMore       bool              `json:"has_more"`
			NextPageToken string            `json:"next_page_token"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Runs...)
		if !page.HasMore {
			break
		}
		token = page.NextPageToken
	}
	var want []json.RawMessage
	for _, f := range []string{"runs-list-page1.json", "runs-list-page2.json"} {
		var p struct {
			Runs []json.RawMessage `json:"runs"`
		}
		raw, _ := Fixture(f)
		_ = json.Unmarshal(raw, &p)
		want = append(want, p.Runs...)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d runs, want the fixtures' %d", len(got), len(want))
	}
	for i := range want {
		if !jsonEqual(t, got[i], want[i]) {
			t.Errorf("run %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	// runs/get through 2.2 answers the full fixture run.
	a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/get?run_id=1102044718239904", testPAT, nil)
	want0, _ := Fixture("runs-get-failed.json")
	if !jsonEqual(t, a.body, want0) {
		t.Errorf("runs/get 2.2 differs from runs-get-failed.json:\n%s", a.body)
	}
}

func TestAuth_asTheVendor(t *testing.T) {
	clock := NewManualClock(fixtureNow)
	_, srv := newTestServer(t, Options{Token: testPAT, ClientID: "sp-client", ClientSecret: "sp-secret-value", Now: clock.Now})
	api := srv.URL + "/api/2.2/jobs/list"

	for _, c := range []struct {
		name, bearer, code string
	}{
		{"no credentials", "", "UNAUTHENTICATED"},
		{"wrong token", "dapi-wrong", "UNAUTHENTICATED"},
	} {
		a := call(t, http.MethodGet, api, c.bearer, nil)
		var e errorJSON
		_ = json.Unmarshal(a.body, &e)
		if a.status != http.StatusUnauthorized || e.ErrorCode != c.code || e.Message == "" {
			t.Errorf("%s: got %d %s", c.name, a.status, a.body)
		}
	}
	if a := call(t, http.MethodGet, api, testPAT, nil); a.status != 200 {
		t.Errorf("PAT refused: %d %s", a.status, a.body)
	}

	tokenReq := func(id, secret string, form url.Values) answer {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oidc/v1/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, b}
	}
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	if a := tokenReq("sp-client", "nope", good); a.status != http.StatusUnauthorized || !strings.Contains(string(a.body), "invalid_client") {
		t.Errorf("bad client secret: %d %s", a.status, a.body)
	}
	if a := tokenReq("sp-client", "sp-secret-value", url.Values{"grant_type": {"password"}, "scope": {"all-apis"}}); a.status != http.StatusBadRequest {
		t.Errorf("bad grant: %d %s", a.status, a.body)
	}
	a := tokenReq("sp-client", "sp-secret-value", good)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(a.body, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Scope != "all-apis" || tok.ExpiresIn != 3600 {
		t.Fatalf("token answer: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, api, tok.AccessToken, nil); a.status != 200 {
		t.Errorf("fresh OAuth token refused: %d %s", a.status, a.body)
	}
	clock.Advance(time.Hour)
	if a := call(t, http.MethodGet, api, tok.AccessToken, nil); a.status != http.StatusUnauthorized {
		t.Errorf("an hour-old OAuth token still accepted: %d", a.status)
	}
	a = tokenReq("sp-client", "sp-secret-value", good)
	_ = json.Unmarshal(a.body, &tok)
	srvWS := srv.Config.Handler.(*Workspace)
	srvWS.ExpireTokens()
	if a := call(t, http.MethodGet, api, tok.AccessToken, nil); a.status != http.StatusUnauthorized {
		t.Errorf("expired OAuth token still accepted: %d", a.status)
	}
	if n := srvWS.TokensIssued(); n != 2 {
		t.Errorf("TokensIssued = %d, want 2", n)
	}
	// Discovery is public.
	if a := call(t, http.MethodGet, srv.URL+"/oidc/.well-known/oauth-authorization-server", "", nil); a.status != 200 || !strings.Contains(string(a.body), srv.URL+"/oidc/v1/token") {
		t.Errorf("discovery: %d %s", a.status, a.body)
	}
}

func scenarioServer(t *testing.T, opts Options) (*Workspace, *httptest.Server, *ManualClock) {
	t.Helper()
	clock := NewManualClock(time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	opts.Now = clock.Now
	if opts.Token == "" {
		opts.Token = testPAT
	}
	ws, srv := newTestServer(t, opts)
	ws.StartScenario(Scenario{History: 24 * time.Hour})
	return ws, srv, clock
}

type listedRun struct {
	RunID     int64 `json:"run_id"`
	JobID     int64 `json:"job_id"`
	StartTime int64 `json:"start_time"`
	EndTime   int64 `json:"end_time"`
	RunName   string
	State     struct {
		LifeCycleState string `json:"life_cycle_state"`
		ResultState    string `json:"result_state"`
		StateMessage   string `json:"state_message"`
	} `json:"state"`
	RunDuration int64 `json:"run_duration"`
	Tasks       []struct {
		TaskKey       string `json:"task_key"`
		RunID         int64  `json:"run_id"`
		AttemptNumber int    `json:"attempt_number"`
	} `json:"tasks"`
}

func listAll(t *testing.T, base, query string) []listedRun {
	t.Helper()
	var out []listedRun
	token := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("listing does not end")
		}
		u := base + "/api/2.2/jobs/runs/list?" + query
		if token != "" {
			u += "&page_token=" + url.QueryEscape(token)
		}
		a := call(t, http.MethodGet, u, testPAT, nil)
		if a.status != 200 {
			t.Fatalf("runs/list: %d %s", a.status, a.body)
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(a.body, &raw)
		var page struct {
			Runs          []listedRun `json:"runs"`
			HasMore       bool        `json:"has_more"`
			NextPageToken string      `json:"next_page_token"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["runs"]; ok && len(page.Runs) == 0 {
			t.Errorf("an empty page carries a runs key: the vendor omits it")
		}
		out = append(out, page.Runs...)
		if !page.HasMore {
			return out
		}
		token = page.NextPageToken
	}
}

func TestRunsList_pagingAndOrder(t *testing.T) {
	ws, srv, _ := scenarioServer(t, Options{})
	runs := listAll(t, srv.URL, "limit=25&expand_tasks=true")
	if len(runs) < 100 {
		t.Fatalf("24 h of the default scenario gave %d runs, want > 100", len(runs))
	}
	seen := map[int64]bool{}
	for i, r := range runs {
		if seen[r.RunID] {
			t.Errorf("run %d listed twice", r.RunID)
		}
		seen[r.RunID] = true
		if i > 0 && r.StartTime > runs[i-1].StartTime {
			t.Errorf("runs are not newest first at %d", i)
		}
	}
	if got := len(ws.RunIDs(0)); got != len(runs) {
		t.Errorf("RunIDs gives %d runs, the listing %d", got, len(runs))
	}
	// A window with no runs answers has_more false without a runs key.
	a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/list?start_time_from=1&start_time_to=2", testPAT, nil)
	if a.status != 200 || strings.TrimSpace(string(a.body)) != `{"has_more":false}` {
		t.Errorf("empty listing: %d %s", a.status, a.body)
	}
	// A page token is only valid with the same parameters.
	first := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/list?limit=5", testPAT, nil)
	var p struct {
		NextPageToken string `json:"next_page_token"`
	}
	_ = json.Unmarshal(first.body, &p)
	if a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/list?limit=5&active_only=true&page_token="+url.QueryEscape(p.NextPageToken), testPAT, nil); a.status != http.StatusBadRequest {
		t.Errorf("a page token reused with other parameters answered %d", a.status)
	}
	for _, q := range []string{"limit=26", "active_only=true&completed_only=true", "job_id=abc", "start_time_from=x"} {
		a := call(t, http.MethodGet, srv.URL+"/api/2.1/jobs/runs/list?"+q, testPAT, nil)
		var e errorJSON
		if json.Unmarshal(a.body, &e); a.status != http.StatusBadRequest || e.ErrorCode != "INVALID_PARAMETER_VALUE" {
			t.Errorf("runs/list?%s: %d %s", q, a.status, a.body)
		}
	}
	// Filters.
	active := listAll(t, srv.URL, "active_only=true")
	for _, r := range active {
		switch r.State.LifeCycleState {
		case "QUEUED", "PENDING", "RUNNING", "TERMINATING":
		default:
			t.Errorf("active_only lists run %d in %s", r.RunID, r.State.LifeCycleState)
		}
	}
	etl, _ := ws.JobID("ETL_Vendas")
	for _, r := range listAll(t, srv.URL, "job_id="+strconv.FormatInt(etl, 10)) {
		if r.JobID != etl {
			t.Errorf("job_id filter lists job %d", r.JobID)
		}
	}
}

func TestRunsGet_missingRunIs400(t *testing.T) {
	_, srv, _ := scenarioServer(t, Options{})
	a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/get?run_id=1102044718999999", testPAT, nil)
	var e errorJSON
	_ = json.Unmarshal(a.body, &e)
	if a.status != http.StatusBadRequest || e.ErrorCode != "INVALID_PARAMETER_VALUE" || e.Message != "Run 1102044718999999 does not exist." {
		t.Errorf("got %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/nope", testPAT, nil); a.status != http.StatusNotFound || !strings.Contains(string(a.body), "ENDPOINT_NOT_FOUND") {
		t.Errorf("unknown endpoint: %d %s", a.status, a.body)
	}
}

func TestScenario_realisticAndDeterministic(t *testing.T) {
	ws, srv, _ := scenarioServer(t, Options{})
	runs := listAll(t, srv.URL, "limit=25&expand_tasks=true")
	etl, _ := ws.JobID("ETL_Vendas")
	var etlRuns, slow, failed, succeeded int
	states := map[string]int{}
	for _, r := range runs {
		states[r.State.LifeCycleState+"/"+r.State.ResultState]++
		if r.RunID <= 1<<53 {
			t.Errorf("run id %d is not beyond 2^53", r.RunID)
		}
		switch r.State.ResultState {
		case "SUCCESS":
			succeeded++
		case "FAILED", "TIMEDOUT":
			failed++
			if r.State.StateMessage == "" {
				t.Errorf("failed run %d has no message", r.RunID)
			}
		}
		if r.JobID == etl {
			etlRuns++
			if r.RunDuration > (5 * time.Minute).Milliseconds() {
				slow++
			}
		}
	}
	t.Logf("states: %v", states)
	if etlRuns < 90 || slow == 0 || slow > etlRuns/2 {
		t.Errorf("ETL_Vendas: %d runs, %d slower than 5 min; want ~96, some but a minority slow", etlRuns, slow)
	}
	if failed == 0 || succeeded < 5*failed {
		t.Errorf("%d succeeded, %d failed: want mostly successes and some failures", succeeded, failed)
	}

	// Same seed and clock, generated in steps: the same world.
	clock := NewManualClock(time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC).Add(-6 * time.Hour))
	ws2 := New(Options{Token: testPAT, Now: clock.Now})
	ws2.StartScenario(Scenario{History: 18 * time.Hour})
	for range 24 {
		clock.Advance(15 * time.Minute)
		ws2.Tick()
	}
	srv2 := httptest.NewServer(ws2)
	defer srv2.Close()
	a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/list?limit=25&expand_tasks=true", testPAT, nil)
	b := call(t, http.MethodGet, srv2.URL+"/api/2.2/jobs/runs/list?limit=25&expand_tasks=true", testPAT, nil)
	norm := func(s []byte, base string) []byte { return bytes.ReplaceAll(s, []byte(base), []byte("BASE")) }
	if !bytes.Equal(norm(a.body, srv.URL), norm(b.body, srv2.URL)) {
		t.Errorf("the same scenario generated in steps differs from generated at once")
	}
}

func TestRuns_lifecycleAndRepair(t *testing.T) {
	ws, srv, clock := scenarioServer(t, Options{})
	job := ws.AddJob(Job{Name: "adhoc_job", Tasks: []string{"a", "b"}})
	id, err := ws.StartRun(job)
	if err != nil {
		t.Fatal(err)
	}
	get := func() listedRun {
		a := call(t, http.MethodGet, srv.URL+"/api/2.1/jobs/runs/get?run_id="+strconv.FormatInt(id, 10), testPAT, nil)
		var r listedRun
		if err := json.Unmarshal(a.body, &r); err != nil {
			t.Fatalf("%d %s", a.status, a.body)
		}
		return r
	}
	if r := get(); r.State.LifeCycleState != "RUNNING" || r.EndTime != 0 || len(r.Tasks) != 2 {
		t.Errorf("started run: %+v", r)
	}
	clock.Advance(3 * time.Minute)
	if err := ws.FinishRun(id, "FAILED", "boom. details"); err != nil {
		t.Fatal(err)
	}
	r := get()
	if r.State.LifeCycleState != "TERMINATED" || r.State.ResultState != "FAILED" || r.EndTime == 0 || r.RunDuration != (3*time.Minute).Milliseconds() {
		t.Errorf("finished run: %+v", r)
	}
	clock.Advance(time.Minute)
	if err := ws.RepairRun(id); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.RunID != id || r.State.LifeCycleState != "RUNNING" || r.EndTime != 0 {
		t.Errorf("repaired run: %+v", r)
	}
	if err := ws.FinishRun(id, "SUCCESS", ""); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.State.ResultState != "SUCCESS" {
		t.Errorf("repair did not end in success: %+v", r)
	}
	if err := ws.SetRunState(id, "SOMETHING_NEW", ""); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.State.LifeCycleState != "SOMETHING_NEW" {
		t.Errorf("SetRunState: %+v", r)
	}
}

func TestFaults(t *testing.T) {
	ws, srv, _ := scenarioServer(t, Options{})
	list := srv.URL + "/api/2.2/jobs/runs/list?limit=25"

	ws.FailNext(1, http.StatusTooManyRequests, 5*time.Second)
	a := call(t, http.MethodGet, list, testPAT, nil)
	want, _ := Fixture("error-rate-limited.json")
	if a.status != 429 || a.header.Get("Retry-After") != "5" || !bytes.Equal(a.body, want) {
		t.Errorf("429: %d %q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	ws.FailNext(1, http.StatusServiceUnavailable, 0)
	if a := call(t, http.MethodGet, list, testPAT, nil); a.status != 503 || !strings.Contains(string(a.body), "TEMPORARILY_UNAVAILABLE") {
		t.Errorf("503: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, list, testPAT, nil); a.status != 200 {
		t.Errorf("faults did not clear: %d", a.status)
	}

	ws.MalformNextPage(1)
	if a := call(t, http.MethodGet, list, testPAT, nil); !json.Valid(a.body) {
		t.Errorf("the page before the malformed one is malformed")
	}
	if a := call(t, http.MethodGet, list, testPAT, nil); a.status != 200 || json.Valid(a.body) {
		t.Errorf("malformed page: %d valid=%v", a.status, json.Valid(a.body))
	}

	// Overlapping pages repeat the previous page's last items.
	ws.SetPageOverlap(3)
	p1 := call(t, http.MethodGet, list, testPAT, nil)
	var page struct {
		Runs          []listedRun `json:"runs"`
		NextPageToken string      `json:"next_page_token"`
	}
	_ = json.Unmarshal(p1.body, &page)
	last := page.Runs[len(page.Runs)-1].RunID
	p2 := call(t, http.MethodGet, list+"&page_token="+url.QueryEscape(page.NextPageToken), testPAT, nil)
	_ = json.Unmarshal(p2.body, &page)
	if page.Runs[2].RunID != last {
		t.Errorf("with overlap 3 the next page's third run is %d, want %d", page.Runs[2].RunID, last)
	}
	ws.ClearFaults()
}

func TestNotifications_onFailure(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	clock := NewManualClock(time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC))
	ws := New(Options{Token: testPAT, Now: clock.Now, OnNotification: func(b []byte) {
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}})
	ws.StartScenario(Scenario{History: time.Hour})
	if len(bodies) != 0 {
		t.Errorf("history produced %d notifications; only events after the start are sent", len(bodies))
	}
	for range 48 {
		clock.Advance(30 * time.Minute)
		ws.Tick()
	}
	mu.Lock()
	defer mu.Unlock()
	var starts, failures int
	for _, b := range bodies {
		var n struct {
			EventType string `json:"event_type"`
			Run       struct {
				RunID string `json:"run_id"`
			} `json:"run"`
		}
		if err := json.Unmarshal([]byte(b), &n); err != nil || n.Run.RunID == "" {
			t.Fatalf("notification %s", b)
		}
		switch n.EventType {
		case "jobs.on_start":
			starts++
		case "jobs.on_failure":
			failures++
		}
	}
	if starts == 0 || failures == 0 {
		t.Errorf("24 h of scenario sent %d on_start and %d on_failure notifications", starts, failures)
	}
	// The fixture's shape, ids as strings.
	body, err := ws.WebhookBody("jobs.on_failure", ws.RunIDs(0)[0])
	if err != nil || !strings.Contains(string(body), `"run_id": "`) {
		t.Errorf("WebhookBody: %v %s", err, body)
	}
}

func TestJobsAndTaskOutput(t *testing.T) {
	_, srv := newTestServer(t, Options{Token: testPAT, Fixtures: true, Now: NewManualClock(fixtureNow).Now})
	// jobs/list through 2.2 pages like the vendor: limit, next_page_token.
	a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/list?limit=2", testPAT, nil)
	var page struct {
		Jobs []struct {
			JobID    int64 `json:"job_id"`
			Settings struct {
				Name  string            `json:"name"`
				Tasks []json.RawMessage `json:"tasks"`
			} `json:"settings"`
		} `json:"jobs"`
		HasMore       bool   `json:"has_more"`
		NextPageToken string `json:"next_page_token"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil || len(page.Jobs) != 2 || !page.HasMore || page.Jobs[0].Settings.Name != "etl_vendas_daily" {
		t.Fatalf("jobs/list: %s", a.body)
	}
	a = call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/list?limit=2&page_token="+url.QueryEscape(page.NextPageToken), testPAT, nil)
	_ = json.Unmarshal(a.body, &page)
	if len(page.Jobs) != 1 || page.HasMore || page.Jobs[0].Settings.Name != "export_bi_snapshots" {
		t.Errorf("jobs/list page 2: %s", a.body)
	}
	if a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/list?name=INGEST_CLIENTES", testPAT, nil); !strings.Contains(string(a.body), `"ingest_clientes"`) || strings.Contains(string(a.body), "etl_vendas_daily") {
		t.Errorf("jobs/list by name: %s", a.body)
	}
	if a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/get?job_id=1", testPAT, nil); a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "Job 1 does not exist.") {
		t.Errorf("jobs/get of a missing job: %d %s", a.status, a.body)
	}
	// get-output of the failed task; of the job run it is refused.
	a = call(t, http.MethodGet, srv.URL+"/api/2.1/jobs/runs/get-output?run_id=1102044718240356", testPAT, nil)
	var out struct {
		Metadata struct {
			RunID int64 `json:"run_id"`
		} `json:"metadata"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.Metadata.RunID != 1102044718240356 || !strings.Contains(out.Error, "TABLE_OR_VIEW_NOT_FOUND") {
		t.Errorf("get-output: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, srv.URL+"/api/2.1/jobs/runs/get-output?run_id=1102044718239904", testPAT, nil); a.status != http.StatusBadRequest {
		t.Errorf("get-output of a multi-task run: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, srv.URL+"/api/2.2/jobs/runs/get?run_id=1102044718240356", testPAT, nil); a.status != 200 || !strings.Contains(string(a.body), `"format":"SINGLE_TASK"`) {
		t.Errorf("runs/get of a task run: %d %s", a.status, a.body)
	}
}

// Fixtures and generator together: the generator continues the reference
// scenario instead of doubling its runs.
func TestScenario_continuesTheFixtures(t *testing.T) {
	clock := NewManualClock(fixtureNow)
	ws, srv := newTestServer(t, Options{Token: testPAT, Fixtures: true, Now: clock.Now})
	ws.StartScenario(Scenario{History: 6 * time.Hour})
	clock.Advance(2 * time.Hour)
	ingest, _ := ws.JobID("ingest_clientes")
	hours := map[int]int{}
	for _, r := range listAll(t, srv.URL, "job_id="+strconv.FormatInt(ingest, 10)) {
		hours[time.UnixMilli(r.StartTime).UTC().Hour()]++
	}
	for h := 1; h <= 7; h++ {
		if hours[h] != 1 {
			t.Errorf("ingest_clientes has %d runs at %02d:15, want 1 (hours %v)", hours[h], h, hours)
		}
	}
}
