import { Link } from "../components/Link";
import { formatNumber } from "../viz/format";
import { humanize } from "../viz/frame";
import { RunStateBadge } from "./RunStateBadge";
import { Time, runDuration } from "./RunsTable";
import type { RunDetail } from "./types";

/** Only http(s) links are followed: a plugin's url is not trusted to be one. */
export function safeUrl(u: string | undefined): string | null {
  if (!u) return null;
  try {
    const parsed = new URL(u);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export interface RunDetailViewProps {
  run: RunDetail;
  sourceName: string;
  /** The vendor's name for "Open in …" (the source's plugin name). */
  vendor: string;
  backHref: string;
}

export function RunDetailView({ run, sourceName, vendor, backHref }: RunDetailViewProps) {
  const url = safeUrl(run.url);
  const d = runDuration(run);
  const name = run.pipeline_name || run.pipeline_external_id || "(no pipeline)";
  const attrs = Object.entries(run.attributes ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const metrics = Object.entries(run.metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <article className="run-detail" aria-labelledby="run-title" data-run={run.id}>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={backHref}>← Runs</Link>
        {run.pipeline_id && (
          <>
            <span aria-hidden="true"> / </span>
            <Link href={`/runs?pipeline=${encodeURIComponent(run.pipeline_id)}`}>All runs of {name}</Link>
          </>
        )}
      </nav>
      <header className="run-head panel">
        <div className="run-head-main">
          <p className="eyebrow">
            {sourceName} · run <code>{run.external_id}</code>
          </p>
          <h1 id="run-title">{name}</h1>
          <p className="run-head-state">
            <RunStateBadge state={run.state} />
            {run.raw_state && (
              <span className="muted small">
                {" "}
                vendor state <code data-testid="raw-state">{run.raw_state}</code>
              </span>
            )}
          </p>
        </div>
        <div className="run-head-action">
          {url ? (
            <a className="btn btn-primary btn-vendor" href={url} target="_blank" rel="noopener noreferrer">
              Open in {vendor}
              <svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round">
                <path d="M6 3H3v10h10v-3M9 3h4v4M13 3 7 9" />
              </svg>
              <span className="visually-hidden"> (opens in a new tab)</span>
            </a>
          ) : (
            <p className="muted small">{run.url ? "The vendor link of this run is not a web address." : `${vendor} gave no link to this run.`}</p>
          )}
        </div>
      </header>

      {run.error_message && (
        <section className="error-box run-error-box" aria-labelledby="run-error-title">
          <h2 id="run-error-title">Error</h2>
          <pre tabIndex={0}>{run.error_message}</pre>
        </section>
      )}

      <div className="run-panels">
        <section className="panel" aria-labelledby="run-timing">
          <h2 id="run-timing">Timing</h2>
          <dl className="kv">
            <div>
              <dt>Queued</dt>
              <dd>
                <Time iso={run.queued_at} />
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>
                <Time iso={run.started_at} />
              </dd>
            </div>
            <div>
              <dt>Ended</dt>
              <dd>
                <Time iso={run.ended_at} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{d.live ? `${d.text} so far` : d.text}</dd>
            </div>
            <div>
              <dt>Attempt</dt>
              <dd>{run.attempt > 0 ? run.attempt : "—"}</dd>
            </div>
            <div>
              <dt>Last change seen</dt>
              <dd>
                <Time iso={run.updated_at} />
              </dd>
            </div>
          </dl>
        </section>
        <section className="panel" aria-labelledby="run-attrs">
          <h2 id="run-attrs">Attributes</h2>
          {attrs.length ? (
            <dl className="kv">
              {attrs.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="muted">The connector recorded no attributes for this run.</p>
          )}
        </section>
        <section className="panel" aria-labelledby="run-metrics">
          <h2 id="run-metrics">Metrics</h2>
          {metrics.length ? (
            <dl className="kv kv-num">
              {metrics.map(([k, v]) => (
                <div key={k}>
                  <dt>{humanize(k)}</dt>
                  <dd>{formatNumber(v)}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="muted">No metrics measured by this run.</p>
          )}
        </section>
      </div>

      <section className="panel panel-flush run-tasks" aria-labelledby="run-tasks-title">
        <h2 id="run-tasks-title">
          Tasks <span className="muted">({run.tasks.length})</span>
        </h2>
        {run.tasks.length === 0 ? (
          <p className="muted run-tasks-empty">This run has no tasks, or its connector does not report them.</p>
        ) : (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Tasks of the run</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">State</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ended</th>
                  <th scope="col" className="num">
                    Duration
                  </th>
                  <th scope="col" className="num">
                    Attempt
                  </th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {run.tasks.map((t) => (
                  <tr key={t.external_id} data-task={t.external_id}>
                    <th scope="row">
                      {t.name || t.external_id}
                      {t.name && t.name !== t.external_id && <span className="muted small run-ext"><code>{t.external_id}</code></span>}
                    </th>
                    <td className="nowrap">
                      <RunStateBadge state={t.state} />
                      {t.raw_state && <span className="muted small run-ext">{t.raw_state}</span>}
                    </td>
                    <td className="nowrap">
                      <Time iso={t.started_at} />
                    </td>
                    <td className="nowrap">
                      <Time iso={t.ended_at} />
                    </td>
                    <td className="num nowrap">{runDuration(t).text}</td>
                    <td className="num">{t.attempt && t.attempt > 0 ? t.attempt : "—"}</td>
                    <td className="task-error">{t.error_message || <span className="null">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </article>
  );
}
