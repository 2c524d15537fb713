package airflowsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"
)

// DAG is a DAG of the simulated Airflow, with the knobs the scenario
// generator uses to produce its runs.
type DAG struct {
	ID          string
	DisplayName string // default ID
	Description string
	Owners      []string
	Tags        []string
	// Schedule is a cron expression in UTC ("0 * * * *", "0 6 * * 1-5");
	// empty for a DAG that only runs when triggered.
	Schedule             string
	TimetableDescription string
	Fileloc              string // default /opt/airflow/dags/<id>.py
	Paused               bool
	// Stale is Airflow 3's is_stale (Airflow 2 shows is_active = !Stale).
	Stale          bool
	MaxActiveRuns  int // default 1
	MaxActiveTasks int // default 16
	// Tasks in topological order (upstream tasks first).
	Tasks []Task
	// Version is the DAG version number Airflow 3 reports (default 1).
	Version int

	// FailureRate is the share of runs that fail for good.
	FailureRate float64
	// FlakyRate is the share of runs where one task fails once and
	// succeeds on retry.
	FlakyRate float64
	// SlowRate is the share of runs that take SlowFactor (default 2.2)
	// times longer than usual.
	SlowRate   float64
	SlowFactor float64
	// ManualPerHour is the chance per hour of a manual trigger through the
	// REST API (for DAGs without a schedule, or in addition to it).
	ManualPerHour float64
	// Users trigger the manual runs.
	Users []string
}

// Task is one task of a DAG.
type Task struct {
	ID       string
	Operator string   // class name, default PythonOperator
	Upstream []string // task ids
	// Duration is how long one try usually takes.
	Duration time.Duration
	Retries  int
	// RetryDelay is the wait before a retry (default 5 minutes).
	RetryDelay time.Duration
	// Failures are the exceptions a failing try of this task logs; the
	// generator picks one per failure.
	Failures []string
}

// Run is a DAG run as the simulator holds it.
type Run struct {
	ID          int64
	DagID       string
	RunID       string
	RunType     string
	State       string
	TriggeredBy string
	LogicalDate time.Time
	RunAfter    time.Time
	QueuedAt    time.Time
	StartDate   time.Time
	EndDate     time.Time
	UpdatedAt   time.Time
	Tasks       []TaskInstance
	// Failure is what the failing task's log would end with (the REST API
	// does not expose it; the demo and tests may).
	Failure string
}

// TaskInstance is one task instance of a run.
type TaskInstance struct {
	TaskID    string
	State     string // "" for null
	TryNumber int
	MaxTries  int
	StartDate time.Time
	EndDate   time.Time
}

// RunSpec describes a run added by hand with AddRun.
type RunSpec struct {
	DagID string
	// RunID defaults to manual__<queued time> or scheduled__<logical date>.
	RunID string
	// RunType is manual (default), scheduled, backfill or asset_triggered.
	RunType string
	// State is queued (default), running, success or failed — or any
	// string, to simulate a value a newer Airflow might send.
	State string
	// LogicalDate defaults to the queued time.
	LogicalDate time.Time
	// QueuedAt defaults to the clock's now; StartDate and EndDate default
	// from the state.
	QueuedAt, StartDate, EndDate time.Time
	TriggeredBy                  string // default rest_api for manual runs
	User                         string
	Conf                         map[string]any
}

// ErrNotFound is returned for an unknown DAG or run.
var ErrNotFound = errors.New("airflowsim: not found")

type dag struct {
	DAG
	cron           *cron
	lastTick       time.Time // run_after of the last scheduled run
	nextManualSlot time.Time
	lastRunEnd     time.Time
	lastParsed     time.Time // zero: derived from the clock
	versionID      string
	versionCreated time.Time
	generated      bool
}

type dagRun struct {
	id                     int64
	dagID, runID           string
	runType, state         string
	triggeredBy            string
	user                   *string
	logicalDate            *time.Time
	logicalNullV2          bool
	runAfter               time.Time
	queuedAt               *time.Time
	start, end             *time.Time
	intervalStart          *time.Time
	intervalEnd            *time.Time
	lastSchedulingDecision *time.Time
	conf                   map[string]any
	note                   *string
	externalTrigger        bool
	updatedAt              time.Time
	tasks                  []*taskInstance
	plan                   *runPlan
	failure                string
}

