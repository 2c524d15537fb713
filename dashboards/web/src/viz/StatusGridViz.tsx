import { StateMessage } from "../components/States";
import { field, fieldLabel, rowCount, toNumber, type Frame } from "./frame";
import { formatValue } from "./format";
import { runStates, stateClass, stateLabel } from "./palette";
import type { RowRecord, VizProps } from "./types";

export interface StatusGridProps extends VizProps {
  /** Called with the run's row when a cell is clicked. */
  onRunClick?: (run: RowRecord) => void;
}

interface Grid {
  labelName: string;
  rows: { label: string; runs: number[] }[];
}

/**
 * Groups a status-grid frame into rows: the first text column names the
 * row (job, DAG, pipeline); "state" colours the cell. Runs go oldest to
 * newest, left to right: by "position" (0 = latest) when the frame has it,
 * else by the first time column, else in frame order.
 */
export function buildGrid(frame: Frame): Grid | null {
  const stateF = field(frame, "state");
  const labelF = frame.fields.find((f) => f.type === "string" && f !== stateF);
  if (!stateF || !labelF) return null;
  const position = frame.fields.find((f) => f.name === "position" && (f.type === "int" || f.type === "float"));
  const time = frame.fields.find((f) => f.type === "time");
  const byLabel = new Map<string, number[]>();
  for (let i = 0; i < rowCount(frame); i++) {
    const label = String(labelF.values[i] ?? "—");
    const list = byLabel.get(label) ?? [];
    list.push(i);
    byLabel.set(label, list);
  }
  const key = (i: number): number | null =>
    position ? -(toNumber(position, position.values[i]) ?? 0) : time ? toNumber(time, time.values[i]) : null;
  const rows = [...byLabel].map(([label, runs]) => ({
    label,
    runs: runs.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka === null || kb === null ? a - b : ka - kb || a - b;
    }),
  }));
  return { labelName: fieldLabel(labelF), rows };
}

function record(frame: Frame, i: number): RowRecord {
  const out: RowRecord = {};
  for (const f of frame.fields) out[f.name] = f.values[i] ?? null;
  return out;
}

function describe(frame: Frame, i: number, label: string): string {
  const parts = [label];
  const state = field(frame, "state")?.values[i];
  parts.push(stateLabel[String(state)] ?? String(state ?? "unknown"));
  for (const f of frame.fields) {
    if (f.type === "time" || f.type === "duration" || f.name === "duration" || f.name === "run_id") {
      const v = f.values[i];
      if (v !== null && v !== undefined) parts.push(`${fieldLabel(f)} ${formatValue(f, v)}`);
    }
  }
  return parts.join(", ");
}

/** Rows × recent runs, each run a cell coloured by its state. */
export function StatusGridViz({ frame, title, onRunClick }: StatusGridProps) {
  const grid = rowCount(frame) > 0 ? buildGrid(frame) : null;
  if (!grid || grid.rows.length === 0) {
    return <StateMessage kind="empty" title="No runs">No runs were reported for this time range.</StateMessage>;
  }
  const seen = new Set<string>();
  const stateF = field(frame, "state")!;
  for (const v of stateF.values) seen.add(String(v));
  const legend = runStates.filter((s) => seen.has(s));
  return (
    <figure className="viz viz-status-grid" aria-label={title ?? "Recent runs"}>
      <table className="sg-table">
        <caption className="visually-hidden">{title ?? "Recent runs"}, oldest to newest</caption>
        <tbody>
          {grid.rows.map((row) => (
            <tr key={row.label}>
              <th scope="row" className="sg-label" title={row.label}>
                {row.label}
              </th>
              <td className="sg-runs">
                {row.runs.map((i) => {
                  const text = describe(frame, i, row.label);
                  const cls = `sg-cell ${stateClass(stateF.values[i])}`;
                  return onRunClick ? (
                    <button key={i} type="button" className={cls} title={text} aria-label={text} onClick={() => onRunClick(record(frame, i))} />
                  ) : (
                    <span key={i} className={cls} title={text} role="img" aria-label={text} />
                  );
                })}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {legend.length > 0 && (
        <ul className="legend sg-legend" aria-label="Legend">
          {legend.map((s) => (
            <li key={s}>
              <span className={`sg-cell sg-swatch ${stateClass(s)}`} aria-hidden="true" />
              {stateLabel[s]}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
