package databrickssim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// simJob is a job of the world.
type simJob struct {
	json  jobJSON
	spec  *JobSpec // nil: no generated runs
	index int      // creation order, part of generated run ids
}

// simRun is a job run: its current rendering, and the plan it follows as
// the clock moves (nil for a static run, e.g. a fixture's).
type simRun struct {
	cur  runJSON
	plan *runPlan
	job  *simJob
	// lastLife is the life cycle state notifications were last sent for.
	lastLife string
	warned   bool
}

// Life cycle states in which runs/list?active_only=true returns a run.
var activeStates = []string{"QUEUED", "PENDING", "RUNNING", "TERMINATING"}

// Terminal life cycle states.
var terminalStates = []string{"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}

func lifeOf(r *runJSON) string {
	if r.State != nil {
		return r.State.LifeCycleState
	}
	if r.Status != nil {
		return r.Status.State
	}
	return ""
}

// ErrNotFound is returned by the world's methods for an unknown job or run.
var ErrNotFound = errors.New("databrickssim: no such job or run")

// JobID returns the id of the job with the given name (case-insensitive).
func (w *Workspace) JobID(name string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.jobs {
		if strings.EqualFold(j.json.Settings.Name, name) {
			return j.json.JobID, true
		}
	}
	return 0, false
}

// RunIDs returns the ids of the runs of job jobID (0: every job) that exist
// at the clock's current time, newest start first.
func (w *Workspace) RunIDs(jobID int64) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.opts.Now())
	var out []int64
	for _, r := range w.sortedRuns() {
		if jobID == 0 || r.cur.JobID == jobID {
			out = append(out, r.cur.RunID)
		}
	}
	return out
}

// RunState returns a run's life cycle and result states now.
func (w *Workspace) RunState(runID int64) (lifeCycle, result string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.opts.Now())
	r, ok := w.runs[runID]
	if !ok {
		return "", "", ErrNotFound
	}
	if r.cur.State == nil {
		return "", "", nil
	}
	return r.cur.State.LifeCycleState, r.cur.State.ResultState, nil
}

// sortedRuns returns the runs visible now, newest start first (ties: the
// larger run id first), as runs/list orders them.
func (w *Workspace) sortedRuns() []*simRun {
	out := make([]*simRun, 0, len(w.runs))
	for _, r := range w.runs {
		if r.cur.RunID != 0 {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *simRun) int {
		if a.cur.StartTime != b.cur.StartTime {
			return cmpInt(b.cur.StartTime, a.cur.StartTime)
		}
		return cmpInt(b.cur.RunID, a.cur.RunID)
	})
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// --- jobs/list, jobs/get ---

func (w *Workspace) listJobs(q url.Values) (any, int, string, string) {
	limit, err := intParam(q, "limit", 20)
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", err.Error()
	}
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > 100 {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid limit %d: the limit must be between 1 and 100.", limit)
	}
	expand, err := boolParam(q, "expand_tasks")
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", err.Error()
	}
	name := q.Get("name")
	jobs := slices.Clone(w.jobs)
	slices.SortStableFunc(jobs, func(a, b *simJob) int {
		if a.json.CreatedTime != b.json.CreatedTime {
			return cmpInt(a.json.CreatedTime, b.json.CreatedTime)
		}
		return cmpInt(a.json.JobID, b.json.JobID)
	})
	var items []jobJSON
	for _, j := range jobs {
		if name != "" && !strings.EqualFold(j.json.Settings.Name, name) {
			continue
		}
		items = append(items, j.render(expand))
	}
	page, next, prev, status, code, msg := paginate(items, q, limit, 0, func(j jobJSON) pageKey {
		return pageKey{A: j.CreatedTime, B: j.JobID}
	}, func(a, b pageKey) bool { return a.A < b.A || (a.A == b.A && a.B < b.B) })
	if code != "" {
		return nil, status, code, msg
	}
	return jobsListJSON{Jobs: page, HasMore: next != "", NextPageToken: next, PrevPageToken: prev}, http.StatusOK, "", ""
}

func (j *simJob) render(withTasks bool) jobJSON {
	out := j.json
	if !withTasks {
		out.Settings.Tasks = nil
	}
	return out
}

