package synapsesim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/plugins/sim/reference"
)

var t0 = time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC)

// client is a minimal Synapse client for the simulator's own tests.
type client struct {
	t     *testing.T
	srv   *httptest.Server
	sim   *Server
	token string
}

func start(t *testing.T, opts Options) (*client, *ManualClock) {
	t.Helper()
	clock := NewManualClock(t0)
	if opts.Fixtures {
		clock.Set(FixtureNow)
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv, sim: s}, clock
}

func (c *client) fetchToken(form url.Values) (int, []byte) {
	c.t.Helper()
	resp, err := http.Post(c.sim.TokenURL(c.srv.URL), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) login() {
	c.t.Helper()
	tenant, id, secret := c.sim.Credentials()
	_ = tenant
	st, b := c.fetchToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {Scope}})
	if st != 200 {
		c.t.Fatalf("token: %d %s", st, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		c.t.Fatalf("token answer %s: %v", b, err)
	}
	c.token = tok.AccessToken
}

func (c *client) do(method, path string, body any) (int, []byte, http.Header) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			r = bytes.NewReader(b)
		case string:
			r = strings.NewReader(b)
		default:
			data, _ := json.Marshal(b)
			r = bytes.NewReader(data)
		}
	}
	u := c.srv.URL + path
	if !strings.Contains(path, "api-version") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + "api-version=" + APIVersion
	}
	req, _ := http.NewRequest(method, u, r)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

type runsPage struct {
	Value             []PipelineRun `json:"value"`
	ContinuationToken string        `json:"continuationToken"`
}

func (c *client) queryAll(body map[string]any) []PipelineRun {
	c.t.Helper()
	var all []PipelineRun
	for pages := 0; pages < 1000; pages++ {
		st, b, _ := c.do("POST", "/queryPipelineRuns", body)
		if st != 200 {
			c.t.Fatalf("queryPipelineRuns: %d %s", st, b)
		}
		var p runsPage
		if err := json.Unmarshal(b, &p); err != nil {
			c.t.Fatalf("page: %v", err)
		}
		all = append(all, p.Value...)
		if p.ContinuationToken == "" {
			return all
		}
		body["continuationToken"] = p.ContinuationToken
	}
	c.t.Fatal("paging does not end")
	return nil
}

func window(after, before time.Time) map[string]any {
	return map[string]any{"lastUpdatedAfter": FormatTime(after), "lastUpdatedBefore": FormatTime(before)}
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the data plane's error shape: %s", b)
	}
	return e.Error.Code
}

// TestFixtures_sameAsShared checks the embedded copies against
// shared/apis/fixtures/synapse when that folder is beside the repository.
func TestFixtures_sameAsShared(t *testing.T) {
	dir := reference.FixturesDir(t, "synapse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(FixtureNames()) {
		t.Errorf("shared has %d fixture files, the simulator embeds %d: copy them into plugins/sim/synapse/fixtures", len(entries), len(FixtureNames()))
	}
	for _, e := range entries {
		want, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if got := Fixture(e.Name()); !bytes.Equal(got, want) {
			t.Errorf("fixture %s differs from shared/apis/fixtures/synapse: copy it again", e.Name())
		}
	}
}

