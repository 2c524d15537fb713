package airflowsim

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"time"
)

// Scenario is a set of DAGs whose runs the generator produces.
type Scenario struct {
	DAGs []DAG
}

// DefaultScenario is the shared scenario of PUOD's API reference plus
// ETL_Vendas: dag_finance_close (weekdays 06:00, fails now and then in
// reconcile_ledger after its retries), dag_clientes_refresh (hourly),
// dag_vendas_export (manual, triggered through the REST API),
// dag_estoque_snapshot (hourly at :30) and ETL_Vendas (every 15 minutes,
// usually about 4 minutes, sometimes longer than 5).
func DefaultScenario() Scenario {
	return Scenario{DAGs: []DAG{
		{
			ID: "ETL_Vendas", Description: "Carga incremental de vendas no DW", Owners: []string{"dados-vendas"},
			Tags: []string{"vendas", "etl"}, Schedule: "*/15 * * * *", TimetableDescription: "Every 15 minutes",
			Fileloc: "/opt/airflow/dags/vendas/etl_vendas.py", Version: 4,
			FailureRate: 0.05, FlakyRate: 0.08, SlowRate: 0.2, SlowFactor: 2.1,
			Tasks: []Task{
				{ID: "extract_vendas", Operator: "SQLExecuteQueryOperator", Duration: 55 * time.Second, Retries: 1, RetryDelay: time.Minute,
					Failures: []string{"psycopg2.OperationalError: connection to server at \"pg-vendas.internal\" (10.20.3.14), port 5432 failed: timeout expired"}},
				{ID: "transform_vendas", Operator: "SparkSubmitOperator", Upstream: []string{"extract_vendas"}, Duration: 130 * time.Second, Retries: 1, RetryDelay: time.Minute,
					Failures: []string{"pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `valor_liquido` cannot be resolved. Did you mean one of the following? [`valor_bruto`, `valor_desconto`]."}},
				{ID: "load_dw_vendas", Operator: "SnowflakeOperator", Upstream: []string{"transform_vendas"}, Duration: 50 * time.Second, Retries: 1, RetryDelay: time.Minute,
					Failures: []string{"snowflake.connector.errors.ProgrammingError: 002003 (42S02): SQL compilation error: Object 'DW.STG.VENDAS_STG' does not exist or not authorized."}},
			},
		},
		{
			ID: "dag_clientes_refresh", Description: "Atualiza a dimensao de clientes a partir do CRM", Owners: []string{"dados-clientes"},
			Tags: []string{"clientes", "hourly"}, Schedule: "0 * * * *", TimetableDescription: "At 0 minutes past the hour",
			Fileloc: "/opt/airflow/dags/clientes/dag_clientes_refresh.py", Version: 12,
			FailureRate: 0.03, FlakyRate: 0.06, SlowRate: 0.05,
			Tasks: []Task{
				{ID: "extract_crm", Operator: "HttpOperator", Duration: 2 * time.Minute, Retries: 2, RetryDelay: 2 * time.Minute,
					Failures: []string{"requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://crm.internal/api/v2/clientes?page=14"}},
				{ID: "transform_clientes", Operator: "PythonOperator", Upstream: []string{"extract_crm"}, Duration: 3 * time.Minute, Retries: 1,
					Failures: []string{"KeyError: 'cpf_cnpj'"}},
				{ID: "load_dim_clientes", Operator: "SQLExecuteQueryOperator", Upstream: []string{"transform_clientes"}, Duration: 90 * time.Second, Retries: 1,
					Failures: []string{"psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint \"dim_clientes_pkey\"\nDETAIL:  Key (cliente_id)=(884213) already exists."}},
			},
		},
		{
			ID: "dag_finance_close", Description: "Fechamento contabil diario (GL x AP)", Owners: []string{"financeiro"},
			Tags: []string{"finance", "critical"}, Schedule: "0 6 * * 1-5", TimetableDescription: "At 06:00, Monday through Friday",
			Fileloc: "/opt/airflow/dags/finance/dag_finance_close.py", Version: 7,
			FailureRate: 0.2, FlakyRate: 0.15, SlowRate: 0.1,
			Tasks: []Task{
				{ID: "extract_gl", Operator: "SQLExecuteQueryOperator", Duration: 520 * time.Second, Retries: 2,
					Failures: []string{"oracledb.exceptions.DatabaseError: ORA-01555: snapshot too old: rollback segment number 12 with name \"_SYSSMU12_1849321853$\" too small"}},
				{ID: "extract_ap", Operator: "SQLExecuteQueryOperator", Duration: 307 * time.Second, Retries: 2,
					Failures: []string{"oracledb.exceptions.DatabaseError: ORA-12170: TNS:Connect timeout occurred"}},
				{ID: "reconcile_ledger", Operator: "PythonOperator", Upstream: []string{"extract_gl", "extract_ap"}, Duration: 4 * time.Minute, Retries: 2,
					Failures: []string{
						"ValueError: Ledger out of balance: GL total 1,284,339.12 != AP total 1,284,120.55 (difference 218.57)",
						"airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 51877",
					}},
				{ID: "publish_close_report", Operator: "PythonOperator", Upstream: []string{"reconcile_ledger"}, Duration: 75 * time.Second, Retries: 2,
					Failures: []string{"smtplib.SMTPServerDisconnected: Connection unexpectedly closed"}},
			},
		},
		{
			ID: "dag_vendas_export", Description: "Exporta vendas consolidadas sob demanda", Owners: []string{"dados-vendas"},
			Tags: []string{"vendas", "export"}, TimetableDescription: "Never, external triggers only",
			Fileloc: "/opt/airflow/dags/vendas/dag_vendas_export.py", Version: 3, MaxActiveRuns: 4,
			FailureRate: 0.06, FlakyRate: 0.1, SlowRate: 0.1, ManualPerHour: 0.3,
			Users: []string{"ana.souza", "joao.lima", "svc_bi"},
			Tasks: []Task{
				{ID: "query_vendas", Operator: "SQLExecuteQueryOperator", Duration: 3 * time.Minute, Retries: 1},
				{ID: "write_parquet", Operator: "PythonOperator", Upstream: []string{"query_vendas"}, Duration: 2 * time.Minute, Retries: 1,
					Failures: []string{"pyarrow.lib.ArrowInvalid: Float value 1e+21 was truncated converting to int64"}},
				{ID: "upload_s3", Operator: "LocalFilesystemToS3Operator", Upstream: []string{"write_parquet"}, Duration: 30 * time.Second, Retries: 3, RetryDelay: time.Minute,
					Failures: []string{"botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate."}},
			},
		},
		{
			ID: "dag_estoque_snapshot", Description: "Foto do estoque por loja", Owners: []string{"dados-operacoes"},
			Tags: []string{"estoque", "hourly"}, Schedule: "30 * * * *", TimetableDescription: "At 30 minutes past the hour",
			Fileloc: "/opt/airflow/dags/estoque/dag_estoque_snapshot.py", Version: 2,
			FailureRate: 0.02, FlakyRate: 0.04, SlowRate: 0.05,
			Tasks: []Task{
				{ID: "snapshot_estoque", Operator: "SQLExecuteQueryOperator", Duration: 95 * time.Second, Retries: 1,
					Failures: []string{"psycopg2.errors.QueryCanceled: canceling statement due to statement timeout"}},
				{ID: "publish_metrics", Operator: "PythonOperator", Upstream: []string{"snapshot_estoque"}, Duration: 20 * time.Second, Retries: 1},
			},
		},
	}}
}

