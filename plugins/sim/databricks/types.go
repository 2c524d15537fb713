package databrickssim

import "encoding/json"

// The wire shapes of the Jobs API, field for field in the order the
// fixtures use. Times are epoch milliseconds, ids int64. Fields the
// vendor always sends (even as 0 or "") have no omitempty.

type jobJSON struct {
	JobID           int64       `json:"job_id"`
	CreatorUserName string      `json:"creator_user_name,omitempty"`
	RunAsUserName   string      `json:"run_as_user_name,omitempty"`
	CreatedTime     int64       `json:"created_time"`
	Settings        jobSettings `json:"settings"`
	HasMore         bool        `json:"has_more,omitempty"`
}

type jobSettings struct {
	Name                 string            `json:"name"`
	Format               string            `json:"format,omitempty"`
	MaxConcurrentRuns    int               `json:"max_concurrent_runs,omitempty"`
	TimeoutSeconds       int               `json:"timeout_seconds"`
	Schedule             *scheduleJSON     `json:"schedule,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
	EmailNotifications   *json.RawMessage  `json:"email_notifications,omitempty"`
	WebhookNotifications *webhookNotifs    `json:"webhook_notifications,omitempty"`
	Health               *json.RawMessage  `json:"health,omitempty"`
	Queue                *queueSettings    `json:"queue,omitempty"`
	Tasks                []jobTaskDef      `json:"tasks,omitempty"`
}

type scheduleJSON struct {
	QuartzCronExpression string `json:"quartz_cron_expression"`
	TimezoneID           string `json:"timezone_id"`
	PauseStatus          string `json:"pause_status"`
}

type webhookNotifs struct {
	OnStart                            []webhookRef `json:"on_start,omitempty"`
	OnSuccess                          []webhookRef `json:"on_success,omitempty"`
	OnFailure                          []webhookRef `json:"on_failure,omitempty"`
	OnDurationWarningThresholdExceeded []webhookRef `json:"on_duration_warning_threshold_exceeded,omitempty"`
}

type webhookRef struct {
	ID string `json:"id"`
}

type queueSettings struct {
	Enabled bool `json:"enabled"`
}

type jobTaskDef struct {
	TaskKey        string        `json:"task_key"`
	DependsOn      []taskDep     `json:"depends_on,omitempty"`
	NotebookTask   *notebookTask `json:"notebook_task,omitempty"`
	JobClusterKey  string        `json:"job_cluster_key,omitempty"`
	TimeoutSeconds int           `json:"timeout_seconds,omitempty"`
	MaxRetries     int           `json:"max_retries,omitempty"`
	MinRetryMillis int64         `json:"min_retry_interval_millis,omitempty"`
	RunIf          string        `json:"run_if,omitempty"`
}

type taskDep struct {
	TaskKey string `json:"task_key"`
}

type notebookTask struct {
	NotebookPath string `json:"notebook_path"`
	Source       string `json:"source,omitempty"`
}

type runStateJSON struct {
	LifeCycleState          string `json:"life_cycle_state"`
	ResultState             string `json:"result_state,omitempty"`
	StateMessage            string `json:"state_message"`
	UserCancelledOrTimedout bool   `json:"user_cancelled_or_timedout"`
	QueueReason             string `json:"queue_reason,omitempty"`
}

type runStatusJSON struct {
	State              string              `json:"state"`
	TerminationDetails *terminationDetails `json:"termination_details,omitempty"`
	QueueDetails       *queueDetails       `json:"queue_details,omitempty"`
}

type terminationDetails struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

type queueDetails struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type jobParameter struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Value   string `json:"value"`
}

type clusterInstance struct {
	ClusterID      string `json:"cluster_id"`
	SparkContextID string `json:"spark_context_id,omitempty"`
}

// runJSON is a job run as runs/get answers it; runs/list items are the same
// without tasks (unless expand_tasks), job_parameters, job_clusters and
// repair_history.
type runJSON struct {
	JobID                int64             `json:"job_id"`
	RunID                int64             `json:"run_id"`
	CreatorUserName      string            `json:"creator_user_name,omitempty"`
	NumberInJob          int64             `json:"number_in_job"`
	OriginalAttemptRunID int64             `json:"original_attempt_run_id"`
	State                *runStateJSON     `json:"state,omitempty"`
	Status               *runStatusJSON    `json:"status,omitempty"`
	Schedule             *scheduleJSON     `json:"schedule,omitempty"`
	StartTime            int64             `json:"start_time"`
	SetupDuration        int64             `json:"setup_duration"`
	ExecutionDuration    int64             `json:"execution_duration"`
	CleanupDuration      int64             `json:"cleanup_duration"`
	EndTime              int64             `json:"end_time"`
	RunDuration          int64             `json:"run_duration,omitempty"`
	QueueDuration        int64             `json:"queue_duration"`
	Trigger              string            `json:"trigger,omitempty"`
	RunName              string            `json:"run_name,omitempty"`
	RunPageURL           string            `json:"run_page_url,omitempty"`
	RunType              string            `json:"run_type,omitempty"`
	AttemptNumber        int               `json:"attempt_number"`
	Format               string            `json:"format,omitempty"`
	JobParameters        []jobParameter    `json:"job_parameters,omitempty"`
	Tasks                []taskRunJSON     `json:"tasks,omitempty"`
	JobClusters          []json.RawMessage `json:"job_clusters,omitempty"`
	RepairHistory        []repairJSON      `json:"repair_history,omitempty"`
	HasMore              bool              `json:"has_more,omitempty"`
}

type taskRunJSON struct {
	TaskKey           string           `json:"task_key"`
	RunID             int64            `json:"run_id"`
	State             *runStateJSON    `json:"state,omitempty"`
	Status            *runStatusJSON   `json:"status,omitempty"`
	RunPageURL        string           `json:"run_page_url,omitempty"`
	NotebookTask      *notebookTask    `json:"notebook_task,omitempty"`
	JobClusterKey     string           `json:"job_cluster_key,omitempty"`
	StartTime         int64            `json:"start_time"`
	SetupDuration     int64            `json:"setup_duration"`
	ExecutionDuration int64            `json:"execution_duration"`
	CleanupDuration   int64            `json:"cleanup_duration"`
	EndTime           int64            `json:"end_time"`
	RunDuration       int64            `json:"run_duration,omitempty"`
	AttemptNumber     int              `json:"attempt_number"`
	RunIf             string           `json:"run_if,omitempty"`
	TimeoutSeconds    int              `json:"timeout_seconds,omitempty"`
	DependsOn         []taskDep        `json:"depends_on,omitempty"`
	ClusterInstance   *clusterInstance `json:"cluster_instance,omitempty"`
	MaxRetries        int              `json:"max_retries,omitempty"`
	MinRetryMillis    int64            `json:"min_retry_interval_millis,omitempty"`
}

type repairJSON struct {
	Type       string         `json:"type"`
	StartTime  int64          `json:"start_time"`
	EndTime    int64          `json:"end_time"`
	State      *runStateJSON  `json:"state,omitempty"`
	Status     *runStatusJSON `json:"status,omitempty"`
	ID         int64          `json:"id,omitempty"`
	TaskRunIDs []int64        `json:"task_run_ids,omitempty"`
}

type runsListJSON struct {
	Runs          []runJSON `json:"runs,omitempty"`
	HasMore       bool      `json:"has_more"`
	NextPageToken string    `json:"next_page_token,omitempty"`
	PrevPageToken string    `json:"prev_page_token,omitempty"`
}

type jobsListJSON struct {
	Jobs          []jobJSON `json:"jobs,omitempty"`
	HasMore       bool      `json:"has_more"`
	NextPageToken string    `json:"next_page_token,omitempty"`
	PrevPageToken string    `json:"prev_page_token,omitempty"`
}

type errorJSON struct {
	ErrorCode string            `json:"error_code"`
	Message   string            `json:"message"`
	Details   []json.RawMessage `json:"details,omitempty"`
}

// clone copies a run deeply enough that trimming or rendering it cannot
// change the stored one.
func (r *runJSON) clone() runJSON {
	c := *r
	if r.State != nil {
		s := *r.State
		c.State = &s
	}
	if r.Status != nil {
		s := *r.Status
		if s.TerminationDetails != nil {
			td := *s.TerminationDetails
			s.TerminationDetails = &td
		}
		if s.QueueDetails != nil {
			qd := *s.QueueDetails
			s.QueueDetails = &qd
		}
		c.Status = &s
	}
	c.Tasks = append([]taskRunJSON(nil), r.Tasks...)
	c.JobParameters = append([]jobParameter(nil), r.JobParameters...)
	c.JobClusters = append([]json.RawMessage(nil), r.JobClusters...)
	c.RepairHistory = append([]repairJSON(nil), r.RepairHistory...)
	return c
}
