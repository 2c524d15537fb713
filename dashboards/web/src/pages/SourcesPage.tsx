import { useMemo, useState } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { FieldProblem, Plugin, Source, SourceTestResult } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Badge } from "../components/Badge";
import { SchemaForm } from "../components/SchemaForm";
import type { JSONSchema } from "../components/schema";
import { Skeleton, StateMessage } from "../components/States";
import { formatDurationMs, formatTime } from "../viz/format";
import { useTitle } from "../router";

/**
 * The form of a source: its own settings plus the plugin's config schema
 * nested under "config", so the server's error pointers
 * (/config/workspace_url) land on the right input as they are.
 */
export function sourceSchema(plugin: Plugin | undefined): JSONSchema {
  const config: JSONSchema = plugin?.config_schema
    ? { ...plugin.config_schema, title: "Settings" }
    : {
        type: "object",
        title: "Settings (JSON)",
        description:
          "The plugin is not running, so its settings schema is unknown: enter the settings as a JSON object. Secret fields show as \"********\"; leave them so to keep the stored value.",
      };
  return {
    type: "object",
    required: ["name"],
    properties: {
      name: { type: "string", title: "Name", minLength: 1, maxLength: 200, description: "Shown on dashboards and in alerts." },
      config,
      poll_interval_seconds: { type: "integer", title: "Poll interval (seconds)", minimum: 0, maximum: 604800, default: 60, description: "How often PUOD asks for new runs; 0 never polls (webhooks only)." },
      enabled: { type: "boolean", title: "Enabled", default: true },
    },
  };
}

interface Editing {
  source?: Source;
  pluginId: string;
}

function SourceEditor({ editing, plugins, onDone, onCancel }: { editing: Editing; plugins: Plugin[]; onDone: (s: Source, created: boolean) => void; onCancel: () => void }) {
  const { client } = useSession();
  const [pluginId, setPluginId] = useState(editing.pluginId);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [fields, setFields] = useState<FieldProblem[] | undefined>();
  const plugin = plugins.find((p) => p.id === pluginId);
  const schema = useMemo(() => sourceSchema(plugin), [plugin]);
  const src = editing.source;

  const submit = async (value: Record<string, unknown>) => {
    setBusy(true);
    setFormError(null);
    try {
      const saved = src
        ? await client.put<Source>(`/api/v1/sources/${encodeURIComponent(src.id)}`, { ...value, revision: src.revision })
        : await client.post<Source>("/api/v1/sources", { ...value, plugin_id: pluginId });
      onDone(saved, !src);
    } catch (e) {
      setFields(e instanceof ApiError ? e.fields : []);
      setFormError(e instanceof ApiError && e.status === 409 && src ? `${e.message} Close this form and open it again to edit the current version.` : errorMessage(e));
      setBusy(false);
    }
  };

  const title = src ? `Edit ${src.name}` : "New source";
  return (
    <section className="panel editor" aria-labelledby="editor-title">
      <h2 id="editor-title">{title}</h2>
      <div className="field">
        <label className="field-label" htmlFor="source-plugin">
          Plugin
        </label>
        <select id="source-plugin" value={pluginId} disabled={!!src} onChange={(e) => setPluginId(e.target.value)}>
          {!pluginId && <option value="">Choose a plugin…</option>}
          {plugins.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name} ({p.id}){p.state !== "running" ? ` — ${p.state}` : ""}
            </option>
          ))}
        </select>
        {plugin && plugin.state !== "running" && <p className="help warn">This plugin is {plugin.state}: saving will fail until it runs.</p>}
      </div>
      {pluginId ? (
        <SchemaForm
          key={pluginId}
          label={title}
          schema={schema}
          initialValue={src ? { name: src.name, config: src.config, poll_interval_seconds: src.poll_interval_seconds, enabled: src.enabled } : undefined}
          onSubmit={submit}
          serverErrors={fields}
          formError={formError}
          busy={busy}
          submitLabel={src ? "Save changes" : "Create source"}
          onCancel={onCancel}
        />
      ) : (
        <p className="muted">Choose the plugin this source uses.</p>
      )}
    </section>
  );
}

function TestResult({ r }: { r: SourceTestResult | { error: string } }) {
  return (
    <output className="test-result" data-testid="test-result">
      <span className="test-label">Connection test:</span> {"error" in r ? <Badge state="error" label="failed" /> : <Badge state={r.status} />}{" "}
      {"error" in r ? r.error : r.message}
      {!("error" in r) && <span className="muted small"> · {formatTime(r.checked_at)}</span>}
    </output>
  );
}

