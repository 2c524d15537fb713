package airflowsim

import (
	"strings"
	"time"
)

// pyTime formats t as Python's isoformat does for an aware UTC datetime:
// microseconds only when not zero, "+00:00" (Airflow 2) or "Z" (Airflow 3).
func pyTime(t time.Time, z bool) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += "." + strings.TrimPrefix(t.Format(".000000"), ".")
	}
	if z {
		return s + "Z"
	}
	return s + "+00:00"
}

func (s *Server) tstr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := pyTime(*t, s.opts.API == V2)
	return &v
}

type v1Tag struct {
	Name string `json:"name"`
}

type v2Tag struct {
	Name           string `json:"name"`
	DagID          string `json:"dag_id"`
	DagDisplayName string `json:"dag_display_name"`
}

type scheduleInterval struct {
	Type  string `json:"__type"`
	Value string `json:"value"`
}

type v1DAG struct {
	DagID                       string            `json:"dag_id"`
	DagDisplayName              string            `json:"dag_display_name"`
	RootDagID                   *string           `json:"root_dag_id"`
	IsPaused                    bool              `json:"is_paused"`
	IsActive                    bool              `json:"is_active"`
	IsSubdag                    bool              `json:"is_subdag"`
	LastParsedTime              *string           `json:"last_parsed_time"`
	LastPickled                 *string           `json:"last_pickled"`
	LastExpired                 *string           `json:"last_expired"`
	SchedulerLock               *bool             `json:"scheduler_lock"`
	PickleID                    *string           `json:"pickle_id"`
	DefaultView                 string            `json:"default_view"`
	Fileloc                     string            `json:"fileloc"`
	FileToken                   string            `json:"file_token"`
	Owners                      []string          `json:"owners"`
	Description                 *string           `json:"description"`
	ScheduleInterval            *scheduleInterval `json:"schedule_interval"`
	TimetableDescription        *string           `json:"timetable_description"`
	Tags                        []v1Tag           `json:"tags"`
	MaxActiveTasks              int               `json:"max_active_tasks"`
	MaxActiveRuns               int               `json:"max_active_runs"`
	MaxConsecutiveFailedDagRuns int               `json:"max_consecutive_failed_dag_runs"`
	HasTaskConcurrencyLimits    bool              `json:"has_task_concurrency_limits"`
	HasImportErrors             bool              `json:"has_import_errors"`
	NextDagrun                  *string           `json:"next_dagrun"`
	NextDagrunDataIntervalStart *string           `json:"next_dagrun_data_interval_start"`
	NextDagrunDataIntervalEnd   *string           `json:"next_dagrun_data_interval_end"`
	NextDagrunCreateAfter       *string           `json:"next_dagrun_create_after"`
}