// StartScenario adds the scenario's DAGs and generates their runs from
// `from` up to the clock's now; from then on every request (and Advance)
// generates what the clock has reached. The same seed, scenario and from
// always give the same runs.
func (s *Server) StartScenario(sc Scenario, from time.Time) error {
	var ds []*dag
	for _, d := range sc.DAGs {
		nd, err := newDag(d)
		if err != nil {
			return err
		}
		nd.generated = true
		nd.lastTick = from.UTC()
		nd.nextManualSlot = from.UTC().Truncate(time.Hour)
		nd.versionCreated = from.UTC().Add(-14*24*time.Hour + time.Duration(len(d.ID))*time.Hour)
		ds = append(ds, nd)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, nd := range ds {
		if old := s.dagByID(nd.ID); old != nil {
			// Continue the DAG as it was (fixture mode): after its last
			// scheduled run, with its version and parse time.
			if old.lastTick.After(nd.lastTick) {
				nd.lastTick = old.lastTick
			}
			if !old.versionCreated.IsZero() {
				nd.versionID, nd.versionCreated = old.versionID, old.versionCreated
			}
		}
		s.putDag(nd)
	}
	s.advanceLocked(s.clock.Now())
	return nil
}

// Advance brings the world up to the clock's now: new scheduled and
// manual runs, progress of running ones. Requests do it implicitly.
func (s *Server) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
}

