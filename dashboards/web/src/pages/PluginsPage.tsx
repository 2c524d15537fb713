import { useResource, useSession } from "../auth/session";
import type { Plugin } from "../api/types";
import { Badge } from "../components/Badge";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { formatTime } from "../viz/format";
import { useTitle } from "../router";

function PluginCard({ p }: { p: Plugin }) {
  return (
    <article className="panel plugin" aria-labelledby={`plugin-${p.id}`} data-plugin={p.id}>
      <header className="panel-head">
        <div>
          <h2 id={`plugin-${p.id}`}>{p.name || p.id}</h2>
          <code className="muted">{p.id}</code>
        </div>
        <Badge state={p.state} />
      </header>
      <dl className="facts">
        <div>
          <dt>Version</dt>
          <dd>{p.version || "—"}</dd>
        </div>
        <div>
          <dt>Kinds</dt>
          <dd>{p.kinds.length ? p.kinds.join(", ") : "—"}</dd>
        </div>
        <div>
          <dt>Restarts</dt>
          <dd>{p.restarts}</dd>
        </div>
        <div>
          <dt>PID</dt>
          <dd>{p.pid || "—"}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{p.started_at ? formatTime(p.started_at) : "—"}</dd>
        </div>
      </dl>
      {p.last_error && (
        <div className="error-box" role="note">
          <strong>Last error</strong>
          <p>{p.last_error}</p>
        </div>
      )}
      <div className="plugin-cards">
        <h3>Card types</h3>
        {p.cards && p.cards.length > 0 ? (
          <ul className="chips">
            {p.cards.map((c) => (
              <li key={c.type}>
                <Link href={`/catalog#${encodeURIComponent(c.type)}`} className="chip" title={c.description}>
                  {c.title} <span className="muted">· {c.visualization}</span>
                </Link>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">This plugin offers no card types.</p>
        )}
      </div>
      {p.log_tail && p.log_tail.length > 0 && (
        // Open when the plugin is in trouble: its last lines usually say why.
        <details className="log-tail" open={p.state === "failed" || p.state === "backoff" || undefined}>
          <summary>Log tail ({p.log_tail.length} lines)</summary>
          <pre tabIndex={0}>{p.log_tail.join("\n")}</pre>
        </details>
      )}
    </article>
  );
}

export function PluginsPage() {
  useTitle("Plugins");
  const { me } = useSession();
  const res = useResource<{ plugins: Plugin[] }>("/api/v1/plugins", { refreshMs: 10_000 });
  const list = res.data?.plugins;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Plugins</h1>
          <p className="muted">Connectors, alert sinks and exporters found in the plugin directory, and how they are doing.</p>
        </div>
        <button type="button" className="btn" onClick={res.reload} disabled={res.loading}>
          Refresh
        </button>
      </div>
      {res.error && !list ? (
        <StateMessage kind="error" title="Could not load the plugins" action={<button className="btn" onClick={res.reload}>Retry</button>}>
          {res.error}
        </StateMessage>
      ) : !list ? (
        <Skeleton lines={4} />
      ) : list.length === 0 ? (
        <StateMessage kind="empty" title="No plugins installed">
          Put plugin bundles in the plugin directory (<code>--plugin-dir</code>, default <code>./bin/plugins</code>); they start without a restart.
        </StateMessage>
      ) : (
        <>
          {me?.role !== "admin" && <p className="muted small">Log tails are shown to admins only.</p>}
          <div className="plugin-list">
            {list.map((p) => (
              <PluginCard key={p.id} p={p} />
            ))}
          </div>
        </>
      )}
    </>
  );
}
