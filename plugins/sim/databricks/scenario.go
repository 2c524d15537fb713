package databrickssim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// JobSpec describes a scheduled job of the scenario generator and how its
// runs behave. Durations are drawn uniformly in their ranges; chances are
// per run.
type JobSpec struct {
	// ID is the job id (0: derived from the name).
	ID      int64
	Name    string
	Creator string
	Tags    map[string]string
	// Cron and Timezone are shown in the job's schedule (Quartz syntax).
	Cron, Timezone string
	// Every and Offset place the runs: at Offset + k*Every after the Unix
	// epoch (UTC), e.g. Every 1h, Offset 15m: at :15 every hour. Every 0:
	// no scheduled runs.
	Every, Offset time.Duration
	// Paused jobs keep their schedule but do not run.
	Paused bool
	// Tasks run one after the other, each depending on the previous.
	Tasks []TaskSpec
	// MinDuration..MaxDuration is the time the tasks of a normal run take
	// (queueing and cluster start come on top).
	MinDuration, MaxDuration time.Duration
	// SlowChance of a run taking SlowMin..SlowMax instead.
	SlowChance       float64
	SlowMin, SlowMax time.Duration
	// Timeout is the job's timeout_seconds; TimeoutChance the chance of a
	// run hitting it (result TIMEDOUT).
	Timeout       time.Duration
	TimeoutChance float64
	// CancelChance of a user cancelling a run (result CANCELED).
	CancelChance float64
	// SkipChance of a run being skipped (max concurrent runs reached).
	SkipChance float64
	// Queue enables queueing; QueueChance of a run waiting 15-90 s.
	Queue       bool
	QueueChance float64
	// Failures, tried in order.
	Failures []Failure
	// Notify lists the job notifications sent to the webhook destination:
	// "on_start", "on_success", "on_failure",
	// "on_duration_warning_threshold_exceeded".
	Notify []string
	// DurationWarning is the RUN_DURATION_SECONDS health threshold.
	DurationWarning time.Duration
}

// TaskSpec is one task of a job.
type TaskSpec struct {
	Key string
	// MaxRetries > 0: a failing attempt is retried once after a minute.
	MaxRetries int
}

// Failure is one way a run fails.
type Failure struct {
	Chance float64
	// Task is the task that fails; empty: the cluster fails to start and
	// the run ends in life cycle INTERNAL_ERROR.
	Task    string
	Message string
	// Code and Type are the termination details (default
	// RUN_EXECUTION_ERROR, CLIENT_ERROR).
	Code, Type string
	// RecoverChance is the chance that the retry of a task with
	// MaxRetries > 0 succeeds (the run then succeeds, later than usual).
	RecoverChance float64
}

// Scenario configures StartScenario.
type Scenario struct {
	// History is how far before the clock's current time runs are
	// generated right away (default 24 h), so a new source has data.
	History time.Duration
	// Jobs are the scheduled jobs (default DefaultJobs()).
	Jobs []JobSpec
}

const webhookDestination = "0b7d6c52-3f1e-4a8b-9c2d-5e6f7a8b9c01"

