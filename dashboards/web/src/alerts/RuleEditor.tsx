import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { FieldProblem, Plugin, Source } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { StateMessage } from "../components/States";
import { navigate, useTitle } from "../router";
import { formatDurationMs, formatTime } from "../viz/format";
import { Time } from "./common";
import { emptyRuleForm, fieldLabel, formToBody, GROUP_FIELDS, groupSummary, isEditor, KINDS, placeProblems, PREVIEW_DAYS, previewProblems, previewSummary, ruleToForm, type Pair, type RuleForm } from "./model";
import type { AlertRule, AlertRuleInput, AlertRulePreview, ConditionKind } from "./types";

function Crumbs() {
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/alerts/rules">← Alert rules</Link>
    </nav>
  );
}

const fid = (ptr: string) => `rule${ptr.replace(/[^a-zA-Z0-9_-]/g, "-")}`;

/** A labelled input with its help and the server's problems for its JSON pointer. */
function Field({ ptr, label, help, errors, required, children }: { ptr: string; label: string; help?: ReactNode; errors?: string[]; required?: boolean; children: (p: { id: string; "aria-invalid"?: boolean; "aria-describedby"?: string }) => ReactNode }) {
  const id = fid(ptr);
  const described = [help ? `${id}-help` : "", errors?.length ? `${id}-err` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field" data-pointer={ptr}>
      <label className="field-label" htmlFor={id}>
        {label} {required && <span className="req">(required)</span>}
      </label>
      {children({ id, "aria-invalid": errors?.length ? true : undefined, "aria-describedby": described })}
      {help && (
        <p className="help" id={`${id}-help`}>
          {help}
        </p>
      )}
      {errors?.length ? (
        <p className="field-error" id={`${id}-err`}>
          {errors.join(" ")}
        </p>
      ) : null}
    </div>
  );
}

/** Rows for a template value: long or multi-line ones are shown whole. */
const templateRows = (v: string) => Math.min(8, Math.max(2, v.split("\n").reduce((n, line) => n + Math.max(1, Math.ceil(line.length / 40)), 0)));

function PairsEditor({ base, legend, help, pairs, onChange, errors, keyPlaceholder, readOnly, multiline }: { readOnly: boolean; base: string; legend: string; help: string; pairs: Pair[]; onChange: (p: Pair[]) => void; errors: Map<string, string[]>; keyPlaceholder: string; multiline?: boolean }) {
  const whole = errors.get(base);
  return (
    <fieldset className="fieldset" data-pointer={base}>
      <legend>{legend}</legend>
      <p className="help">{help}</p>
      {pairs.map((p, i) => {
        const errs = p.key ? errors.get(`${base}/${p.key.replace(/~/g, "~0").replace(/\//g, "~1")}`) : undefined;
        return (
          <div key={i} className="pair-row" data-pointer={`${base}/${p.key}`}>
            <div className="string-list-row">
              <input aria-label={`${legend} ${i + 1} name`} placeholder={keyPlaceholder} value={p.key} onChange={(e) => onChange(pairs.map((q, j) => (j === i ? { ...q, key: e.target.value } : q)))} />
              {multiline ? (
                // Templates can span lines; a text input would drop the newlines.
                <textarea aria-label={`${legend} ${p.key || i + 1} value`} aria-invalid={errs ? true : undefined} className="pair-value code" rows={templateRows(p.value)} value={p.value} onChange={(e) => onChange(pairs.map((q, j) => (j === i ? { ...q, value: e.target.value } : q)))} />
              ) : (
                <input aria-label={`${legend} ${p.key || i + 1} value`} aria-invalid={errs ? true : undefined} className="pair-value" value={p.value} onChange={(e) => onChange(pairs.map((q, j) => (j === i ? { ...q, value: e.target.value } : q)))} />
              )}
              {!readOnly && <button type="button" className="btn btn-small btn-ghost" aria-label={`Remove ${legend.toLowerCase()} ${p.key || i + 1}`} onClick={() => onChange(pairs.filter((_, j) => j !== i))}>
                Remove
              </button>}
            </div>
            {errs && <p className="field-error">{errs.join(" ")}</p>}
          </div>
        );
      })}
      {whole && <p className="field-error">{whole.join(" ")}</p>}
      {!readOnly && (
        <button type="button" className="btn btn-small" onClick={() => onChange([...pairs, { key: "", value: "" }])}>
          Add {legend.toLowerCase().replace(/s$/, "")}
        </button>
      )}
    </fieldset>
  );
}

