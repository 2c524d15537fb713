import { Link } from "../components/Link";
import { formatDurationMs } from "../viz/format";
import { RunStateBadge } from "./RunStateBadge";
import { Time } from "./RunsTable";
import { safeUrl } from "./RunDetailView";
import type { PipelineSummary } from "./types";

export function PipelinesTable({ pipelines, sourceName }: { pipelines: PipelineSummary[]; sourceName: (id: string) => string }) {
  return (
    <div className="table-scroll panel panel-flush">
      <table className="data-table pipelines-table">
        <caption className="visually-hidden">Pipelines by name, with their last run</caption>
        <thead>
          <tr>
            <th scope="col">Pipeline</th>
            <th scope="col">Source</th>
            <th scope="col">Last run</th>
            <th scope="col" className="num">
              Success rate
            </th>
            <th scope="col" className="num">
              Median duration
            </th>
            <th scope="col">
              <span className="visually-hidden">Links</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {pipelines.map((p) => {
            const vendor = safeUrl(p.url);
            return (
              <tr key={p.id} data-pipeline={p.name}>
                <th scope="row" className="run-cell">
                  <Link href={`/runs?pipeline=${encodeURIComponent(p.id)}`} className="run-link">
                    {p.name || p.external_id}
                  </Link>
                  {p.name !== p.external_id && (
                    <span className="muted small run-ext">
                      <code>{p.external_id}</code>
                    </span>
                  )}
                </th>
                <td className="nowrap">{sourceName(p.source_id)}</td>
                <td className="nowrap">
                  {p.last_run ? (
                    <Link href={`/runs/${encodeURIComponent(p.last_run.id)}`} className="last-run" aria-label={`Last run: ${p.last_run.state}`}>
                      <RunStateBadge state={p.last_run.state} /> <Time iso={p.last_run.started_at ?? p.last_run.ended_at} />
                    </Link>
                  ) : (
                    <span className="muted">No runs yet</span>
                  )}
                </td>
                <td className="num nowrap" title={p.window_runs ? `Over the last ${p.window_runs} finished runs` : undefined}>
                  {p.success_rate === null ? <span className="null">—</span> : `${Math.round(p.success_rate * 1000) / 10} %`}
                  {p.window_runs > 0 && <span className="muted small"> of {p.window_runs}</span>}
                </td>
                <td className="num nowrap">{p.median_duration_ms === null ? <span className="null">—</span> : formatDurationMs(p.median_duration_ms)}</td>
                <td className="row-actions">
                  <Link href={`/runs?pipeline=${encodeURIComponent(p.id)}`} className="btn btn-small" aria-label={`Runs of ${p.name}`}>
                    Runs
                  </Link>
                  {vendor && (
                    <a href={vendor} target="_blank" rel="noopener noreferrer" className="btn btn-small btn-ghost" aria-label={`Open ${p.name} in its vendor console (new tab)`}>
                      Vendor ↗
                    </a>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
