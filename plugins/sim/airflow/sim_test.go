package airflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// client talks to a simulator as a connector would.
type client struct {
	t     testing.TB
	sim   *Server
	srv   *httptest.Server
	token string
}

func newClient(t testing.TB, opts Options) *client {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &client{t: t, sim: sim, srv: srv}
}

func (c *client) do(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.sim.API() == V1 {
		req.SetBasicAuth(c.sim.opts.Username, c.sim.opts.Password)
	} else if !strings.HasPrefix(path, "/auth/") {
		if c.token == "" {
			c.login()
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (c *client) login() {
	c.t.Helper()
	status, _, b := c.do(http.MethodPost, "/auth/token", map[string]string{"username": c.sim.opts.Username, "password": c.sim.opts.Password})
	if status != http.StatusCreated {
		c.t.Fatalf("POST /auth/token: %d %s", status, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &tok)
	c.token = tok.AccessToken
}

// diffJSON lists the differences between two JSON documents; unordered
// compares arrays as multisets.
func diffJSON(path string, got, want any, unordered bool) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var out []string
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: missing (want %v)", path, k, wv))
			case !wok:
				out = append(out, fmt.Sprintf("%s.%s: unexpected %v", path, k, gv))
			default:
				out = append(out, diffJSON(path+"."+k, gv, wv, unordered)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		if unordered {
			key := func(v any) string { b, _ := json.Marshal(v); return string(b) }
			gs, ws := make([]string, len(g)), make([]string, len(w))
			for i := range g {
				gs[i], ws[i] = key(g[i]), key(w[i])
			}
			sort.Strings(gs)
			sort.Strings(ws)
			if reflect.DeepEqual(gs, ws) {
				return nil
			}
			// Fall through to an ordered comparison for a readable diff.
		}
		var out []string
		for i := range w {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], unordered)...)
		}
		return out
	default:
		if !reflect.DeepEqual(got, want) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
}

// TestFixtureMode_answersTheFixtures sends each request the API reference
// pairs with a fixture and checks the simulator answers that fixture's
// content (same fields, same values), with the documented status.
func TestFixtureMode_answersTheFixtures(t *testing.T) {
	v1Batch, _ := Fixture("v1-dagruns-list-request.json")
	cases := []struct {
		api       API
		method    string
		path      string
		body      json.RawMessage
		fixture   string
		status    int
		unordered bool
	}{
		{V1, "GET", "/api/v1/dags?limit=100&offset=0", nil, "v1-dags.json", 200, false},
		// The hand-written fixture does not list its four runs in
		// -execution_date order; compare them as a set.
		{V1, "POST", "/api/v1/dags/~/dagRuns/list", v1Batch, "v1-dagruns-list.json", 200, true},
		{V1, "GET", "/api/v1/dags/dag_finance_close/dagRuns/scheduled__2026-11-16T06%3A00%3A00%2B00%3A00/taskInstances", nil, "v1-task-instances.json", 200, false},
		{V1, "GET", "/api/v1/dags/dag_finance_close/dagRuns/scheduled__2026-11-13T06%3A00%3A00%2B00%3A00", nil, "v1-problem-404.json", 404, false},
		{V2, "GET", "/api/v2/dags?limit=50&offset=0", nil, "v2-dags.json", 200, false},
		{V2, "GET", "/api/v2/dags/~/dagRuns?updated_at_gte=2026-11-17T06:30:00Z&updated_at_lte=2026-11-17T07:10:00Z&order_by=id", nil, "v2-dagruns.json", 200, false},
		{V2, "GET", "/api/v2/dags/dag_finance_close/dagRuns/scheduled__2026-11-16T06%3A00%3A00%2B00%3A00/taskInstances", nil, "v2-task-instances.json", 200, false},
		{V2, "GET", "/api/v2/dags/dag_finance_close/dagRuns/scheduled__2026-11-13T06%3A00%3A00%2B00%3A00", nil, "v2-error-404.json", 404, false},
		{V2, "POST", "/api/v2/dags/~/dagRuns/list", json.RawMessage(`{"updated_at_gte": "2026-11-17T06:30:00Z"}`), "v2-error-422.json", 422, false},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			c := newClient(t, Options{API: tc.api, Fixtures: true})
			var body any
			if tc.body != nil {
				body = tc.body
			}
			status, _, got := c.do(tc.method, tc.path, body)
			if status != tc.status {
				t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, status, tc.status, got)
			}
			want, _ := Fixture(tc.fixture)
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, got)
			}
			_ = json.Unmarshal(want, &w)
			for _, d := range diffJSON("", g, w, tc.unordered) {
				t.Error(d)
			}
		})
	}
	t.Run("v2-auth-token shape", func(t *testing.T) {
		c := newClient(t, Options{API: V2, Fixtures: true})
		status, _, b := c.do("POST", "/auth/token", map[string]string{"username": "admin", "password": "admin"})
		var got, want map[string]any
		_ = json.Unmarshal(b, &got)
		fx, _ := Fixture("v2-auth-token.json")
		_ = json.Unmarshal(fx, &want)
		if status != 201 || len(got) != len(want) || got["access_token"] == nil || strings.Count(got["access_token"].(string), ".") != 2 {
			t.Errorf("POST /auth/token: %d %s; want 201 and a JWT like %s", status, b, fx)
		}
	})
}