func TestFixtureMode_servesThePairedRequests(t *testing.T) {
	c, _ := start(t, Options{Fixtures: true})
	tenant, id, secret := c.sim.Credentials()
	_ = tenant
	st, b := c.fetchToken(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {Scope}})
	if st != 200 || !bytes.Equal(b, Fixture("aad-token.json")) {
		t.Fatalf("token: %d %s", st, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &tok)
	c.token = tok.AccessToken

	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		fixture            string
	}{
		{"page 1", "POST", "/queryPipelineRuns", Fixture("query-pipeline-runs-request.json"), 200, "query-pipeline-runs-page1.json"},
		{"page 2", "POST", "/queryPipelineRuns", withToken(t, Fixture("query-pipeline-runs-request.json"), Fixture("query-pipeline-runs-page1.json")), 200, "query-pipeline-runs-page2.json"},
		{"one run", "GET", "/pipelineruns/" + FixtureFailedRunID, nil, 200, "pipeline-run-get.json"},
		{"activity runs", "POST", "/pipelines/pl_sales_load/pipelineruns/" + FixtureFailedRunID + "/queryActivityruns",
			[]byte(`{"lastUpdatedAfter":"2026-11-17T03:59:02Z","lastUpdatedBefore":"2026-11-17T05:20:30Z"}`), 200, "activity-runs.json"},
		{"pipelines", "GET", "/pipelines", nil, 200, "pipelines-list.json"},
		{"inverted window", "POST", "/queryPipelineRuns", []byte(`{"lastUpdatedAfter":"2026-11-17T05:20:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z"}`), 400, "error.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b, h := c.do(tc.method, tc.path, tc.body)
			if st != tc.status || !bytes.Equal(b, Fixture(tc.fixture)) {
				t.Errorf("%s %s: %d %s; want %d and %s byte for byte", tc.method, tc.path, st, b, tc.status, tc.fixture)
			}
			if h.Get("x-ms-request-id") == "" || h.Get("x-ms-correlation-request-id") == "" {
				t.Errorf("no request id headers: %v", h)
			}
		})
	}
}

func withToken(t *testing.T, body, page []byte) []byte {
	t.Helper()
	var p struct {
		ContinuationToken string `json:"continuationToken"`
	}
	var m map[string]any
	if json.Unmarshal(page, &p) != nil || json.Unmarshal(body, &m) != nil {
		t.Fatal("bad fixture")
	}
	m["continuationToken"] = p.ContinuationToken
	b, _ := json.Marshal(m)
	return b
}

// TestFixtureMode_worldRendersLikeTheFixtures checks the generic renderer
// against the fixture pages: a query the fixtures do not pair (no filter)
// answers the same runs, field for field.
func TestFixtureMode_worldRendersLikeTheFixtures(t *testing.T) {
	c, _ := start(t, Options{Fixtures: true, PageSize: 2})
	c.login()
	got := c.queryAll(window(time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 17, 5, 20, 0, 0, time.UTC)))
	var want []any
	for _, f := range []string{"query-pipeline-runs-page1.json", "query-pipeline-runs-page2.json"} {
		var p struct {
			Value []any `json:"value"`
		}
		_ = json.Unmarshal(Fixture(f), &p)
		want = append(want, p.Value...)
	}
	gotJSON, _ := json.Marshal(got)
	var gotAny []any
	_ = json.Unmarshal(gotJSON, &gotAny)
	wantJSON, _ := json.Marshal(want)
	gotNorm, _ := json.Marshal(gotAny)
	if string(gotNorm) != string(wantJSON) {
		t.Errorf("generated pages differ from the fixtures:\n got %s\nwant %s", gotNorm, wantJSON)
	}
	st, b, _ := c.do("GET", "/pipelineruns/"+FixtureRecoveryRunID, nil)
	if st != 200 || !strings.Contains(string(b), `"status":"InProgress"`) || !strings.Contains(string(b), `"runEnd":null`) {
		t.Errorf("GET the in-progress recovery run: %d %s", st, b)
	}
	var acts struct {
		Value []ActivityRun `json:"value"`
	}
	st, b, _ = c.do("POST", "/pipelines/pl_sales_load/pipelineruns/"+FixtureFailedRunID+"/queryActivityruns",
		map[string]any{"lastUpdatedAfter": "2026-11-17T04:00:00Z", "lastUpdatedBefore": "2026-11-17T06:00:00Z", "filters": []map[string]any{{"operand": "Status", "operator": "Equals", "values": []string{"Failed"}}}})
	if st != 200 || json.Unmarshal(b, &acts) != nil || len(acts.Value) != 1 || acts.Value[0].Error.ErrorCode != "2200" {
		t.Errorf("filtered activity runs: %d %s", st, b)
	}
}

