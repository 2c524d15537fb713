package airflowsim

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// The fixtures of the API reference (/work/shared/apis/fixtures/airflow),
// copied here so the simulator and the connector's tests share them.
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

// FixtureNow is "now" in the fixtures' scenario: Tuesday 2026-11-17,
// 07:10 UTC.
var FixtureNow = time.Date(2026, 11, 17, 7, 10, 0, 0, time.UTC)

// Fixture returns the content of one fixture file, e.g. "v2-dagruns.json".
func Fixture(name string) ([]byte, error) {
	return fixtureFS.ReadFile("fixtures/" + name)
}

// FixtureNames lists the fixture files.
func FixtureNames() []string {
	entries, _ := fixtureFS.ReadDir("fixtures")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func mustFixture(name string, v any) {
	b, err := Fixture(name)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		panic(fmt.Sprintf("airflowsim: fixture %s: %v", name, err))
	}
}

type fxTime struct{ t *time.Time }

func (f *fxTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t = t.UTC()
	f.t = &t
	return nil
}

type fxDAG struct {
	DagID                string   `json:"dag_id"`
	Description          string   `json:"description"`
	Owners               []string `json:"owners"`
	Fileloc              string   `json:"fileloc"`
	IsPaused             bool     `json:"is_paused"`
	IsStale              bool     `json:"is_stale"`
	TimetableSummary     *string  `json:"timetable_summary"`
	TimetableDescription string   `json:"timetable_description"`
	MaxActiveRuns        int      `json:"max_active_runs"`
	MaxActiveTasks       int      `json:"max_active_tasks"`
	LastParsedTime       fxTime   `json:"last_parsed_time"`
	Tags                 []struct {
		Name string `json:"name"`
	} `json:"tags"`
}

type fxRun struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	LogicalDate            fxTime         `json:"logical_date"`
	QueuedAt               fxTime         `json:"queued_at"`
	StartDate              fxTime         `json:"start_date"`
	EndDate                fxTime         `json:"end_date"`
	DataIntervalStart      fxTime         `json:"data_interval_start"`
	DataIntervalEnd        fxTime         `json:"data_interval_end"`
	RunAfter               fxTime         `json:"run_after"`
	LastSchedulingDecision fxTime         `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	ExternalTrigger        bool           `json:"external_trigger"`
	TriggeredBy            *string        `json:"triggered_by"`
	TriggeringUserName     *string        `json:"triggering_user_name"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
	DagVersions            []struct {
		ID            string `json:"id"`
		VersionNumber int    `json:"version_number"`
		CreatedAt     fxTime `json:"created_at"`
	} `json:"dag_versions"`
}

type fxTask struct {
	ID             string   `json:"id"`
	TaskID         string   `json:"task_id"`
	DagID          string   `json:"dag_id"`
	DagRunID       string   `json:"dag_run_id"`
	MapIndex       int      `json:"map_index"`
	StartDate      fxTime   `json:"start_date"`
	EndDate        fxTime   `json:"end_date"`
	Duration       *float64 `json:"duration"`
	State          *string  `json:"state"`
	TryNumber      int      `json:"try_number"`
	MaxTries       int      `json:"max_tries"`
	Hostname       *string  `json:"hostname"`
	Pool           string   `json:"pool"`
	PoolSlots      int      `json:"pool_slots"`
	Queue          string   `json:"queue"`
	PriorityWeight int      `json:"priority_weight"`
	Operator       string   `json:"operator"`
	QueuedWhen     fxTime   `json:"queued_when"`
	ScheduledWhen  fxTime   `json:"scheduled_when"`
	Pid            *int     `json:"pid"`
	Note           *string  `json:"note"`
}