type taskInstance struct {
	uuid           string
	taskID         string
	mapIndex       int
	state          *string
	tryNumber      int
	maxTries       int
	start, end     *time.Time
	duration       *float64
	hostname       string
	pid            *int
	operator       string
	pool, queue    string
	poolSlots      int
	priorityWeight int
	queuedWhen     *time.Time
	scheduledWhen  *time.Time
	note           *string
}

func ptr[T any](v T) *T { return &v }

func tptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (d *dag) displayName() string {
	if d.DisplayName != "" {
		return d.DisplayName
	}
	return d.ID
}

func (d *dag) fileloc() string {
	if d.Fileloc != "" {
		return d.Fileloc
	}
	return "/opt/airflow/dags/" + d.ID + ".py"
}

func (d *dag) version() int {
	if d.Version > 0 {
		return d.Version
	}
	return 1
}

// fileToken imitates Airflow's signed file tokens: a URL-safe serialiser
// output of the file location (v1) or the DAG id (v2) plus a signature.
func (d *dag) fileToken(v2 bool) string {
	if v2 {
		return base64.RawURLEncoding.EncodeToString([]byte(`"`+d.ID+`"`)) + ".Zb3k9QWmX1s2T7uV4yN8cPq0rLd"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(`"`+d.fileloc()+`"`)) + ".x9Kq2mN7pL4sT1vW8yZ3aB6cD0e"
}

// uuidFrom derives a stable UUID (version 7 layout) from parts.
func uuidFrom(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func newDag(d DAG) (*dag, error) {
	if d.ID == "" {
		return nil, errors.New("airflowsim: DAG needs an ID")
	}
	out := &dag{DAG: d}
	if d.Schedule != "" {
		c, err := parseCron(d.Schedule)
		if err != nil {
			return nil, err
		}
		out.cron = c
	}
	if out.MaxActiveRuns == 0 {
		out.MaxActiveRuns = 1
	}
	if out.MaxActiveTasks == 0 {
		out.MaxActiveTasks = 16
	}
	out.versionID = uuidFrom("dag-version", d.ID, fmt.Sprint(out.version()))
	return out, nil
}

// priorityWeights computes Airflow's default "downstream" weight rule: a
// task weighs 1 plus the number of tasks downstream of it.
func priorityWeights(tasks []Task) map[string]int {
	down := map[string][]string{}
	for _, t := range tasks {
		for _, u := range t.Upstream {
			down[u] = append(down[u], t.ID)
		}
	}
	out := map[string]int{}
	for _, t := range tasks {
		seen := map[string]bool{}
		var walk func(id string)
		walk = func(id string) {
			for _, c := range down[id] {
				if !seen[c] {
					seen[c] = true
					walk(c)
				}
			}
		}
		walk(t.ID)
		out[t.ID] = 1 + len(seen)
	}
	return out
}

func (s *Server) findRun(dagID, runID string) *dagRun {
	for _, r := range s.runs {
		if r.dagID == dagID && r.runID == runID {
			return r
		}
	}
	return nil
}

func (s *Server) insertRun(r *dagRun) {
	s.nextID++
	r.id = s.nextID
	s.runs = append(s.runs, r)
}

// sortedTasks returns the run's task instances ordered by task id and map
// index, as the API lists them.
func (r *dagRun) sortedTasks() []*taskInstance {
	out := append([]*taskInstance(nil), r.tasks...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].taskID != out[j].taskID {
			return out[i].taskID < out[j].taskID
		}
		return out[i].mapIndex < out[j].mapIndex
	})
	return out
}

// touch records a change of the run at now, as Airflow's updated_at
// column does.
func (r *dagRun) touch(now time.Time) {
	r.updatedAt = now
	if r.state != "queued" {
		r.lastSchedulingDecision = ptr(now)
	}
}

func (r *dagRun) export() Run {
	out := Run{
		ID: r.id, DagID: r.dagID, RunID: r.runID, RunType: r.runType, State: r.state, TriggeredBy: r.triggeredBy,
		RunAfter: r.runAfter, UpdatedAt: r.updatedAt,
	}
	if r.state == "failed" {
		out.Failure = r.failure // planned failures stay hidden until they happen
	}
	if r.logicalDate != nil {
		out.LogicalDate = *r.logicalDate
	}
	if r.queuedAt != nil {
		out.QueuedAt = *r.queuedAt
	}
	if r.start != nil {
		out.StartDate = *r.start
	}
	if r.end != nil {
		out.EndDate = *r.end
	}
	for _, t := range r.sortedTasks() {
		ti := TaskInstance{TaskID: t.taskID, TryNumber: t.tryNumber, MaxTries: t.maxTries}
		if t.state != nil {
			ti.State = *t.state
		}
		if t.start != nil {
			ti.StartDate = *t.start
		}
		if t.end != nil {
			ti.EndDate = *t.end
		}
		out.Tasks = append(out.Tasks, ti)
	}
	return out
}

