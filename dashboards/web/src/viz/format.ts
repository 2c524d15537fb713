import type { Field, Value } from "./frame";

const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});

/** 83_000 ms → "1m 23s"; 450 ms → "450 ms". */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const neg = ms < 0;
  let rest = Math.abs(ms);
  if (rest < 1000) return `${neg ? "-" : ""}${Math.round(rest)} ms`;
  if (rest < 59_950) return `${neg ? "-" : ""}${numberFmt.format(Math.round(rest / 100) / 10)} s`;
  rest = Math.round(rest / 1000);
  const d = Math.floor(rest / 86400);
  const h = Math.floor((rest % 86400) / 3600);
  const m = Math.floor((rest % 3600) / 60);
  const s = rest % 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (s && !d && !h) parts.push(`${s}s`);
  return (neg ? "-" : "") + (parts.join(" ") || "0 s");
}

export function formatTime(v: string | number): string {
  const t = typeof v === "number" ? v : Date.parse(v);
  return Number.isNaN(t) ? String(v) : dateFmt.format(t);
}

/** Whether a numeric field holds a duration (its type, or a time unit). */
export function durationScale(f: Field): number | null {
  if (f.type === "duration") return 1;
  switch (f.unit) {
    case "ms":
      return 1;
    case "s":
      return 1000;
    case "min":
      return 60_000;
    case "h":
      return 3_600_000;
  }
  return null;
}

const unitSuffix: Record<string, string> = {
  percent: "%",
  "%": "%",
  percentage_points: "pp",
  "percentage points": "pp",
  bytes: "B",
};

export function unitLabel(unit: string | undefined): string {
  if (!unit) return "";
  return unitSuffix[unit] ?? unit;
}

/** A number in a field's unit, e.g. 97.5 percent → "97.5 %". */
export function formatNumber(n: number, unit?: string): string {
  const u = unitLabel(unit);
  return u ? `${numberFmt.format(n)} ${u}` : numberFmt.format(n);
}

/** One cell's text. Nulls are an em dash, never blank or "null". */
export function formatValue(f: Field, v: Value | undefined): string {
  if (v === null || v === undefined) return "—";
  switch (f.type) {
    case "time":
      return formatTime(String(v));
    case "bool":
      return v ? "yes" : "no";
    case "string":
      return String(v);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  const scale = durationScale(f);
  if (scale !== null) return formatDurationMs(n * scale);
  return formatNumber(n, f.unit);
}