func (w *Workspace) getJob(q url.Values) (any, int, string, string) {
	if q.Get("job_id") == "" {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: job_id"
	}
	id, err := strconv.ParseInt(q.Get("job_id"), 10, 64)
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid value for parameter job_id: %q is not a valid 64-bit integer.", q.Get("job_id"))
	}
	j, ok := w.jobsByID[id]
	if !ok {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Job %d does not exist.", id)
	}
	return j.render(true), http.StatusOK, "", ""
}

// --- runs/list, runs/get, runs/get-output ---

func (w *Workspace) listRuns(q url.Values, console string) (any, int, string, string) {
	bad := func(msg string) (any, int, string, string) {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", msg
	}
	limit, err := intParam(q, "limit", 20)
	if err != nil {
		return bad(err.Error())
	}
	if limit == 0 {
		limit = 25
	}
	if limit < 0 || limit > 25 {
		return bad(fmt.Sprintf("Invalid limit %d: the limit must be greater than 0 and at most 25.", limit))
	}
	activeOnly, err := boolParam(q, "active_only")
	if err != nil {
		return bad(err.Error())
	}
	completedOnly, err := boolParam(q, "completed_only")
	if err != nil {
		return bad(err.Error())
	}
	if activeOnly && completedOnly {
		return bad("active_only and completed_only cannot both be true.")
	}
	expand, err := boolParam(q, "expand_tasks")
	if err != nil {
		return bad(err.Error())
	}
	var jobID, from, to int64
	for name, dst := range map[string]*int64{"job_id": &jobID, "start_time_from": &from, "start_time_to": &to} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(fmt.Sprintf("Invalid value for parameter %s: %q is not a valid 64-bit integer.", name, v))
			}
			*dst = n
		}
	}
	runType := q.Get("run_type")
	switch runType {
	case "", "JOB_RUN", "SUBMIT_RUN", "WORKFLOW_RUN":
	default:
		return bad(fmt.Sprintf("Invalid run_type %q: expected one of JOB_RUN, SUBMIT_RUN, WORKFLOW_RUN.", runType))
	}
	if jobID != 0 {
		if _, ok := w.jobsByID[jobID]; !ok {
			return bad(fmt.Sprintf("Job %d does not exist.", jobID))
		}
	}
	var items []runJSON
	for _, r := range w.sortedRuns() {
		life := lifeOf(&r.cur)
		switch {
		case jobID != 0 && r.cur.JobID != jobID,
			activeOnly && !slices.Contains(activeStates, life),
			completedOnly && !slices.Contains(terminalStates, life),
			from != 0 && r.cur.StartTime < from,
			to != 0 && r.cur.StartTime > to,
			runType != "" && r.cur.RunType != runType:
			continue
		}
		items = append(items, listItem(&r.cur, expand, console, w.opts.WorkspaceID))
	}
	page, next, prev, status, code, msg := paginate(items, q, limit, w.overlap, func(r runJSON) pageKey {
		return pageKey{A: r.StartTime, B: r.RunID}
	}, func(a, b pageKey) bool { return a.A > b.A || (a.A == b.A && a.B > b.B) })
	if code != "" {
		return nil, status, code, msg
	}
	return runsListJSON{Runs: page, HasMore: next != "", NextPageToken: next, PrevPageToken: prev}, http.StatusOK, "", ""
}

// listItem is a run as runs/list shows it.
func listItem(r *runJSON, expand bool, console, workspaceID string) runJSON {
	c := r.clone()
	c.JobParameters, c.JobClusters, c.RepairHistory = nil, nil, nil
	if !expand {
		c.Tasks = nil
	}
	fillURLs(&c, console, workspaceID)
	return c
}

func fillURLs(r *runJSON, console, workspaceID string) {
	if r.RunPageURL == "" {
		r.RunPageURL = runURL(console, workspaceID, r.JobID, r.RunID)
	}
	for i := range r.Tasks {
		if r.Tasks[i].RunPageURL == "" {
			r.Tasks[i].RunPageURL = runURL(console, workspaceID, r.JobID, r.Tasks[i].RunID)
		}
	}
}