func TestAuth_likeEntraAndTheDataPlane(t *testing.T) {
	c, clock := start(t, Options{NoScenario: true})
	tenant, id, secret := c.sim.Credentials()
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {Scope}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range good {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
		aadsts string
	}{
		{"wrong secret", with("client_secret", "nope"), 401, "invalid_client", "AADSTS7000215"},
		{"unknown app", with("client_id", "00000000-0000-4000-8000-000000000000"), 400, "unauthorized_client", "AADSTS700016"},
		{"management scope", with("scope", "https://management.azure.com/.default"), 400, "invalid_scope", "AADSTS1002012"},
		{"wrong grant", with("grant_type", "password"), 400, "unsupported_grant_type", "AADSTS70003"},
	} {
		st, b := c.fetchToken(tc.form)
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Codes       []int  `json:"error_codes"`
		}
		if st != tc.status || json.Unmarshal(b, &e) != nil || e.Error != tc.code || !strings.HasPrefix(e.Description, tc.aadsts) || len(e.Codes) != 1 {
			t.Errorf("%s: %d %s; want %d %s %s", tc.name, st, b, tc.status, tc.code, tc.aadsts)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s: the answer carries the client secret", tc.name)
		}
	}
	// Unknown tenant.
	resp, err := http.Post(strings.Replace(c.sim.TokenURL(c.srv.URL), tenant, "contoso.onmicrosoft.com", 1), "application/x-www-form-urlencoded", strings.NewReader(good.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown tenant: %d", resp.StatusCode)
	}

	// Data plane: no token, a forged token, a good one, an expired one.
	if st, b, h := c.do("GET", "/pipelines", nil); st != 401 || errorCode(t, b) != "Unauthorized" || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %s", st, b)
	}
	c.token = "eyJforged.token.value"
	if st, b, _ := c.do("GET", "/pipelines", nil); st != 401 || !strings.Contains(string(b), "IDX10511") {
		t.Errorf("forged token: %d %s", st, b)
	}
	c.login()
	if st, b, _ := c.do("GET", "/pipelines", nil); st != 200 {
		t.Errorf("good token: %d %s", st, b)
	}
	clock.Advance(3600 * time.Second)
	if st, b, _ := c.do("GET", "/pipelines", nil); st != 401 || !strings.Contains(string(b), "IDX10223") {
		t.Errorf("token past its lifetime: %d %s", st, b)
	}
	c.login()
	c.sim.ExpireTokens()
	if st, _, _ := c.do("GET", "/pipelines", nil); st != 401 {
		t.Errorf("ExpireTokens: %d, want 401", st)
	}
	c.login()
	if st, b, _ := c.do("GET", "/pipelines?api-version=2018-06-01", nil); st != 400 || errorCode(t, b) != "InvalidApiVersionParameter" {
		t.Errorf("wrong api-version: %d %s", st, b)
	}
	req, _ := http.NewRequest("GET", c.srv.URL+"/pipelines", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || errorCode(t, b) != "MissingApiVersionParameter" {
		t.Errorf("no api-version: %d %s", resp.StatusCode, b)
	}
}

