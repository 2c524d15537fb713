// The runs explorer's filters live in the URL (?source=…&state=failed&range=24h),
// so a link reproduces the view; this file converts between the URL, the
// form and the API request. Only parameters GET /api/v1/runs accepts are sent.

export interface RunFilters {
  source?: string;
  pipeline?: string;
  state?: string;
  /** A relative range ("1h", "24h", "7d", "30d"), resolved when the request is made. */
  range?: string;
  /** RFC 3339 bounds of a custom range. */
  from?: string;
  to?: string;
  /** Text in the run id, error message or pipeline name. */
  q?: string;
}

export const RANGES: { value: string; label: string; ms: number }[] = [
  { value: "1h", label: "Last hour", ms: 3_600_000 },
  { value: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { value: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { value: "30d", label: "Last 30 days", ms: 30 * 86_400_000 },
];

export const PAGE_SIZE = 50;

const KEYS: (keyof RunFilters)[] = ["source", "pipeline", "state", "range", "from", "to", "q"];

export function parseFilters(search: string): RunFilters {
  const p = new URLSearchParams(search);
  const f: RunFilters = {};
  for (const k of KEYS) {
    const v = p.get(k)?.trim();
    if (v) f[k] = v;
  }
  // A relative range and custom bounds exclude each other; the range wins.
  if (f.range) {
    delete f.from;
    delete f.to;
  }
  return f;
}

/** "?state=failed&range=24h", or "" without filters; keys in a stable order. */
export function filtersToSearch(f: RunFilters): string {
  const p = new URLSearchParams();
  for (const k of KEYS) {
    const v = f[k];
    if (v) p.set(k, v);
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function hasFilters(f: RunFilters): boolean {
  return KEYS.some((k) => !!f[k]);
}

/** The GET /api/v1/runs URL of a page of runs matching f. */
export function runsRequest(f: RunFilters, opts: { cursor?: string; limit?: number; now?: number } = {}): string {
  const p = new URLSearchParams();
  if (f.source) p.set("source", f.source);
  if (f.pipeline) p.set("pipeline", f.pipeline);
  if (f.state) p.set("state", f.state);
  const range = RANGES.find((r) => r.value === f.range);
  if (range) {
    p.set("from", new Date((opts.now ?? Date.now()) - range.ms).toISOString());
  } else {
    if (f.from) p.set("from", f.from);
    if (f.to) p.set("to", f.to);
  }
  if (f.q) p.set("q", f.q);
  p.set("limit", String(opts.limit ?? PAGE_SIZE));
  if (opts.cursor) p.set("cursor", opts.cursor);
  return `/api/v1/runs?${p.toString()}`;
}

/** An RFC 3339 time → the value of a datetime-local input (local time, minutes). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}`;
}

/** A datetime-local value (local time) → RFC 3339 in UTC, or undefined. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/**
 * Whether a run.changed event (tags "runs", "source:S", "pipeline:P") can
 * change the list under these filters. State, time and text are not in the
 * tags, so any event of the right source and pipeline counts.
 */
export function eventMatches(tags: string[] | undefined, f: RunFilters): boolean {
  if (!tags || tags.length === 0) return true;
  if (f.source && !tags.includes(`source:${f.source}`)) return false;
  if (f.pipeline && !tags.includes(`pipeline:${f.pipeline}`)) return false;
  return true;
}
