import { Link } from "../components/Link";
import { formatDurationMs, formatTime } from "../viz/format";
import { RunStateBadge } from "./RunStateBadge";
import type { Run } from "./types";

/** How long a run took, or has been going. */
export function runDuration(r: { state: string; started_at?: string; ended_at?: string; duration_ms?: number }, now = Date.now()): { text: string; live: boolean } {
  const start = r.started_at ? Date.parse(r.started_at) : NaN;
  const end = r.ended_at ? Date.parse(r.ended_at) : NaN;
  // A running run's duration is how long it has gone so far, whoever computed it.
  const going = r.state === "running" && Number.isNaN(end);
  if (typeof r.duration_ms === "number") return { text: formatDurationMs(r.duration_ms), live: going };
  if (!Number.isNaN(start) && !Number.isNaN(end)) return { text: formatDurationMs(end - start), live: false };
  if (!Number.isNaN(start) && r.state === "running") return { text: formatDurationMs(Math.max(0, now - start)), live: true };
  return { text: "—", live: false };
}

export function Time({ iso }: { iso?: string }) {
  if (!iso) return <span className="null">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

export function RunsTable({ runs, sourceName, fresh }: { runs: Run[]; sourceName: (id: string) => string; fresh?: ReadonlySet<string> }) {
  return (
    <div className="table-scroll panel panel-flush">
      <table className="data-table runs-table">
        <caption className="visually-hidden">Runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Pipeline</th>
            <th scope="col">Source</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col" className="num">
              Attempt
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const d = runDuration(r);
            const name = r.pipeline_name || r.pipeline_external_id || "(no pipeline)";
            return (
              <tr key={r.id} data-run={r.id} data-state={r.state} className={fresh?.has(r.id) ? "row-fresh" : undefined}>
                <td>
                  <RunStateBadge state={r.state} />
                </td>
                <td className="run-cell">
                  <Link href={`/runs/${encodeURIComponent(r.id)}`} className="run-link">
                    {name}
                  </Link>
                  <span className="muted small run-ext">
                    run <code>{r.external_id}</code>
                  </span>
                  {r.error_message && (
                    <span className="run-error small" title={r.error_message}>
                      {r.error_message}
                    </span>
                  )}
                </td>
                <td className="nowrap">{sourceName(r.source_id)}</td>
                <td className="nowrap">{r.started_at ? <Time iso={r.started_at} /> : r.queued_at ? <span className="muted">
                      <Time iso={r.queued_at} />
                      <span className="small run-ext">queued, not started</span>
                    </span> : <span className="null">—</span>}</td>
                <td className="num nowrap">{d.live ? <span title="Still running">{d.text} so far</span> : d.text}</td>
                <td className="num">{r.attempt > 1 ? <strong title="A retry">{r.attempt}</strong> : r.attempt > 0 ? r.attempt : <span className="null">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
