import { useCallback, useState } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { FieldProblem } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Skeleton, StateMessage } from "../components/States";
import { navigate, useSearch, useTitle } from "../router";
import { fromLocalInput, toLocalInput } from "../runs/filters";
import { AlertsHead, SilenceBadge, Time, useCoalesced } from "./common";
import { useAlertChanges } from "./live";
import { isEditor } from "./model";
import type { Silence, SilenceMatcher } from "./types";

const OPS: SilenceMatcher["op"][] = ["=", "!=", "=~", "!~"];

function SilenceForm({ onDone, onCancel }: { onDone: (s: Silence) => void; onCancel: () => void }) {
  const { client } = useSession();
  const [matchers, setMatchers] = useState<SilenceMatcher[]>([{ name: "", op: "=", value: "" }]);
  const [starts, setStarts] = useState("");
  const [ends, setEnds] = useState(() => toLocalInput(new Date(Date.now() + 2 * 3_600_000).toISOString()));
  const [comment, setComment] = useState("");
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errs = (ptr: string) => problems.filter((p) => p.field === ptr || p.field.startsWith(`${ptr}/`)).map((p) => p.message);
  const placed = (p: FieldProblem) => /^\/(matchers(\/\d+(\/(name|op|value))?)?|starts_at|ends_at|comment)$/.test(p.field);

  const submit = async () => {
    setBusy(true);
    setFormError(null);
    const body: Record<string, unknown> = { matchers: matchers.filter((m) => m.name.trim() || m.value.trim()).map((m) => ({ ...m, name: m.name.trim() })), ends_at: fromLocalInput(ends) ?? "", comment: comment.trim() };
    const s = fromLocalInput(starts);
    if (s) body.starts_at = s;
    try {
      onDone(await client.post<Silence>("/api/v1/silences", body));
    } catch (e) {
      const fields = e instanceof ApiError ? e.fields : [];
      setProblems(fields);
      setFormError(fields.length ? "The silence has problems: see the marked fields." : errorMessage(e));
      setBusy(false);
    }
  };

  const other = problems.filter((p) => !placed(p));
  return (
    <form
      className="panel editor"
      aria-label="New silence"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2>New silence</h2>
      {(formError || other.length > 0) && (
        <div className="form-alert" role="alert">
          {formError && <p>{formError}</p>}
          {other.length > 0 && (
            <ul>
              {other.map((p, i) => (
                <li key={i}>{p.message}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <fieldset className="fieldset">
        <legend>Matchers</legend>
        <p className="help">Mutes alerts whose labels match every matcher. =~ and !~ take anchored regular expressions.</p>
        {matchers.map((m, i) => {
          const e = errs(`/matchers/${i}`);
          const upd = (patch: Partial<SilenceMatcher>) => setMatchers(matchers.map((x, j) => (j === i ? { ...x, ...patch } : x)));
          return (
            <div key={i}>
              <div className="string-list-row">
                <input aria-label={`Matcher ${i + 1} label`} placeholder="rule or team" value={m.name} aria-invalid={e.length ? true : undefined} onChange={(ev) => upd({ name: ev.target.value })} />
                <select aria-label={`Matcher ${i + 1} operator`} value={m.op} onChange={(ev) => upd({ op: ev.target.value as SilenceMatcher["op"] })}>
                  {OPS.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
                <input aria-label={`Matcher ${i + 1} value`} value={m.value} aria-invalid={e.length ? true : undefined} onChange={(ev) => upd({ value: ev.target.value })} />
                {matchers.length > 1 && (
                  <button type="button" className="btn btn-small btn-ghost" aria-label={`Remove matcher ${i + 1}`} onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>
                    Remove
                  </button>
                )}
              </div>
              {e.length > 0 && <p className="field-error">{e.join(" ")}</p>}
            </div>
          );
        })}
        {problems.some((p) => p.field === "/matchers") && <p className="field-error">{problems.filter((p) => p.field === "/matchers").map((p) => p.message).join(" ")}</p>}
        <button type="button" className="btn btn-small" onClick={() => setMatchers([...matchers, { name: "", op: "=", value: "" }])}>
          Add matcher
        </button>
      </fieldset>
      <div className="field">
        <label className="field-label" htmlFor="silence-starts">
          Starts
        </label>
        <input id="silence-starts" type="datetime-local" value={starts} onChange={(e) => setStarts(e.target.value)} />
        <p className="help">Empty: now.</p>
        {errs("/starts_at").length > 0 && <p className="field-error">{errs("/starts_at").join(" ")}</p>}
      </div>
      <div className="field">
        <label className="field-label" htmlFor="silence-ends">
          Ends <span className="req">(required)</span>
        </label>
        <input id="silence-ends" type="datetime-local" value={ends} onChange={(e) => setEnds(e.target.value)} />
        <p className="help">At most 90 days from now.</p>
        {errs("/ends_at").length > 0 && <p className="field-error">{errs("/ends_at").join(" ")}</p>}
      </div>
      <div className="field">
        <label className="field-label" htmlFor="silence-comment">
          Comment <span className="req">(required)</span>
        </label>
        <textarea id="silence-comment" rows={2} value={comment} placeholder="Maintenance of the warehouse until noon" onChange={(e) => setComment(e.target.value)} />
        {errs("/comment").length > 0 && <p className="field-error">{errs("/comment").join(" ")}</p>}
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Creating…" : "Create silence"}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const matcherText = (m: SilenceMatcher) => `${m.name}${m.op}${m.op.includes("~") ? m.value : JSON.stringify(m.value)}`;

export function Silences() {
  useTitle("Silences");
  const { client, me } = useSession();
  const editor = isEditor(me?.role);
  const search = useSearch();
  const expired = new URLSearchParams(search).get("expired") === "true";
  const silences = useResource<{ silences: Silence[] }>(`/api/v1/silences${expired ? "?expired=true" : ""}`);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const refresh = useCoalesced(silences.reload);
  const live = useAlertChanges(
    useCallback(
      (c) => {
        if (!c.kind || c.kind === "silence") refresh();
      },
      [refresh],
    ),
  );

  const expire = async (s: Silence) => {
    if (!window.confirm(`Expire the silence “${s.comment}” now?`)) return;
    try {
      await client.del(`/api/v1/silences/${encodeURIComponent(s.id)}`);
      setNotice("Silence expired: its alerts notify again.");
      silences.reload();
    } catch (e) {
      setNotice(errorMessage(e));
    }
  };

  const list = silences.data?.silences;
  let body;
  if (silences.error && !list) {
    body = (
      <StateMessage kind="error" title="Could not load the silences" action={<button type="button" className="btn" onClick={silences.reload}>Retry</button>}>
        {silences.error}
      </StateMessage>
    );
  } else if (!list) {
    body = <Skeleton lines={3} />;
  } else if (list.length === 0) {
    body = (
      <StateMessage kind="empty" title={expired ? "No silences" : "No active silences"}>
        {editor ? "A silence mutes matching alerts for a while, during maintenance for instance: choose New silence." : "Editors of this profile create silences."}
      </StateMessage>
    );
  } else {
    body = (
      <div className="table-scroll panel panel-flush">
        <table className="data-table silences-table">
          <caption className="visually-hidden">Silences, latest ending first</caption>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Matchers</th>
              <th scope="col">Starts</th>
              <th scope="col">Ends</th>
              <th scope="col">Author</th>
              <th scope="col">Comment</th>
              {editor && (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.id} data-silence={s.id} data-status={s.status}>
                <td>
                  <SilenceBadge status={s.status} />
                </td>
                <td>
                  <ul className="chips">
                    {s.matchers.map((m, i) => (
                      <li key={i} className="chip">
                        <code>{matcherText(m)}</code>
                      </li>
                    ))}
                  </ul>
                </td>
                <td className="nowrap">
                  <Time iso={s.starts_at} />
                </td>
                <td className="nowrap">
                  <Time iso={s.ends_at} />
                </td>
                <td>{s.created_by}</td>
                <td>{s.comment}</td>
                {editor && (
                  <td className="row-actions">
                    {s.status !== "expired" && (
                      <button type="button" className="btn btn-small btn-danger" onClick={() => void expire(s)} aria-label={`Expire silence ${s.comment}`}>
                        Expire
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <>
      <AlertsHead
        current="silences"
        live={live}
        title="Silences"
        lead="Silenced alerts still change state but notify no one until the silence ends."
        action={
          editor && !creating ? (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
              New silence
            </button>
          ) : undefined
        }
      />
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {creating && (
        <SilenceForm
          onCancel={() => setCreating(false)}
          onDone={() => {
            setCreating(false);
            setNotice("Silence created.");
            silences.reload();
          }}
        />
      )}
      <div className="filter-bar panel">
        <label className="check">
          <input type="checkbox" checked={expired} onChange={(e) => navigate(`/alerts/silences${e.target.checked ? "?expired=true" : ""}`)} />
          Show expired silences
        </label>
      </div>
      {body}
    </>
  );
}