type v2DAG struct {
	DagID                       string   `json:"dag_id"`
	DagDisplayName              string   `json:"dag_display_name"`
	IsPaused                    bool     `json:"is_paused"`
	IsStale                     bool     `json:"is_stale"`
	LastParsedTime              *string  `json:"last_parsed_time"`
	LastParseDuration           float64  `json:"last_parse_duration"`
	LastExpired                 *string  `json:"last_expired"`
	BundleName                  string   `json:"bundle_name"`
	BundleVersion               *string  `json:"bundle_version"`
	RelativeFileloc             string   `json:"relative_fileloc"`
	Fileloc                     string   `json:"fileloc"`
	Description                 *string  `json:"description"`
	TimetableSummary            *string  `json:"timetable_summary"`
	TimetableDescription        *string  `json:"timetable_description"`
	TimetablePartitioned        bool     `json:"timetable_partitioned"`
	Tags                        []v2Tag  `json:"tags"`
	MaxActiveTasks              int      `json:"max_active_tasks"`
	MaxActiveRuns               int      `json:"max_active_runs"`
	MaxConsecutiveFailedDagRuns int      `json:"max_consecutive_failed_dag_runs"`
	HasTaskConcurrencyLimits    bool     `json:"has_task_concurrency_limits"`
	HasImportErrors             bool     `json:"has_import_errors"`
	NextDagrunLogicalDate       *string  `json:"next_dagrun_logical_date"`
	NextDagrunDataIntervalStart *string  `json:"next_dagrun_data_interval_start"`
	NextDagrunDataIntervalEnd   *string  `json:"next_dagrun_data_interval_end"`
	NextDagrunRunAfter          *string  `json:"next_dagrun_run_after"`
	AllowedRunTypes             []string `json:"allowed_run_types"`
	Owners                      []string `json:"owners"`
	FileToken                   string   `json:"file_token"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nextRun is the next run the scheduler will create: its logical date,
// data interval and the time it may be created (its run_after).
func (s *Server) nextRun(d *dag, now time.Time) (logical, runAfter *time.Time) {
	if d.cron == nil {
		return nil, nil
	}
	last := d.lastTick
	if last.IsZero() {
		last = d.cron.prev(now.Add(time.Minute))
	}
	next := d.cron.next(last)
	return ptr(d.cron.prev(next)), &next
}

func (s *Server) lastParsed(d *dag, now time.Time) time.Time {
	if !d.lastParsed.IsZero() {
		return d.lastParsed
	}
	// The DAG processor re-parses every 30 s.
	t := now.Truncate(30 * time.Second).Add(11220934 * time.Microsecond)
	if t.After(now) {
		t = t.Add(-30 * time.Second)
	}
	return t
}

func (s *Server) renderDAG(d *dag, now time.Time) any {
	logical, runAfter := s.nextRun(d, now)
	parsed := s.lastParsed(d, now)
	owners := d.Owners
	if owners == nil {
		owners = []string{"airflow"}
	}
	if s.opts.API == V1 {
		out := v1DAG{
			DagID: d.ID, DagDisplayName: d.displayName(), IsPaused: d.Paused, IsActive: !d.Stale,
			LastParsedTime: s.tstr(&parsed), DefaultView: "grid", Fileloc: d.fileloc(), FileToken: d.fileToken(false),
			Owners: owners, Description: strOrNil(d.Description), TimetableDescription: strOrNil(d.TimetableDescription),
			Tags: []v1Tag{}, MaxActiveTasks: d.MaxActiveTasks, MaxActiveRuns: d.MaxActiveRuns,
		}
		if d.Schedule != "" {
			out.ScheduleInterval = &scheduleInterval{Type: "CronExpression", Value: d.Schedule}
		}
		for _, t := range d.Tags {
			out.Tags = append(out.Tags, v1Tag{Name: t})
		}
		if logical != nil {
			out.NextDagrun, out.NextDagrunDataIntervalStart = s.tstr(logical), s.tstr(logical)
			out.NextDagrunDataIntervalEnd, out.NextDagrunCreateAfter = s.tstr(runAfter), s.tstr(runAfter)
		}
		return out
	}
	out := v2DAG{
		DagID: d.ID, DagDisplayName: d.displayName(), IsPaused: d.Paused, IsStale: d.Stale,
		LastParsedTime: s.tstr(&parsed), LastParseDuration: 0.412, BundleName: "dags-folder",
		RelativeFileloc: strings.TrimPrefix(d.fileloc(), "/opt/airflow/dags/"), Fileloc: d.fileloc(),
		Description: strOrNil(d.Description), TimetableSummary: strOrNil(d.Schedule), TimetableDescription: strOrNil(d.TimetableDescription),
		Tags: []v2Tag{}, MaxActiveTasks: d.MaxActiveTasks, MaxActiveRuns: d.MaxActiveRuns, Owners: owners, FileToken: d.fileToken(true),
	}
	for _, t := range d.Tags {
		out.Tags = append(out.Tags, v2Tag{Name: t, DagID: d.ID, DagDisplayName: d.displayName()})
	}
	if logical != nil {
		out.NextDagrunLogicalDate, out.NextDagrunDataIntervalStart = s.tstr(logical), s.tstr(logical)
		out.NextDagrunDataIntervalEnd, out.NextDagrunRunAfter = s.tstr(runAfter), s.tstr(runAfter)
	} else {
		out.AllowedRunTypes = []string{"manual"}
	}
	return out
}

type v1Run struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	LogicalDate            *string        `json:"logical_date"`
	ExecutionDate          *string        `json:"execution_date"`
	StartDate              *string        `json:"start_date"`
	EndDate                *string        `json:"end_date"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	ExternalTrigger        bool           `json:"external_trigger"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
}

type dagVersion struct {
	ID             string  `json:"id"`
	VersionNumber  int     `json:"version_number"`
	DagID          string  `json:"dag_id"`
	BundleName     string  `json:"bundle_name"`
	BundleVersion  *string `json:"bundle_version"`
	CreatedAt      *string `json:"created_at"`
	DagDisplayName string  `json:"dag_display_name"`
	BundleURL      *string `json:"bundle_url"`
}

type v2Run struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	DagDisplayName         string         `json:"dag_display_name"`
	LogicalDate            *string        `json:"logical_date"`
	QueuedAt               *string        `json:"queued_at"`
	StartDate              *string        `json:"start_date"`
	EndDate                *string        `json:"end_date"`
	Duration               *float64       `json:"duration"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	RunAfter               string         `json:"run_after"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	TriggeredBy            *string        `json:"triggered_by"`
	TriggeringUserName     *string        `json:"triggering_user_name"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
	DagVersions            []dagVersion   `json:"dag_versions"`
	BundleVersion          *string        `json:"bundle_version"`
	PartitionKey           *string        `json:"partition_key"`
}

