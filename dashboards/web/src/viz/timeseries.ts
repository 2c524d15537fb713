import { fieldLabel, isNumeric, rowCount, toNumber, type Field, type Frame } from "./frame";

export interface Series {
  label: string;
  field: Field;
  values: (number | null)[];
}

export interface SeriesData {
  /** Unix seconds, ascending and unique (uPlot's x axis). */
  x: number[];
  series: Series[];
}

/**
 * Turns a timeseries frame into aligned series. Two shapes are accepted:
 * wide (a time column and one numeric column per series) and long (a time
 * column, a text column naming the series, a value column), which is
 * pivoted. options.field picks the value column; default the first numeric.
 */
export function toSeries(frame: Frame, options?: Record<string, unknown>): SeriesData | null {
  const time = frame.fields.find((f) => f.type === "time");
  if (!time || rowCount(frame) === 0) return null;
  const group = frame.fields.find((f) => f.type === "string");
  const wanted = typeof options?.field === "string" ? options.field : undefined;
  const numeric = frame.fields.filter(isNumeric);
  if (numeric.length === 0) return null;

  const stamps: number[] = [];
  for (const v of time.values) {
    const t = toNumber(time, v);
    stamps.push(t === null ? NaN : t / 1000);
  }
  const x = [...new Set(stamps.filter((t) => !Number.isNaN(t)))].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));

  if (group) {
    const valueField = numeric.find((f) => f.name === wanted) ?? numeric[0]!;
    const bySeries = new Map<string, (number | null)[]>();
    stamps.forEach((t, row) => {
      const idx = at.get(t);
      if (idx === undefined) return;
      const name = String(group.values[row] ?? "—");
      let vals = bySeries.get(name);
      if (!vals) {
        vals = new Array<number | null>(x.length).fill(null);
        bySeries.set(name, vals);
      }
      vals[idx] = toNumber(valueField, valueField.values[row]);
    });
    return {
      x,
      series: [...bySeries].map(([label, values]) => ({ label, field: valueField, values })),
    };
  }

  const fields = wanted ? numeric.filter((f) => f.name === wanted) : numeric;
  return {
    x,
    series: fields.map((f) => {
      const values = new Array<number | null>(x.length).fill(null);
      stamps.forEach((t, row) => {
        const idx = at.get(t);
        if (idx !== undefined) values[idx] = toNumber(f, f.values[row]);
      });
      return { label: fieldLabel(f), field: f, values };
    }),
  };
}