// DefaultJobs is the demo workspace: the reference scenario's jobs
// (etl_vendas_daily, ingest_clientes, the paused export_bi_snapshots)
// plus ETL_Vendas every 15 minutes (sometimes slower than 5 minutes),
// dq_vendas_checks and ml_churn_scoring.
func DefaultJobs() []JobSpec {
	const sp = "5f0c2e1a-7d4b-4e8f-9a3c-1b6d8e2f4a70"
	return []JobSpec{
		{
			ID: 527301846620391, Name: "ETL_Vendas", Creator: "ana.souza@dados.test",
			Tags: map[string]string{"dominio": "vendas", "criticidade": "alta"},
			Cron: "0 5/15 * * * ?", Timezone: "UTC", Every: 15 * time.Minute, Offset: 5 * time.Minute,
			Tasks:       []TaskSpec{{Key: "extract_pedidos"}, {Key: "transform_vendas", MaxRetries: 1}, {Key: "load_gold_vendas", MaxRetries: 1}},
			MinDuration: 110 * time.Second, MaxDuration: 190 * time.Second,
			SlowChance: 0.18, SlowMin: 5 * time.Minute, SlowMax: 8 * time.Minute,
			Timeout: 30 * time.Minute, Queue: true, QueueChance: 0.08,
			Failures: []Failure{
				{Chance: 0.04, Task: "transform_vendas", Message: "[CAST_INVALID_INPUT] The value 'N/A' of the type \"STRING\" cannot be cast to \"DECIMAL(18,2)\" because it is malformed. Correct the value as per the syntax, or change its target type. Use `try_cast` to tolerate malformed input and return NULL instead. SQLSTATE: 22018"},
				{Chance: 0.05, Task: "load_gold_vendas", RecoverChance: 0.7, Message: "[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added to partition [dt=2026-11-17] by a concurrent update. Please try the operation again."},
			},
			Notify: []string{"on_start", "on_success", "on_failure"},
		},
		{
			ID: 845213907761204, Name: "etl_vendas_daily", Creator: "ana.souza@dados.test",
			Tags: map[string]string{"dominio": "vendas", "criticidade": "alta"},
			Cron: "0 0 3 * * ?", Timezone: "UTC", Every: 24 * time.Hour, Offset: 3 * time.Hour,
			Tasks:       []TaskSpec{{Key: "extract_vendas"}, {Key: "transform_vendas", MaxRetries: 1}, {Key: "load_gold_vendas"}},
			MinDuration: 24 * time.Minute, MaxDuration: 34 * time.Minute,
			Timeout: 2 * time.Hour, Queue: true, QueueChance: 0.05,
			Failures: []Failure{
				{Chance: 0.2, Task: "transform_vendas", Message: "[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`silver`.`vendas_itens` cannot be found. Verify the spelling and correctness of the schema and catalog."},
			},
			Notify: []string{"on_failure"},
		},
		{
			ID: 392017745112908, Name: "ingest_clientes", Creator: sp,
			Tags: map[string]string{"dominio": "clientes"},
			Cron: "0 15 * * * ?", Timezone: "UTC", Every: time.Hour, Offset: 15 * time.Minute,
			Tasks:       []TaskSpec{{Key: "ingest_crm_clientes"}, {Key: "merge_silver_clientes"}},
			MinDuration: 5 * time.Minute, MaxDuration: 7 * time.Minute,
			SlowChance: 0.05, SlowMin: 14 * time.Minute, SlowMax: 20 * time.Minute,
			Timeout: 30 * time.Minute, TimeoutChance: 0.04,
			Failures: []Failure{
				{Chance: 0.03, Task: "ingest_crm_clientes", Message: "java.nio.file.AccessDeniedException: s3a://dados-raw/crm/clientes/part-00000.parquet: getFileStatus on s3a://dados-raw/crm/clientes/part-00000.parquet: com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden (Service: Amazon S3; Status Code: 403; Error Code: 403 Forbidden)"},
			},
			Notify: []string{"on_failure", "on_duration_warning_threshold_exceeded"}, DurationWarning: 15 * time.Minute,
		},
		{
			ID: 118734450923611, Name: "export_bi_snapshots", Creator: "bruno.lima@dados.test",
			Cron: "0 30 6 ? * MON-FRI", Timezone: "America/Sao_Paulo", Every: 24 * time.Hour, Offset: 9*time.Hour + 30*time.Minute,
			Paused: true, Tasks: []TaskSpec{{Key: "export_snapshots"}}, MinDuration: 3 * time.Minute, MaxDuration: 4 * time.Minute,
		},
		{
			ID: 703918264450127, Name: "dq_vendas_checks", Creator: "bruno.lima@dados.test",
			Tags: map[string]string{"dominio": "vendas", "tipo": "qualidade"},
			Cron: "0 10/30 * * * ?", Timezone: "UTC", Every: 30 * time.Minute, Offset: 10 * time.Minute,
			Tasks:       []TaskSpec{{Key: "run_expectations"}},
			MinDuration: 40 * time.Second, MaxDuration: 90 * time.Second, SkipChance: 0.03,
			Failures: []Failure{
				{Chance: 0.06, Task: "run_expectations", Message: "[EXPECTATION_VIOLATION.VERBOSITY_ALL] Flow 'vendas_itens_dq' failed to meet the expectation. Violated expectations: 'valor_total_nao_negativo'. Input data: '{\"pedido_id\":\"PED-118204\",\"valor_total\":-37.9}'."},
			},
			Notify: []string{"on_failure"},
		},
		{
			ID: 260447193385512, Name: "ml_churn_scoring", Creator: sp,
			Tags: map[string]string{"dominio": "clientes", "tipo": "ml"},
			Cron: "0 45 0/2 * * ?", Timezone: "UTC", Every: 2 * time.Hour, Offset: 45 * time.Minute,
			Tasks:       []TaskSpec{{Key: "feature_prep"}, {Key: "score_churn_model"}, {Key: "publish_scores"}},
			MinDuration: 11 * time.Minute, MaxDuration: 17 * time.Minute, CancelChance: 0.02,
			Failures: []Failure{
				{Chance: 0.03, Message: "Cluster '%s' was terminated. Reason: CLOUD_PROVIDER_LAUNCH_FAILURE (CLOUD_FAILURE). Parameters: aws_api_error_code:InsufficientInstanceCapacity, aws_error_message:We currently do not have sufficient r5d.2xlarge capacity in the Availability Zone you requested (us-east-1a).", Code: "CLOUD_FAILURE", Type: "CLOUD_FAILURE"},
				{Chance: 0.04, Task: "score_churn_model", Message: "org.apache.spark.SparkException: Job aborted due to stage failure: Task 12 in stage 48.0 failed 4 times, most recent failure: Lost task 12.3 in stage 48.0 (TID 3921) (10.139.64.12 executor 3): java.lang.OutOfMemoryError: Java heap space"},
			},
			Notify: []string{"on_failure"},
		},
	}
}

type scenarioState struct {
	from    time.Time // generation started here (now - History)
	started time.Time // notifications are sent for events after this
	until   time.Time // slots up to here are generated
}

// StartScenario starts generating runs: History's worth right away, then
// more as the clock moves. Jobs that already exist (e.g. from the
// fixtures) keep their settings and get the spec's schedule; a slot is
// skipped when its job already has a run starting within 5 minutes of it.
// Calling it again adds jobs and keeps the world.
func (w *Workspace) StartScenario(sc Scenario) {
	if sc.History <= 0 {
		sc.History = 24 * time.Hour
	}
	if sc.Jobs == nil {
		sc.Jobs = DefaultJobs()
	}
	w.mu.Lock()
	now := w.opts.Now()
	for _, spec := range sc.Jobs {
		w.addJobLocked(spec, now)
	}
	if w.scenario == nil {
		w.scenario = &scenarioState{from: now.Add(-sc.History), started: now, until: now.Add(-sc.History)}
	}
	w.advance(now)
	notices := w.takeNotices()
	w.mu.Unlock()
	w.deliver(notices)
}

// Tick advances the world to the clock's current time and delivers the
// notifications due. Requests do the same; Tick is for demos whose
// notifications should flow while nobody polls.
func (w *Workspace) Tick() {
	w.mu.Lock()
	w.advance(w.opts.Now())
	notices := w.takeNotices()
	w.mu.Unlock()
	w.deliver(notices)
}

// Run calls Tick every interval until ctx is done.
func (w *Workspace) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Tick()
		}
	}
}