// AddDAG adds a DAG (or replaces the one with the same id).
func (s *Server) AddDAG(d DAG) error {
	nd, err := newDag(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putDag(nd)
	return nil
}

func (s *Server) putDag(nd *dag) {
	for i, old := range s.dags {
		if old.ID == nd.ID {
			s.dags[i] = nd
			return
		}
	}
	s.dags = append(s.dags, nd)
	sort.Slice(s.dags, func(i, j int) bool { return s.dags[i].ID < s.dags[j].ID })
}

func (s *Server) dagByID(id string) *dag {
	for _, d := range s.dags {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// DAGs lists the DAGs.
func (s *Server) DAGs() []DAG {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DAG, len(s.dags))
	for i, d := range s.dags {
		out[i] = d.DAG
	}
	return out
}

// Runs lists every run as of the clock's now, in id order.
func (s *Server) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	out := make([]Run, len(s.runs))
	for i, r := range s.runs {
		out[i] = r.export()
	}
	return out
}

// GetRun returns one run as of the clock's now.
func (s *Server) GetRun(dagID, runID string) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	r := s.findRun(dagID, runID)
	if r == nil {
		return Run{}, false
	}
	return r.export(), true
}

// AddRun adds a run by hand, with task instances consistent with its
// state. It returns the run as stored.
func (s *Server) AddRun(spec RunSpec) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	d := s.dagByID(spec.DagID)
	if d == nil {
		return Run{}, fmt.Errorf("%w: DAG %q", ErrNotFound, spec.DagID)
	}
	queued := spec.QueuedAt
	if queued.IsZero() {
		queued = now
	}
	runType := spec.RunType
	if runType == "" {
		runType = "manual"
	}
	logical := spec.LogicalDate
	if logical.IsZero() {
		logical = queued
	}
	runID := spec.RunID
	if runID == "" {
		if runType == "manual" {
			runID = "manual__" + pyTime(queued, false)
		} else {
			runID = runType + "__" + pyTime(logical, false)
		}
	}
	if s.findRun(d.ID, runID) != nil {
		return Run{}, fmt.Errorf("airflowsim: DAG %q already has run %q", d.ID, runID)
	}
	state := spec.State
	if state == "" {
		state = "queued"
	}
	r := &dagRun{
		dagID: d.ID, runID: runID, runType: runType, state: state,
		logicalDate: ptr(logical), runAfter: queued, queuedAt: ptr(queued),
		conf: spec.Conf, triggeredBy: spec.TriggeredBy,
	}
	if r.conf == nil {
		r.conf = map[string]any{}
	}
	if runType == "manual" {
		r.externalTrigger = true
		r.logicalNullV2 = true
		r.intervalStart, r.intervalEnd = ptr(logical), ptr(logical)
		if r.triggeredBy == "" {
			r.triggeredBy = "rest_api"
		}
	} else {
		r.intervalStart = ptr(logical)
		r.intervalEnd = ptr(queued)
		if r.triggeredBy == "" {
			r.triggeredBy = "timetable"
		}
	}
	if spec.User != "" {
		r.user = ptr(spec.User)
	}
	r.start, r.end = tptr(spec.StartDate), tptr(spec.EndDate)
	switch state {
	case "queued":
	case "running":
		if r.start == nil {
			r.start = ptr(now)
		}
	default:
		if r.start == nil {
			r.start = ptr(queued.Add(2 * time.Second))
		}
		if r.end == nil && (state == "success" || state == "failed") {
			r.end = ptr(now)
		}
	}
	s.seedTasks(d, r, now)
	r.touch(now)
	s.insertRun(r)
	return r.export(), nil
}

// seedTasks gives a hand-made run task instances that agree with its state.
func (s *Server) seedTasks(d *dag, r *dagRun, now time.Time) {
	weights := priorityWeights(d.Tasks)
	r.tasks = nil
	for i, t := range d.Tasks {
		ti := &taskInstance{
			uuid: uuidFrom("ti", r.dagID, r.runID, t.ID), taskID: t.ID, mapIndex: -1, maxTries: t.Retries,
			operator: operatorOf(t), pool: "default_pool", queue: "default", poolSlots: 1, priorityWeight: weights[t.ID],
		}
		r.tasks = append(r.tasks, ti)
		s.setTaskForRunState(ti, r, i, now)
	}
}

