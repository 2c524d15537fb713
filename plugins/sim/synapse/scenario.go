package synapsesim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"
)

// PipelineSpec describes a pipeline of the scenario: its definition and,
// when it has a schedule, how its runs behave. Slots fall at every
// multiple of Every (counted from the Unix epoch, UTC) plus Offset.
type PipelineSpec struct {
	Name        string
	Description string
	Folder      string
	Annotations []string
	// Trigger names the schedule trigger; empty means the pipeline only
	// runs when started by hand (StartRun).
	Trigger string
	// TriggerType is ScheduleTrigger (default) or TumblingWindowTrigger.
	TriggerType string
	Every       time.Duration
	Offset      time.Duration
	// Parameters gives a run's parameter values for its slot (values are
	// always strings, as the service sends them).
	Parameters func(slot time.Time) map[string]string
	// ParameterSpecs declares the parameters in the definition.
	ParameterSpecs map[string]ParameterSpec
	Activities     []ActivitySpec
	// FailRate, CancelRate: chance a run fails in one of its activities
	// that declare Errors, or is cancelled during an activity.
	FailRate, CancelRate float64
	// RecoverRate: chance a failed run gets a manual recovery re-run
	// ("rerun from failed activity") 20 to 60 minutes after it failed.
	RecoverRate float64
	// QueueRate: chance a run waits 20-90 s in Queued (integration runtime
	// busy) instead of about a second.
	QueueRate float64
}

// ActivitySpec is one activity of a pipeline: its type, how long it
// usually takes, and how it fails.
type ActivitySpec struct {
	Name, Type string
	Min, Max   time.Duration
	// SlowRate: chance an attempt takes SlowMin..SlowMax instead.
	SlowRate         float64
	SlowMin, SlowMax time.Duration
	// Retry is the activity policy's retry count; RetryRate the chance
	// that one attempt fails with Transient and is retried after 30 s.
	Retry     int
	RetryRate float64
	Transient *ActivityError
	// Errors are the failures this activity can end a run with.
	Errors []ActivityError
	// Timeout is the policy's timeout ("0.02:00:00").
	Timeout string
	// UserProperties are copied onto its activity runs.
	UserProperties map[string]any
}

// Realistic activity errors, after the messages the service produces.
var (
	ErrSinkLoginFailed    = ActivityError{ErrorCode: "2200", FailureType: "UserError", Message: "Failure happened on 'Sink' side. ErrorCode=SqlOperationFailed,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=A database operation failed with the following error: 'Login failed for user 'svc_syn_loader'.',Source=,''Type=System.Data.SqlClient.SqlException,Message=Login failed for user 'svc_syn_loader'.,Source=.Net SqlClient Data Provider,SqlErrorNumber=18456,Class=14,ErrorCode=-2146232060,State=1,'"}
	ErrSourceFileNotFound = ActivityError{ErrorCode: "2200", FailureType: "UserError", Message: "ErrorCode=UserErrorFileNotFound,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=ADLS Gen2 operation failed for: Operation returned an invalid status code 'NotFound'. Account: 'dlspuodprod'. FileSystem: 'raw'. Path: 'vendas/2026/11/16/vendas.parquet'. ErrorCode: 'PathNotFound'. Message: 'The specified path does not exist.'.,Source=Microsoft.DataTransfer.ClientLibrary,''Type=Microsoft.Azure.Storage.Data.Models.ErrorSchemaException,Message=Operation returned an invalid status code 'NotFound',Source=Microsoft.DataTransfer.ClientLibrary,'"}
	ErrSQLConnect         = ActivityError{ErrorCode: "2200", FailureType: "UserError", Message: "ErrorCode=SqlFailedToConnect,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=Cannot connect to SQL Database. Please contact SQL server team for further support. Server: 'sqlsrv-puod-prod.database.windows.net', Database: 'erp', User: 'svc_syn_reader'. Check the connection configuration is correct, and make sure the SQL Database firewall allows the Data Factory to access.,Source=Microsoft.DataTransfer.ClientLibrary,''Type=System.Data.SqlClient.SqlException,Message=A network-related or instance-specific error occurred while establishing a connection to SQL Server.,Source=.Net SqlClient Data Provider,SqlErrorNumber=53,Class=20,ErrorCode=-2146232060,State=0,'"}
	ErrSparkOOM           = ActivityError{ErrorCode: "6002", FailureType: "UserError", Message: "Job failed due to reason: at Cell 4, an error occurred: org.apache.spark.SparkException: Job aborted due to stage failure: Task 7 in stage 12.0 failed 4 times, most recent failure: Lost task 7.3 in stage 12.0 (TID 481) (vm-5f2a1c3b executor 2): java.lang.OutOfMemoryError: Java heap space"}
	ErrSparkSchema        = ActivityError{ErrorCode: "6002", FailureType: "UserError", Message: "Job failed due to reason: at Cell 2, an error occurred: org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `id_cliente` cannot be resolved. Did you mean one of the following? [`cliente_id`, `cod_cliente`]"}
	ErrDuplicateKey       = ActivityError{ErrorCode: "2402", FailureType: "UserError", Message: "Execution fail against sql server. Please contact SQL Server team if you need further support. Sql error number: 2627. Error Message: Violation of PRIMARY KEY constraint 'PK_fato_vendas'. Cannot insert duplicate key in object 'dw.fato_vendas'. The duplicate key value is (2026-11-16, 48213)."}
	ErrActivityTimeout    = ActivityError{ErrorCode: "2103", FailureType: "UserError", Message: "Activity timed out after the timeout configured in its policy (0.00:30:00). The operation was cancelled."}
	ErrThrottled          = ActivityError{ErrorCode: "2200", FailureType: "SystemError", Message: "ErrorCode=AdlsGen2OperationFailed,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=ADLS Gen2 operation failed for: Operation returned an invalid status code 'ServiceUnavailable'. Account: 'dlspuodprod'. ErrorCode: 'ServerBusy'. Message: 'Operations per second is over the account limit.'.,Source=Microsoft.DataTransfer.ClientLibrary,'"}
)

