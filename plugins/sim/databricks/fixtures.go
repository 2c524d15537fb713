package databrickssim

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
)

// The reference fixtures, copied verbatim from the project's API
// reference (apis/fixtures/databricks/).
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

// Fixture returns the content of one reference fixture file, e.g.
// "runs-get-failed.json".
func Fixture(name string) ([]byte, error) {
	return fixtureFS.ReadFile("fixtures/" + name)
}

// FixtureNames lists the fixture files.
func FixtureNames() []string {
	entries, _ := fs.ReadDir(fixtureFS, "fixtures")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// fixtureRoute is an exact request the reference pairs with a fixture.
type fixtureRoute struct {
	path   string
	query  map[string]string
	file   string
	status int
}

var fixtureRoutes = []fixtureRoute{
	{"/api/2.1/jobs/list", map[string]string{"limit": "20"}, "jobs-list.json", http.StatusOK},
	{"/api/2.1/jobs/runs/list", map[string]string{"start_time_from": "1794873600000", "limit": "3"}, "runs-list-page1.json", http.StatusOK},
	{"/api/2.1/jobs/runs/list", map[string]string{"start_time_from": "1794873600000", "limit": "3", "page_token": "CAEQ0OKS2YqN6hgYs_Kf-oP76xgiAggD"}, "runs-list-page2.json", http.StatusOK},
	{"/api/2.1/jobs/runs/get", map[string]string{"run_id": "1102044718239904"}, "runs-get-failed.json", http.StatusOK},
	{"/api/2.1/jobs/runs/get", map[string]string{"run_id": "1102044718999999"}, "error-invalid-parameter.json", http.StatusBadRequest},
}

// serveFixture answers the request with its fixture file when fixture
// mode is on and the request is one the reference pairs with a fixture.
func (w *Workspace) serveFixture(rw http.ResponseWriter, r *http.Request) bool {
	if !w.opts.Fixtures || r.Method != http.MethodGet {
		return false
	}
	q := r.URL.Query()
	for _, fr := range fixtureRoutes {
		if r.URL.Path != fr.path || !queryEqual(q, fr.query) {
			continue
		}
		body, err := Fixture(fr.file)
		if err != nil {
			return false
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(fr.status)
		_, _ = rw.Write(body)
		return true
	}
	return false
}

// loadFixtures puts the reference scenario into the world: the jobs of
// jobs-list, the runs of both runs-list pages, with runs-get-failed as the
// full version of the failed etl_vendas_daily run. These runs are static:
// they change only through FinishRun, RepairRun and SetRunState.
func (w *Workspace) loadFixtures() error {
	var jobs jobsListJSON
	if err := decodeFixture("jobs-list.json", &jobs); err != nil {
		return err
	}
	for i := range jobs.Jobs {
		j := &simJob{json: jobs.Jobs[i], index: len(w.jobs)}
		w.jobs = append(w.jobs, j)
		w.jobsByID[j.json.JobID] = j
	}
	for _, name := range []string{"runs-list-page1.json", "runs-list-page2.json"} {
		var page runsListJSON
		if err := decodeFixture(name, &page); err != nil {
			return err
		}
		for _, r := range page.Runs {
			if err := w.addStatic(r); err != nil {
				return err
			}
		}
	}
	var full runJSON
	if err := decodeFixture("runs-get-failed.json", &full); err != nil {
		return err
	}
	return w.addStatic(full)
}

func (w *Workspace) addStatic(r runJSON) error {
	j, ok := w.jobsByID[r.JobID]
	if !ok {
		return fmt.Errorf("run %d belongs to job %d, which the fixtures do not list", r.RunID, r.JobID)
	}
	sr := &simRun{cur: r, job: j, lastLife: lifeOf(&r)}
	w.runs[r.RunID] = sr
	for _, t := range r.Tasks {
		w.taskRuns[t.RunID] = sr
	}
	return nil
}

func decodeFixture(name string, v any) error {
	b, err := Fixture(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("fixture %s: %w", name, err)
	}
	return nil
}