// loadFixtures fills the world with the fixtures' scenario: the DAGs of
// v1-dags/v2-dags, the runs of v1-dagruns-list and v2-dagruns (merged:
// each file shows fields the other API lacks) and the failed run's task
// instances.
func (s *Server) loadFixtures() {
	var dags struct{ Dags []fxDAG }
	mustFixture("v2-dags.json", &dags)
	specs := map[string]DAG{}
	for _, d := range DefaultScenario().DAGs {
		specs[d.ID] = d
	}
	for _, fd := range dags.Dags {
		spec := specs[fd.DagID]
		spec.ID, spec.Description, spec.Owners, spec.Fileloc = fd.DagID, fd.Description, fd.Owners, fd.Fileloc
		spec.Paused, spec.Stale, spec.TimetableDescription = fd.IsPaused, fd.IsStale, fd.TimetableDescription
		spec.MaxActiveRuns, spec.MaxActiveTasks, spec.Schedule = fd.MaxActiveRuns, fd.MaxActiveTasks, ""
		if fd.TimetableSummary != nil {
			spec.Schedule = *fd.TimetableSummary
		}
		spec.Tags = nil
		for _, t := range fd.Tags {
			spec.Tags = append(spec.Tags, t.Name)
		}
		nd, err := newDag(spec)
		if err != nil {
			panic(err)
		}
		nd.lastParsed = *fd.LastParsedTime.t
		s.putDag(nd)
	}

	var v1, v2 struct {
		DagRuns []fxRun `json:"dag_runs"`
	}
	mustFixture("v1-dagruns-list.json", &v1)
	mustFixture("v2-dagruns.json", &v2)
	byKey := map[string]fxRun{}
	for _, r := range v2.DagRuns {
		byKey[r.DagID+"/"+r.DagRunID] = r
	}
	var runs []*dagRun
	for _, a := range v1.DagRuns {
		r := &dagRun{
			dagID: a.DagID, runID: a.DagRunID, runType: a.RunType, state: a.State,
			logicalDate: a.LogicalDate.t, start: a.StartDate.t, end: a.EndDate.t,
			intervalStart: a.DataIntervalStart.t, intervalEnd: a.DataIntervalEnd.t,
			lastSchedulingDecision: a.LastSchedulingDecision.t, conf: a.Conf, note: a.Note, externalTrigger: a.ExternalTrigger,
			triggeredBy: "timetable",
		}
		if b, ok := byKey[a.DagID+"/"+a.DagRunID]; ok {
			r.queuedAt, r.runAfter, r.user = b.QueuedAt.t, *b.RunAfter.t, b.TriggeringUserName
			r.logicalNullV2 = b.LogicalDate.t == nil
			if b.TriggeredBy != nil {
				r.triggeredBy = *b.TriggeredBy
			}
			if d := s.dagByID(a.DagID); d != nil && len(b.DagVersions) > 0 {
				d.versionID, d.Version, d.versionCreated = b.DagVersions[0].ID, b.DagVersions[0].VersionNumber, *b.DagVersions[0].CreatedAt.t
			}
		} else {
			// Only in the v1 file: derive what Airflow 3 would add.
			r.runAfter = *r.intervalEnd
			r.queuedAt = ptr(r.runAfter.Add(944120 * time.Microsecond))
		}
		r.updatedAt = *r.queuedAt
		for _, t := range []*time.Time{r.end, r.lastSchedulingDecision} {
			if t != nil && t.After(r.updatedAt) {
				r.updatedAt = *t
			}
		}
		if d := s.dagByID(r.dagID); d != nil && r.runType == "scheduled" && r.runAfter.After(d.lastTick) {
			d.lastTick = r.runAfter
		}
		if r.state == "failed" {
			r.failure = "ValueError: Ledger out of balance: GL total 1,284,339.12 != AP total 1,284,120.55 (difference 218.57)"
		}
		runs = append(runs, r)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].queuedAt.Before(*runs[j].queuedAt) })

	var t1, t2 struct {
		TaskInstances []fxTask `json:"task_instances"`
	}
	mustFixture("v1-task-instances.json", &t1)
	mustFixture("v2-task-instances.json", &t2)
	extra := map[string]fxTask{}
	for _, t := range t2.TaskInstances {
		extra[t.DagID+"/"+t.DagRunID+"/"+t.TaskID] = t
	}
	for _, r := range runs {
		for _, ft := range t1.TaskInstances {
			if ft.DagID != r.dagID || ft.DagRunID != r.runID {
				continue
			}
			ti := &taskInstance{
				uuid: extra[ft.DagID+"/"+ft.DagRunID+"/"+ft.TaskID].ID, taskID: ft.TaskID, mapIndex: ft.MapIndex, state: ft.State,
				tryNumber: ft.TryNumber, maxTries: ft.MaxTries, start: ft.StartDate.t, end: ft.EndDate.t, duration: ft.Duration,
				pid: ft.Pid, operator: ft.Operator, pool: ft.Pool, queue: ft.Queue, poolSlots: ft.PoolSlots, priorityWeight: ft.PriorityWeight,
				queuedWhen: ft.QueuedWhen.t, scheduledWhen: extra[ft.DagID+"/"+ft.DagRunID+"/"+ft.TaskID].ScheduledWhen.t, note: ft.Note,
			}
			if ft.Hostname != nil {
				ti.hostname = *ft.Hostname
			}
			r.tasks = append(r.tasks, ti)
		}
		s.insertRun(r)
	}
}