func (s *Server) dagOf(id string) *dag {
	if d := s.dagByID(id); d != nil {
		return d
	}
	d, _ := newDag(DAG{ID: id})
	return d
}

func (s *Server) version(d *dag) dagVersion {
	created := d.versionCreated
	if created.IsZero() {
		created = time.Date(2026, 11, 3, 14, 12, 9, 331208000, time.UTC)
	}
	return dagVersion{
		ID: d.versionID, VersionNumber: d.version(), DagID: d.ID, BundleName: "dags-folder",
		CreatedAt: s.tstr(&created), DagDisplayName: d.displayName(),
	}
}

// duration is end - start in seconds (null while either is unset).
func duration(start, end *time.Time) *float64 {
	if start == nil || end == nil {
		return nil
	}
	return ptr(seconds(end.Sub(*start)))
}

func (s *Server) renderRun(r *dagRun) any {
	if s.opts.API == V1 {
		return v1Run{
			DagRunID: r.runID, DagID: r.dagID, LogicalDate: s.tstr(r.logicalDate), ExecutionDate: s.tstr(r.logicalDate),
			StartDate: s.tstr(r.start), EndDate: s.tstr(r.end), DataIntervalStart: s.tstr(r.intervalStart), DataIntervalEnd: s.tstr(r.intervalEnd),
			LastSchedulingDecision: s.tstr(r.lastSchedulingDecision), RunType: r.runType, State: r.state,
			ExternalTrigger: r.externalTrigger, Conf: r.conf, Note: r.note,
		}
	}
	d := s.dagOf(r.dagID)
	out := v2Run{
		DagRunID: r.runID, DagID: r.dagID, DagDisplayName: d.displayName(), LogicalDate: s.tstr(r.logicalDate),
		QueuedAt: s.tstr(r.queuedAt), StartDate: s.tstr(r.start), EndDate: s.tstr(r.end), Duration: duration(r.start, r.end),
		DataIntervalStart: s.tstr(r.intervalStart), DataIntervalEnd: s.tstr(r.intervalEnd), RunAfter: pyTime(r.runAfter, true),
		LastSchedulingDecision: s.tstr(r.lastSchedulingDecision), RunType: r.runType, State: r.state,
		TriggeredBy: strOrNil(r.triggeredBy), TriggeringUserName: r.user, Conf: r.conf, Note: r.note,
		DagVersions: []dagVersion{s.version(d)},
	}
	if r.logicalNullV2 {
		// Airflow 3 creates manual runs without a logical date.
		out.LogicalDate, out.DataIntervalStart, out.DataIntervalEnd = nil, nil, nil
	}
	return out
}

type v1Task struct {
	TaskID           string         `json:"task_id"`
	TaskDisplayName  string         `json:"task_display_name"`
	DagID            string         `json:"dag_id"`
	DagRunID         string         `json:"dag_run_id"`
	ExecutionDate    *string        `json:"execution_date"`
	StartDate        *string        `json:"start_date"`
	EndDate          *string        `json:"end_date"`
	Duration         *float64       `json:"duration"`
	State            *string        `json:"state"`
	TryNumber        int            `json:"try_number"`
	MapIndex         int            `json:"map_index"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	MaxTries         int            `json:"max_tries"`
	Hostname         string         `json:"hostname"`
	Unixname         string         `json:"unixname"`
	Pool             string         `json:"pool"`
	PoolSlots        int            `json:"pool_slots"`
	Queue            string         `json:"queue"`
	PriorityWeight   int            `json:"priority_weight"`
	Operator         string         `json:"operator"`
	QueuedWhen       *string        `json:"queued_when"`
	Pid              *int           `json:"pid"`
	Executor         *string        `json:"executor"`
	ExecutorConfig   string         `json:"executor_config"`
	SLAMiss          any            `json:"sla_miss"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	Trigger          any            `json:"trigger"`
	TriggererJob     any            `json:"triggerer_job"`
	Note             *string        `json:"note"`
}

