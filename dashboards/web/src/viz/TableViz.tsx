import { useMemo, useState } from "react";
import { StateMessage } from "../components/States";
import { fieldLabel, isNumeric, rowCount, toNumber, type Field, type Value } from "./frame";
import { formatValue } from "./format";
import { stateClass, stateLabel } from "./palette";
import type { VizProps } from "./types";

type Dir = "ascending" | "descending";

function compare(f: Field, a: Value | undefined, b: Value | undefined): number {
  // Nulls sort last whatever the direction is handled by the caller.
  if (f.type === "string") return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  return (toNumber(f, a) ?? 0) - (toNumber(f, b) ?? 0);
}

function Cell({ f, v }: { f: Field; v: Value | undefined }) {
  if (v === null || v === undefined) return <span className="null">—</span>;
  if (f.type === "string" && f.name === "state") {
    return <span className={stateClass(v)}>{stateLabel[String(v)] ?? String(v)}</span>;
  }
  if (f.type === "string" && /^https?:\/\//.test(String(v)) && (f.name === "url" || f.name.endsWith("_url"))) {
    return (
      <a href={String(v)} target="_blank" rel="noreferrer noopener">
        Open<span className="visually-hidden"> {fieldLabel(f)}</span>
      </a>
    );
  }
  return <>{formatValue(f, v)}</>;
}

/** A table of the frame's columns; click a header to sort, pages of options.page_size rows (default 10). */
export function TableViz({ frame, options, title }: VizProps) {
  const n = rowCount(frame);
  const pageSize = Math.max(1, Number(options?.page_size) || 10);
  const [sort, setSort] = useState<{ col: number; dir: Dir } | null>(null);
  const [page, setPage] = useState(0);

  const order = useMemo(() => {
    const idx = Array.from({ length: n }, (_, i) => i);
    if (!sort) return idx;
    const f = frame.fields[sort.col];
    if (!f) return idx;
    const sign = sort.dir === "ascending" ? 1 : -1;
    return idx.sort((i, j) => {
      const a = f.values[i];
      const b = f.values[j];
      const an = a === null || a === undefined;
      const bn = b === null || b === undefined;
      if (an || bn) return an === bn ? i - j : an ? 1 : -1;
      return sign * compare(f, a, b) || i - j;
    });
  }, [frame, n, sort]);

  if (n === 0 || frame.fields.length === 0) {
    return <StateMessage kind="empty" title="No rows">Nothing matched for this time range.</StateMessage>;
  }
  const pages = Math.ceil(n / pageSize);
  const current = Math.min(page, pages - 1);
  const visible = order.slice(current * pageSize, current * pageSize + pageSize);

  const toggle = (col: number) => {
    setPage(0);
    setSort((s) => (s?.col === col ? { col, dir: s.dir === "ascending" ? "descending" : "ascending" } : { col, dir: "ascending" }));
  };

  return (
    <div className="viz viz-table">
      <div className="table-scroll">
        <table className="data-table">
          {title && <caption className="visually-hidden">{title}</caption>}
          <thead>
            <tr>
              {frame.fields.map((f, c) => {
                const dir = sort?.col === c ? sort.dir : undefined;
                return (
                  <th key={f.name} scope="col" aria-sort={dir ?? "none"} className={isNumeric(f) ? "num" : undefined}>
                    <button type="button" className="sort" onClick={() => toggle(c)}>
                      {fieldLabel(f)}
                      <span className="sort-mark" aria-hidden="true">
                        {dir === "ascending" ? "▲" : dir === "descending" ? "▼" : "↕"}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {visible.map((i) => (
              <tr key={i}>
                {frame.fields.map((f) => (
                  <td key={f.name} className={isNumeric(f) ? "num" : undefined}>
                    <Cell f={f} v={f.values[i]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <nav className="pager" aria-label="Pages">
          <button type="button" onClick={() => setPage(current - 1)} disabled={current === 0}>
            Previous
          </button>
          <span aria-live="polite">
            Rows {current * pageSize + 1}–{Math.min(n, (current + 1) * pageSize)} of {n}
          </span>
          <button type="button" onClick={() => setPage(current + 1)} disabled={current >= pages - 1}>
            Next
          </button>
        </nav>
      )}
    </div>
  );
}
