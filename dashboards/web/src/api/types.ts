// Shapes of the /api/v1 answers this app reads (host/api/openapi/*.yaml).
import type { JSONSchema } from "../components/schema";

export interface FieldProblem {
  /** A JSON pointer into the request body, e.g. /config/workspace_url. */
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string; fields?: FieldProblem[] };
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type?: string;
}

export type Role = "viewer" | "editor" | "admin";

export interface Me {
  user: { id: string; username: string; display_name: string };
  profile: { id: string; name: string };
  role: Role;
  via: "password" | "oidc" | "token";
  memberships: { profile_id: string; profile_name: string; role: Role }[];
}

export type Visualization = "stat" | "timeseries" | "bar" | "table" | "status-grid";

export interface CardType {
  type: string;
  plugin_id?: string;
  title: string;
  description?: string;
  visualization: Visualization | (string & {});
  options_schema?: JSONSchema;
  default_size?: { w: number; h: number };
}

export type PluginState = "starting" | "running" | "backoff" | "failed" | "draining" | "stopped";

export interface Plugin {
  id: string;
  name: string;
  version: string;
  kinds: string[];
  state: PluginState | (string & {});
  pid: number;
  restarts: number;
  last_error: string;
  log_tail?: string[];
  generation?: number;
  started_at?: string;
  cards?: CardType[];
  /**
   * The JSON Schema of a source's settings, from the plugin's Describe.
   * Served for running plugins only; without it the Sources form falls
   * back to a JSON editor.
   */
  config_schema?: JSONSchema;
}

export type HealthStatus = "unknown" | "ok" | "degraded" | "error";

export interface Source {
  id: string;
  plugin_id: string;
  name: string;
  config: Record<string, unknown>;
  poll_interval_seconds: number;
  enabled: boolean;
  revision: number;
  health: { status: HealthStatus; message?: string; last_success_at?: string; last_error_at?: string; last_error?: string };
  secrets_error?: string;
  created_at: string;
  updated_at: string;
}

export interface SourceTestResult {
  status: "ok" | "degraded" | "error";
  message: string;
  checked_at: string;
}