type v2Task struct {
	ID               string         `json:"id"`
	TaskID           string         `json:"task_id"`
	TaskDisplayName  string         `json:"task_display_name"`
	DagID            string         `json:"dag_id"`
	DagDisplayName   string         `json:"dag_display_name"`
	DagRunID         string         `json:"dag_run_id"`
	MapIndex         int            `json:"map_index"`
	LogicalDate      *string        `json:"logical_date"`
	RunAfter         string         `json:"run_after"`
	StartDate        *string        `json:"start_date"`
	EndDate          *string        `json:"end_date"`
	Duration         *float64       `json:"duration"`
	State            *string        `json:"state"`
	TryNumber        int            `json:"try_number"`
	MaxTries         int            `json:"max_tries"`
	Hostname         *string        `json:"hostname"`
	Unixname         *string        `json:"unixname"`
	Pool             string         `json:"pool"`
	PoolSlots        int            `json:"pool_slots"`
	Queue            string         `json:"queue"`
	PriorityWeight   int            `json:"priority_weight"`
	Operator         string         `json:"operator"`
	OperatorName     string         `json:"operator_name"`
	QueuedWhen       *string        `json:"queued_when"`
	ScheduledWhen    *string        `json:"scheduled_when"`
	Pid              *int           `json:"pid"`
	Executor         *string        `json:"executor"`
	ExecutorConfig   string         `json:"executor_config"`
	Note             *string        `json:"note"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	Trigger          any            `json:"trigger"`
	TriggererJob     any            `json:"triggerer_job"`
	DagVersion       dagVersion     `json:"dag_version"`
}

func (s *Server) renderTask(r *dagRun, t *taskInstance) any {
	dur := t.duration
	if dur == nil && t.start != nil && t.end != nil {
		dur = duration(t.start, t.end)
	}
	if s.opts.API == V1 {
		return v1Task{
			TaskID: t.taskID, TaskDisplayName: t.taskID, DagID: r.dagID, DagRunID: r.runID, ExecutionDate: s.tstr(r.logicalDate),
			StartDate: s.tstr(t.start), EndDate: s.tstr(t.end), Duration: dur, State: t.state, TryNumber: t.tryNumber,
			MapIndex: t.mapIndex, MaxTries: t.maxTries, Hostname: t.hostname, Unixname: "airflow",
			Pool: t.pool, PoolSlots: t.poolSlots, Queue: t.queue, PriorityWeight: t.priorityWeight, Operator: t.operator,
			QueuedWhen: s.tstr(t.queuedWhen), Pid: t.pid, ExecutorConfig: "{}", RenderedFields: map[string]any{}, Note: t.note,
		}
	}
	d := s.dagOf(r.dagID)
	out := v2Task{
		ID: t.uuid, TaskID: t.taskID, TaskDisplayName: t.taskID, DagID: r.dagID, DagDisplayName: d.displayName(), DagRunID: r.runID,
		MapIndex: t.mapIndex, LogicalDate: s.tstr(r.logicalDate), RunAfter: pyTime(r.runAfter, true),
		StartDate: s.tstr(t.start), EndDate: s.tstr(t.end), Duration: dur, State: t.state, TryNumber: t.tryNumber, MaxTries: t.maxTries,
		Pool: t.pool, PoolSlots: t.poolSlots, Queue: t.queue, PriorityWeight: t.priorityWeight, Operator: t.operator, OperatorName: t.operator,
		QueuedWhen: s.tstr(t.queuedWhen), ScheduledWhen: s.tstr(t.scheduledWhen), Pid: t.pid, ExecutorConfig: "{}",
		Note: t.note, RenderedFields: map[string]any{}, DagVersion: s.version(d),
	}
	if r.logicalNullV2 {
		out.LogicalDate = nil
	}
	if t.hostname != "" {
		out.Hostname, out.Unixname = ptr(t.hostname), ptr("airflow")
	}
	return out
}
