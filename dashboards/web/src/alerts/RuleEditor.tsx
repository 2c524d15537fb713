import { useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client";
import type { FieldProblem, Plugin, Source } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { StateMessage } from "../components/States";
import { navigate, useTitle } from "../router";
import { emptyRuleForm, formToBody, isEditor, KINDS, placeProblems, ruleToForm, type Pair, type RuleForm } from "./model";
import type { AlertRule, ConditionKind } from "./types";

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
  useTitle(id ? (rule ? `Rule ${rule.name}` : "Alert rule") : "New alert rule");

  useEffect(() => {
    if (loaded.data && loaded.data.id === id && !rule) {
      setRule(loaded.data);
      setForm(ruleToForm(loaded.data));
    }
  }, [loaded.data, id, rule]);

  const known = useMemo(() => {
    const s = new Set(["/name", "/severity", "/labels", "/selector", "/selector/source_ids", "/selector/pipeline", "/selector/pipeline_regex", "/selector/tags", "/condition", "/for", "/annotations", "/sinks", "/disabled"]);
    if (form) {
      s.add(`/condition/${form.kind}`);
      for (const d of KINDS.find((k) => k.kind === form.kind)!.fields) s.add(`/condition/${form.kind}/${d.name}`);
      for (const p of form.labels) if (p.key) s.add(`/labels/${p.key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
      for (const p of form.annotations) if (p.key) s.add(`/annotations/${p.key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    }
    return (p: string) => s.has(p);
  }, [form]);
  const { byField, unplaced } = useMemo(() => placeProblems(problems, known), [problems, known]);

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
