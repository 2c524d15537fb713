// Conversions between the alerting API and the pages: the alert list's
// URL filters, and the rule editor's form ⇄ request body. The form keeps
// text as typed; the body is built only from what the chosen condition
// kind takes, so switching kinds never sends another kind's leftovers.

import type { FieldProblem } from "../api/types";
import type { Alert, AlertNotification, AlertRule, AlertRuleInput, AlertTransition, Condition, ConditionKind, GroupPolicy } from "./types";

export const ALERT_STATES = ["pending", "firing", "resolved", "normal"] as const;

export interface AlertFilters {
  state?: string;
  rule_id?: string;
}

export function parseAlertFilters(search: string): AlertFilters {
  const p = new URLSearchParams(search);
  const f: AlertFilters = {};
  const state = p.get("state")?.trim();
  if (state && (ALERT_STATES as readonly string[]).includes(state)) f.state = state;
  const rule = p.get("rule_id")?.trim();
  if (rule) f.rule_id = rule;
  return f;
}

/** "?state=firing&rule_id=r1", or "": the same keys and order in the page URL and the API request. */
export function alertFiltersToSearch(f: AlertFilters): string {
  const p = new URLSearchParams();
  if (f.state) p.set("state", f.state);
  if (f.rule_id) p.set("rule_id", f.rule_id);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function alertsRequest(f: AlertFilters): string {
  return `/api/v1/alerts${alertFiltersToSearch(f)}`;
}

/** The rule id part of an alert id ("<rule id>:<fingerprint>"). */
export function ruleIdOfAlert(id: string): string {
  const i = id.indexOf(":");
  return i < 0 ? id : id.slice(0, i);
}

// ---- the rule editor ----

export interface FieldDef {
  name: string;
  label: string;
  help?: string;
  placeholder?: string;
  required?: boolean;
  type?: "text" | "number" | "list" | "select";
  options?: string[];
}

export const KINDS: { kind: ConditionKind; label: string; help: string; fields: FieldDef[] }[] = [
  {
    kind: "run_failed",
    label: "Run failed",
    help: "Fires after a run of a selected pipeline ends failed; a later successful run resolves it.",
    fields: [{ name: "states", label: "Run states that count as failed", type: "list", placeholder: "failed, timed_out", help: "Comma-separated. Empty: failed and timed_out (a cancelled run is usually someone's decision)." }],
  },
  {
    kind: "duration_above",
    label: "Run slower than",
    help: "Fires while the latest run took, or is taking, longer than the threshold.",
    fields: [{ name: "threshold", label: "Threshold", required: true, placeholder: "5m", help: "A duration: 90s, 5m, 1h30m, 1d." }],
  },
  {
    kind: "deadline",
    label: "Not succeeded by a time",
    help: "Fires when a selected pipeline has not succeeded by a time of day.",
    fields: [
      { name: "time", label: "Time of day", required: true, placeholder: "06:00", help: "HH:MM, 24-hour clock." },
      { name: "time_zone", label: "Time zone", placeholder: "Europe/Lisbon", help: "An IANA zone name; default UTC. Daylight saving is followed." },
      { name: "days", label: "Days", placeholder: "mon-fri", help: "A cron day-of-week field; default every day (*)." },
      { name: "window", label: "Window", placeholder: "24h", help: "How far back a success counts; default since local midnight." },
    ],
  },
  {
    kind: "absence",
    label: "No run within",
    help: "Fires when a selected pipeline has had no run for the interval.",
    fields: [{ name: "interval", label: "Interval", required: true, placeholder: "2h", help: "The longest acceptable gap between runs." }],
  },
  {
    kind: "metric_threshold",
    label: "Metric threshold",
    help: "Compares an aggregate of a pushed business metric over a trailing window with a value. Metric rules select by series: leave the pipeline selector empty.",
    fields: [
      { name: "series", label: "Series", required: true, placeholder: "sales.orders", help: "A series key, or a glob (sales.*) to watch each matching series." },
      { name: "window", label: "Window", required: true, placeholder: "1h" },
      { name: "agg", label: "Aggregate", required: true, type: "select", options: ["avg", "max", "min", "sum", "count"] },
      { name: "op", label: "Operator", required: true, type: "select", options: [">", ">=", "<", "<="] },
      { name: "value", label: "Value", required: true, type: "number" },
    ],
  },
  {
    kind: "anomaly",
    label: "Anomaly (reserved)",
    help: "Reserved for anomaly detection: the server accepts it only once a detector is installed.",
    fields: [
      { name: "series", label: "Series", placeholder: "duration", help: "duration (run duration of the selected pipelines) or a metric series key." },
      { name: "sensitivity", label: "Sensitivity", type: "number" },
    ],
  },
];

/** The duration fields of a rule's group policy, with the host's defaults (host/alert/rule.go). */
export type GroupDuration = "wait" | "interval" | "repeat";

export const GROUP_FIELDS: (FieldDef & { name: "by" | GroupDuration })[] = [
  { name: "by", label: "Group by", type: "list", placeholder: "pipeline", help: "Comma-separated label names: alerts with the same values of these labels share their messages, and empty sends all of the rule's alerts together." },
  { name: "wait", label: "Group wait", placeholder: "500ms", help: "How long a group's first notification waits for others to join it before it is sent; 0s sends at once." },
  { name: "interval", label: "Group interval", placeholder: "10s", help: "The shortest time between two messages of a group: notifications decided meanwhile go together in the next one." },
  { name: "repeat", label: "Repeat after", placeholder: "4h", help: "How long an alert that is still firing goes without a message before it is notified again; 0s never repeats." },
];

export type Pair = { key: string; value: string };

export interface RuleForm {
  name: string;
  severity: string;
  labels: Pair[];
  source_ids: string;
  pipeline: string;
  pipeline_regex: string;
  tags: string;
  kind: ConditionKind;
  /** The fields of every kind, as typed (kind → field → text). */
  cond: Record<string, Record<string, string>>;
  for: string;
  annotations: Pair[];
  sinks: string;
  /** The group policy as typed; all empty takes the defaults. */
  group: Record<"by" | GroupDuration, string>;
  disabled: boolean;
  /** What the form does not edit but must keep (an anomaly's params). */
  keep?: { anomalyParams?: Record<string, unknown> };
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

const pairs = (o: Record<string, string> | undefined): Pair[] => Object.entries(o ?? {}).map(([key, value]) => ({ key, value }));

export function emptyRuleForm(): RuleForm {
  return {
    name: "",
    severity: "warning",
    labels: [],
    source_ids: "",
    pipeline: "",
    pipeline_regex: "",
    tags: "",
    kind: "run_failed",
    cond: { metric_threshold: { agg: "avg", op: ">" } },
    for: "",
    annotations: [{ key: "summary", value: "" }],
    sinks: "",
    group: { by: "", wait: "", interval: "", repeat: "" },
    disabled: false,
  };
}

function condKind(c: Condition): ConditionKind {
  return (KINDS.find((k) => c[k.kind] !== undefined)?.kind ?? "run_failed") as ConditionKind;
}

export function ruleToForm(r: AlertRuleInput): RuleForm {
  const f = emptyRuleForm();
  const kind = condKind(r.condition ?? {});
  const cond: RuleForm["cond"] = { ...f.cond };
  const c = (r.condition?.[kind] ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const d of KINDS.find((k) => k.kind === kind)!.fields) {
    const v = c[d.name];
    if (v === undefined || v === null) continue;
    fields[d.name] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  cond[kind] = { ...cond[kind], ...fields };
  return {
    name: r.name ?? "",
    severity: r.severity ?? "warning",
    labels: pairs(r.labels),
    source_ids: (r.selector?.source_ids ?? []).join(", "),
    pipeline: r.selector?.pipeline ?? "",
    pipeline_regex: r.selector?.pipeline_regex ?? "",
    tags: (r.selector?.tags ?? []).join(", "),
    kind,
    cond,
    for: r.for ?? "",
    annotations: pairs(r.annotations),
    sinks: (r.sinks ?? []).join(", "),
    group: { by: (r.group?.by ?? []).join(", "), wait: r.group?.wait ?? "", interval: r.group?.interval ?? "", repeat: r.group?.repeat ?? "" },
    disabled: !!r.disabled,
    keep: kind === "anomaly" && r.condition.anomaly?.params ? { anomalyParams: r.condition.anomaly.params } : undefined,
  };
}

function pairsToObject(ps: Pair[]): Record<string, string> | undefined {
  const o: Record<string, string> = {};
  for (const p of ps) if (p.key.trim()) o[p.key.trim()] = p.value;
  return Object.keys(o).length ? o : undefined;
}

/** The request body of the form: only the chosen kind's condition, empty optional fields left out. */
export function formToBody(f: RuleForm): AlertRuleInput {
  const def = KINDS.find((k) => k.kind === f.kind)!;
  const typed = f.cond[f.kind] ?? {};
  const c: Record<string, unknown> = {};
  for (const d of def.fields) {
    const raw = (typed[d.name] ?? "").trim();
    if (!raw) continue;
    if (d.type === "list") c[d.name] = list(raw);
    else if (d.type === "number") c[d.name] = Number(raw);
    else c[d.name] = raw;
  }
  if (f.kind === "anomaly" && f.keep?.anomalyParams) c.params = f.keep.anomalyParams;
  const selector = {
    ...(list(f.source_ids).length ? { source_ids: list(f.source_ids) } : {}),
    ...(f.pipeline.trim() ? { pipeline: f.pipeline.trim() } : {}),
    ...(f.pipeline_regex.trim() ? { pipeline_regex: f.pipeline_regex.trim() } : {}),
    ...(list(f.tags).length ? { tags: list(f.tags) } : {}),
  };
  const body: AlertRuleInput = {
    name: f.name.trim(),
    severity: f.severity,
    condition: { [f.kind]: c } as Condition,
    sinks: list(f.sinks),
  };
  const labels = pairsToObject(f.labels);
  if (labels) body.labels = labels;
  if (Object.keys(selector).length) body.selector = selector;
  if (f.for.trim()) body.for = f.for.trim();
  const annotations = pairsToObject(f.annotations);
  if (annotations) body.annotations = annotations;
  const group = groupToBody(f.group);
  if (group) body.group = group;
  if (f.disabled) body.disabled = true;
  return body;
}

/** The group policy of the form, or undefined when nothing is set (the host's defaults apply). */
function groupToBody(g: RuleForm["group"]): GroupPolicy | undefined {
  const out: GroupPolicy = {};
  const by = list(g.by);
  if (by.length) out.by = by;
  for (const k of ["wait", "interval", "repeat"] as const) if (g[k].trim()) out[k] = g[k].trim();
  return Object.keys(out).length ? out : undefined;
}

const isZeroDuration = (s: string) => /^0+(\.0*)?(ns|us|µs|ms|s|m|h|d)?$/.test(s.trim());

/** The collapsed grouping section's one line: "defaults", or what is set ("by pipeline · repeat 1h"). */
export function groupSummary(g: RuleForm["group"]): string {
  const parts: string[] = [];
  const by = list(g.by);
  if (by.length) parts.push(`by ${by.join(", ")}`);
  if (g.wait.trim()) parts.push(`wait ${g.wait.trim()}`);
  if (g.interval.trim()) parts.push(`interval ${g.interval.trim()}`);
  if (g.repeat.trim()) parts.push(isZeroDuration(g.repeat) ? "never repeat" : `repeat ${g.repeat.trim()}`);
  return parts.length ? parts.join(" · ") : "defaults";
}

/**
 * Server problems by the form's own pointers. A pointer into a list
 * (/selector/tags/1, /sinks/0) belongs to the list's input; the rest are
 * returned as unplaced so the form lists them at the top.
 */
export function placeProblems(problems: FieldProblem[], known: (pointer: string) => boolean): { byField: Map<string, string[]>; unplaced: FieldProblem[] } {
  const byField = new Map<string, string[]>();
  const unplaced: FieldProblem[] = [];
  for (const p of problems) {
    let ptr = p.field || "";
    if (!known(ptr)) {
      const parent = ptr.replace(/\/\d+$/, "");
      if (parent !== ptr && known(parent)) ptr = parent;
    }
    if (!ptr || !known(ptr)) {
      unplaced.push(p);
      continue;
    }
    byField.set(ptr, [...(byField.get(ptr) ?? []), p.message]);
  }
  return { byField, unplaced };
}

export function isEditor(role: string | undefined): boolean {
  return role === "editor" || role === "admin";
}

export type { AlertRule };

// ---- notifications (the outbox) ----

export const NOTIFICATION_STATES = ["pending", "delivered", "dead"] as const;

/** Where a notification is in its delivery, as the pages say it. */
export type NotificationPhase = "sent" | "pending" | "retrying" | "dead";

export function notificationPhase(n: Pick<AlertNotification, "state" | "attempts">): NotificationPhase {
  if (n.state === "delivered") return "sent";
  if (n.state === "dead") return "dead";
  return n.attempts > 0 ? "retrying" : "pending";
}

export interface NotificationFilters {
  state?: string;
}

export function parseNotificationFilters(search: string): NotificationFilters {
  const state = new URLSearchParams(search).get("state")?.trim();
  return state && (NOTIFICATION_STATES as readonly string[]).includes(state) ? { state } : {};
}

export function notificationFiltersToSearch(f: NotificationFilters): string {
  return f.state ? `?${new URLSearchParams({ state: f.state })}` : "";
}

/** The list request: the page's filters plus the series of one alert (its detail page) and a page cursor. */
export function notificationsRequest(f: NotificationFilters & { rule_id?: string; fingerprint?: string; limit?: number; cursor?: string }): string {
  const p = new URLSearchParams();
  if (f.state) p.set("state", f.state);
  if (f.rule_id) p.set("rule_id", f.rule_id);
  if (f.fingerprint) p.set("fingerprint", f.fingerprint);
  if (f.limit) p.set("limit", String(f.limit));
  if (f.cursor) p.set("cursor", f.cursor);
  const s = p.toString();
  return `/api/v1/notifications${s ? `?${s}` : ""}`;
}

export type TimelineEntry = { kind: "transition"; at: string; transition: AlertTransition } | { kind: "notification"; at: string; notification: AlertNotification };

/**
 * One alert's timeline: its state transitions and its notifications,
 * newest first. A notification is placed at the time it was decided; at
 * the same instant it comes before (above) the transition that caused it.
 */
export function alertTimeline(history: AlertTransition[], notifications: AlertNotification[]): TimelineEntry[] {
  // order breaks ties of time within a kind, larger first: the history is
  // oldest first, the API's notifications newest first.
  const entries = [
    ...history.map((t, i) => ({ e: { kind: "transition" as const, at: t.at, transition: t }, rank: 0, order: i })),
    ...notifications.map((n, i) => ({ e: { kind: "notification" as const, at: n.created_at, notification: n }, rank: 1, order: -i })),
  ];
  return entries.sort((a, b) => Date.parse(b.e.at) - Date.parse(a.e.at) || b.rank - a.rank || b.order - a.order).map((x) => x.e as TimelineEntry);
}

// ---- the rule editor's preview ----

/** The window of the rule editor's preview, in days. */
export const PREVIEW_DAYS = 7;

const days = (n: number) => (n === 1 ? "the last day" : `the last ${n} days`);

/** "Would have fired 3 times in the last 7 days." */
export function previewSummary(fired: number, window: number): string {
  if (fired === 0) return `Would not have fired in ${days(window)}`;
  return `Would have fired ${fired === 1 ? "once" : `${fired} times`} in ${days(window)}`;
}

/** The preview's problems point into its body's rule (/rule/name): the form's pointers are the rule's own. */
export function previewProblems(fields: FieldProblem[]): FieldProblem[] {
  return fields.map((p) => ({ ...p, field: p.field.startsWith("/rule/") ? p.field.slice(5) : p.field === "/rule" ? "" : p.field }));
}

const fieldLabels: Record<string, string> = {
  "/name": "Name",
  "/severity": "Severity",
  "/condition": "When",
  "/for": "Pending for",
  "/selector": "Pipelines",
  "/selector/pipeline": "Name (glob)",
  "/selector/pipeline_regex": "Name (regular expression)",
  "/selector/source_ids": "Source ids",
  "/selector/tags": "Tags",
  "/labels": "Labels",
  "/annotations": "Annotations",
  "/sinks": "Sinks",
  "/group": "Grouping and repeat",
  ...Object.fromEntries(GROUP_FIELDS.map((d) => [`/group/${d.name}`, d.label])),
};

/** What the editor calls the input of a rule's JSON pointer ("Threshold", "Annotation summary"), for messages. */
export function fieldLabel(ptr: string): string {
  const m = /^\/condition\/([a-z_]+)\/([a-z_]+)/.exec(ptr);
  if (m) return KINDS.find((k) => k.kind === m[1])?.fields.find((f) => f.name === m[2])?.label ?? ptr;
  const kv = /^\/(labels|annotations)\/(.+)$/.exec(ptr);
  if (kv) return `${kv[1] === "labels" ? "Label" : "Annotation"} ${kv[2]!.replace(/~1/g, "/").replace(/~0/g, "~")}`;
  return fieldLabels[ptr.replace(/\/\d+$/, "")] ?? (ptr || "The rule");
}

// ---- notifications held back (silences, inhibition) ----

/** One reason an alert's notification is held back, as the pages show it. */
export type HeldReason = { kind: "silence"; id: string } | { kind: "inhibited"; text: string } | { kind: "other"; text: string };

/** The host's reasons ("silence <id>", "inhibited: source … is unhealthy (…)"), parsed for links. */
export function heldReasons(a: Pick<Alert, "held_by">): HeldReason[] {
  return (a.held_by ?? []).map((r) => {
    const s = /^silence\s+(\S+)$/.exec(r);
    if (s) return { kind: "silence", id: s[1]! };
    const i = /^inhibited:\s*(.+)$/s.exec(r);
    if (i) return { kind: "inhibited", text: i[1]! };
    return { kind: "other", text: r };
  });
}

/** "The firing notification is held back: silence 01J…; it is sent when this ends." as plain text (the list's tooltip). */
export function heldText(a: Pick<Alert, "held_status" | "held_by">): string {
  const why = heldReasons(a).map((r) => (r.kind === "silence" ? `silence ${r.id}` : r.text));
  const status = a.held_status === "resolved" ? "resolved" : "firing";
  return `The ${status} notification is held back${why.length ? `: ${why.join("; ")}` : ""}; it is sent when ${why.length > 1 ? "these end" : "this ends"}.`;
}
