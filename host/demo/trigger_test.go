package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	databrickssim "github.com/puod/puod/plugins/sim/databricks"
)

func TestFailedRunTrigger_addsAFailedRunTheJobsAPIShows(t *testing.T) {
	const token = "dapi-test-0123456789"
	srv := httptest.NewServer(withTriggers(databrickssim.New(databrickssim.Options{Token: token})))
	defer srv.Close()

	tests := []struct {
		method string
		status int
	}{
		{http.MethodGet, http.StatusMethodNotAllowed},
		{http.MethodPost, http.StatusOK},
		{http.MethodPost, http.StatusOK},
	}
	var ids []int64
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+FailedRunPath, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			RunID   int64  `json:"run_id"`
			JobName string `json:"job_name"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Fatalf("%s %s: status %d, want %d", tt.method, FailedRunPath, res.StatusCode, tt.status)
		}
		if tt.status == http.StatusOK {
			if out.JobName != FailureProbeJob || out.RunID == 0 {
				t.Fatalf("answer %+v", out)
			}
			ids = append(ids, out.RunID)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/2.2/jobs/runs/list?limit=25", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Runs []struct {
			RunID  int64 `json:"run_id"`
			Status struct {
				TerminationDetails struct {
					Code string `json:"code"`
				} `json:"termination_details"`
			} `json:"status"`
			State struct {
				ResultState string `json:"result_state"`
			} `json:"state"`
		} `json:"runs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	failed := map[int64]bool{}
	for _, r := range list.Runs {
		if r.State.ResultState == "FAILED" {
			failed[r.RunID] = true
		}
	}
	for _, id := range ids {
		if !failed[id] {
			t.Errorf("run %d is not listed as FAILED; runs/list answered %d runs", id, len(list.Runs))
		}
	}
	// Other paths still reach the simulator.
	res2, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if !strings.HasPrefix(res2.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/ is not the simulator's page: %s", res2.Header.Get("Content-Type"))
	}
}
