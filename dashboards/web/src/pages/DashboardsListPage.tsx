import { useRef, useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import type { Dashboard, DashboardSummary } from "../dashboard/model";
import "../dashboard/dashboard.css";
import { navigate, useTitle } from "../router";

const href = (d: { slug?: string; id: string }) => `/dashboards/${encodeURIComponent(d.slug || d.id)}`;

function CreateForm({ onDone }: { onDone: () => void }) {
  const { client } = useSession();
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return setError("Give the dashboard a title.");
    setBusy(true);
    setError(null);
    try {
      const d = await client.post<Dashboard>("/api/v1/dashboards", { title: title.trim(), description: description.trim(), time_range: { from: "now-24h", to: "now" }, cards: [] });
      navigate(`${href(d)}?edit=1`);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <form className="panel dash-form" onSubmit={submit} aria-label="New dashboard" noValidate>
      <h2>New dashboard</h2>
      {error && (
        <div className="form-alert" role="alert">
          {error}
        </div>
      )}
      <div className="field">
        <label className="field-label" htmlFor="new-dash-title">
          Title <span className="req">(required)</span>
        </label>
        <input id="new-dash-title" type="text" value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />
      </div>
      <div className="field">
        <label className="field-label" htmlFor="new-dash-desc">
          Description
        </label>
        <input id="new-dash-desc" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Creating…" : "Create and add cards"}
        </button>
        <button type="button" className="btn" onClick={onDone} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ImportForm({ onDone }: { onDone: () => void }) {
  const { client } = useSession();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const file = useRef<HTMLInputElement>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return setError(`This is not valid JSON: ${(err as Error).message}`);
    }
    setBusy(true);
    setError(null);
    try {
      const d = await client.post<Dashboard>("/api/v1/dashboards/import", doc);
      navigate(href(d));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <form className="panel dash-form" onSubmit={submit} aria-label="Import a dashboard" noValidate>
      <h2>Import a dashboard</h2>
      <p className="muted">Paste or upload a dashboard exported as JSON (the dashboards-as-code format).</p>
      {error && (
        <div className="form-alert" role="alert">
          {error}
        </div>
      )}
      <div className="field">
        <label className="field-label" htmlFor="import-file">
          JSON file
        </label>
        <input
          id="import-file"
          ref={file}
          type="file"
          accept="application/json,.json"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (f) setText(await f.text());
          }}
        />
      </div>
      <div className="field">
        <label className="field-label" htmlFor="import-json">
          Dashboard JSON
        </label>
        <textarea id="import-json" rows={10} spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} placeholder='{"title": "…", "cards": […]}' />
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || !text.trim()}>
          {busy ? "Importing…" : "Import"}
        </button>
        <button type="button" className="btn" onClick={onDone} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function DashboardItem({ d, canEdit, onChanged, onMessage }: { d: DashboardSummary; canEdit: boolean; onChanged: () => void; onMessage: (m: { kind: "ok" | "error"; text: string }) => void }) {
  const { client } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      onMessage({ kind: "error", text: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  const exportIt = () =>
    act(async () => {
      const doc = await client.get<unknown>(`/api/v1/dashboards/${encodeURIComponent(d.id)}/export`);
      const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2) + "\n"], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${d.slug || d.id}.json`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
  const copy = () =>
    act(async () => {
      const c = await client.post<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(d.id)}/copy`, { title: `${d.title} (copy)` });
      navigate(`${href(c)}?edit=1`);
    });
  const del = () =>
    act(async () => {
      await client.del(`/api/v1/dashboards/${encodeURIComponent(d.id)}`);
      onMessage({ kind: "ok", text: `Deleted “${d.title}”.` });
      onChanged();
    });
  return (
    <li className="panel dash-item" data-dashboard={d.slug}>
      <h2>
        <Link href={href(d)}>{d.title}</Link>
        {d.read_only && (
          <span className="badge badge-muted" title="Provisioned from dashboards-as-code: copy it to edit">
            Read-only
          </span>
        )}
      </h2>
      {d.description && <p className="muted">{d.description}</p>}
      <p className="dash-meta">
        {d.card_count} card{d.card_count === 1 ? "" : "s"}
        {d.updated_at && !d.provisioned ? ` · updated ${new Date(d.updated_at).toLocaleString()}` : ""}
        {d.provisioned ? " · provisioned" : ""}
      </p>
      <div className="row-actions">
        <Link className="btn btn-small" href={href(d)}>
          Open
        </Link>
        <button type="button" className="btn btn-small" onClick={() => void exportIt()} disabled={busy} aria-label={`Export ${d.title}`}>
          Export
        </button>
        {canEdit && (
          <button type="button" className="btn btn-small" onClick={() => void copy()} disabled={busy} aria-label={`Copy ${d.title}`}>
            Copy
          </button>
        )}
        {canEdit &&
          !d.read_only &&
          (confirming ? (
            <span className="confirm-inline" role="group" aria-label={`Confirm deleting ${d.title}`}>
              Delete “{d.title}”?
              <button type="button" className="btn btn-small btn-danger" onClick={() => void del()} disabled={busy}>
                Delete
              </button>
              <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(true)} aria-label={`Delete ${d.title}`}>
              Delete
            </button>
          ))}
      </div>
    </li>
  );
}

export default function DashboardsListPage() {
  useTitle("Dashboards");
  const { me } = useSession();
  const canEdit = me?.role === "editor" || me?.role === "admin";
  const list = useResource<{ dashboards: DashboardSummary[] }>("/api/v1/dashboards");
  const [form, setForm] = useState<"create" | "import" | null>(null);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const items = list.data?.dashboards ?? [];
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Dashboards</h1>
          <p className="muted">Cards from your sources on a 12-column grid. Read-only dashboards come from dashboards-as-code; copy one to change it.</p>
        </div>
        {canEdit && (
          <div className="dashboard-tools">
            <button type="button" className="btn" onClick={() => setForm("import")}>
              Import
            </button>
            <button type="button" className="btn btn-primary" onClick={() => setForm("create")}>
              New dashboard
            </button>
          </div>
        )}
      </div>
      {message && (
        <div className={message.kind === "ok" ? "notice" : "error-box"} role={message.kind === "ok" ? "status" : "alert"}>
          {message.text}
        </div>
      )}
      {form === "create" && <CreateForm onDone={() => setForm(null)} />}
      {form === "import" && <ImportForm onDone={() => setForm(null)} />}
      {list.error && !list.data ? (
        <StateMessage kind="error" title="Could not load the dashboards" action={<button className="btn" onClick={list.reload}>Retry</button>}>
          {list.error}
        </StateMessage>
      ) : !list.data ? (
        <Skeleton lines={4} />
      ) : items.length === 0 ? (
        <StateMessage kind="empty" title="No dashboards yet" action={canEdit ? <button className="btn btn-primary" onClick={() => setForm("create")}>New dashboard</button> : undefined}>
          {canEdit ? "Create one, or import a dashboard exported as JSON." : "An editor of this profile can create one."}
        </StateMessage>
      ) : (
        <ul className="dash-list">
          {items.map((d) => (
            <DashboardItem key={d.id} d={d} canEdit={canEdit} onChanged={list.reload} onMessage={setMessage} />
          ))}
        </ul>
      )}
    </>
  );
}
