// The card data shape: sdk.Frame's JSON (sdk/frame.go MarshalJSON). Columns
// are stored column-wise; times are RFC 3339 strings, durations are
// milliseconds, nulls are null.

export type FieldType = "string" | "int" | "float" | "bool" | "time" | "duration";
export type FrameType = "table" | "timeseries" | "stat" | "categories" | "status-grid" | (string & {});
export type Value = string | number | boolean | null;

export interface Field {
  name: string;
  label?: string;
  type: FieldType;
  unit?: string;
  values: Value[];
}

export interface Frame {
  name: string;
  type: FrameType;
  fields: Field[];
  meta?: Record<string, unknown>;
}

/** Number of rows: the length of the first field, as in sdk.Frame.Rows. */
export function rowCount(frame: Frame | null | undefined): number {
  return frame?.fields[0]?.values.length ?? 0;
}

export function isNumeric(f: Field): boolean {
  return f.type === "int" || f.type === "float" || f.type === "duration";
}

export function fieldLabel(f: Field): string {
  return f.label || humanize(f.name);
}

export function field(frame: Frame, name: string): Field | undefined {
  return frame.fields.find((f) => f.name === name);
}

export function firstOfType(frame: Frame, pred: (f: Field) => boolean, except: Field[] = []): Field | undefined {
  return frame.fields.find((f) => pred(f) && !except.includes(f));
}

/** A number for a value (times as epoch milliseconds), or null. */
export function toNumber(f: Field, v: Value | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (f.type === "time") {
    const t = Date.parse(String(v));
    return Number.isNaN(t) ? null : t;
  }
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean") return v ? 1 : 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "job_id" → "Job id". */
export function humanize(name: string): string {
  const s = name.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