func (w *Workspace) addJobLocked(spec JobSpec, now time.Time) *simJob {
	if spec.ID == 0 {
		var h uint64 = 1469598103934665603
		for _, b := range []byte(spec.Name) {
			h = (h ^ uint64(b)) * 1099511628211
		}
		spec.ID = 100_000_000_000_000 + int64(h%800_000_000_000_000)
	}
	if len(spec.Tasks) == 0 {
		spec.Tasks = []TaskSpec{{Key: "main"}}
	}
	defs := taskDefs(spec)
	if j, ok := w.jobsByID[spec.ID]; ok {
		s := spec
		j.spec = &s
		if len(j.json.Settings.Tasks) == 0 {
			j.json.Settings.Tasks = defs
		}
		return j
	}
	creator := spec.Creator
	if creator == "" {
		creator = "ana.souza@dados.test"
	}
	created := time.Date(2026, 3, 2, 14, 21, 55, 310e6, time.UTC).Add(time.Duration(len(w.jobs)) * 211 * time.Hour)
	js := jobSettings{
		Name: spec.Name, Format: "MULTI_TASK", MaxConcurrentRuns: 1,
		TimeoutSeconds: int(spec.Timeout / time.Second),
		Tags:           spec.Tags,
		Queue:          &queueSettings{Enabled: spec.Queue},
		Tasks:          defs,
	}
	empty := json.RawMessage(`{}`)
	js.EmailNotifications = &empty
	if spec.Cron != "" {
		pause := "UNPAUSED"
		if spec.Paused {
			pause = "PAUSED"
		}
		tz := spec.Timezone
		if tz == "" {
			tz = "UTC"
		}
		js.Schedule = &scheduleJSON{QuartzCronExpression: spec.Cron, TimezoneID: tz, PauseStatus: pause}
	}
	if len(spec.Notify) > 0 {
		wn := &webhookNotifs{}
		ref := []webhookRef{{ID: webhookDestination}}
		for _, ev := range spec.Notify {
			switch ev {
			case "on_start":
				wn.OnStart = ref
			case "on_success":
				wn.OnSuccess = ref
			case "on_failure":
				wn.OnFailure = ref
			case "on_duration_warning_threshold_exceeded":
				wn.OnDurationWarningThresholdExceeded = ref
			}
		}
		js.WebhookNotifications = wn
	}
	if spec.DurationWarning > 0 {
		h := json.RawMessage(fmt.Sprintf(`{"rules":[{"metric":"RUN_DURATION_SECONDS","op":"GREATER_THAN","value":%d}]}`, int(spec.DurationWarning/time.Second)))
		js.Health = &h
	}
	s := spec
	j := &simJob{
		json:  jobJSON{JobID: spec.ID, CreatorUserName: creator, RunAsUserName: creator, CreatedTime: created.UnixMilli(), Settings: js},
		spec:  &s,
		index: len(w.jobs),
	}
	w.jobs = append(w.jobs, j)
	w.jobsByID[j.json.JobID] = j
	return j
}

func taskDefs(spec JobSpec) []jobTaskDef {
	slug := strings.ReplaceAll(strings.ToLower(spec.Name), "_", "-")
	var out []jobTaskDef
	for i, t := range spec.Tasks {
		d := jobTaskDef{
			TaskKey:        t.Key,
			NotebookTask:   &notebookTask{NotebookPath: fmt.Sprintf("/Repos/dados/%s/notebooks/%02d_%s", slug, i+1, t.Key), Source: "WORKSPACE"},
			JobClusterKey:  "job_cluster",
			TimeoutSeconds: 3600,
			RunIf:          "ALL_SUCCESS",
		}
		if i > 0 {
			d.DependsOn = []taskDep{{TaskKey: spec.Tasks[i-1].Key}}
		}
		if t.MaxRetries > 0 {
			d.MaxRetries, d.MinRetryMillis = t.MaxRetries, 60000
		}
		out = append(out, d)
	}
	return out
}

// advance brings the world to now: generates the scheduled runs due,
// renders the runs still following their plan, queues notifications and
// forgets runs older than the vendor's retention. Runs with w.mu held.
func (w *Workspace) advance(now time.Time) {
	if sc := w.scenario; sc != nil && now.After(sc.until) {
		for _, j := range w.jobs {
			if j.spec == nil || j.spec.Paused || j.spec.Every <= 0 {
				continue
			}
			for slot := nextSlot(sc.until, j.spec.Every, j.spec.Offset); !slot.After(now); slot = slot.Add(j.spec.Every) {
				if w.hasRunNear(j, slot) {
					continue
				}
				p := w.generate(j, slot)
				p.truncate()
				r := &simRun{plan: p, job: j}
				w.runs[p.runID] = r
			}
		}
		sc.until = now
	}
	retention := now.Add(-60 * 24 * time.Hour)
	for id, r := range w.runs {
		if r.plan != nil && !r.plan.done {
			w.render(r, now)
		}
		if r.cur.RunID != 0 && r.cur.StartTime < retention.UnixMilli() {
			for _, t := range r.cur.Tasks {
				delete(w.taskRuns, t.RunID)
			}
			delete(w.runs, id)
		}
	}
}

// nextSlot is the first slot strictly after t.
func nextSlot(t time.Time, every, offset time.Duration) time.Time {
	base := time.Unix(0, 0).UTC().Add(offset)
	k := t.Sub(base) / every
	s := base.Add(k * every)
	for !s.After(t) {
		s = s.Add(every)
	}
	return s
}

func (w *Workspace) hasRunNear(j *simJob, slot time.Time) bool {
	lo, hi := slot.Add(-time.Minute).UnixMilli(), slot.Add(5*time.Minute).UnixMilli()
	for _, r := range w.runs {
		if r.job == j || r.cur.JobID == j.json.JobID {
			st := r.cur.StartTime
			if r.plan != nil {
				st = r.plan.start.UnixMilli()
			}
			if st >= lo && st < hi {
				return true
			}
		}
	}
	return false
}

// render recomputes a planned run's JSON at now and queues the
// notifications its changes call for.
func (w *Workspace) render(r *simRun, now time.Time) {
	p := r.plan
	if now.Before(p.start) {
		return // not created yet
	}
	r.cur = p.render(now, r.job, w.opts.WorkspaceID)
	for _, t := range r.cur.Tasks {
		w.taskRuns[t.RunID] = r
	}
	if p.final(now) {
		p.done = true
	}
	w.notify(r, now)
}

