package synapsesim

import (
	"encoding/json"
	"time"
)

// Statuses the service uses for pipeline and activity runs. Note the two
// spellings: Canceling (one "l", not terminal) and Cancelled.
const (
	StatusQueued     = "Queued"
	StatusInProgress = "InProgress"
	StatusSucceeded  = "Succeeded"
	StatusFailed     = "Failed"
	StatusCanceling  = "Canceling"
	StatusCancelled  = "Cancelled"
)

func terminal(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// event is one change of a run's record. A run's timeline may reach into
// the future: the API shows only the events the clock has reached.
type event struct {
	at      time.Time
	status  string
	message string
	// forced events were made by hand at (or just after) the current
	// instant; they are visible at once.
	forced bool
}

// run is a pipeline run and its whole timeline.
type run struct {
	id, groupID, pipeline string
	params                map[string]string
	invokedBy             InvokedBy
	annotations           []string
	start                 time.Time
	events                []event
	activities            []*activity
	// trigger firing that started the run (scheduled runs only).
	triggerRunID string
	triggerType  string
	firedAt      time.Time
	seq          int
}

// activity is one activity run (one attempt of an activity).
type activity struct {
	id, name, typ  string
	start, end     time.Time // end zero: still running
	status         string    // status once ended
	retryAttempt   *int
	err            ActivityError
	input, output  json.RawMessage
	userProperties map[string]any
	forced         bool
}

func (e event) visible(now time.Time) bool { return e.forced || !e.at.After(now) }

// current returns the run's latest visible event; ok is false when the run
// does not exist yet at now.
func (r *run) current(now time.Time) (event, bool) {
	var cur event
	ok := false
	for _, e := range r.events {
		if !e.visible(now) {
			break
		}
		cur, ok = e, true
	}
	return cur, ok
}

func (r *run) lastUpdated(now time.Time) (time.Time, bool) {
	e, ok := r.current(now)
	return e.at, ok
}

// view renders the run as the API shows it at now.
func (w *world) view(r *run, now time.Time) PipelineRun {
	cur, _ := r.current(now)
	v := PipelineRun{
		RunID: r.id, RunGroupID: r.groupID, IsLatest: w.isLatest(r, now), PipelineName: r.pipeline,
		Parameters: r.params, InvokedBy: r.invokedBy, RunStart: FormatTime(r.start),
		Status: cur.status, Message: cur.message, LastUpdated: FormatTime(cur.at), Annotations: r.annotations,
	}
	if v.Parameters == nil {
		v.Parameters = map[string]string{}
	}
	if v.Annotations == nil {
		v.Annotations = []string{}
	}
	if terminal(cur.status) {
		v.RunEnd = formatTimePtr(cur.at)
		d := durationMs(cur.at.Sub(r.start))
		v.DurationInMs = &d
	}
	return v
}

// isLatest is false once a later run of the same group (a recovery re-run)
// exists. The flip does not touch the older run's lastUpdated, as in the
// service (see the fixtures).
func (w *world) isLatest(r *run, now time.Time) bool {
	for _, o := range w.groups[r.groupID] {
		if o != r && o.start.After(r.start) {
			if _, ok := o.current(now); ok {
				return false
			}
		}
	}
	return true
}

func (a *activity) visible(now time.Time) bool { return a.forced || !a.start.After(now) }

func (a *activity) ended(now time.Time) bool { return !a.end.IsZero() && !a.end.After(now) }

// lastUpdated is what activity-run windows filter on.
func (a *activity) lastUpdated(now time.Time) time.Time {
	if a.ended(now) {
		return a.end
	}
	return a.start
}

func (a *activity) view(r *run, now time.Time) ActivityRun {
	v := ActivityRun{
		ActivityName: a.name, ActivityRunStart: FormatTime(a.start), ActivityType: a.typ,
		RetryAttempt: a.retryAttempt, ActivityRunID: a.id, Input: a.input, Output: json.RawMessage(`{}`),
		UserProperties: a.userProperties, PipelineName: r.pipeline, PipelineRunID: r.id, Status: StatusInProgress,
		Error: ActivityError{Target: a.name, Details: ""},
	}
	if v.Input == nil {
		v.Input = json.RawMessage(`{}`)
	}
	if v.UserProperties == nil {
		v.UserProperties = map[string]any{}
	}
	if a.ended(now) {
		v.ActivityRunEnd = formatTimePtr(a.end)
		d := durationMs(a.end.Sub(a.start))
		v.DurationInMs = &d
		v.Status = a.status
		if a.output != nil {
			v.Output = a.output
		}
		if a.err.Message != "" {
			v.Error = a.err
			if v.Error.Details == nil {
				v.Error.Details = []any{}
			}
		}
	}
	return v
}

// world is the simulated workspace: pipelines and runs.
type world struct {
	pipelines []*pipeline
	byName    map[string]*pipeline
	runs      []*run
	byID      map[string]*run
	groups    map[string][]*run
	seq       int
}

// pipeline is a pipeline definition plus, for generated ones, its schedule.
type pipeline struct {
	res  PipelineResource
	raw  json.RawMessage // the definition as a fixture gave it
	spec *PipelineSpec
	// generated: scheduled slots up to this instant have runs.
	generatedUntil time.Time
}

func newWorld() *world {
	return &world{byName: map[string]*pipeline{}, byID: map[string]*run{}, groups: map[string][]*run{}}
}

func (w *world) addPipeline(p *pipeline) {
	if old, ok := w.byName[p.res.Name]; ok {
		*old = *p
		return
	}
	w.pipelines = append(w.pipelines, p)
	w.byName[p.res.Name] = p
}

func (w *world) addRun(r *run) {
	w.seq++
	r.seq = w.seq
	if r.groupID == "" {
		r.groupID = r.id
	}
	w.runs = append(w.runs, r)
	w.byID[r.id] = r
	w.groups[r.groupID] = append(w.groups[r.groupID], r)
}

// prune forgets runs older than the retention: the service drops them
// silently.
func (w *world) prune(now time.Time, retention time.Duration) {
	if retention <= 0 {
		return
	}
	limit := now.Add(-retention)
	keep := w.runs[:0]
	for _, r := range w.runs {
		if lu, ok := r.lastUpdated(now); ok && lu.Before(limit) {
			delete(w.byID, r.id)
			g := w.groups[r.groupID]
			for i, o := range g {
				if o == r {
					g = append(g[:i], g[i+1:]...)
					break
				}
			}
			if len(g) == 0 {
				delete(w.groups, r.groupID)
			} else {
				w.groups[r.groupID] = g
			}
			continue
		}
		keep = append(keep, r)
	}
	for i := len(keep); i < len(w.runs); i++ {
		w.runs[i] = nil
	}
	w.runs = keep
}
