package demo

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	databrickssim "github.com/puod/puod/plugins/sim/databricks"
)

// FailedRunPath is a demo-only endpoint of the Databricks simulator: a POST
// adds a run that failed a few seconds ago, of a job that only this
// endpoint runs ("demo_failure_probe"). The end-to-end tests use it to see
// a new failure reach an open dashboard without a reload; a presenter can
// use it the same way. It exists only on the loopback simulator that
// `puod serve --demo` starts, never on a real workspace.
const FailedRunPath = "/puod-demo/failed-run"

// FailureProbeJob is the name of the job FailedRunPath runs.
const FailureProbeJob = "demo_failure_probe"

func withTriggers(w *databrickssim.Workspace) http.Handler {
	var (
		once  sync.Once
		jobID int64
	)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != FailedRunPath {
			w.ServeHTTP(rw, r)
			return
		}
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "POST adds a failed run", http.StatusMethodNotAllowed)
			return
		}
		once.Do(func() { jobID = w.AddJob(databrickssim.Job{Name: FailureProbeJob, Tasks: []string{"main"}}) })
		now := w.Now()
		runID, err := w.AddRun(databrickssim.RunSpec{
			JobID:    jobID,
			Start:    now.Add(-40 * time.Second),
			Duration: 30 * time.Second,
			Result:   "FAILED",
			Message:  "Injected failure: the demo trigger " + FailedRunPath + " was called",
		})
		if err != nil {
			http.Error(rw, "add the failed run: "+err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"job_id": jobID, "job_name": FailureProbeJob, "run_id": runID})
	})
}