func dateParam(name string, daysBack int) func(time.Time) map[string]string {
	return func(slot time.Time) map[string]string {
		return map[string]string{name: slot.AddDate(0, 0, -daysBack).Format("2006-01-02")}
	}
}

// DefaultScenario is the demo workspace: the pipelines of the doc's shared
// scenario (pl_sales_load daily at 04:00, pl_customers_sync hourly at :30)
// plus ETL_Vendas every 15 minutes (a quarter of its runs take more than 5
// minutes) and a few busier pipelines, so a dashboard sees a steady flow:
// mostly successes, some failures with the service's error messages,
// retried activities, queued and cancelled runs, recovery re-runs.
func DefaultScenario() []PipelineSpec {
	return []PipelineSpec{
		{
			Name: "pl_sales_load", Description: "Carga diaria de vendas para o pool dedicado", Folder: "vendas",
			Annotations: []string{"dominio:vendas"}, Trigger: "tr_sales_daily_0400", Every: 24 * time.Hour, Offset: 4 * time.Hour,
			Parameters: func(slot time.Time) map[string]string {
				return map[string]string{"p_data_ref": slot.AddDate(0, 0, -1).Format("2006-01-02"), "p_full_reload": "false"}
			},
			ParameterSpecs: map[string]ParameterSpec{"p_data_ref": {Type: "String"}, "p_full_reload": {Type: "Bool", DefaultValue: false}},
			Activities: []ActivitySpec{
				{Name: "Lookup_Watermark", Type: "Lookup", Min: 8 * time.Second, Max: 16 * time.Second, Timeout: "0.00:10:00"},
				{Name: "Copy_Sales_To_Staging", Type: "Copy", Min: 4 * time.Minute, Max: 8 * time.Minute, Timeout: "0.02:00:00",
					Errors: []ActivityError{ErrSinkLoginFailed, ErrSourceFileNotFound}, UserProperties: map[string]any{"entidade": "vendas"}},
				{Name: "SP_Merge_Sales", Type: "SqlPoolStoredProcedure", Min: 30 * time.Second, Max: 90 * time.Second, Errors: []ActivityError{ErrDuplicateKey}},
			},
			FailRate: 0.25, RecoverRate: 0.8,
		},
		{
			Name: "pl_customers_sync", Description: "Sincronizacao horaria de clientes", Folder: "clientes",
			Annotations: []string{"dominio:clientes"}, Trigger: "tr_customers_hourly", Every: time.Hour, Offset: 30 * time.Minute,
			Parameters:     func(time.Time) map[string]string { return map[string]string{"p_since_hours": "1"} },
			ParameterSpecs: map[string]ParameterSpec{"p_since_hours": {Type: "Int", DefaultValue: 1}},
			Activities: []ActivitySpec{
				{Name: "Notebook_Sync_Clientes", Type: "SynapseNotebook", Min: 3 * time.Minute, Max: 9 * time.Minute, Errors: []ActivityError{ErrSparkSchema, ErrSparkOOM}},
			},
			FailRate: 0.04, CancelRate: 0.04, RecoverRate: 0.3,
		},
		{
			Name: "ETL_Vendas", Description: "ETL incremental de vendas (raw -> curated -> dw)", Folder: "vendas",
			Annotations: []string{"dominio:vendas", "criticidade:alta"}, Trigger: "tr_etl_vendas_15min", Every: 15 * time.Minute, Offset: 2 * time.Minute,
			Parameters:     dateParam("p_data_ref", 0),
			ParameterSpecs: map[string]ParameterSpec{"p_data_ref": {Type: "String"}},
			Activities: []ActivitySpec{
				{Name: "Copy_Vendas_Raw", Type: "Copy", Min: 40 * time.Second, Max: 100 * time.Second, Retry: 2, RetryRate: 0.08, Transient: &ErrThrottled,
					Errors: []ActivityError{ErrSourceFileNotFound, ErrThrottled}, Timeout: "0.00:30:00"},
				{Name: "Notebook_Transform_Vendas", Type: "SynapseNotebook", Min: 70 * time.Second, Max: 150 * time.Second,
					SlowRate: 0.25, SlowMin: 4 * time.Minute, SlowMax: 8 * time.Minute, Errors: []ActivityError{ErrSparkOOM, ErrActivityTimeout}},
				{Name: "SP_Publish_Vendas", Type: "SqlPoolStoredProcedure", Min: 10 * time.Second, Max: 40 * time.Second, Errors: []ActivityError{ErrDuplicateKey}},
			},
			FailRate: 0.08, CancelRate: 0.01, RecoverRate: 0.5, QueueRate: 0.1,
		},
		{
			Name: "pl_orders_incremental", Description: "Pedidos do ERP a cada 5 minutos", Folder: "pedidos",
			Annotations: []string{"dominio:pedidos"}, Trigger: "tr_orders_5min", TriggerType: "TumblingWindowTrigger", Every: 5 * time.Minute,
			Activities: []ActivitySpec{
				{Name: "Copy_Orders_Delta", Type: "Copy", Min: 15 * time.Second, Max: 55 * time.Second, Retry: 3, RetryRate: 0.1, Transient: &ErrSQLConnect,
					Errors: []ActivityError{ErrSQLConnect}},
			},
			FailRate: 0.03, QueueRate: 0.05,
		},
		{
			Name: "pl_inventory_snapshot", Description: "Snapshot de estoque a cada 30 minutos", Folder: "estoque",
			Annotations: []string{"dominio:estoque"}, Trigger: "tr_inventory_30min", Every: 30 * time.Minute, Offset: 10 * time.Minute,
			Activities: []ActivitySpec{
				{Name: "Spark_Inventory_Snapshot", Type: "SparkJob", Min: 2 * time.Minute, Max: 4 * time.Minute, Errors: []ActivityError{ErrSparkOOM}},
			},
			FailRate: 0.05,
		},
		{
			Name: "pl_finance_close", Description: "Fechamento financeiro diario", Folder: "financas",
			Annotations: []string{"dominio:financas"}, Trigger: "tr_finance_daily_0600", Every: 24 * time.Hour, Offset: 6 * time.Hour,
			Parameters:     dateParam("p_data_ref", 1),
			ParameterSpecs: map[string]ParameterSpec{"p_data_ref": {Type: "String"}},
			Activities: []ActivitySpec{
				{Name: "Copy_Ledger", Type: "Copy", Min: 5 * time.Minute, Max: 9 * time.Minute, Errors: []ActivityError{ErrSQLConnect}},
				{Name: "Notebook_Reconcile", Type: "SynapseNotebook", Min: 10 * time.Minute, Max: 20 * time.Minute, Errors: []ActivityError{ErrSparkSchema}},
			},
			FailRate: 0.1, RecoverRate: 0.7,
		},
	}
}

