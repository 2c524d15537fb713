// Shapes of the runs read API (host/api/openapi/runs.yaml).

export type RunState = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped" | "timed_out";

export const RUN_STATES: RunState[] = ["failed", "timed_out", "running", "queued", "succeeded", "cancelled", "skipped"];

export interface Run {
  id: string;
  source_id: string;
  pipeline_id?: string;
  pipeline_external_id?: string;
  pipeline_name?: string;
  /** The run's id in the vendor system. */
  external_id: string;
  state: RunState | (string & {});
  /** The vendor's own state value. */
  raw_state?: string;
  queued_at?: string;
  started_at?: string;
  ended_at?: string;
  duration_ms?: number;
  error_message?: string;
  /** Link to the run in the vendor's console. */
  url?: string;
  attempt: number;
  attributes: Record<string, string>;
  metrics?: Record<string, number>;
  sort_at: string;
  updated_at: string;
}

export interface RunTask {
  external_id: string;
  name: string;
  state: RunState | (string & {});
  raw_state?: string;
  started_at?: string;
  ended_at?: string;
  attempt?: number;
  error_message?: string;
}

export interface RunDetail extends Run {
  tasks: RunTask[];
}

export interface RunPage {
  runs: Run[];
  next_cursor: string;
}

export interface PipelineSummary {
  id: string;
  source_id: string;
  external_id: string;
  name: string;
  tags: string[];
  url?: string;
  attributes: Record<string, string>;
  last_run: { id: string; external_id: string; state: string; started_at?: string; ended_at?: string; duration_ms?: number } | null;
  window_runs: number;
  success_rate: number | null;
  median_duration_ms: number | null;
}

export interface PipelinePage {
  pipelines: PipelineSummary[];
  next_cursor: string;
}