func (s *Server) advanceLocked(now time.Time) {
	var created []*dagRun
	for _, d := range s.dags {
		if !d.generated || d.Paused {
			continue
		}
		if d.cron != nil {
			for t := d.cron.next(d.lastTick); !t.After(now); t = d.cron.next(t) {
				rng := s.rngFor(d.ID, t)
				queued := t.Add(jitter(rng, 800*time.Millisecond, 1200*time.Millisecond))
				if queued.After(now) {
					break
				}
				logical := d.cron.prev(t)
				r := &dagRun{
					dagID: d.ID, runID: "scheduled__" + pyTime(logical, false), runType: "scheduled", state: "queued",
					triggeredBy: "timetable", logicalDate: ptr(logical), runAfter: t, queuedAt: ptr(queued),
					intervalStart: ptr(logical), intervalEnd: ptr(t), conf: map[string]any{},
				}
				s.planRun(d, r, rng)
				created = append(created, r)
				d.lastTick = t
			}
		}
		if d.ManualPerHour > 0 {
			for slot := d.nextManualSlot; !slot.After(now); slot = slot.Add(time.Hour) {
				rng := s.rngFor(d.ID+"/manual", slot)
				if rng.Float64() < d.ManualPerHour {
					at := slot.Add(time.Duration(rng.Int64N(int64(time.Hour)))).Truncate(time.Microsecond)
					if at.After(now) {
						break // this slot's trigger is still ahead
					}
					if s.findRun(d.ID, "manual__"+pyTime(at, false)) == nil {
						created = append(created, s.manualRun(d, at, rng))
					}
				} else if slot.Add(time.Hour).After(now) {
					break
				}
				d.nextManualSlot = slot.Add(time.Hour)
			}
		}
	}
	sort.SliceStable(created, func(i, j int) bool { return created[i].queuedAt.Before(*created[j].queuedAt) })
	for _, r := range created {
		s.insertRun(r)
	}
	for _, r := range s.runs {
		if r.plan != nil {
			r.materialize(now)
		}
	}
}

func (s *Server) manualRun(d *dag, at time.Time, rng *rand.Rand) *dagRun {
	user := "ana.souza"
	if len(d.Users) > 0 {
		user = d.Users[rng.IntN(len(d.Users))]
	}
	queued := at.Add(jitter(rng, 30*time.Millisecond, 60*time.Millisecond))
	dataRef := at.AddDate(0, 0, -1).Format("2006-01-02")
	r := &dagRun{
		dagID: d.ID, runID: "manual__" + pyTime(at, false), runType: "manual", state: "queued",
		triggeredBy: "rest_api", user: ptr(user), logicalDate: ptr(at), logicalNullV2: true,
		runAfter: at, queuedAt: ptr(queued), intervalStart: ptr(at), intervalEnd: ptr(at),
		conf: map[string]any{"data_ref": dataRef, "formato": "parquet"}, externalTrigger: true,
	}
	s.planRun(d, r, rng)
	return r
}

func (s *Server) rngFor(key string, t time.Time) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(s.opts.Seed^h.Sum64(), uint64(t.UnixNano())))
}

// jitter is a random duration in [lo, hi), to the microsecond.
func jitter(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return (lo + time.Duration(rng.Int64N(int64(hi-lo)))).Truncate(time.Microsecond)
}

func scale(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * f).Truncate(time.Microsecond)
}

// runPlan is the whole future of a generated run, decided when it is
// created; materialize shows the part the clock has reached.
type runPlan struct {
	queued, start, end time.Time
	final              string
	tasks              []taskPlan
}

