import { StateMessage } from "../components/States";
import { fieldLabel, isNumeric, rowCount, toNumber, type Field } from "./frame";
import { formatValue } from "./format";
import { seriesColor } from "./palette";
import type { VizProps } from "./types";

/**
 * Horizontal bars: one row per category (the frame's first text column),
 * one bar per numeric column. Plain HTML, so it is crisp at any size, reads
 * well to screen readers and needs no chart library.
 */
export function BarViz({ frame, options, title }: VizProps) {
  const category: Field | undefined = frame.fields.find((f) => f.type === "string") ?? frame.fields.find((f) => f.type === "time");
  const wanted = Array.isArray(options?.fields) ? (options.fields as unknown[]).filter((x): x is string => typeof x === "string") : null;
  const measures = frame.fields.filter((f) => isNumeric(f) && f !== category && (!wanted || wanted.includes(f.name)));
  const n = rowCount(frame);
  if (!category || measures.length === 0 || n === 0) {
    return <StateMessage kind="empty" title="Nothing to chart">No categories were reported for this time range.</StateMessage>;
  }
  let max = 0;
  for (const m of measures) for (const v of m.values) max = Math.max(max, toNumber(m, v) ?? 0);
  const rows = Array.from({ length: n }, (_, i) => i);
  return (
    <figure className="viz viz-bar" aria-label={title ?? frame.name}>
      {measures.length > 1 && (
        <ul className="legend" aria-label="Legend">
          {measures.map((m, j) => (
            <li key={m.name}>
              <span className="swatch" style={{ background: seriesColor(j) }} aria-hidden="true" />
              {fieldLabel(m)}
            </li>
          ))}
        </ul>
      )}
      <table className="bar-table">
        <caption className="visually-hidden">{title ?? frame.name}</caption>
        <thead className="visually-hidden">
          <tr>
            <th scope="col">{fieldLabel(category)}</th>
            {measures.map((m) => (
              <th key={m.name} scope="col">
                {fieldLabel(m)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((i) => (
            <tr key={i}>
              <th scope="row" className="bar-cat" title={formatValue(category, category.values[i] ?? null)}>
                {formatValue(category, category.values[i] ?? null)}
              </th>
              <td className="bar-cell">
                {measures.map((m, j) => {
                  const v = toNumber(m, m.values[i]);
                  const pct = max > 0 && v !== null ? Math.max(0, (v / max) * 100) : 0;
                  return (
                    <div key={m.name} className="bar-line">
                      <div className="bar-track">
                        <div className="bar" style={{ width: `${pct}%`, background: seriesColor(j) }} data-testid="bar" />
                      </div>
                      <span className="bar-value">{formatValue(m, m.values[i] ?? null)}</span>
                    </div>
                  );
                })}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