func TestAuth_asTheVendorChecks(t *testing.T) {
	t.Run("v1 basic", func(t *testing.T) {
		c := newClient(t, Options{API: V1, Fixtures: true, Username: "svc", Password: "pw"})
		req, _ := http.NewRequest("GET", c.srv.URL+"/api/v1/dags", nil)
		req.SetBasicAuth("svc", "wrong")
		resp, _ := http.DefaultClient.Do(req)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Basic" || !strings.Contains(string(b), `"title":"Unauthorized"`) {
			t.Errorf("wrong password: %d %v %s", resp.StatusCode, resp.Header, b)
		}
		if status, _, b := c.do("GET", "/api/v1/dags", nil); status != 200 {
			t.Errorf("right password: %d %s", status, b)
		}
	})
	t.Run("v2 token expiry", func(t *testing.T) {
		clock := NewManualClock(FixtureNow)
		c := newClient(t, Options{API: V2, Fixtures: true, Clock: clock, TokenTTL: time.Hour})
		if status, _, b := c.do("GET", "/api/v2/dags", nil); status != 200 {
			t.Fatalf("fresh token: %d %s", status, b)
		}
		clock.Advance(61 * time.Minute)
		if status, _, b := c.do("GET", "/api/v2/dags", nil); status != 401 || !strings.Contains(string(b), "detail") {
			t.Errorf("expired token: %d %s", status, b)
		}
		c.login()
		if status, _, _ := c.do("GET", "/api/v2/dags", nil); status != 200 {
			t.Errorf("new token: %d", status)
		}
		c.sim.ExpireTokens()
		if status, _, _ := c.do("GET", "/api/v2/dags", nil); status != 401 {
			t.Errorf("revoked token: %d", status)
		}
		if status, _, b := c.do("POST", "/auth/token", map[string]string{"username": "admin", "password": "nope"}); status != 401 {
			t.Errorf("bad credentials: %d %s", status, b)
		}
	})
}

func TestPaths_plusMustBeEncoded(t *testing.T) {
	c := newClient(t, Options{API: V2, Fixtures: true})
	if status, _, _ := c.do("GET", "/api/v2/dags/dag_finance_close/dagRuns/scheduled__2026-11-16T06:00:00+00:00", nil); status != 404 {
		t.Errorf("a raw + in the run id: status %d, want 404 (read as a space)", status)
	}
	if status, _, b := c.do("GET", "/api/v2/dags/dag_finance_close/dagRuns/scheduled__2026-11-16T06%3A00%3A00%2B00%3A00", nil); status != 200 {
		t.Errorf("percent-encoded run id: %d %s", status, b)
	}
}

