// Shapes of the alerting API (host/api/openapi/alerts.yaml).

export type AlertState = "normal" | "pending" | "firing" | "resolved";
export type Severity = "info" | "warning" | "critical";

export interface AlertTransition {
  rule_id: string;
  fingerprint: string;
  seq: number;
  from: string;
  to: string;
  at: string;
  value?: string;
  reason?: string;
}

export interface Alert {
  id: string;
  rule_id: string;
  rule_name: string;
  severity: string;
  fingerprint: string;
  state: AlertState | (string & {});
  labels: Record<string, string>;
  value?: string;
  since: string;
  active_since?: string;
  last_eval_at?: string;
  acknowledged_by?: string;
  acknowledged_at?: string;
  /** The status of a notification held back by silences or inhibition; it is sent when they end. */
  held_status?: "firing" | "resolved" | (string & {});
  /** What holds it back: "silence <id>", "inhibited: source \"…\" is unhealthy (…)". */
  held_by?: string[];
  history: AlertTransition[];
}

export interface Selector {
  source_ids?: string[];
  pipeline?: string;
  pipeline_regex?: string;
  tags?: string[];
}

export interface Condition {
  run_failed?: { states?: string[] };
  duration_above?: { threshold: string };
  deadline?: { time: string; time_zone?: string; days?: string; window?: string };
  absence?: { interval: string };
  metric_threshold?: { series: string; window: string; agg: string; op: string; value: number };
  anomaly?: { series?: string; sensitivity?: number; params?: Record<string, unknown> };
}

export type ConditionKind = keyof Condition;

/**
 * How a rule's notifications are gathered into messages (host/alert/rule.go
 * GroupPolicy). Durations are Go duration strings; an empty field takes
 * its default.
 */
export interface GroupPolicy {
  /** Label names that split the rule's alerts into groups; empty: one group per rule. */
  by?: string[];
  /** How long a group's first notification waits for others (default 500ms). */
  wait?: string;
  /** The shortest time between two messages of a group (default 10s). */
  interval?: string;
  /** Re-send a still-firing alert after this long (default 4h; "0s" never). */
  repeat?: string;
}

export interface AlertRuleInput {
  id?: string;
  name: string;
  severity: Severity | (string & {});
  labels?: Record<string, string>;
  selector?: Selector;
  condition: Condition;
  for?: string;
  annotations?: Record<string, string>;
  sinks: string[];
  group?: GroupPolicy;
  disabled?: boolean;
}

export interface AlertRule extends AlertRuleInput {
  id: string;
  kind: ConditionKind | (string & {});
  revision: number;
  provisioned: boolean;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface SilenceMatcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  status: "pending" | "active" | "expired" | (string & {});
  created_at: string;
}

/** Delivery state of a notification in the outbox (host/api/openapi/notifications.yaml). */
export type NotificationState = "pending" | "delivered" | "dead";

/** One notification to one sink, as GET /api/v1/notifications lists it. */
export interface AlertNotification {
  id: string;
  notification_id: string;
  rule_id: string;
  rule_name: string;
  fingerprint: string;
  alert_id?: string;
  sink_source_id: string;
  sink_name: string;
  group_key: string;
  status: "firing" | "resolved" | (string & {});
  title: string;
  severity?: string;
  state: NotificationState | (string & {});
  attempts: number;
  next_attempt_at?: string;
  last_error: string;
  delivered_at?: string;
  created_at: string;
}

export interface NotificationPage {
  notifications: AlertNotification[];
  next_cursor: string;
  dead_count: number;
}

/** One firing of a series in a rule preview. */
export interface PreviewEpisode {
  fingerprint: string;
  source_id?: string;
  pipeline_id?: string;
  pipeline?: string;
  series?: string;
  fired_at: string;
  /** null while still firing at the window's end. */
  resolved_at: string | null;
  value?: string;
  threshold?: string;
}

/** POST /api/v1/alert-rules/preview: what a rule would have done over the last days. */
export interface AlertRulePreview {
  fired: number;
  /** The newest episodes (at most 50), oldest first. */
  episodes: PreviewEpisode[];
  /** Firings per 24 hours from window.from. */
  daily: number[];
  runs_evaluated: number;
  points_evaluated: number;
  window: { from: string; to: string };
  truncated: boolean;
  notes: string[];
}