func runURL(console, workspaceID string, jobID, runID int64) string {
	return fmt.Sprintf("%s/?o=%s#job/%d/run/%d", console, workspaceID, jobID, runID)
}

func (w *Workspace) lookupRun(q url.Values) (*simRun, int64, int, string, string) {
	v := q.Get("run_id")
	if v == "" {
		return nil, 0, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: run_id"
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, 0, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid value for parameter run_id: %q is not a valid 64-bit integer.", v)
	}
	r, ok := w.runs[id]
	if !ok || r.cur.RunID == 0 {
		return nil, id, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Run %d does not exist.", id)
	}
	return r, id, http.StatusOK, "", ""
}

func (w *Workspace) getRun(q url.Values, version, console string) (any, int, string, string) {
	history, err := boolParam(q, "include_history")
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", err.Error()
	}
	r, id, status, code, msg := w.lookupRun(q)
	if code != "" {
		// A task run id answers the task run, shaped as a single-task run.
		if parent, ok := w.taskRuns[id]; ok {
			if t := taskOf(parent, id); t != nil {
				return taskAsRun(parent, t, console, w.opts.WorkspaceID), http.StatusOK, "", ""
			}
		}
		return nil, status, code, msg
	}
	c := r.cur.clone()
	if !history {
		c.RepairHistory = nil
	}
	fillURLs(&c, console, w.opts.WorkspaceID)
	_ = version // 2.2 pages arrays beyond 100 items; no simulated run has that many.
	return c, http.StatusOK, "", ""
}

func taskOf(parent *simRun, id int64) *taskRunJSON {
	for i := range parent.cur.Tasks {
		if parent.cur.Tasks[i].RunID == id {
			return &parent.cur.Tasks[i]
		}
	}
	return nil
}

// taskAsRun shows a task run the way runs/get and get-output's metadata
// do: a single-task run of the parent's job.
func taskAsRun(parent *simRun, task *taskRunJSON, console, workspaceID string) runJSON {
	meta := parent.cur.clone()
	meta.RunID, meta.NumberInJob, meta.OriginalAttemptRunID = task.RunID, task.RunID, task.RunID
	meta.State, meta.Status = task.State, task.Status
	meta.StartTime, meta.EndTime = task.StartTime, task.EndTime
	meta.SetupDuration, meta.ExecutionDuration, meta.CleanupDuration = task.SetupDuration, task.ExecutionDuration, task.CleanupDuration
	meta.RunDuration = 0
	meta.RunPageURL = task.RunPageURL
	meta.AttemptNumber = task.AttemptNumber
	meta.Tasks, meta.JobParameters, meta.JobClusters, meta.RepairHistory = nil, nil, nil, nil
	meta.Format = "SINGLE_TASK"
	fillURLs(&meta, console, workspaceID)
	return meta
}

func (w *Workspace) getRunOutput(q url.Values, console string) (any, int, string, string) {
	v := q.Get("run_id")
	if v == "" {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: run_id"
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid value for parameter run_id: %q is not a valid 64-bit integer.", v)
	}
	if r, ok := w.runs[id]; ok && len(r.cur.Tasks) > 0 {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead."
	}
	parent, ok := w.taskRuns[id]
	var task *taskRunJSON
	if ok {
		task = taskOf(parent, id)
	}
	if task == nil {
		return nil, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Run %d does not exist.", id)
	}
	out := map[string]any{"metadata": taskAsRun(parent, task, console, w.opts.WorkspaceID)}
	if task.State != nil && task.State.ResultState != "" && task.State.ResultState != "SUCCESS" && task.State.StateMessage != "" {
		out["error"] = task.State.StateMessage
		out["error_trace"] = fmt.Sprintf("---------------------------------------------------------------------------\n%s\n  File \"<command-%d>\", line 42\n", task.State.StateMessage, task.RunID%1_000_000)
	} else if task.State != nil && task.State.ResultState == "SUCCESS" {
		out["notebook_output"] = map[string]any{"result": "ok", "truncated": false}
	}
	return out, http.StatusOK, "", ""
}

// --- paging ---

// pageKey is a list position: the sort key of an item.
type pageKey struct{ A, B int64 }