// generate plans the run of job j for the given slot. Everything random is
// drawn from a generator seeded by (seed, job, slot), so a run is the same
// whenever and in whatever order it is generated.
func (w *Workspace) generate(j *simJob, slot time.Time) *runPlan {
	spec := j.spec
	rng := rand.New(rand.NewPCG(w.opts.Seed^uint64(j.json.JobID), uint64(slot.Unix())))
	between := func(a, b time.Duration) time.Duration {
		if b <= a {
			return a
		}
		return a + time.Duration(rng.Int64N(int64(b-a)))
	}
	id := 9_100_000_000_000_000 + slot.Unix()*1000 + int64(j.index%20)*50
	p := &runPlan{runID: id, start: slot.Add(between(300*time.Millisecond, 4*time.Second)), trigger: "PERIODIC", original: id, life: "TERMINATED"}
	p.cluster = clusterID(p.start, id)
	if spec.Queue && rng.Float64() < spec.QueueChance {
		p.queue = between(15*time.Second, 90*time.Second)
	}
	p.setup = between(35*time.Second, 75*time.Second)

	x := rng.Float64()
	acc := 0.0
	pick := func(c float64) bool { acc += c; return c > 0 && x < acc }
	var fail *Failure
	timeout, cancel := false, false
	switch {
	case pick(spec.SkipChance):
		p.setup = 0
		p.life, p.result = "SKIPPED", ""
		p.message = "Skipping this run because the limit of 1 maximum concurrent runs has been reached."
		p.code, p.typ = "MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"
		p.end = p.start.Add(p.queue + between(200*time.Millisecond, 900*time.Millisecond))
		return p
	case spec.Timeout > 0 && pick(spec.TimeoutChance):
		timeout = true
	case pick(spec.CancelChance):
		cancel = true
	default:
		for i := range spec.Failures {
			if pick(spec.Failures[i].Chance) {
				fail = &spec.Failures[i]
				break
			}
		}
	}

	total := between(spec.MinDuration, spec.MaxDuration)
	if spec.SlowChance > 0 && rng.Float64() < spec.SlowChance {
		total = between(spec.SlowMin, spec.SlowMax)
	}
	if timeout && total < spec.Timeout*6/5 {
		total = spec.Timeout * 6 / 5
	}
	weights := make([]float64, len(spec.Tasks))
	sum := 0.0
	for i := range weights {
		weights[i] = 0.6 + rng.Float64()*0.8
		sum += weights[i]
	}
	durs := make([]time.Duration, len(spec.Tasks))
	for i := range durs {
		durs[i] = time.Duration(float64(total) * weights[i] / sum)
	}

	defs := j.json.Settings.Tasks
	t := p.start.Add(p.queue + p.setup)
	if fail != nil && fail.Task == "" {
		// The cluster never came up.
		p.life, p.result = "INTERNAL_ERROR", "FAILED"
		p.message = fmt.Sprintf(fail.Message, p.cluster)
		p.code, p.typ = orDefault(fail.Code, "CLUSTER_ERROR"), orDefault(fail.Type, "CLOUD_FAILURE")
		for i := range spec.Tasks {
			tp := &taskPlan{def: taskDef(defs, spec.Tasks[i].Key), ids: [2]int64{id + 1 + int64(i), id + 11 + int64(i)}}
			if i == 0 {
				tp.internal, tp.result, tp.message = true, "FAILED", p.message
				tp.attempts, tp.starts[0], tp.ends[0] = 1, t, t
				tp.code, tp.typ = p.code, p.typ
			} else {
				tp.skipped, tp.result, tp.skippedAt = true, "UPSTREAM_FAILED", t
			}
			p.tasks = append(p.tasks, tp)
		}
		p.end = t.Add(between(time.Second, 3*time.Second))
		return p
	}
	failed := false
	for i, ts := range spec.Tasks {
		tp := &taskPlan{def: taskDef(defs, ts.Key), ids: [2]int64{id + 1 + int64(i), id + 11 + int64(i)}, setup: 600 * time.Millisecond}
		if i == 0 {
			tp.setup = between(2*time.Second, 6*time.Second)
		}
		p.tasks = append(p.tasks, tp)
		if failed {
			tp.skipped, tp.result, tp.skippedAt = true, "UPSTREAM_FAILED", t
			continue
		}
		d := durs[i]
		switch {
		case fail != nil && fail.Task == ts.Key && ts.MaxRetries > 0:
			tp.attempts = 2
			tp.starts[0], tp.ends[0] = t, t.Add(d*2/5)
			tp.retryMsg = fail.Message
			tp.starts[1] = tp.ends[0].Add(time.Minute + between(0, 2*time.Second))
			if rng.Float64() < fail.RecoverChance {
				tp.ends[1], tp.result = tp.starts[1].Add(d), "SUCCESS"
				t = tp.ends[1].Add(between(500*time.Millisecond, 2*time.Second))
			} else {
				tp.ends[1], tp.result, tp.message = tp.starts[1].Add(d/2), "FAILED", fail.Message
				tp.code, tp.typ = orDefault(fail.Code, "RUN_EXECUTION_ERROR"), orDefault(fail.Type, "CLIENT_ERROR")
				failed = true
				t = tp.ends[1].Add(between(300*time.Millisecond, time.Second))
			}
		case fail != nil && fail.Task == ts.Key:
			tp.attempts = 1
			tp.starts[0], tp.ends[0] = t, t.Add(time.Duration(float64(d)*(0.3+0.6*rng.Float64())))
			tp.result, tp.message = "FAILED", fail.Message
			tp.code, tp.typ = orDefault(fail.Code, "RUN_EXECUTION_ERROR"), orDefault(fail.Type, "CLIENT_ERROR")
			failed = true
			t = tp.ends[0].Add(between(300*time.Millisecond, time.Second))
		default:
			tp.attempts = 1
			tp.starts[0], tp.ends[0], tp.result = t, t.Add(d), "SUCCESS"
			t = tp.ends[0].Add(between(500*time.Millisecond, 2*time.Second))
		}
	}
	p.end = t.Add(between(2*time.Second, 8*time.Second))
	switch {
	case failed:
		p.result = "FAILED"
		for _, tp := range p.tasks {
			if tp.result == "FAILED" {
				p.message = jobFailureMessage(tp.def.TaskKey, tp.message, len(p.tasks) > 1 && tp != p.tasks[len(p.tasks)-1])
				p.code, p.typ = tp.code, tp.typ
			}
		}
	case timeout:
		p.cut(p.start.Add(spec.Timeout), "TIMEDOUT", fmt.Sprintf("Run timed out after %d seconds.", int(spec.Timeout/time.Second)))
	case cancel:
		p.cut(p.start.Add(time.Duration(float64(p.end.Sub(p.start))*(0.2+0.6*rng.Float64()))), "CANCELED", "Run cancelled by ana.souza@dados.test.")
	default:
		p.result = "SUCCESS"
	}
	return p
}