// newRNG returns the generator of one slot of one pipeline: the same seed
// always yields the same run.
func newRNG(seed uint64, name string, slot time.Time) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()^uint64(slot.UnixNano())))
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// newGUID formats 16 random bytes as a version-4 GUID.
func newGUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func hexID(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for range n {
		sb.WriteByte(digits[rng.IntN(16)])
	}
	return sb.String()
}

// triggerRunID looks like the service's trigger run ids.
func triggerRunID(rng *rand.Rand) string {
	return fmt.Sprintf("0858498%013dCU%02d", rng.Int64N(1e13), rng.IntN(100))
}

// slots returns the schedule's slots in (after, until].
func (p *PipelineSpec) slots(after, until time.Time) []time.Time {
	if p.Every <= 0 || p.Trigger == "" {
		return nil
	}
	every := p.Every
	base := after.Add(-p.Offset).Truncate(every).Add(p.Offset)
	var out []time.Time
	for t := base; !t.After(until); t = t.Add(every) {
		if t.After(after) {
			out = append(out, t)
		}
	}
	return out
}

// generate decides the whole timeline of the run of one slot.
func (s *Server) generate(p *PipelineSpec, slot time.Time) {
	rng := newRNG(s.opts.Seed, p.Name, slot)
	r := &run{id: newGUID(rng), pipeline: p.Name, annotations: p.Annotations, firedAt: slot, triggerRunID: triggerRunID(rng)}
	r.triggerType = p.TriggerType
	if r.triggerType == "" {
		r.triggerType = "ScheduleTrigger"
	}
	r.invokedBy = InvokedBy{Name: p.Trigger, ID: r.triggerRunID, InvokedByType: r.triggerType}
	if p.Parameters != nil {
		r.params = p.Parameters(slot)
	}
	r.start = slot.Add(between(rng, 500*time.Millisecond, 3*time.Second))
	queue := between(rng, 800*time.Millisecond, 2500*time.Millisecond)
	if rng.Float64() < p.QueueRate {
		queue = between(rng, 20*time.Second, 90*time.Second)
	}
	r.events = []event{{at: r.start, status: StatusQueued}, {at: r.start.Add(queue), status: StatusInProgress}}

	failAt, cancelAt := -1, -1
	switch x := rng.Float64(); {
	case x < p.FailRate:
		var candidates []int
		for i, a := range p.Activities {
			if len(a.Errors) > 0 {
				candidates = append(candidates, i)
			}
		}
		if len(candidates) > 0 {
			failAt = candidates[rng.IntN(len(candidates))]
		}
	case x < p.FailRate+p.CancelRate && len(p.Activities) > 0:
		cancelAt = rng.IntN(len(p.Activities))
	}
	s.play(r, p, rng, 0, failAt, cancelAt)
	s.world.addRun(r)

	if failAt >= 0 && rng.Float64() < p.RecoverRate {
		s.recover(r, p, rng, failAt)
	}
}