type taskPlan struct {
	tries            []tryPlan
	upstreamFailedAt time.Time
}

type tryPlan struct {
	scheduled, queued, start, end time.Time
	ok                            bool
	host                          string
	pid                           int
}

var workers = []string{"airflow-worker-0", "airflow-worker-1", "airflow-worker-2"}

// planRun decides a new run's future: start (after the previous run when
// the DAG allows one active run), each task's tries and outcome, and the
// final state.
func (s *Server) planRun(d *dag, r *dagRun, rng *rand.Rand) {
	p := &runPlan{queued: *r.queuedAt}
	p.start = p.queued.Add(jitter(rng, 1500*time.Millisecond, 3*time.Second))
	if d.MaxActiveRuns == 1 && d.lastRunEnd.After(p.start) {
		p.start = d.lastRunEnd.Add(jitter(rng, time.Second, 3*time.Second))
	}
	factor := 0.8 + 0.4*rng.Float64()
	if rng.Float64() < d.SlowRate {
		sf := d.SlowFactor
		if sf == 0 {
			sf = 2.2
		}
		factor = sf * (0.85 + 0.4*rng.Float64())
	}
	fails := rng.Float64() < d.FailureRate
	flaky := !fails && rng.Float64() < d.FlakyRate
	target := -1
	if (fails || flaky) && len(d.Tasks) > 0 {
		target = pickTask(d.Tasks, rng)
	}
	weights := priorityWeights(d.Tasks)
	end := map[string]time.Time{}
	failedAt := map[string]time.Time{} // failed or upstream_failed, and when
	runEnd := p.start
	for i, t := range d.Tasks {
		ti := &taskInstance{
			uuid: uuidFrom("ti", r.dagID, r.runID, t.ID), taskID: t.ID, mapIndex: -1, maxTries: t.Retries,
			operator: operatorOf(t), pool: "default_pool", queue: "default", poolSlots: 1, priorityWeight: weights[t.ID],
		}
		r.tasks = append(r.tasks, ti)
		var tp taskPlan
		ready := p.start.Add(jitter(rng, 500*time.Millisecond, 900*time.Millisecond))
		var upFailed time.Time
		for _, u := range t.Upstream {
			if at, ok := failedAt[u]; ok && at.After(upFailed) {
				upFailed = at
			}
			if end[u].After(ready) {
				ready = end[u]
			}
		}
		if !upFailed.IsZero() {
			tp.upstreamFailedAt = upFailed.Add(jitter(rng, 300*time.Millisecond, 600*time.Millisecond))
			failedAt[t.ID], end[t.ID] = tp.upstreamFailedAt, tp.upstreamFailedAt
			p.tasks = append(p.tasks, tp)
			runEnd = maxTime(runEnd, tp.upstreamFailedAt)
			continue
		}
		delay := t.RetryDelay
		if delay == 0 {
			delay = 5 * time.Minute
		}
		prevEnd := time.Time{}
		for k := 0; k <= t.Retries; k++ {
			var tr tryPlan
			if k == 0 {
				tr.scheduled = ready.Add(jitter(rng, 100*time.Millisecond, 600*time.Millisecond))
			} else {
				tr.scheduled = prevEnd.Add(delay).Add(jitter(rng, 50*time.Millisecond, 900*time.Millisecond))
			}
			tr.queued = tr.scheduled.Add(jitter(rng, 50*time.Millisecond, 200*time.Millisecond))
			tr.start = tr.queued.Add(jitter(rng, 400*time.Millisecond, 1500*time.Millisecond))
			dur := scale(t.Duration, factor*(0.9+0.2*rng.Float64()))
			tr.ok = !(i == target && (fails || k == 0))
			if !tr.ok {
				dur = scale(dur, 0.3+0.7*rng.Float64())
			}
			tr.end = tr.start.Add(dur)
			tr.host = workers[rng.IntN(len(workers))]
			tr.pid = 40000 + rng.IntN(20000)
			tp.tries = append(tp.tries, tr)
			prevEnd = tr.end
			if tr.ok {
				break
			}
		}
		last := tp.tries[len(tp.tries)-1]
		end[t.ID] = last.end
		if !last.ok {
			failedAt[t.ID] = last.end
			if len(t.Failures) > 0 {
				r.failure = t.Failures[rng.IntN(len(t.Failures))]
			} else {
				r.failure = "airflow.exceptions.AirflowException: Task " + t.ID + " failed"
			}
		}
		p.tasks = append(p.tasks, tp)
		runEnd = maxTime(runEnd, last.end)
	}
	p.end = runEnd.Add(jitter(rng, 1500*time.Millisecond, 2500*time.Millisecond))
	p.final = "success"
	if len(failedAt) > 0 {
		p.final = "failed"
	}
	d.lastRunEnd = p.end
	r.plan = p
}