func taskDef(defs []jobTaskDef, key string) jobTaskDef {
	for _, d := range defs {
		if d.TaskKey == key {
			return d
		}
	}
	return jobTaskDef{TaskKey: key, RunIf: "ALL_SUCCESS"}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// jobFailureMessage is the job-level message of a run whose task failed:
// the first sentence of the task's message, as the vendor writes it.
func jobFailureMessage(task, msg string, downstream bool) string {
	first := msg
	if i := strings.Index(msg, ". "); i > 0 {
		first = msg[:i+1]
	}
	out := fmt.Sprintf("Task %s failed with message: %s", task, first)
	if downstream {
		out += " This caused all downstream tasks to get skipped."
	}
	return out
}

func clusterID(start time.Time, id int64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	n := uint64(id)
	for i := range b {
		b[i] = alphabet[n%36]
		n /= 36
	}
	return start.UTC().Format("0102-150405") + "-" + string(b)
}

// --- run plans ---

// runPlan is how a run unfolds over time; render shows it at any instant.
type runPlan struct {
	runID        int64
	start        time.Time
	queue, setup time.Duration
	// end is when the run terminates; zero while open-ended (StartRun).
	end                     time.Time
	life, result, message   string
	code, typ               string
	userCancelledOrTimedout bool
	tasks                   []*taskPlan
	trigger                 string
	attempt                 int
	original                int64
	cluster                 string
	// done: rendered in its final state; nothing will change any more.
	done bool
}

type taskPlan struct {
	def jobTaskDef
	// ids of the first attempt and of the retry.
	ids      [2]int64
	attempts int // 0: not started (open-ended run, later task)
	starts   [2]time.Time
	ends     [2]time.Time // zero end of the last attempt: still running
	setup    time.Duration
	result   string
	message  string
	code     string
	typ      string
	retryMsg string
	internal bool // failed in life cycle INTERNAL_ERROR
	// skipped: never ran, result UPSTREAM_* at skippedAt.
	skipped   bool
	skippedAt time.Time
}

// truncate rounds the plan's instants down to milliseconds, the API's
// resolution, so durations and end-minus-start always agree.
func (p *runPlan) truncate() {
	ms := func(t *time.Time) { *t = t.Truncate(time.Millisecond) }
	ms(&p.start)
	ms(&p.end)
	p.queue, p.setup = p.queue.Truncate(time.Millisecond), p.setup.Truncate(time.Millisecond)
	for _, tp := range p.tasks {
		for i := range 2 {
			ms(&tp.starts[i])
			ms(&tp.ends[i])
		}
		ms(&tp.skippedAt)
		tp.setup = tp.setup.Truncate(time.Millisecond)
	}
}

func (p *runPlan) final(now time.Time) bool { return !p.end.IsZero() && !now.Before(p.end) }

// cut ends the run at c with result (TIMEDOUT, CANCELED): the task running
// then ends with it, the later ones are skipped.
func (p *runPlan) cut(c time.Time, result, message string) {
	p.result, p.message = result, message
	p.code, p.typ = "CANCELED", "CLIENT_ERROR"
	if result == "CANCELED" {
		p.code = "USER_CANCELED"
	}
	p.userCancelledOrTimedout = true
	cutDone := false
	for _, tp := range p.tasks {
		last := tp.attempts - 1
		switch {
		case cutDone || tp.skipped || tp.attempts == 0 || !tp.starts[0].Before(c):
			if !cutDone && !tp.skipped {
				// The first task not yet started when the run stopped.
				tp.attempts, tp.starts[0], tp.ends[0] = 1, c, c
				tp.result, tp.message = result, message
				cutDone = true
				continue
			}
			tp.skipped, tp.result, tp.skippedAt = true, "UPSTREAM_CANCELED", c
		case last >= 0 && !tp.ends[last].IsZero() && !tp.ends[last].After(c):
			// Finished before the cut.
		default:
			if last == 1 && tp.starts[1].After(c) {
				tp.attempts, last = 1, 0
			}
			tp.ends[last] = c
			tp.result, tp.message = result, message
			cutDone = true
		}
	}
	p.end = c.Add(1500 * time.Millisecond)
}

// render shows the run as runs/get answers it at now (now >= start).
func (p *runPlan) render(now time.Time, j *simJob, workspaceID string) runJSON {
	final := p.final(now)
	at := now
	if final {
		at = p.end
	}
	queueEnd := p.start.Add(p.queue)
	setupEnd := queueEnd.Add(p.setup)
	r := runJSON{
		JobID: j.json.JobID, RunID: p.runID, CreatorUserName: j.json.RunAsUserName,
		NumberInJob: p.runID, OriginalAttemptRunID: p.original,
		StartTime: p.start.UnixMilli(),
		Trigger:   p.trigger, RunName: j.json.Settings.Name, RunType: "JOB_RUN",
		AttemptNumber: p.attempt, Format: "MULTI_TASK",
		JobParameters: []jobParameter{{Name: "data_ref", Default: "{{job.start_time.iso_date}}", Value: p.start.UTC().Format("2006-01-02")}},
	}
	if r.Trigger == "" {
		r.Trigger = "ONE_TIME"
	}
	if p.trigger == "PERIODIC" && j.json.Settings.Schedule != nil {
		s := *j.json.Settings.Schedule
		r.Schedule = &s
	}
	if p.cluster != "" {
		r.JobClusters = []json.RawMessage{json.RawMessage(`{"job_cluster_key":"job_cluster","new_cluster":{"spark_version":"16.4.x-scala2.13","node_type_id":"i3.xlarge","num_workers":4,"data_security_mode":"SINGLE_USER","runtime_engine":"PHOTON"}}`)}
	}
	if !at.Before(queueEnd) {
		r.QueueDuration = p.queue.Milliseconds()
	}
	queued := at.Before(queueEnd)
	switch {
	case final:
		r.State = &runStateJSON{LifeCycleState: p.life, ResultState: p.result, StateMessage: p.message, UserCancelledOrTimedout: p.userCancelledOrTimedout}
		code, typ := p.code, p.typ
		if code == "" {
			code, typ = "SUCCESS", "SUCCESS"
		}
		r.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: code, Type: typ, Message: p.message}}
		r.EndTime = p.end.UnixMilli()
		r.RunDuration = p.end.Sub(p.start).Milliseconds()
	case queued:
		msg := "Queued due to reaching maximum concurrent runs of 1."
		r.State = &runStateJSON{LifeCycleState: "QUEUED", StateMessage: msg, QueueReason: msg}
		r.Status = &runStatusJSON{State: "QUEUED", QueueDetails: &queueDetails{Code: "MAX_CONCURRENT_RUNS_REACHED", Message: msg}}
	case at.Before(setupEnd):
		r.State = &runStateJSON{LifeCycleState: "PENDING", StateMessage: "Waiting for cluster"}
		r.Status = &runStatusJSON{State: "PENDING"}
	case !p.end.IsZero() && !at.Before(p.end.Add(-5*time.Second)):
		r.State = &runStateJSON{LifeCycleState: "TERMINATING"}
		r.Status = &runStatusJSON{State: "TERMINATING"}
	default:
		r.State = &runStateJSON{LifeCycleState: "RUNNING"}
		r.Status = &runStatusJSON{State: "RUNNING"}
	}
	if p.life == "SKIPPED" && final {
		return r // never executed: no tasks
	}
	for _, tp := range p.tasks {
		r.Tasks = append(r.Tasks, tp.render(at, final, queued, p.cluster))
	}
	return r
}

