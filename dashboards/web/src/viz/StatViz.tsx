import { StateMessage } from "../components/States";
import { fieldLabel, isNumeric, rowCount, type Field, type Frame } from "./frame";
import { formatNumber, formatValue } from "./format";
import type { VizProps } from "./types";

export interface Trend {
  delta: number;
  direction: "up" | "down" | "flat";
  unit?: string;
  previous?: number;
  /** Which direction is good news; "up" unless the frame says otherwise. */
  good: "up" | "down" | "none";
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Reads the trend a stat frame carries in meta. Plugins write it as
 * meta.trend (a number) with trend_unit/trend_direction/previous, or as
 * meta.trend = {delta, direction, unit, previous_*}; a frame with only
 * meta.previous gets its delta computed from the value.
 */
export function readTrend(frame: Frame, value: number | null): Trend | null {
  const meta = frame.meta ?? {};
  const good = meta.trend_good === "down" ? "down" : meta.trend_good === "none" ? "none" : "up";
  let delta = num(meta.trend);
  let unit = typeof meta.trend_unit === "string" ? meta.trend_unit : undefined;
  let previous = num(meta.previous);
  let direction = typeof meta.trend_direction === "string" ? meta.trend_direction : undefined;
  if (meta.trend && typeof meta.trend === "object") {
    const t = meta.trend as Record<string, unknown>;
    delta = num(t.delta);
    unit = typeof t.unit === "string" ? t.unit : unit;
    direction = typeof t.direction === "string" ? t.direction : direction;
    previous = num(t.previous) ?? Object.entries(t).map(([k, v]) => (k.startsWith("previous_") ? num(v) : undefined)).find((v) => v !== undefined);
  }
  if (delta === undefined && previous !== undefined && value !== null) {
    delta = Math.round((value - previous) * 100) / 100;
  }
  if (delta === undefined) return null;
  const dir = direction === "up" || direction === "down" || direction === "flat" ? direction : delta > 0 ? "up" : delta < 0 ? "down" : "flat";
  return { delta, direction: dir, unit, previous, good };
}

function pickValueField(frame: Frame, options?: Record<string, unknown>): Field | undefined {
  const wanted = typeof options?.field === "string" ? options.field : undefined;
  return (wanted && frame.fields.find((f) => f.name === wanted)) || frame.fields.find(isNumeric) || frame.fields[0];
}

/** One big number, its unit, a trend against the previous period and the frame's other numbers. */
export function StatViz({ frame, options, title }: VizProps) {
  const valueField = pickValueField(frame, options);
  if (!valueField || rowCount(frame) === 0) {
    return <StateMessage kind="empty" title="No value yet">Nothing was reported for this time range.</StateMessage>;
  }
  const raw = valueField.values[0] ?? null;
  const value = typeof raw === "number" ? raw : null;
  const trend = readTrend(frame, value);
  const others = frame.fields.filter((f) => f !== valueField && f.type !== "time");
  const main = formatValue(valueField, raw);
  const arrow = trend ? { up: "▲", down: "▼", flat: "■" }[trend.direction] : "";
  const tone = !trend || trend.good === "none" || trend.direction === "flat" ? "neutral" : trend.direction === trend.good ? "good" : "bad";
  return (
    <figure className="viz viz-stat" aria-label={title ?? fieldLabel(valueField)}>
      <div className="stat-label">{fieldLabel(valueField)}</div>
      <div className={`stat-value${raw === null ? " stat-null" : ""}`} data-testid="stat-value">
        {raw === null ? "No data" : main}
      </div>
      {trend && (
        <div className={`stat-trend trend-${tone}`} data-testid="stat-trend">
          <span aria-hidden="true">{arrow}</span>{" "}
          {`${trend.delta > 0 ? "+" : ""}${formatNumber(trend.delta, trend.unit)}`}
          <span className="stat-trend-ctx">
            {" "}
            vs previous period
            {trend.previous !== undefined && ` (${formatValue(valueField, trend.previous)})`}
          </span>
        </div>
      )}
      {others.length > 0 && (
        <dl className="stat-others">
          {others.map((f) => (
            <div key={f.name}>
              <dt>{fieldLabel(f)}</dt>
              <dd>{formatValue(f, f.values[0] ?? null)}</dd>
            </div>
          ))}
        </dl>
      )}
    </figure>
  );
}