func TestPaging_capsAndTotals(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	c := newClient(t, Options{API: V2, Clock: clock, MaxPageLimit: 40, Seed: 7})
	if err := c.sim.StartScenario(DefaultScenario(), clock.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	total := len(c.sim.Runs())
	if total < 150 {
		t.Fatalf("a day of the default scenario has %d runs, want more", total)
	}
	seen := map[string]bool{}
	for off := 0; ; {
		status, _, b := c.do("GET", fmt.Sprintf("/api/v2/dags/~/dagRuns?limit=500&offset=%d&order_by=id", off), nil)
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		var page struct {
			DagRuns []struct {
				DagID    string `json:"dag_id"`
				DagRunID string `json:"dag_run_id"`
			} `json:"dag_runs"`
			TotalEntries int `json:"total_entries"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.DagRuns) > 40 {
			t.Fatalf("page of %d runs, above maximum_page_limit 40", len(page.DagRuns))
		}
		if page.TotalEntries != total {
			t.Fatalf("total_entries %d, want %d", page.TotalEntries, total)
		}
		for _, r := range page.DagRuns {
			seen[r.DagID+"/"+r.DagRunID] = true
		}
		off += len(page.DagRuns)
		if len(page.DagRuns) == 0 || off >= page.TotalEntries {
			break
		}
	}
	if len(seen) != total {
		t.Errorf("paging saw %d distinct runs, want %d", len(seen), total)
	}
}

func TestScenario_realisticFlow(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC))
	sim := New(Options{API: V1, Clock: clock, Seed: 42})
	if err := sim.StartScenario(DefaultScenario(), clock.Now().Add(-7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var ok, failed, slowVendas, retried, manual int
	for _, r := range sim.Runs() {
		switch r.State {
		case "success":
			ok++
		case "failed":
			failed++
			if r.Failure == "" {
				t.Errorf("failed run %s/%s has no failure message", r.DagID, r.RunID)
			}
		}
		if r.DagID == "ETL_Vendas" && !r.EndDate.IsZero() && r.EndDate.Sub(r.StartDate) > 5*time.Minute {
			slowVendas++
		}
		if r.RunType == "manual" {
			manual++
		}
		for _, ti := range r.Tasks {
			if ti.TryNumber > 1 {
				retried++
				break
			}
		}
		if !r.StartDate.IsZero() && r.StartDate.Before(r.QueuedAt) {
			t.Errorf("run %s/%s starts before it is queued", r.DagID, r.RunID)
		}
		if !r.EndDate.IsZero() && r.EndDate.Before(r.StartDate) {
			t.Errorf("run %s/%s ends before it starts", r.DagID, r.RunID)
		}
	}
	t.Logf("a week: %d succeeded, %d failed, %d slow ETL_Vendas, %d with retries, %d manual", ok, failed, slowVendas, retried, manual)
	if ok < 10*failed || failed == 0 || slowVendas == 0 || retried == 0 || manual == 0 {
		t.Errorf("the flow is not realistic: %d succeeded, %d failed, %d slow ETL_Vendas, %d retried, %d manual", ok, failed, slowVendas, retried, manual)
	}

	// The clock moves: a running run finishes, new runs appear.
	before := len(sim.Runs())
	clock.Advance(2 * time.Hour)
	if after := len(sim.Runs()); after <= before {
		t.Errorf("two hours later there are %d runs, before %d", after, before)
	}
	// Same seed, same world.
	again := New(Options{API: V1, Clock: NewManualClock(clock.Now()), Seed: 42})
	_ = again.StartScenario(DefaultScenario(), time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC))
	a, b := sim.Runs(), again.Runs()
	if len(a) != len(b) || a[len(a)-1].RunID != b[len(b)-1].RunID || a[10].EndDate != b[10].EndDate {
		t.Errorf("the same seed gives different worlds")
	}
}

func TestRunLifecycle_byHand(t *testing.T) {
	clock := NewManualClock(FixtureNow)
	c := newClient(t, Options{API: V2, Fixtures: true, Clock: clock})
	r, err := c.sim.AddRun(RunSpec{DagID: "dag_vendas_export", User: "ana.souza"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := c.sim.StartRun(r.DagID, r.RunID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * time.Minute)
	if err := c.sim.FinishRun(r.DagID, r.RunID, "failed"); err != nil {
		t.Fatal(err)
	}
	got, _ := c.sim.GetRun(r.DagID, r.RunID)
	if got.State != "failed" || got.EndDate.Sub(got.StartDate) != 6*time.Minute || !got.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("run after finishing: %+v", got)
	}
	status, _, b := c.do("GET", "/api/v2/dags/dag_vendas_export/dagRuns/"+escapeSegment(r.RunID), nil)
	if status != 200 || !strings.Contains(string(b), `"state":"failed"`) || !strings.Contains(string(b), `"logical_date":null`) {
		t.Errorf("GET run: %d %s", status, b)
	}
}

func TestFaults(t *testing.T) {
	c := newClient(t, Options{API: V1, Fixtures: true})
	c.sim.FailNext(2, 429, 3*time.Second)
	for i := 0; i < 2; i++ {
		status, h, _ := c.do("GET", "/api/v1/dags", nil)
		if status != 429 || h.Get("Retry-After") != "3" {
			t.Errorf("request %d: %d Retry-After %q", i, status, h.Get("Retry-After"))
		}
	}
	if status, _, _ := c.do("GET", "/api/v1/dags", nil); status != 200 {
		t.Errorf("after the faults: %d", status)
	}
	c.sim.MalformNext(1)
	if _, _, b := c.do("GET", "/api/v1/dags", nil); json.Valid(b) {
		t.Errorf("malformed page is valid JSON")
	}
	c.sim.OverlapPages(1)
	_, _, b := c.do("GET", "/api/v1/dags?limit=2&offset=2", nil)
	if !strings.Contains(string(b), `"dag_id":"dag_finance_close"`) {
		t.Errorf("overlapping page does not start one DAG earlier: %s", b)
	}
	c.sim.ClearFaults()
	status, _, b := c.do("GET", "/api/v1/dags?nope=1", nil)
	if status != 400 || !strings.Contains(string(b), "Extra query parameter(s) nope not in spec") {
		t.Errorf("v1 strict query validation: %d %s", status, b)
	}
}

// escapeSegment percent-encodes everything but unreserved characters.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestScenario_continuesTheFixtures(t *testing.T) {
	clock := NewManualClock(FixtureNow)
	sim := New(Options{API: V2, Fixtures: true, Clock: clock})
	if err := sim.StartScenario(DefaultScenario(), FixtureNow); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Hour)
	seen := map[string]bool{}
	var clientes int
	for _, r := range sim.Runs() {
		key := r.DagID + "/" + r.RunID
		if seen[key] {
			t.Errorf("run %s exists twice", key)
		}
		seen[key] = true
		if r.DagID == "dag_clientes_refresh" {
			clientes++
		}
	}
	// 05:00 and 06:00 from the fixtures, then 07:00, 08:00 and 09:00.
	if clientes != 5 || !seen["dag_clientes_refresh/scheduled__2026-11-17T07:00:00+00:00"] {
		t.Errorf("%d dag_clientes_refresh runs after three hours: %v", clientes, seen)
	}
}