func (tp *taskPlan) render(at time.Time, runFinal, runQueued bool, cluster string) taskRunJSON {
	d := tp.def
	t := taskRunJSON{
		TaskKey: d.TaskKey, RunID: tp.ids[0], NotebookTask: d.NotebookTask, JobClusterKey: d.JobClusterKey,
		RunIf: d.RunIf, TimeoutSeconds: d.TimeoutSeconds, DependsOn: d.DependsOn,
		MaxRetries: d.MaxRetries, MinRetryMillis: d.MinRetryMillis,
	}
	blocked := func() taskRunJSON {
		life := "BLOCKED"
		if runQueued {
			life = "QUEUED"
		}
		t.State = &runStateJSON{LifeCycleState: life}
		t.Status = &runStatusJSON{State: life}
		return t
	}
	if tp.skipped {
		if !runFinal || at.Before(tp.skippedAt) {
			return blocked()
		}
		msg := "Upstream task(s) failed."
		if tp.result == "UPSTREAM_CANCELED" {
			msg = "Upstream task(s) were cancelled."
		}
		t.State = &runStateJSON{LifeCycleState: "SKIPPED", ResultState: tp.result, StateMessage: msg}
		t.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: "SKIPPED", Type: "CLIENT_ERROR", Message: msg}}
		t.StartTime, t.EndTime = tp.skippedAt.UnixMilli(), tp.skippedAt.UnixMilli()
		return t
	}
	if tp.attempts == 0 || at.Before(tp.starts[0]) {
		return blocked()
	}
	if cluster != "" {
		t.ClusterInstance = &clusterInstance{ClusterID: cluster, SparkContextID: fmt.Sprint(4912855210038475521 + tp.ids[0]%1000)}
	}
	last := tp.attempts - 1
	for a := 0; a <= last; a++ {
		t.RunID, t.AttemptNumber = tp.ids[a], a
		t.StartTime = tp.starts[a].UnixMilli()
		if a < last {
			if at.Before(tp.ends[a]) {
				t.State = &runStateJSON{LifeCycleState: "RUNNING"}
				t.Status = &runStatusJSON{State: "RUNNING"}
				return t
			}
			if at.Before(tp.starts[a+1]) {
				t.State = &runStateJSON{LifeCycleState: "WAITING_FOR_RETRY", StateMessage: tp.retryMsg}
				t.Status = &runStatusJSON{State: "WAITING"}
				return t
			}
			continue
		}
		if tp.ends[a].IsZero() || at.Before(tp.ends[a]) {
			t.State = &runStateJSON{LifeCycleState: "RUNNING"}
			t.Status = &runStatusJSON{State: "RUNNING"}
			return t
		}
	}
	end := tp.ends[last]
	t.EndTime = end.UnixMilli()
	span := end.Sub(tp.starts[last])
	setup, cleanup := min(tp.setup, span), min(2*time.Second, span/10)
	t.SetupDuration, t.CleanupDuration = setup.Milliseconds(), cleanup.Milliseconds()
	t.ExecutionDuration = max(span-setup-cleanup, 0).Milliseconds()
	life := "TERMINATED"
	if tp.internal {
		life = "INTERNAL_ERROR"
	}
	msg := ""
	if tp.result != "SUCCESS" {
		msg = tp.message
	}
	t.State = &runStateJSON{LifeCycleState: life, ResultState: tp.result, StateMessage: msg, UserCancelledOrTimedout: tp.result == "TIMEDOUT" || tp.result == "CANCELED"}
	code, typ := tp.code, tp.typ
	switch {
	case tp.result == "SUCCESS":
		code, typ = "SUCCESS", "SUCCESS"
	case tp.result == "TIMEDOUT" || tp.result == "CANCELED":
		code, typ = "CANCELED", "CLIENT_ERROR"
	case code == "":
		code, typ = "RUN_EXECUTION_ERROR", "CLIENT_ERROR"
	}
	t.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: code, Type: typ, Message: msg}}
	return t
}