func TestQuery_pagesByPositionNotOffset(t *testing.T) {
	c, clock := start(t, Options{PageSize: 7, History: 6 * time.Hour})
	c.login()
	body := window(t0.Add(-6*time.Hour), t0)
	all := c.queryAll(body)
	seen := map[string]bool{}
	for i, r := range all {
		if seen[r.RunID] {
			t.Fatalf("run %s served twice", r.RunID)
		}
		seen[r.RunID] = true
		if i > 0 && all[i-1].RunStart < r.RunStart {
			t.Fatalf("default order is RunStart DESC: %s before %s", all[i-1].RunStart, r.RunStart)
		}
	}
	want := 0
	for _, r := range c.sim.Runs() {
		if r.LastUpdated >= FormatTime(t0.Add(-6*time.Hour)) {
			want++
		}
	}
	if len(all) != want || want < 60 {
		t.Fatalf("paged %d runs, the window holds %d", len(all), want)
	}

	// A run leaving the window between pages shifts nothing: the token is
	// a position.
	delete(body, "continuationToken")
	st, b, _ := c.do("POST", "/queryPipelineRuns", body)
	var p1 runsPage
	if st != 200 || json.Unmarshal(b, &p1) != nil || p1.ContinuationToken == "" {
		t.Fatalf("page 1: %d %s", st, b)
	}
	clock.Advance(time.Second)
	if err := c.sim.SetStatus(p1.Value[0].RunID, StatusSucceeded, ""); err != nil { // its lastUpdated leaves the window
		t.Fatal(err)
	}
	body["continuationToken"] = p1.ContinuationToken
	st, b, _ = c.do("POST", "/queryPipelineRuns", body)
	var p2 runsPage
	if st != 200 || json.Unmarshal(b, &p2) != nil {
		t.Fatalf("page 2: %d %s", st, b)
	}
	if p2.Value[0].RunID != all[7].RunID {
		t.Errorf("page 2 starts at %s, want %s (the 8th run)", p2.Value[0].RunID, all[7].RunID)
	}
}

func TestQuery_rejectsWhatTheServiceRejects(t *testing.T) {
	c, _ := start(t, Options{NoScenario: true})
	c.login()
	for _, tc := range []struct {
		name string
		body string
	}{
		{"no lastUpdatedBefore", `{"lastUpdatedAfter":"2026-11-17T00:00:00Z"}`},
		{"no lastUpdatedAfter", `{"lastUpdatedBefore":"2026-11-17T00:00:00Z"}`},
		{"not a date", `{"lastUpdatedAfter":"yesterday","lastUpdatedBefore":"2026-11-17T00:00:00Z"}`},
		{"inverted", `{"lastUpdatedAfter":"2026-11-17T01:00:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z"}`},
		{"unknown operand", `{"lastUpdatedAfter":"2026-11-16T00:00:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z","filters":[{"operand":"ActivityName","operator":"Equals","values":["x"]}]}`},
		{"unknown operator", `{"lastUpdatedAfter":"2026-11-16T00:00:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z","filters":[{"operand":"Status","operator":"Like","values":["x"]}]}`},
		{"bad order", `{"lastUpdatedAfter":"2026-11-16T00:00:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z","orderBy":[{"orderBy":"LastUpdated","order":"ASC"}]}`},
		{"bad token", `{"lastUpdatedAfter":"2026-11-16T00:00:00Z","lastUpdatedBefore":"2026-11-17T00:00:00Z","continuationToken":"garbage"}`},
		{"not JSON", `{"lastUpdatedAfter":`},
	} {
		st, b, _ := c.do("POST", "/queryPipelineRuns", tc.body)
		if st != 400 || errorCode(t, b) != "BadRequest" {
			t.Errorf("%s: %d %s; want 400 BadRequest", tc.name, st, b)
		}
	}
	if st, b, _ := c.do("GET", "/pipelineruns/00000000-0000-4000-8000-000000000000", nil); st != 404 || errorCode(t, b) != "PipelineRunNotFound" {
		t.Errorf("unknown run: %d %s", st, b)
	}
	if st, b, _ := c.do("GET", "/pipelines/nope", nil); st != 404 || errorCode(t, b) != "ResourceNotFound" {
		t.Errorf("unknown pipeline: %d %s", st, b)
	}
}