// pickTask chooses the task that fails: later tasks and tasks with
// retries more often, as in real pipelines.
func pickTask(tasks []Task, rng *rand.Rand) int {
	total := 0
	w := make([]int, len(tasks))
	for i, t := range tasks {
		w[i] = 1 + i + t.Retries
		total += w[i]
	}
	x := rng.IntN(total)
	for i := range w {
		if x < w[i] {
			return i
		}
		x -= w[i]
	}
	return len(tasks) - 1
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// materialize sets the run's fields to what its plan says at now.
func (r *dagRun) materialize(now time.Time) {
	p := r.plan
	last := p.queued // latest event reached
	seen := func(t time.Time) bool {
		if t.IsZero() || t.After(now) {
			return false
		}
		last = maxTime(last, t)
		return true
	}
	switch {
	case seen(p.end):
		r.state, r.start, r.end = p.final, ptr(p.start), ptr(p.end)
	case seen(p.start):
		r.state, r.start, r.end = "running", ptr(p.start), nil
	default:
		r.state, r.start, r.end = "queued", nil, nil
	}
	for i, tp := range p.tasks {
		ti := r.tasks[i]
		*ti = taskInstance{
			uuid: ti.uuid, taskID: ti.taskID, mapIndex: ti.mapIndex, maxTries: ti.maxTries, operator: ti.operator,
			pool: ti.pool, queue: ti.queue, poolSlots: ti.poolSlots, priorityWeight: ti.priorityWeight,
		}
		if !tp.upstreamFailedAt.IsZero() {
			if seen(tp.upstreamFailedAt) {
				ti.state, ti.end = ptr("upstream_failed"), ptr(tp.upstreamFailedAt)
			}
			continue
		}
		k := -1
		for j, tr := range tp.tries {
			if seen(tr.scheduled) {
				k = j
			}
		}
		if k < 0 {
			continue
		}
		tr := tp.tries[k]
		ti.tryNumber, ti.scheduledWhen = k+1, ptr(tr.scheduled)
		ti.state = ptr("scheduled")
		// Until a retry starts, the previous try's dates stay visible.
		if k > 0 && tr.start.After(now) {
			shown := tp.tries[k-1]
			ti.start, ti.end = ptr(shown.start), ptr(shown.end)
			ti.duration = ptr(seconds(shown.end.Sub(shown.start)))
			ti.hostname, ti.pid = shown.host, ptr(shown.pid)
		}
		if seen(tr.queued) {
			ti.state, ti.queuedWhen = ptr("queued"), ptr(tr.queued)
		}
		if seen(tr.start) {
			ti.state, ti.start, ti.end, ti.duration = ptr("running"), ptr(tr.start), nil, nil
			ti.hostname, ti.pid = tr.host, ptr(tr.pid)
		}
		if seen(tr.end) {
			ti.end, ti.duration = ptr(tr.end), ptr(seconds(tr.end.Sub(tr.start)))
			switch {
			case tr.ok:
				ti.state = ptr("success")
			case k < len(tp.tries)-1:
				ti.state = ptr("up_for_retry")
			default:
				ti.state = ptr("failed")
			}
		}
	}
	switch r.state {
	case "queued":
		r.lastSchedulingDecision = nil
		r.updatedAt = p.queued
	case "running":
		r.lastSchedulingDecision = ptr(last)
		r.updatedAt = last
	default:
		r.lastSchedulingDecision = ptr(p.end.Add(-22 * time.Millisecond))
		r.updatedAt = p.end
		r.plan = nil // finished: frozen from now on
	}
}