export function SourcesPage() {
  useTitle("Sources");
  const { client, me } = useSession();
  const admin = me?.role === "admin";
  const sources = useResource<{ sources: Source[]; next_cursor: string }>("/api/v1/sources?limit=500");
  const plugins = useResource<{ plugins: Plugin[] }>("/api/v1/plugins");
  const [editing, setEditing] = useState<Editing | null>(null);
  const [tests, setTests] = useState<Record<string, SourceTestResult | { error: string } | "pending">>({});
  const [notice, setNotice] = useState<string | null>(null);
  const pluginList = plugins.data?.plugins ?? [];
  const pluginName = (id: string) => pluginList.find((p) => p.id === id)?.name ?? id;

  const test = async (s: Source) => {
    setTests((t) => ({ ...t, [s.id]: "pending" }));
    try {
      const r = await client.post<SourceTestResult>(`/api/v1/sources/${encodeURIComponent(s.id)}/test`);
      setTests((t) => ({ ...t, [s.id]: r }));
      sources.reload();
    } catch (e) {
      setTests((t) => ({ ...t, [s.id]: { error: errorMessage(e) } }));
    }
  };

  const remove = async (s: Source) => {
    if (!window.confirm(`Delete the source “${s.name}” with its pipelines and runs?`)) return;
    try {
      await client.del(`/api/v1/sources/${encodeURIComponent(s.id)}`);
      setNotice(`Deleted ${s.name}.`);
      sources.reload();
    } catch (e) {
      setNotice(errorMessage(e));
    }
  };

  const list = sources.data?.sources;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Sources</h1>
          <p className="muted">Configured plugin instances: the workspaces, factories and Airflow deployments PUOD watches.</p>
        </div>
        {admin && !editing && (
          <button type="button" className="btn btn-primary" onClick={() => setEditing({ pluginId: pluginList.find((p) => p.kinds.includes("connector"))?.id ?? pluginList[0]?.id ?? "" })} disabled={!plugins.data}>
            New source
          </button>
        )}
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {editing && (
        <SourceEditor
          key={editing.source?.id ?? "new"}
          editing={editing}
          plugins={pluginList}
          onCancel={() => setEditing(null)}
          onDone={(s, created) => {
            setEditing(null);
            setNotice(created ? `Created ${s.name}.` : `Saved ${s.name}.`);
            sources.reload();
          }}
        />
      )}
      {sources.error && !list ? (
        <StateMessage kind="error" title="Could not load the sources" action={<button className="btn" onClick={sources.reload}>Retry</button>}>
          {sources.error}
        </StateMessage>
      ) : !list ? (
        <Skeleton lines={3} />
      ) : list.length === 0 ? (
        <StateMessage kind="empty" title="No sources yet">
          {admin ? "Add a source to start collecting runs: choose New source." : "An admin of this profile adds sources."}
        </StateMessage>
      ) : (
        <div className="table-scroll panel panel-flush">
          <table className="data-table sources-table">
            <caption className="visually-hidden">Sources</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Plugin</th>
                <th scope="col">Health</th>
                <th scope="col">Polling</th>
                <th scope="col">Updated</th>
                {admin && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.map((s) => {
                const t = tests[s.id];
                return (
                  <tr key={s.id} data-source={s.name}>
                    <th scope="row" className="nowrap">
                      {s.name}
                      {!s.enabled && <span className="muted small"> (disabled)</span>}
                      {s.secrets_error && <p className="field-error">{s.secrets_error}</p>}
                    </th>
                    <td>{pluginName(s.plugin_id)}</td>
                    <td>
                      {t && t !== "pending" ? (
                        <TestResult r={t} />
                      ) : (
                        <>
                          <Badge state={s.health.status} />
                          {s.health.message && s.health.status !== "ok" && <div className="muted small">{s.health.message}</div>}
                        </>
                      )}
                    </td>
                    <td className="nowrap">{s.poll_interval_seconds > 0 ? `every ${formatDurationMs(s.poll_interval_seconds * 1000)}` : "webhooks only"}</td>
                    <td className="nowrap">{formatTime(s.updated_at)}</td>
                    {admin && (
                      <td className="row-actions">
                        <button type="button" className="btn btn-small" onClick={() => test(s)} disabled={t === "pending"} aria-label={`Test connection of ${s.name}`}>
                          {t === "pending" ? "Testing…" : "Test connection"}
                        </button>
                        <button type="button" className="btn btn-small" onClick={() => setEditing({ source: s, pluginId: s.plugin_id })} aria-label={`Edit ${s.name}`}>
                          Edit
                        </button>
                        <button type="button" className="btn btn-small btn-danger" onClick={() => remove(s)} aria-label={`Delete ${s.name}`}>
                          Delete
                        </button>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