// paginate cuts one page out of items (already sorted). Tokens are opaque
// to clients: they carry the position of the page edge and a hash of the
// other query parameters, which must not change between pages.
func paginate[T any](items []T, q url.Values, limit, overlap int, key func(T) pageKey, less func(a, b pageKey) bool) (page []T, next, prev string, status int, code, msg string) {
	qh := queryHash(q)
	overlap = min(overlap, limit-1)
	start := 0
	if tok := q.Get("page_token"); tok != "" {
		dir, k, h, ok := decodeToken(tok)
		if !ok || h != qh {
			return nil, "", "", http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid page token. Use the page token from the previous response with the same request parameters."
		}
		// First item strictly after k in list order.
		idx := len(items)
		for i, it := range items {
			if less(k, key(it)) {
				idx = i
				break
			}
		}
		if dir == 'n' {
			start = max(idx-overlap, 0)
		} else {
			// Previous page: the limit items strictly before k.
			before := 0
			for i, it := range items {
				if !less(key(it), k) {
					before = i
					break
				}
				before = i + 1
			}
			start = max(before-limit, 0)
		}
	} else if off := q.Get("offset"); off != "" {
		n, err := strconv.Atoi(off)
		if err != nil || n < 0 {
			return nil, "", "", http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("Invalid offset %q.", off)
		}
		start = min(n, len(items))
	}
	end := min(start+limit, len(items))
	page = items[start:end]
	if end < len(items) && len(page) > 0 {
		next = encodeToken('n', key(page[len(page)-1]), qh)
	}
	if start > 0 && len(page) > 0 {
		prev = encodeToken('p', key(page[0]), qh)
	}
	return page, next, prev, http.StatusOK, "", ""
}

// queryHash identifies the query parameters a token is valid for.
func queryHash(q url.Values) uint32 {
	c := url.Values{}
	for k, v := range q {
		switch k {
		case "page_token", "limit", "offset":
			continue
		}
		c[k] = v
	}
	var h uint32 = 2166136261
	for _, b := range []byte(c.Encode()) {
		h ^= uint32(b)
		h *= 16777619
	}
	return h
}

func encodeToken(dir byte, k pageKey, qh uint32) string {
	raw := fmt.Sprintf("%c:%d:%d:%d", dir, k.A, k.B, qh)
	return "CA" + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeToken(tok string) (dir byte, k pageKey, qh uint32, ok bool) {
	rest, found := strings.CutPrefix(tok, "CA")
	if !found {
		return 0, k, 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, k, 0, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || len(parts[0]) != 1 || (parts[0][0] != 'n' && parts[0][0] != 'p') {
		return 0, k, 0, false
	}
	a, err1 := strconv.ParseInt(parts[1], 10, 64)
	b, err2 := strconv.ParseInt(parts[2], 10, 64)
	h, err3 := strconv.ParseUint(parts[3], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, k, 0, false
	}
	return parts[0][0], pageKey{A: a, B: b}, uint32(h), true
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("Invalid value for parameter %s: %q is not a valid integer.", name, v)
	}
	return n, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("Invalid value for parameter %s: %q is not a boolean.", name, v)
	}
	return b, nil
}

// --- explicit world changes ---

// Job describes a job added with AddJob.
type Job struct {
	// ID is the job id (0: one is chosen).
	ID   int64
	Name string
	// Tasks are task keys, run in order (default one task "main").
	Tasks   []string
	Tags    map[string]string
	Creator string
}