// recover adds a manual recovery re-run of the failed run r, rerunning
// from the failed activity.
func (s *Server) recover(r *run, p *PipelineSpec, rng *rand.Rand, failedActivity int) {
	failedAt := r.events[len(r.events)-1].at
	rr := &run{id: newGUID(rng), groupID: r.groupID, pipeline: r.pipeline, params: r.params, annotations: r.annotations}
	rr.invokedBy = InvokedBy{Name: "Manual", ID: hexID(rng, 32), InvokedByType: "Manual"}
	rr.start = failedAt.Add(between(rng, 20*time.Minute, 60*time.Minute))
	rr.events = []event{{at: rr.start, status: StatusQueued}, {at: rr.start.Add(between(rng, time.Second, 2*time.Second)), status: StatusInProgress}}
	failAt := -1
	if rng.Float64() < 0.15 {
		failAt = failedActivity
	}
	s.play(rr, p, rng, failedActivity, failAt, -1)
	s.world.addRun(rr)
}

// play lays out the activities of r from activity `from` on, failing at
// failAt or being cancelled during cancelAt (-1: neither), and ends the run.
func (s *Server) play(r *run, p *PipelineSpec, rng *rand.Rand, from, failAt, cancelAt int) {
	t := r.events[len(r.events)-1].at
	final, message := StatusSucceeded, ""
	var cancelledAt time.Time
acts:
	for i := from; i < len(p.Activities); i++ {
		a := &p.Activities[i]
		attempts := 1
		var failErr *ActivityError
		if i == failAt {
			failErr = &a.Errors[rng.IntN(len(a.Errors))]
			attempts = a.Retry + 1
		} else if a.Retry > 0 && a.Transient != nil && rng.Float64() < a.RetryRate {
			attempts = 2
		}
		for n := 0; n < attempts; n++ {
			t = t.Add(between(rng, 400*time.Millisecond, 2*time.Second))
			if n > 0 {
				t = t.Add(30 * time.Second) // policy retryIntervalInSeconds
			}
			act := s.newActivity(r, a, rng, t, n)
			last := n == attempts-1
			dur := between(rng, a.Min, a.Max)
			if a.SlowRate > 0 && rng.Float64() < a.SlowRate {
				dur = between(rng, a.SlowMin, a.SlowMax)
			}
			switch {
			case i == cancelAt:
				stop := t.Add(time.Duration(float64(dur) * (0.2 + 0.6*rng.Float64())))
				cancelledAt = stop
				act.end, act.status = stop.Add(between(rng, time.Second, 3*time.Second)), StatusCancelled
				act.output = activityOutput(a, rng, false)
				r.activities = append(r.activities, act)
				t = act.end
				final = StatusCancelled
				break acts
			case i == failAt || !last:
				e := a.Transient
				if i == failAt {
					e = failErr
				}
				act.end = t.Add(dur / 3)
				act.status = StatusFailed
				act.err = *e
				act.err.Target = a.Name
				act.output = activityOutput(a, rng, true)
				if i == failAt && last {
					final, message = StatusFailed, "Operation on target "+a.Name+" failed: "+e.Message
				}
			default:
				act.end, act.status = t.Add(dur), StatusSucceeded
				act.output = activityOutput(a, rng, false)
			}
			r.activities = append(r.activities, act)
			t = act.end
		}
		if final == StatusFailed {
			break
		}
	}
	end := t.Add(between(rng, 1500*time.Millisecond, 3*time.Second))
	if !cancelledAt.IsZero() {
		r.events = append(r.events, event{at: cancelledAt, status: StatusCanceling})
	}
	r.events = append(r.events, event{at: end, status: final, message: message})
}