func TestScenario_steadyRealisticAndReproducible(t *testing.T) {
	a, _ := start(t, Options{History: 48 * time.Hour})
	b, _ := start(t, Options{History: 48 * time.Hour})
	ra, rb := a.sim.Runs(), b.sim.Runs()
	ja, _ := json.Marshal(ra)
	jb, _ := json.Marshal(rb)
	if string(ja) != string(jb) {
		t.Fatal("the same seed and clock give different worlds")
	}
	statuses := map[string]int{}
	long, etl, reruns, messages := 0, 0, 0, 0
	names := map[string]bool{}
	for _, r := range ra {
		statuses[r.Status]++
		names[r.PipelineName] = true
		if r.PipelineName == "ETL_Vendas" {
			etl++
			if r.DurationInMs != nil && *r.DurationInMs > 5*60*1000 {
				long++
			}
		}
		if r.RunGroupID != r.RunID {
			reruns++
		}
		if r.Status == StatusFailed {
			if !strings.HasPrefix(r.Message, "Operation on target ") {
				t.Errorf("failed run %s has message %q", r.RunID, r.Message)
			}
			messages++
		}
	}
	for _, n := range []string{"ETL_Vendas", "pl_sales_load", "pl_customers_sync"} {
		if !names[n] {
			t.Errorf("no run of %s", n)
		}
	}
	if statuses[StatusSucceeded] < len(ra)*8/10 || statuses[StatusFailed] == 0 || statuses[StatusCancelled] == 0 {
		t.Errorf("statuses %v: want mostly successes, some failures and cancellations", statuses)
	}
	if long == 0 || long == etl {
		t.Errorf("%d of %d ETL_Vendas runs take more than 5 minutes: want some", long, etl)
	}
	if reruns == 0 {
		t.Error("no recovery re-run in two days")
	}
	retried := false
	for _, r := range ra {
		for _, act := range a.sim.ActivityRuns(r.RunID) {
			retried = retried || act.RetryAttempt != nil
		}
	}
	if !retried {
		t.Error("no retried activity in two days")
	}
	if len(ra) < 800 {
		t.Errorf("%d runs in two days: want a steady flow", len(ra))
	}
}