// AddJob adds a job without a schedule: its runs come from StartRun and
// AddRun. It returns the job id.
func (w *Workspace) AddJob(j Job) int64 {
	spec := JobSpec{ID: j.ID, Name: j.Name, Tags: j.Tags, Creator: j.Creator}
	for _, k := range j.Tasks {
		spec.Tasks = append(spec.Tasks, TaskSpec{Key: k})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sj := w.addJobLocked(spec, w.opts.Now())
	sj.spec = nil // not scheduled
	return sj.json.JobID
}

// RunSpec describes a run added with AddRun.
type RunSpec struct {
	JobID int64
	// Start is the run's start_time (zero: now).
	Start time.Time
	// Queued is how long it waits in the queue before starting, Setup how
	// long its cluster takes to start (PENDING).
	Queued, Setup time.Duration
	// Duration is the run's total duration; 0 leaves it running until
	// FinishRun.
	Duration time.Duration
	// Result is the final result_state (default SUCCESS): SUCCESS, FAILED,
	// TIMEDOUT, CANCELED, … When FailedTask is set, that task fails with
	// Message and the tasks after it are skipped upstream.
	Result     string
	Message    string
	FailedTask string
	// Attempt is the attempt number (retry of RetryOf when > 0).
	Attempt int
	RetryOf int64
}

// AddRun adds a run of an existing job and returns its run id.
func (w *Workspace) AddRun(s RunSpec) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.opts.Now()
	j, ok := w.jobsByID[s.JobID]
	if !ok {
		return 0, ErrNotFound
	}
	if s.Start.IsZero() {
		s.Start = now
	}
	if s.Result == "" {
		s.Result = "SUCCESS"
	}
	w.manual++
	id := 9_200_000_000_000_000 + w.manual*100
	p := manualPlan(j, s, id)
	p.truncate()
	r := &simRun{plan: p, job: j}
	w.runs[id] = r
	w.render(r, now)
	return id, nil
}

// StartRun starts a run of job jobID now; it runs until FinishRun.
func (w *Workspace) StartRun(jobID int64) (int64, error) {
	return w.AddRun(RunSpec{JobID: jobID})
}

// FinishRun ends a run now with result (SUCCESS, FAILED, TIMEDOUT,
// CANCELED, …) and, for a failure, its message (which the task running at
// that moment fails with). The run stops following its plan.
func (w *Workspace) FinishRun(runID int64, result, message string) error {
	w.mu.Lock()
	now := w.opts.Now()
	w.advance(now)
	r, ok := w.runs[runID]
	if !ok || r.cur.RunID == 0 {
		w.mu.Unlock()
		return ErrNotFound
	}
	r.plan = nil
	finishJSON(&r.cur, now, result, message)
	w.settle(r, now)
	notices := w.takeNotices()
	w.mu.Unlock()
	w.deliver(notices)
	return nil
}

// RepairRun repairs a run: the same run id goes back to RUNNING, its
// failed and skipped tasks run again (under new task run ids) until
// FinishRun, as the vendor's repair does. repair_history records it.
func (w *Workspace) RepairRun(runID int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.opts.Now()
	w.advance(now)
	r, ok := w.runs[runID]
	if !ok || r.cur.RunID == 0 {
		return ErrNotFound
	}
	r.plan = nil
	repairJSONRun(&r.cur, now)
	w.settle(r, now)
	return nil
}

// settle indexes a run's task runs and queues its notifications after a
// change made outside its plan.
func (w *Workspace) settle(r *simRun, now time.Time) {
	for _, t := range r.cur.Tasks {
		w.taskRuns[t.RunID] = r
	}
	w.notify(r, now)
}

// SetRunState overrides a run's raw state: life cycle and result (either
// may be a value the vendor has not documented yet). Its status object is
// left as is. The run stops following its plan.
func (w *Workspace) SetRunState(runID int64, lifeCycle, result string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.opts.Now())
	r, ok := w.runs[runID]
	if !ok {
		return ErrNotFound
	}
	r.plan = nil
	if r.cur.State == nil {
		r.cur.State = &runStateJSON{}
	}
	r.cur.State.LifeCycleState, r.cur.State.ResultState = lifeCycle, result
	return nil
}

// DeleteRun removes a run (the vendor deletes runs after ~60 days).
func (w *Workspace) DeleteRun(runID int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.runs[runID]
	if !ok {
		return ErrNotFound
	}
	for _, t := range r.cur.Tasks {
		delete(w.taskRuns, t.RunID)
	}
	delete(w.runs, runID)
	return nil
}

// RunJSON returns the run as runs/get answers it now.
func (w *Workspace) RunJSON(runID int64) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.opts.Now())
	r, ok := w.runs[runID]
	if !ok || r.cur.RunID == 0 {
		return nil, ErrNotFound
	}
	c := r.cur.clone()
	fillURLs(&c, strings.TrimRight(w.opts.ConsoleURL, "/"), w.opts.WorkspaceID)
	return json.Marshal(c)
}