// manualPlan plans a run added with AddRun.
func manualPlan(j *simJob, s RunSpec, id int64) *runPlan {
	p := &runPlan{runID: id, start: s.Start, queue: s.Queued, setup: s.Setup, trigger: "ONE_TIME", original: id, life: "TERMINATED", attempt: s.Attempt}
	if s.RetryOf != 0 {
		p.original, p.trigger = s.RetryOf, "RETRY"
	}
	p.cluster = clusterID(p.start, id)
	defs := j.json.Settings.Tasks
	if len(defs) == 0 {
		defs = []jobTaskDef{{TaskKey: "main", RunIf: "ALL_SUCCESS"}}
	}
	t0 := p.start.Add(p.queue + p.setup)
	if s.Duration <= 0 {
		for i, d := range defs {
			tp := &taskPlan{def: d, ids: [2]int64{id + 1 + int64(i), id + 11 + int64(i)}}
			if i == 0 {
				tp.attempts, tp.starts[0] = 1, t0
			}
			p.tasks = append(p.tasks, tp)
		}
		return p
	}
	end := p.start.Add(s.Duration)
	span := end.Sub(t0)
	n := time.Duration(len(defs))
	failed := false
	for i, d := range defs {
		tp := &taskPlan{def: d, ids: [2]int64{id + 1 + int64(i), id + 11 + int64(i)}}
		p.tasks = append(p.tasks, tp)
		st := t0.Add(span * time.Duration(i) / n)
		if failed {
			tp.skipped, tp.result, tp.skippedAt = true, "UPSTREAM_FAILED", st
			continue
		}
		tp.attempts, tp.starts[0], tp.ends[0], tp.result = 1, st, t0.Add(span*time.Duration(i+1)/n), "SUCCESS"
		if s.Result != "SUCCESS" && (d.TaskKey == s.FailedTask || (s.FailedTask == "" && i == len(defs)-1)) {
			tp.result, tp.message = s.Result, s.Message
			failed = s.Result == "FAILED"
		}
	}
	p.end, p.result, p.message = end, s.Result, ""
	switch s.Result {
	case "SUCCESS":
	case "FAILED":
		p.code, p.typ = "RUN_EXECUTION_ERROR", "CLIENT_ERROR"
		p.message = s.Message
		if s.FailedTask != "" {
			p.message = jobFailureMessage(s.FailedTask, s.Message, s.FailedTask != defs[len(defs)-1].TaskKey)
		}
	default:
		p.code, p.typ, p.message = resultCode(s.Result), "CLIENT_ERROR", s.Message
		p.userCancelledOrTimedout = s.Result == "TIMEDOUT" || s.Result == "CANCELED"
	}
	return p
}

func resultCode(result string) string {
	switch result {
	case "SUCCESS", "SUCCESS_WITH_FAILURES":
		return result
	case "TIMEDOUT":
		return "CANCELED"
	case "CANCELED":
		return "USER_CANCELED"
	case "MAXIMUM_CONCURRENT_RUNS_REACHED":
		return "MAX_CONCURRENT_RUNS_EXCEEDED"
	case "EXCLUDED", "DISABLED":
		return "SKIPPED"
	}
	return "RUN_EXECUTION_ERROR"
}

// finishJSON ends a run's JSON at now with result: the tasks still going
// end with it (the first one with the message), the later ones are
// skipped. Used for runs that follow no plan (fixtures) and by FinishRun.
func finishJSON(r *runJSON, now time.Time, result, message string) {
	ms := now.UnixMilli()
	if result == "" {
		result = "SUCCESS"
	}
	userCT := result == "TIMEDOUT" || result == "CANCELED"
	code, typ := resultCode(result), "CLIENT_ERROR"
	if result == "SUCCESS" || result == "SUCCESS_WITH_FAILURES" {
		typ, message = "SUCCESS", ""
	}
	failedTask := ""
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if t.State != nil && (t.State.LifeCycleState == "TERMINATED" || t.State.LifeCycleState == "SKIPPED" || t.State.LifeCycleState == "INTERNAL_ERROR") {
			continue
		}
		if t.StartTime == 0 {
			t.StartTime = ms
		}
		t.EndTime = ms
		switch {
		case result == "SUCCESS" || result == "SUCCESS_WITH_FAILURES":
			t.State = &runStateJSON{LifeCycleState: "TERMINATED", ResultState: "SUCCESS"}
			t.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: "SUCCESS", Type: "SUCCESS"}}
		case failedTask == "":
			failedTask = t.TaskKey
			t.State = &runStateJSON{LifeCycleState: "TERMINATED", ResultState: result, StateMessage: message, UserCancelledOrTimedout: userCT}
			t.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: code, Type: typ, Message: message}}
		default:
			up := "UPSTREAM_FAILED"
			if userCT {
				up = "UPSTREAM_CANCELED"
			}
			t.State = &runStateJSON{LifeCycleState: "SKIPPED", ResultState: up, StateMessage: "Upstream task(s) failed."}
			t.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: "SKIPPED", Type: "CLIENT_ERROR", Message: "Upstream task(s) failed."}}
		}
		if t.StartTime > 0 {
			t.ExecutionDuration = ms - t.StartTime
		}
	}
	jobMsg := message
	if result == "FAILED" && failedTask != "" && message != "" {
		jobMsg = jobFailureMessage(failedTask, message, failedTask != r.Tasks[len(r.Tasks)-1].TaskKey)
	}
	r.State = &runStateJSON{LifeCycleState: "TERMINATED", ResultState: result, StateMessage: jobMsg, UserCancelledOrTimedout: userCT}
	r.Status = &runStatusJSON{State: "TERMINATED", TerminationDetails: &terminationDetails{Code: code, Type: typ, Message: jobMsg}}
	r.EndTime = ms
	r.RunDuration = ms - r.StartTime
}

