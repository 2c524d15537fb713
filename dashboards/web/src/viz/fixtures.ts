// Frames shaped like the first-party plugins' cards (plugins/*/cards.go).
import type { Frame } from "./frame";

export const statFrame: Frame = {
  name: "success_rate",
  type: "stat",
  fields: [
    { name: "success_rate", label: "Success rate", type: "float", unit: "percent", values: [97.5] },
    { name: "succeeded", label: "Succeeded", type: "int", values: [117] },
    { name: "failed", label: "Failed or timed out", type: "int", values: [3] },
  ],
  meta: { previous: 95, trend: 2.5, trend_unit: "percentage points", trend_direction: "up" },
};

export const barFrame: Frame = {
  name: "acme.hello/greeting_runs",
  type: "categories",
  fields: [
    { name: "pipeline", type: "string", values: ["ETL_Vendas", "Load_Clientes", "Export_BI"] },
    { name: "runs", type: "int", values: [40, 10, 20] },
  ],
};

export const tableFrame: Frame = {
  name: "runs",
  type: "table",
  fields: [
    { name: "run_id", label: "Run", type: "string", values: ["r1", "r2", "r3", "r4", "r5"] },
    { name: "job", label: "Job", type: "string", values: ["ETL_Vendas", "Load_Clientes", "ETL_Vendas", "Export_BI", "Load_Clientes"] },
    { name: "state", label: "State", type: "string", values: ["succeeded", "failed", "running", "succeeded", "timed_out"] },
    { name: "duration", label: "Duration", type: "duration", unit: "ms", values: [83000, 1200, null, 450000, 3600000] },
    { name: "started_at", label: "Started", type: "time", values: ["2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z", "2026-03-01T09:00:00Z", "2026-03-01T08:00:00Z"] },
  ],
};

export const statusGridFrame: Frame = {
  name: "status_grid",
  type: "status-grid",
  fields: [
    { name: "dag_id", label: "DAG", type: "string", values: ["etl_vendas", "etl_vendas", "etl_vendas", "load_bi", "load_bi"] },
    { name: "position", type: "int", values: [0, 1, 2, 0, 1] },
    { name: "started_at", label: "Started", type: "time", values: ["2026-03-01T12:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T10:00:00Z", "2026-03-01T12:30:00Z", "2026-03-01T11:30:00Z"] },
    { name: "run_id", label: "Run", type: "string", values: ["c", "b", "a", "y", "x"] },
    { name: "state", label: "State", type: "string", values: ["failed", "succeeded", "succeeded", "running", "cancelled"] },
    { name: "duration", label: "Duration", type: "float", unit: "s", values: [12.5, 60, 61, null, 3] },
  ],
};

/** Long format: time, series name, value (Databricks and Airflow duration trends). */
export const longSeriesFrame: Frame = {
  name: "duration_trend",
  type: "timeseries",
  fields: [
    { name: "time", type: "time", values: ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"] },
    { name: "job", label: "Job", type: "string", values: ["etl", "load", "etl", "load"] },
    { name: "avg_duration", label: "Average duration", type: "duration", unit: "ms", values: [60000, 30000, 65000, 31000] },
    { name: "runs", type: "int", values: [2, 1, 3, 1] },
  ],
};

/** Wide format: time and one column per series (Synapse). */
export const wideSeriesFrame: Frame = {
  name: "synapse_duration_trend",
  type: "timeseries",
  fields: [
    { name: "time", type: "time", values: ["2026-03-01T11:00:00Z", "2026-03-01T10:00:00Z"] },
    { name: "Ingest", type: "float", unit: "s", values: [12, 10] },
    { name: "Publish", type: "float", unit: "s", values: [null, 4] },
  ],
};

export const emptyFrame = (type: string): Frame => ({ name: "empty", type, fields: [] });