/**
 * The rule's group policy, collapsed until opened (most rules keep the
 * defaults): its one-line summary says what is set. A server problem in it
 * opens it (RuleEditor).
 */
function GroupPolicyFields({ group, onChange, errors, open, onToggle }: { group: RuleForm["group"]; onChange: (g: RuleForm["group"]) => void; errors: (ptr: string) => string[] | undefined; open: boolean; onToggle: (open: boolean) => void }) {
  const whole = errors("/group");
  return (
    <details className="fieldset disclosure" data-pointer="/group" open={open} onToggle={(e) => onToggle(e.currentTarget.open)}>
      <summary>
        <span className="disclosure-title">Grouping and repeat</span> <span className="muted small group-summary">({groupSummary(group)})</span>
      </summary>
      <div role="group" aria-label="Grouping and repeat" className="disclosure-body">
        <p className="help">How the rule's notifications are gathered into messages, and when an alert still firing is notified again. An empty field takes the default shown in it.</p>
        {whole && <p className="field-error">{whole.join(" ")}</p>}
        {GROUP_FIELDS.map((d) => {
          const ptr = `/group/${d.name}`;
          return (
            <Field key={ptr} ptr={ptr} label={d.label} help={d.help} errors={errors(ptr)}>
              {(p) => <input {...p} value={group[d.name]} placeholder={d.placeholder} onChange={(e) => onChange({ ...group, [d.name]: e.target.value })} />}
            </Field>
          );
        })}
      </div>
    </details>
  );
}

function SinkHelp() {
  const sources = useResource<{ sources: Source[] }>("/api/v1/sources?limit=500");
  const plugins = useResource<{ plugins: Plugin[] }>("/api/v1/plugins");
  const sinks = (sources.data?.sources ?? []).filter((s) => plugins.data?.plugins.find((p) => p.id === s.plugin_id)?.kinds.some((k) => k.includes("sink")));
  return (
    <>
      Comma-separated ids of alert-sink sources to notify.
      {sinks.length > 0 && (
        <>
          {" "}
          Available: {sinks.map((s, i) => (
            <span key={s.id}>
              {i > 0 && ", "}
              {s.name} (<code>{s.id}</code>)
            </span>
          ))}
          .
        </>
      )}
    </>
  );
}

type PreviewState =
  | { kind: "idle" }
  | { kind: "checking" }
  | { kind: "done"; key: string; result: AlertRulePreview }
  | { kind: "invalid"; key: string; problems: FieldProblem[] }
  | { kind: "error"; key: string; message: string };

/** How long the form must rest before it is previewed: one request per pause in typing, not per key. */
export const PREVIEW_DEBOUNCE_MS = 600;

/**
 * The preview of a rule as the form holds it: requested once the form has
 * rested PREVIEW_DEBOUNCE_MS, and only for a body not previewed yet (a
 * re-render, or an edit undone, asks nothing). pristine (a new rule not
 * touched yet) asks nothing either.
 */