func TestRuns_byHand(t *testing.T) {
	c, clock := start(t, Options{NoScenario: true})
	id, err := c.sim.StartRun(RunSpec{Pipeline: "ETL_Vendas"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.sim.Run(id)
	if r.Status != StatusInProgress || r.RunEnd != nil || r.DurationInMs != nil || !r.IsLatest {
		t.Fatalf("started run: %+v", r)
	}
	clock.Advance(7 * time.Minute)
	if err := c.sim.FinishRun(id, StatusFailed, "Operation on target Run_ETL_Vendas failed: boom"); err != nil {
		t.Fatal(err)
	}
	r, _ = c.sim.Run(id)
	if r.Status != StatusFailed || r.RunEnd == nil || *r.DurationInMs != 7*60*1000 || r.LastUpdated != FormatTime(t0.Add(7*time.Minute)) {
		t.Fatalf("finished run: %+v", r)
	}
	acts := c.sim.ActivityRuns(id)
	if len(acts) != 1 || acts[0].Status != StatusFailed || acts[0].Error.Message != "boom" {
		t.Fatalf("activities: %+v", acts)
	}
	clock.Advance(20 * time.Minute)
	re, err := c.sim.StartRun(RunSpec{RecoveryOf: id})
	if err != nil {
		t.Fatal(err)
	}
	rr, _ := c.sim.Run(re)
	orig, _ := c.sim.Run(id)
	if rr.RunGroupID != id || orig.IsLatest || !rr.IsLatest || orig.LastUpdated != r.LastUpdated {
		t.Fatalf("recovery: rerun %+v, original %+v", rr, orig)
	}
	if err := c.sim.CancelRun(re); err != nil {
		t.Fatal(err)
	}
	if rr, _ = c.sim.Run(re); rr.Status != StatusCanceling {
		t.Fatalf("cancelling: %s", rr.Status)
	}
	clock.Advance(5 * time.Second)
	if rr, _ = c.sim.Run(re); rr.Status != StatusCancelled || rr.RunEnd == nil {
		t.Fatalf("cancelled: %+v", rr)
	}
	if err := c.sim.SetStatus(re, "Paused", ""); err != nil {
		t.Fatal(err)
	}
	if rr, _ = c.sim.Run(re); rr.Status != "Paused" || rr.RunEnd != nil {
		t.Fatalf("unknown status: %+v", rr)
	}
	if err := c.sim.FinishRun(re, "Paused", ""); err == nil {
		t.Error("FinishRun accepts a non-terminal status")
	}
}

func TestFaults(t *testing.T) {
	c, _ := start(t, Options{PageSize: 5, History: 3 * time.Hour})
	c.login()
	c.sim.FailNext(2, http.StatusTooManyRequests, 7*time.Second)
	for i := 0; i < 2; i++ {
		st, b, h := c.do("GET", "/pipelines", nil)
		if st != 429 || h.Get("Retry-After") != "7" || errorCode(t, b) != "TooManyRequests" {
			t.Fatalf("throttled answer %d: %d %s %v", i, st, b, h)
		}
	}
	c.sim.FailNext(1, http.StatusServiceUnavailable, 0)
	if st, _, h := c.do("GET", "/pipelines", nil); st != 503 || h.Get("Retry-After") != "" {
		t.Fatalf("503: %d", st)
	}
	if st, _, _ := c.do("GET", "/pipelines", nil); st != 200 {
		t.Fatalf("after the faults: %d", st)
	}
	body := window(t0.Add(-3*time.Hour), t0)
	c.sim.MalformNext(1)
	st, b, _ := c.do("POST", "/queryPipelineRuns", body)
	if st != 200 || json.Valid(b) {
		t.Fatalf("malformed page: %d valid=%v", st, json.Valid(b))
	}
	st, b, _ = c.do("POST", "/queryPipelineRuns", body)
	var p1 runsPage
	if st != 200 || json.Unmarshal(b, &p1) != nil {
		t.Fatal("the page after the malformed one")
	}
	c.sim.OverlapNextPages(1, 2)
	body["continuationToken"] = p1.ContinuationToken
	_, b, _ = c.do("POST", "/queryPipelineRuns", body)
	var p2 runsPage
	_ = json.Unmarshal(b, &p2)
	if p2.Value[0].RunID != p1.Value[3].RunID || p2.Value[1].RunID != p1.Value[4].RunID {
		t.Errorf("overlapping page does not repeat the last 2 runs of page 1")
	}
	if n := c.sim.CountRequests("/queryPipelineRuns"); n != 3 {
		t.Errorf("recorded %d run queries, want 3", n)
	}
}

func TestRetentionAndPipelines(t *testing.T) {
	c, clock := start(t, Options{PipelinesPageSize: 4})
	c.login()
	first := c.sim.Runs()[0]
	clock.Advance(46 * 24 * time.Hour)
	c.sim.Runs()
	if _, ok := c.sim.Run(first.RunID); ok {
		t.Error("a run older than 45 days is still served")
	}
	c.login()
	st, b, _ := c.do("GET", "/pipelines", nil)
	var page struct {
		Value    []PipelineResource `json:"value"`
		NextLink string             `json:"nextLink"`
	}
	if st != 200 || json.Unmarshal(b, &page) != nil || len(page.Value) != 4 || !strings.Contains(page.NextLink, "api-version="+APIVersion) {
		t.Fatalf("pipelines page 1: %d %s", st, b)
	}
	if !strings.HasPrefix(page.Value[0].ID, c.sim.WorkspaceResourceID()+"/pipelines/") {
		t.Errorf("pipeline id %s", page.Value[0].ID)
	}
	u, _ := url.Parse(page.NextLink)
	st, b, _ = c.do("GET", u.Path+"?"+u.RawQuery, nil)
	page.Value, page.NextLink = nil, ""
	if st != 200 || json.Unmarshal(b, &page) != nil || len(page.Value) != 2 || page.NextLink != "" {
		t.Fatalf("pipelines page 2: %d %s", st, b)
	}
	st, b, _ = c.do("POST", "/queryTriggerRuns", window(clock.Now().Add(-time.Hour), clock.Now()))
	if st != 200 || !strings.Contains(string(b), `"triggeredPipelines"`) {
		t.Errorf("trigger runs: %d %s", st, b)
	}
}