func operatorOf(t Task) string {
	if t.Operator != "" {
		return t.Operator
	}
	return "PythonOperator"
}

// setTaskForRunState sets task i of a hand-driven run: queued runs have
// no task state, running ones run their first task, finished ones have
// every task done (a failed run fails its first task, the rest are
// upstream_failed).
func (s *Server) setTaskForRunState(ti *taskInstance, r *dagRun, i int, now time.Time) {
	ran := func(state string, try int) {
		start := now.Add(-time.Minute)
		if r.start != nil {
			start = r.start.Add(time.Second)
		}
		ti.state, ti.tryNumber = ptr(state), try
		ti.start, ti.queuedWhen, ti.scheduledWhen = ptr(start), ptr(start.Add(-time.Second)), ptr(start.Add(-1200*time.Millisecond))
		ti.hostname, ti.pid = "airflow-worker-0", ptr(40000+i)
		if state != "running" {
			end := now
			if r.end != nil {
				end = *r.end
			}
			if end.Before(start) {
				end = start
			}
			ti.end = ptr(end)
			ti.duration = ptr(seconds(end.Sub(start)))
		}
	}
	switch r.state {
	case "queued":
		ti.state, ti.tryNumber = nil, 0
	case "running":
		if i == 0 {
			ran("running", 1)
		} else {
			ti.state = nil
		}
	case "success":
		ran("success", 1)
	case "failed":
		if i == 0 {
			ran("failed", ti.maxTries+1)
		} else {
			ti.state, ti.tryNumber, ti.end = ptr("upstream_failed"), 0, ptr(now)
		}
	default:
		// An unknown run state: leave the tasks as they are.
	}
}

func (s *Server) mutateRun(dagID, runID string, fn func(r *dagRun, d *dag, now time.Time) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	r := s.findRun(dagID, runID)
	if r == nil {
		return fmt.Errorf("%w: run %s/%s", ErrNotFound, dagID, runID)
	}
	r.plan = nil // a hand-driven run leaves the generator's control
	d := s.dagByID(dagID)
	if d == nil {
		d = &dag{DAG: DAG{ID: dagID}}
	}
	if err := fn(r, d, now); err != nil {
		return err
	}
	r.touch(now)
	return nil
}

// StartRun moves a queued run to running at the clock's now.
func (s *Server) StartRun(dagID, runID string) error {
	return s.mutateRun(dagID, runID, func(r *dagRun, d *dag, now time.Time) error {
		r.state, r.start, r.end = "running", ptr(now), nil
		for i, ti := range r.tasks {
			s.setTaskForRunState(ti, r, i, now)
		}
		return nil
	})
}

// FinishRun ends a run at the clock's now with state success or failed.
func (s *Server) FinishRun(dagID, runID, state string) error {
	if state != "success" && state != "failed" {
		return fmt.Errorf("airflowsim: a DAG run finishes as success or failed, not %q", state)
	}
	return s.mutateRun(dagID, runID, func(r *dagRun, d *dag, now time.Time) error {
		if r.start == nil {
			r.start = ptr(now)
		}
		r.state, r.end = state, ptr(now)
		if state == "failed" && r.failure == "" {
			r.failure = "airflow.exceptions.AirflowException: Task failed (simulated)"
		}
		for i, ti := range r.tasks {
			s.setTaskForRunState(ti, r, i, now)
		}
		return nil
	})
}

// SetRunState sets a run's raw state without touching its dates or tasks,
// e.g. to a value the connector does not know.
func (s *Server) SetRunState(dagID, runID, state string) error {
	return s.mutateRun(dagID, runID, func(r *dagRun, _ *dag, _ time.Time) error {
		r.state = state
		return nil
	})
}

// TouchRun marks a run as changed now (as a scheduler loop does), which
// moves it into later updated_at windows.
func (s *Server) TouchRun(dagID, runID string) error {
	return s.mutateRun(dagID, runID, func(*dagRun, *dag, time.Time) error { return nil })
}

// DeleteRun removes a run.
func (s *Server) DeleteRun(dagID, runID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.runs {
		if r.dagID == dagID && r.runID == runID {
			s.runs = append(s.runs[:i], s.runs[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: run %s/%s", ErrNotFound, dagID, runID)
}

func seconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }
