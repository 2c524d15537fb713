package synapsesim

import (
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// The fixture files are copies of shared/apis/fixtures/synapse (a test
// checks they have not drifted), embedded so the demo can serve them too.
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

// The ids the fixture files pair with requests.
const (
	FixtureFailedRunID   = "c6d1f0a2-8e4b-4c39-9a57-2f0e3b7d1a64"
	FixtureRecoveryRunID = "9e4d7b21-3c6a-4f58-8d0e-b5a1c2f3d4e6"
	FixtureFailedPipe    = "pl_sales_load"
)

// Fixture returns the content of one fixture file ("aad-token.json",
// "query-pipeline-runs-page1.json", ...), or nil.
func Fixture(name string) []byte {
	b, err := fixtureFS.ReadFile("fixtures/" + name)
	if err != nil {
		return nil
	}
	return b
}

// FixtureNames lists the fixture files.
func FixtureNames() []string {
	entries, _ := fixtureFS.ReadDir("fixtures")
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name()
	}
	return out
}

// loadFixtures makes the world the doc's scenario: the pipelines of
// pipelines-list.json, the runs of both query pages, the activity runs of
// the failed pl_sales_load run.
func (s *Server) loadFixtures() error {
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(Fixture("pipelines-list.json"), &list); err != nil {
		return fmt.Errorf("pipelines-list.json: %w", err)
	}
	for _, raw := range list.Value {
		var res PipelineResource
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("pipelines-list.json: %w", err)
		}
		s.world.addPipeline(&pipeline{res: res, raw: raw})
	}
	for _, name := range []string{"query-pipeline-runs-page1.json", "query-pipeline-runs-page2.json"} {
		var page struct {
			Value []PipelineRun `json:"value"`
		}
		if err := json.Unmarshal(Fixture(name), &page); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, v := range page.Value {
			r, err := runFromView(v)
			if err != nil {
				return fmt.Errorf("%s: run %s: %w", name, v.RunID, err)
			}
			s.world.addRun(r)
		}
	}
	var acts struct {
		Value []ActivityRun `json:"value"`
	}
	if err := json.Unmarshal(Fixture("activity-runs.json"), &acts); err != nil {
		return fmt.Errorf("activity-runs.json: %w", err)
	}
	for _, v := range acts.Value {
		r, ok := s.world.byID[v.PipelineRunID]
		if !ok {
			return fmt.Errorf("activity-runs.json: activity %s of unknown run %s", v.ActivityRunID, v.PipelineRunID)
		}
		a, err := activityFromView(v)
		if err != nil {
			return fmt.Errorf("activity-runs.json: %w", err)
		}
		r.activities = append(r.activities, a)
	}
	// The world starts complete: no scenario history to generate.
	s.started = true
	return nil
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func runFromView(v PipelineRun) (*run, error) {
	start, err := parseTime(v.RunStart)
	if err != nil {
		return nil, err
	}
	lu, err := parseTime(v.LastUpdated)
	if err != nil {
		return nil, err
	}
	r := &run{
		id: v.RunID, groupID: v.RunGroupID, pipeline: v.PipelineName, params: v.Parameters,
		invokedBy: v.InvokedBy, annotations: v.Annotations, start: start,
	}
	if v.InvokedBy.InvokedByType != "Manual" {
		r.triggerRunID, r.triggerType, r.firedAt = v.InvokedBy.ID, v.InvokedBy.InvokedByType, start.Truncate(time.Minute)
	}
	r.events = []event{{at: start, status: StatusQueued}}
	if terminal(v.Status) {
		r.events = append(r.events, event{at: start.Add(time.Second), status: StatusInProgress})
	}
	r.events = append(r.events, event{at: lu, status: v.Status, message: v.Message})
	return r, nil
}

func activityFromView(v ActivityRun) (*activity, error) {
	start, err := parseTime(v.ActivityRunStart)
	if err != nil {
		return nil, err
	}
	a := &activity{
		id: v.ActivityRunID, name: v.ActivityName, typ: v.ActivityType, start: start, status: v.Status,
		retryAttempt: v.RetryAttempt, input: v.Input, output: v.Output, userProperties: v.UserProperties,
	}
	if v.ActivityRunEnd != nil {
		if a.end, err = parseTime(*v.ActivityRunEnd); err != nil {
			return nil, err
		}
	}
	if v.Error.Message != "" {
		a.err = v.Error
	}
	return a, nil
}

// fixtureFile returns a fixture's bytes in fixture mode.
func (s *Server) fixtureFile(name string) ([]byte, bool) {
	if !s.opts.Fixtures {
		return nil, false
	}
	b := Fixture(name)
	return b, b != nil
}

// fixtureToken answers the first token request of fixture mode with
// aad-token.json. Call with s.mu held.
func (s *Server) fixtureToken() ([]byte, string, bool) {
	if !s.opts.Fixtures {
		return nil, "", false
	}
	b := Fixture("aad-token.json")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		return nil, "", false
	}
	if _, issued := s.tokens[tok.AccessToken]; issued {
		return nil, "", false
	}
	s.tokens[tok.AccessToken] = s.Now().Add(s.opts.TokenTTL)
	return b, tok.AccessToken, true
}

// fixtureQueryPage answers the doc's paired run queries with the page
// files: the body of query-pipeline-runs-request.json (same window instants,
// filters and order) gets page 1; the same body with page 1's
// continuationToken gets page 2.
func (s *Server) fixtureQueryPage(body []byte, q *query) ([]byte, bool) {
	if !s.opts.Fixtures {
		return nil, false
	}
	want, bad := parseQuery(Fixture("query-pipeline-runs-request.json"), pipelineRunQuery)
	if bad != nil || !q.after.Equal(want.after) || !q.before.Equal(want.before) ||
		!sameFilters(q.filters, want.filters) || !reflect.DeepEqual(q.order, want.order) {
		return nil, false
	}
	if q.token == "" {
		return Fixture("query-pipeline-runs-page1.json"), true
	}
	var p1 struct {
		ContinuationToken string `json:"continuationToken"`
	}
	if json.Unmarshal(Fixture("query-pipeline-runs-page1.json"), &p1) == nil && q.token == p1.ContinuationToken {
		return Fixture("query-pipeline-runs-page2.json"), true
	}
	return nil, false
}

func sameFilters(a, b []RunQueryFilter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Operand != b[i].Operand || a[i].Operator != b[i].Operator {
			return false
		}
		x, y := slices.Clone(a[i].Values), slices.Clone(b[i].Values)
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

// fixtureRunGet answers GET /pipelineruns/{the failed run} with
// pipeline-run-get.json.
func (s *Server) fixtureRunGet(id string) ([]byte, bool) {
	if id != FixtureFailedRunID {
		return nil, false
	}
	return s.fixtureFile("pipeline-run-get.json")
}

// fixtureActivityRuns answers the failed run's activity query with
// activity-runs.json when the window holds all of them and nothing
// narrows the query.
func (s *Server) fixtureActivityRuns(pipelineName, runID string, q *query) ([]byte, bool) {
	if !s.opts.Fixtures || pipelineName != FixtureFailedPipe || runID != FixtureFailedRunID || len(q.filters) > 0 || q.token != "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.world.byID[runID]
	if !ok {
		return nil, false
	}
	now := s.Now()
	for _, a := range r.activities {
		if !q.inWindow(a.lastUpdated(now)) {
			return nil, false
		}
	}
	return s.fixtureFile("activity-runs.json")
}