function usePreview(body: AlertRuleInput, pristine: boolean): { state: PreviewState; stale: boolean; retry: () => void } {
  const { client } = useSession();
  const key = JSON.stringify(body);
  const [state, setState] = useState<PreviewState>({ kind: "idle" });
  const asked = useRef<string | null>(null);
  const seq = useRef(0);
  const [attempt, setAttempt] = useState(0);
  useEffect(
    () => () => {
      seq.current++; // answers after unmount are dropped
    },
    [],
  );
  useEffect(() => {
    if (pristine) {
      seq.current++;
      asked.current = null;
      setState({ kind: "idle" });
      return;
    }
    if (key === asked.current) return;
    const timer = setTimeout(() => {
      asked.current = key;
      const n = ++seq.current;
      setState({ kind: "checking" });
      client.post<AlertRulePreview>("/api/v1/alert-rules/preview", { rule: JSON.parse(key) as AlertRuleInput, days: PREVIEW_DAYS }).then(
        (result) => {
          if (n === seq.current) setState({ kind: "done", key, result });
        },
        (e) => {
          if (n !== seq.current) return;
          if (e instanceof ApiError && e.status === 400 && e.fields.length) setState({ kind: "invalid", key, problems: previewProblems(e.fields) });
          else setState({ kind: "error", key, message: errorMessage(e) });
        },
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [client, key, pristine, attempt]);
  const stale = !pristine && state.kind !== "idle" && state.kind !== "checking" && state.key !== key;
  return {
    state,
    stale,
    retry: () => {
      asked.current = null;
      setAttempt((a) => a + 1);
    },
  };
}

/** Firings per 24 hours as small bars, oldest first, labelled with the day of the month. */
function DailyBars({ daily, from }: { daily: number[]; from: string }) {
  const top = Math.max(1, ...daily);
  const w = 16;
  const gap = 4;
  const h = 28;
  const labels = daily.length <= 14;
  // Bucket i is the 24 hours after from + i days; it is named by the day it
  // ends in, so the last one is today.
  const start = (i: number) => Date.parse(from) + i * 86_400_000;
  const end = (i: number) => new Date(start(i + 1) - 1);
  const width = daily.length * (w + gap);
  const height = h + (labels ? 14 : 2);
  return (
    <svg className="preview-daily" role="img" aria-label={`Firings per day: ${daily.join(", ")}`} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
      {daily.map((n, i) => {
        const bh = n === 0 ? 2 : Math.max(4, Math.round((n / top) * h));
        return (
          <g key={i} data-fired={n}>
            <title>{`${formatTime(start(i))} – ${formatTime(start(i + 1))}: ${n === 1 ? "1 firing" : `${n} firings`}`}</title>
            <rect x={i * (w + gap)} y={h - bh} width={w} height={bh} rx={2} fill={n === 0 ? "var(--border-strong)" : "var(--bad)"} />
            {labels && (
              <text x={i * (w + gap) + w / 2} y={h + 12} textAnchor="middle" fontSize={10} fill="var(--muted)">
                {end(i).getDate()}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

const shownEpisodes = 8;
const shortTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** The rule editor's live preview: "Would have fired N times in the last 7 days", with when and where. */
function RulePreview({ body, pristine }: { body: AlertRuleInput; pristine: boolean }) {
  const { state, stale, retry } = usePreview(body, pristine);
  // Pipelines of several sources often share a name (ETL_Vendas): say whose.
  const sources = useResource<{ sources: Source[] }>("/api/v1/sources?limit=500");
  const sourceName = (id?: string) => (id ? sources.data?.sources.find((s) => s.id === id)?.name : undefined);
  const checking = state.kind === "checking" || stale;
  let summary: ReactNode;
  let detail: ReactNode = null;
  if (checking) {
    summary = "Checking…";
  } else if (state.kind === "idle") {
    summary = `Fill in the rule to see how often it would have fired in the last ${PREVIEW_DAYS} days.`;
  } else if (state.kind === "invalid") {
    summary = "The rule has problems; the preview shows once they are fixed:";
    detail = (
      <ul className="preview-problems">
        {state.problems.map((p, i) => (
          <li key={i} data-pointer={p.field}>
            <a
              href={`#${fid(p.field)}`}
              onClick={(e) => {
                // A pointer into a list (/group/by/1) is its input's.
                const el = document.getElementById(fid(p.field)) ?? document.getElementById(fid(p.field.replace(/\/\d+$/, "")));
                if (!el) return;
                e.preventDefault();
                const closed = el.closest("details");
                if (closed && !closed.open) closed.open = true;
                el.focus();
              }}
            >
              {fieldLabel(p.field)}
            </a>
            : {p.message}
          </li>
        ))}
      </ul>
    );
  } else if (state.kind === "error") {
    summary = `Could not preview the rule: ${state.message}`;
    detail = (
      <button type="button" className="btn btn-small" onClick={retry}>
        Retry preview
      </button>
    );
  } else {
    const r = state.result;
    const days = Math.max(1, Math.round((Date.parse(r.window.to) - Date.parse(r.window.from)) / 86_400_000));
    summary = previewSummary(r.fired, days);
    const newest = [...r.episodes].reverse().slice(0, shownEpisodes);
    detail = (
      <>
        <p className="muted" style={{ margin: "4px 0 8px" }}>
          {r.points_evaluated > 0 && r.runs_evaluated === 0 ? `${r.points_evaluated} metric points` : `${r.runs_evaluated} runs of the selected pipelines`} replayed, <Time iso={r.window.from} /> to <Time iso={r.window.to} />. Nothing is sent.
        </p>
        {r.daily.length > 1 && <DailyBars daily={r.daily} from={r.window.from} />}
        {newest.length > 0 && (
          <ol className="preview-episodes" aria-label="Latest firings" style={{ listStyle: "none", padding: 0, margin: "8px 0 0", fontSize: "0.88rem", lineHeight: 1.7 }}>
            {newest.map((ep) => (
              <li key={`${ep.fingerprint}-${ep.fired_at}`} data-episode={ep.fired_at}>
                <time dateTime={ep.fired_at} title={formatTime(ep.fired_at)}>
                  {shortTime.format(Date.parse(ep.fired_at))}
                </time>{" "}
                · <strong>{ep.pipeline || ep.series || "—"}</strong>
                {sourceName(ep.source_id) && <span className="muted"> ({sourceName(ep.source_id)})</span>}
                {ep.value && <> · {ep.value}</>} ·{" "}
                {ep.resolved_at ? (
                  <span className="muted" title={`Resolved ${formatTime(ep.resolved_at)}`} style={{ whiteSpace: "nowrap" }}>
                    resolved in {formatDurationMs(Date.parse(ep.resolved_at) - Date.parse(ep.fired_at))}
                  </span>
                ) : (
                  <span>still firing</span>
                )}
              </li>
            ))}
          </ol>
        )}
        {r.fired > newest.length && newest.length > 0 && (
          <p className="muted" style={{ margin: "4px 0 0" }}>
            The latest {newest.length} of {r.fired} firings are listed.
          </p>
        )}
        {r.notes.length > 0 && (
          <p className="help" role="note">
            {r.notes.join(" ")}
          </p>
        )}
      </>
    );
  }
  const fired = state.kind === "done" && !checking ? state.result.fired : undefined;
  return (
    <section className="panel editor rule-preview" aria-labelledby="rule-preview-title" aria-busy={checking || undefined} data-preview={checking ? "checking" : state.kind}>
      <h2 id="rule-preview-title" style={{ margin: "0 0 6px", fontSize: "1rem" }}>
        Preview
      </h2>
      <p role="status" className="preview-summary" data-fired={fired} style={{ margin: 0, fontWeight: 600 }}>
        {summary}
      </p>
      {!checking && detail}
    </section>
  );
}

/** The body of a new rule's untouched form: nothing to preview yet. */
const pristineBody = JSON.stringify(formToBody(emptyRuleForm()));

/** The rule editor: /alerts/rules/new and /alerts/rules/<id>. */
export function RuleEditor({ id }: { id: string | null }) {
  const { client, me } = useSession();
  const editor = isEditor(me?.role);
  const loaded = useResource<AlertRule>(id ? `/api/v1/alert-rules/${encodeURIComponent(id)}` : null);
  const [rule, setRule] = useState<AlertRule | null>(null);
  const [form, setForm] = useState<RuleForm | null>(id ? null : emptyRuleForm());
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [formError, setFormError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<AlertRule | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [groupOpen, setGroupOpen] = useState(false);
  useTitle(id ? (rule ? `Rule ${rule.name}` : "Alert rule") : "New alert rule");

  useEffect(() => {
    if (loaded.data && loaded.data.id === id && !rule) {
      setRule(loaded.data);
      setForm(ruleToForm(loaded.data));
    }
  }, [loaded.data, id, rule]);

  const known = useMemo(() => {
    const s = new Set(["/name", "/severity", "/labels", "/selector", "/selector/source_ids", "/selector/pipeline", "/selector/pipeline_regex", "/selector/tags", "/condition", "/for", "/annotations", "/sinks", "/group", "/disabled"]);
    for (const d of GROUP_FIELDS) s.add(`/group/${d.name}`);
    if (form) {
      s.add(`/condition/${form.kind}`);
      for (const d of KINDS.find((k) => k.kind === form.kind)!.fields) s.add(`/condition/${form.kind}/${d.name}`);
      for (const p of form.labels) if (p.key) s.add(`/labels/${p.key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
      for (const p of form.annotations) if (p.key) s.add(`/annotations/${p.key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    }
    return (p: string) => s.has(p);
  }, [form]);
  const { byField, unplaced } = useMemo(() => placeProblems(problems, known), [problems, known]);
  // The grouping section is collapsed: a problem in it opens it.
  const groupProblem = [...byField.keys()].some((k) => k === "/group" || k.startsWith("/group/"));
  useEffect(() => {
    if (groupProblem) setGroupOpen(true);
  }, [groupProblem, problems]);

  if (id && loaded.error && !rule) {
    const nf = /not found|404/i.test(loaded.error);
    return (
      <>
        <Crumbs />
        <StateMessage kind="error" title={nf ? "This alert rule does not exist in this profile" : "Could not load the alert rule"} action={nf ? <Link className="btn" href="/alerts/rules">Back to rules</Link> : <button type="button" className="btn" onClick={loaded.reload}>Retry</button>}>
          {loaded.error}
        </StateMessage>
      </>
    );
  }
  if (!form) {
    return (
      <>
        <Crumbs />
        <StateMessage kind="loading" title="Loading the alert rule…" />
      </>
    );
  }

  const readOnly = !editor || !!rule?.provisioned;
  const set = (patch: Partial<RuleForm>) => setForm({ ...form, ...patch });
  const setCond = (name: string, v: string) => set({ cond: { ...form.cond, [form.kind]: { ...form.cond[form.kind], [name]: v } } });
  const kindDef = KINDS.find((k) => k.kind === form.kind)!;

  const save = async (baseRevision?: number) => {
    setBusy(true);
    setFormError(null);
    setNotice(null);
    const body = formToBody(form);
    try {
      const saved = rule
        ? await client.put<AlertRule>(`/api/v1/alert-rules/${encodeURIComponent(rule.id)}`, { ...body, revision: baseRevision ?? rule.revision })
        : await client.post<AlertRule>("/api/v1/alert-rules", body);
      setProblems([]);
      setConflict(null);
      setRule(saved);
      setForm(ruleToForm(saved));
      setNotice(rule ? `Saved (revision ${saved.revision}).` : "Created.");
      if (!rule) navigate(`/alerts/rules/${encodeURIComponent(saved.id)}`, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.code === "revision_conflict") {
        const cur = (e.body as { current?: AlertRule } | undefined)?.current ?? null;
        setConflict(cur);
        setFormError(e.message);
      } else if (e instanceof ApiError && e.status === 409) {
        setProblems([{ field: "/name", message: e.message }]);
        setFormError(null);
      } else {
        setProblems(e instanceof ApiError ? e.fields : []);
        setFormError(e instanceof ApiError && e.fields.length ? "The rule has problems: see the marked fields." : errorMessage(e));
      }
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!rule || !window.confirm(`Delete the alert rule “${rule.name}” and its alerts?`)) return;
    setBusy(true);
    try {
      await client.del(`/api/v1/alert-rules/${encodeURIComponent(rule.id)}`);
      navigate("/alerts/rules");
    } catch (e) {
      setFormError(errorMessage(e));
      setBusy(false);
    }
  };

  const err = (p: string) => byField.get(p);
  const body = formToBody(form);
  const pristine = !rule && JSON.stringify(body) === pristineBody;
  return (
    <>
      <Crumbs />
      <div className="page-head">
        <div>
          <h1>{rule ? rule.name : "New alert rule"}</h1>
          {rule && (
            <p className="muted">
              Revision {rule.revision} · by {rule.created_by} ·{" "}
              <Link href={`/alerts?rule_id=${encodeURIComponent(rule.id)}`}>Alerts of this rule</Link>
            </p>
          )}
        </div>
      </div>
      {rule?.provisioned && (
        <p className="notice" role="note">
          Loaded from a rule file: read-only here. Edit its file to change it.
        </p>
      )}
      {!editor && !rule?.provisioned && (
        <p className="notice" role="note">
          You can read this rule; an editor of this profile can change it.
        </p>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {conflict && (
        <section className="panel conflict" role="alert" aria-labelledby="conflict-title">
          <h2 id="conflict-title">Someone changed this rule meanwhile</h2>
          <p>
            The stored rule is at revision {conflict.revision} (updated <time dateTime={conflict.updated_at}>{conflict.updated_at}</time>). Your changes are still in the form.
          </p>
          <pre className="conflict-current" aria-label="The stored rule">
            {JSON.stringify(formToBody(ruleToForm(conflict)), null, 2)}
          </pre>
          <div className="form-actions">
            <button
              type="button"
              className="btn"
              onClick={() => {
                setRule(conflict);
                setForm(ruleToForm(conflict));
                setConflict(null);
                setFormError(null);
                setProblems([]);
              }}
            >
              Reload the stored rule
            </button>
            <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void save(conflict.revision)}>
              Overwrite with my version
            </button>
          </div>
        </section>
      )}
      {editor && <RulePreview body={body} pristine={pristine} />}
      <form
        className="panel editor rule-editor"
        aria-label={rule ? `Edit ${rule.name}` : "New alert rule"}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!readOnly) void save();
        }}
      >
        {(formError || unplaced.length > 0) && (
          <div className="form-alert" role="alert">
            {formError && <p>{formError}</p>}
            {unplaced.length > 0 && (
              <ul>
                {unplaced.map((p, i) => (
                  <li key={i}>
                    {p.field && <code>{p.field}</code>} {p.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <fieldset className="bare" disabled={readOnly}>
          <Field ptr="/name" label="Name" required errors={err("/name")}>
            {(p) => <input {...p} value={form.name} maxLength={200} placeholder="ETL_Vendas slower than 5 minutes" onChange={(e) => set({ name: e.target.value })} />}
          </Field>
          <Field ptr="/severity" label="Severity" required errors={err("/severity")}>
            {(p) => (
              <select {...p} value={form.severity} onChange={(e) => set({ severity: e.target.value })}>
                <option value="info">info</option>
                <option value="warning">warning</option>
                <option value="critical">critical</option>
              </select>
            )}
          </Field>

          <fieldset className="fieldset">
            <legend>Condition</legend>
            <Field ptr="/condition" label="When" errors={err("/condition") ?? err(`/condition/${form.kind}`)} help={kindDef.help}>
              {(p) => (
                <select {...p} value={form.kind} onChange={(e) => set({ kind: e.target.value as ConditionKind })}>
                  {KINDS.map((k) => (
                    <option key={k.kind} value={k.kind}>
                      {k.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {kindDef.fields.map((d) => {
              const ptr = `/condition/${form.kind}/${d.name}`;
              const v = form.cond[form.kind]?.[d.name] ?? "";
              return (
                <Field key={ptr} ptr={ptr} label={d.label} required={d.required} help={d.help} errors={err(ptr)}>
                  {(p) =>
                    d.type === "select" ? (
                      <select {...p} value={v} onChange={(e) => setCond(d.name, e.target.value)}>
                        {d.options!.map((o) => (
                          <option key={o} value={o}>
                            {o}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <input {...p} type={d.type === "number" ? "number" : "text"} step="any" value={v} placeholder={d.placeholder} onChange={(e) => setCond(d.name, e.target.value)} />
                    )
                  }
                </Field>
              );
            })}
            <Field ptr="/for" label="Pending for" errors={err("/for")} help="How long the condition must hold before the alert fires (5m); empty fires at once.">
              {(p) => <input {...p} value={form.for} placeholder="0s" onChange={(e) => set({ for: e.target.value })} />}
            </Field>
          </fieldset>

          <fieldset className="fieldset">
            <legend>Pipelines</legend>
            <p className="help">Which pipelines a run-based rule watches; every field set must match. Empty watches every pipeline.</p>
            {err("/selector") && <p className="field-error">{err("/selector")!.join(" ")}</p>}
            <Field ptr="/selector/pipeline" label="Name (glob)" errors={err("/selector/pipeline")} help="* and ? wildcards, case-sensitive: ETL_*">
              {(p) => <input {...p} value={form.pipeline} onChange={(e) => set({ pipeline: e.target.value })} />}
            </Field>
            <Field ptr="/selector/pipeline_regex" label="Name (regular expression)" errors={err("/selector/pipeline_regex")} help="RE2, unanchored; at most one of glob and regular expression.">
              {(p) => <input {...p} value={form.pipeline_regex} onChange={(e) => set({ pipeline_regex: e.target.value })} />}
            </Field>
            <Field ptr="/selector/source_ids" label="Source ids" errors={err("/selector/source_ids")} help="Comma-separated.">
              {(p) => <input {...p} value={form.source_ids} onChange={(e) => set({ source_ids: e.target.value })} />}
            </Field>
            <Field ptr="/selector/tags" label="Tags" errors={err("/selector/tags")} help="Comma-separated; a pipeline needs all of them.">
              {(p) => <input {...p} value={form.tags} onChange={(e) => set({ tags: e.target.value })} />}
            </Field>
          </fieldset>

          <PairsEditor base="/labels" legend="Labels" help="Added to every alert of the rule; grouping and silences match on them." pairs={form.labels} onChange={(labels) => set({ labels })} errors={byField} keyPlaceholder="team" readOnly={readOnly} />
          <PairsEditor
            base="/annotations"
            legend="Annotations"
            help="Go templates rendered for each notification: summary is the title, description the body. {{ .Pipeline.Name }}, {{ .Value }}, {{ .Threshold }}, {{ .Links.Run }}…"
            pairs={form.annotations}
            onChange={(annotations) => set({ annotations })}
            errors={byField}
            keyPlaceholder="summary"
            readOnly={readOnly}
            multiline
          />

          <Field ptr="/sinks" label="Sinks" errors={err("/sinks")} help={<SinkHelp />}>
            {(p) => <input {...p} value={form.sinks} onChange={(e) => set({ sinks: e.target.value })} />}
          </Field>
          <GroupPolicyFields group={form.group} onChange={(group) => set({ group })} errors={err} open={groupOpen} onToggle={setGroupOpen} />
          <div className="field" data-pointer="/disabled">
            <label className="check">
              <input type="checkbox" checked={form.disabled} onChange={(e) => set({ disabled: e.target.checked })} />
              Disabled (validated, not evaluated)
            </label>
          </div>
        </fieldset>
        {!readOnly && (
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? "Saving…" : rule ? "Save changes" : "Create rule"}
            </button>
            <Link className="btn btn-ghost" href="/alerts/rules">
              Cancel
            </Link>
            {rule && (
              <button type="button" className="btn btn-danger" onClick={remove} disabled={busy}>
                Delete rule
              </button>
            )}
          </div>
        )}
      </form>
    </>
  );
}