// repairJSONRun puts a finished run back to RUNNING for a repair: tasks
// that did not succeed get new run ids, the first of them runs, the others
// wait for it.
func repairJSONRun(r *runJSON, now time.Time) {
	ms := now.UnixMilli()
	if len(r.RepairHistory) == 0 {
		r.RepairHistory = append(r.RepairHistory, repairJSON{Type: "ORIGINAL", StartTime: r.StartTime, EndTime: r.EndTime, State: r.State, Status: r.Status})
	}
	var ids []int64
	first := true
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if t.State != nil && t.State.ResultState == "SUCCESS" {
			continue
		}
		t.RunID += 20
		ids = append(ids, t.RunID)
		t.EndTime, t.SetupDuration, t.ExecutionDuration, t.CleanupDuration = 0, 0, 0, 0
		if first {
			t.StartTime = ms
			t.State = &runStateJSON{LifeCycleState: "RUNNING"}
			t.Status = &runStatusJSON{State: "RUNNING"}
			first = false
			continue
		}
		t.StartTime = 0
		t.State = &runStateJSON{LifeCycleState: "BLOCKED"}
		t.Status = &runStatusJSON{State: "BLOCKED"}
	}
	r.RepairHistory = append(r.RepairHistory, repairJSON{Type: "REPAIR", ID: r.RunID + int64(len(r.RepairHistory)), StartTime: ms, State: &runStateJSON{LifeCycleState: "RUNNING"}, Status: &runStatusJSON{State: "RUNNING"}, TaskRunIDs: ids})
	r.State = &runStateJSON{LifeCycleState: "RUNNING"}
	r.Status = &runStatusJSON{State: "RUNNING"}
	r.EndTime, r.RunDuration = 0, 0
}

// --- notifications ---

func (w *Workspace) notify(r *simRun, now time.Time) {
	life := lifeOf(&r.cur)
	prev := r.lastLife
	r.lastLife = life
	sc := w.scenario
	if w.opts.OnNotification == nil || sc == nil {
		return
	}
	settings := r.job.json.Settings.WebhookNotifications
	if settings == nil {
		return
	}
	after := func(ms int64) bool { return ms >= sc.started.UnixMilli() }
	if prev == "" && len(settings.OnStart) > 0 && after(r.cur.StartTime) {
		w.queueNotice("jobs.on_start", r)
	}
	terminal := life == "TERMINATED" || life == "SKIPPED" || life == "INTERNAL_ERROR"
	wasTerminal := prev == "TERMINATED" || prev == "SKIPPED" || prev == "INTERNAL_ERROR"
	if terminal && !wasTerminal && after(r.cur.EndTime) {
		result := ""
		if r.cur.State != nil {
			result = r.cur.State.ResultState
		}
		switch {
		case (result == "SUCCESS" || result == "SUCCESS_WITH_FAILURES") && len(settings.OnSuccess) > 0:
			w.queueNotice("jobs.on_success", r)
		case (result == "FAILED" || result == "TIMEDOUT" || life == "INTERNAL_ERROR") && len(settings.OnFailure) > 0:
			w.queueNotice("jobs.on_failure", r)
		}
	}
	if warn := r.job.spec; warn != nil && warn.DurationWarning > 0 && !r.warned && len(settings.OnDurationWarningThresholdExceeded) > 0 {
		end := now
		if r.cur.EndTime > 0 {
			end = time.UnixMilli(r.cur.EndTime)
		}
		if at := time.UnixMilli(r.cur.StartTime).Add(warn.DurationWarning); end.After(at) {
			r.warned = true
			if !at.Before(sc.started) {
				w.queueNotice("jobs.on_duration_warning_threshold_exceeded", r)
			}
		}
	}
}

func (w *Workspace) queueNotice(event string, r *simRun) {
	body, err := webhookBody(event, w.opts.WorkspaceID, r, 0)
	if err == nil {
		w.pendingNotices = append(w.pendingNotices, body)
	}
}

func (w *Workspace) takeNotices() [][]byte {
	n := w.pendingNotices
	w.pendingNotices = nil
	return n
}

func (w *Workspace) deliver(notices [][]byte) {
	if w.opts.OnNotification == nil {
		return
	}
	for _, b := range notices {
		w.opts.OnNotification(b)
	}
}

// WebhookBody returns the body of the job notification the workspace
// sends for event ("jobs.on_failure", …) about runID: a job run, or a task
// run (then a task-level notification, with parent_run_id and task_key).
// Ids are JSON strings, as in the vendor's published example.
func (w *Workspace) WebhookBody(event string, runID int64) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.opts.Now())
	if r, ok := w.runs[runID]; ok && r.cur.RunID != 0 {
		return webhookBody(event, w.opts.WorkspaceID, r, 0)
	}
	if r, ok := w.taskRuns[runID]; ok {
		return webhookBody(event, w.opts.WorkspaceID, r, runID)
	}
	return nil, ErrNotFound
}

func webhookBody(event, workspaceID string, r *simRun, taskRunID int64) ([]byte, error) {
	type runRef struct {
		RunID       string `json:"run_id"`
		ParentRunID string `json:"parent_run_id,omitempty"`
	}
	type jobRef struct {
		JobID string `json:"job_id"`
		Name  string `json:"name"`
	}
	type taskRef struct {
		TaskKey string `json:"task_key"`
	}
	body := struct {
		EventType   string   `json:"event_type"`
		WorkspaceID string   `json:"workspace_id"`
		Task        *taskRef `json:"task,omitempty"`
		Run         runRef   `json:"run"`
		Job         jobRef   `json:"job"`
	}{
		EventType: event, WorkspaceID: workspaceID,
		Run: runRef{RunID: fmt.Sprint(r.cur.RunID)},
		Job: jobRef{JobID: fmt.Sprint(r.cur.JobID), Name: r.job.json.Settings.Name},
	}
	if taskRunID != 0 {
		for _, t := range r.cur.Tasks {
			if t.RunID == taskRunID {
				body.Task = &taskRef{TaskKey: t.TaskKey}
			}
		}
		body.Run = runRef{RunID: fmt.Sprint(taskRunID), ParentRunID: fmt.Sprint(r.cur.RunID)}
	}
	return json.MarshalIndent(body, "", "  ")
}