func (s *Server) newActivity(r *run, a *ActivitySpec, rng *rand.Rand, start time.Time, attempt int) *activity {
	act := &activity{id: newGUID(rng), name: a.Name, typ: a.Type, start: start, userProperties: a.UserProperties}
	if attempt > 0 {
		n := attempt
		act.retryAttempt = &n
	}
	act.input = activityInput(a)
	return act
}

func activityInput(a *ActivitySpec) json.RawMessage {
	var v any
	switch a.Type {
	case "Copy":
		v = map[string]any{"source": map[string]any{"type": "ParquetSource"}, "sink": map[string]any{"type": "SqlDWSink", "writeBehavior": "Insert"}, "enableStaging": false}
	case "Lookup":
		v = map[string]any{"source": map[string]any{"type": "AzureSqlSource"}, "firstRowOnly": true}
	case "SynapseNotebook":
		v = map[string]any{"notebook": map[string]any{"referenceName": "nb_" + strings.ToLower(a.Name), "type": "NotebookReference"}}
	case "SqlPoolStoredProcedure":
		v = map[string]any{"storedProcedureName": "stg.usp_" + strings.ToLower(a.Name)}
	default:
		v = map[string]any{}
	}
	b, _ := json.Marshal(v)
	return b
}

func activityOutput(a *ActivitySpec, rng *rand.Rand, failed bool) json.RawMessage {
	const ir = "AutoResolveIntegrationRuntime (Brazil South)"
	var v any
	switch a.Type {
	case "Copy":
		rows := 50_000 + rng.IntN(900_000)
		copied := rows
		written := rows * 38
		if failed {
			copied, written = 0, 0
		}
		v = map[string]any{
			"dataRead": rows * 44, "dataWritten": written, "filesRead": 1 + rng.IntN(40), "rowsRead": rows, "rowsCopied": copied,
			"copyDuration": 30 + rng.IntN(400), "throughput": float64(rng.IntN(9000))/100 + 1, "errors": []any{},
			"effectiveIntegrationRuntime": ir, "usedDataIntegrationUnits": 4, "usedParallelCopies": 1,
		}
	case "Lookup":
		v = map[string]any{"firstRow": map[string]any{"last_loaded_at": "2026-11-16T04:06:55Z"}, "effectiveIntegrationRuntime": ir}
	default:
		v = map[string]any{"effectiveIntegrationRuntime": ir}
	}
	b, _ := json.Marshal(v)
	return b
}
