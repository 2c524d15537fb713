import { useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { FieldProblem } from "../api/types";
import { humanize } from "../viz/frame";
import { SECRET_MASK, choices, fieldPointers, fromRaw, getAt, kindOf, ownerOf, pointerJoin, setAt, toRaw, type Errors, type JSONSchema } from "./schema";

export interface SchemaFormProps {
  /** An object schema; each property becomes an input. */
  schema: JSONSchema;
  /** The current value (an edit), or undefined (a new object: defaults apply). */
  initialValue?: Record<string, unknown>;
  /** Called with the converted, client-validated value. */
  onSubmit: (value: Record<string, unknown>) => void | Promise<void>;
  /** Errors from the server; `field` is a JSON pointer into the submitted value. */
  serverErrors?: FieldProblem[];
  /** A message about the whole form (e.g. the server's error message). */
  formError?: string | null;
  submitLabel?: string;
  busy?: boolean;
  disabled?: boolean;
  onCancel?: () => void;
  /** Extra buttons beside Submit. */
  extraActions?: ReactNode;
  /** Accessible name of the form. */
  label?: string;
}

interface Ctx {
  id: string;
  raw: unknown;
  initial: unknown;
  errors: Errors;
  disabled: boolean;
  set: (pointer: string, value: unknown) => void;
}

function inputId(ctx: Ctx, pointer: string) {
  return `${ctx.id}${pointer.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
}

function FieldShell({ ctx, pointer, label, required, help, children, kind }: { ctx: Ctx; pointer: string; label: string; required: boolean; help?: string; children: (p: { id: string; describedBy?: string; invalid: boolean }) => ReactNode; kind: string }) {
  const id = inputId(ctx, pointer);
  const err = ctx.errors[pointer];
  const describedBy = [help ? `${id}-help` : "", err ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field field-${kind}${err ? " field-invalid" : ""}`} data-pointer={pointer}>
      {kind !== "boolean" && (
        <label htmlFor={id} className="field-label">
          {label}
          {required ? <span className="req"> (required)</span> : null}
        </label>
      )}
      {children({ id, describedBy, invalid: !!err })}
      {help && (
        <p id={`${id}-help`} className="help">
          {help}
        </p>
      )}
      {err && (
        <p id={`${id}-error`} className="field-error" data-testid={`error-${pointer}`}>
          {err}
        </p>
      )}
    </div>
  );
}

function helpText(s: JSONSchema): string | undefined {
  const bits: string[] = [];
  if (s.description) bits.push(s.description);
  const range: string[] = [];
  if (s.minimum !== undefined) range.push(`min ${s.minimum}`);
  if (s.maximum !== undefined) range.push(`max ${s.maximum}`);
  if (range.length && !s.description?.match(/\bmin|max/i)) bits.push(`(${range.join(", ")})`);
  return bits.join(" ") || undefined;
}

function SchemaField({ ctx, schema, pointer, name, required }: { ctx: Ctx; schema: JSONSchema; pointer: string; name: string; required: boolean }) {
  const kind = kindOf(schema);
  const label = schema.title ?? humanize(name);
  const raw = getAt(ctx.raw, pointer);
  const help = helpText(schema);
  const disabled = ctx.disabled || schema.readOnly === true;

  if (kind === "object") {
    const req = schema.required ?? [];
    return (
      <fieldset className="fieldset" data-pointer={pointer}>
        <legend>{label}</legend>
        {schema.description && <p className="help">{schema.description}</p>}
        {Object.entries(schema.properties ?? {}).map(([k, sub]) => (
          <SchemaField key={k} ctx={ctx} schema={sub} pointer={pointerJoin(pointer, k)} name={k} required={req.includes(k)} />
        ))}
      </fieldset>
    );
  }

  return (
    <FieldShell ctx={ctx} pointer={pointer} label={label} required={required} help={help} kind={kind}>
      {({ id, describedBy, invalid }) => {
        const common = { id, name: pointer, "aria-describedby": describedBy, "aria-invalid": invalid || undefined, "aria-required": required || undefined, disabled };
        switch (kind) {
          case "boolean":
            return (
              <label className="check" htmlFor={id}>
                <input type="checkbox" {...common} checked={raw === true} onChange={(e) => ctx.set(pointer, e.target.checked)} />
                {label}
              </label>
            );
          case "enum": {
            const opts = choices(schema) ?? [];
            const idx = opts.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(raw));
            return (
              <select {...common} value={idx < 0 ? "" : String(idx)} onChange={(e) => ctx.set(pointer, e.target.value === "" ? undefined : opts[Number(e.target.value)]!.value)}>
                {(idx < 0 || !required) && <option value="">{required ? "Choose…" : "— none —"}</option>}
                {opts.map((o, i) => (
                  <option key={i} value={String(i)}>
                    {o.label}
                  </option>
                ))}
              </select>
            );
          }
          case "multiEnum": {
            const opts = choices(schema.items ?? {}) ?? [];
            const list = Array.isArray(raw) ? raw : [];
            return (
              <div className="checks" role="group" aria-labelledby={undefined} aria-describedby={describedBy} id={id}>
                {opts.map((o, i) => {
                  const on = list.some((v) => JSON.stringify(v) === JSON.stringify(o.value));
                  return (
                    <label key={i} className="check">
                      <input type="checkbox" disabled={disabled} checked={on} onChange={() => ctx.set(pointer, on ? list.filter((v) => JSON.stringify(v) !== JSON.stringify(o.value)) : [...list, o.value])} />
                      {o.label}
                    </label>
                  );
                })}
              </div>
            );
          }
          case "stringList":
            return <StringList ctx={ctx} pointer={pointer} id={id} label={label} list={Array.isArray(raw) ? (raw as string[]) : []} disabled={disabled} describedBy={describedBy} />;
          case "number":
          case "integer":
            return (
              <input
                type="number"
                inputMode={kind === "integer" ? "numeric" : "decimal"}
                step={kind === "integer" ? 1 : "any"}
                min={schema.minimum}
                max={schema.maximum}
                {...common}
                value={String(raw ?? "")}
                onChange={(e) => ctx.set(pointer, e.target.value)}
              />
            );
          case "secret": {
            const stored = getAt(ctx.initial, pointer) === SECRET_MASK;
            return (
              <div className="secret">
                <input
                  type="password"
                  autoComplete="new-password"
                  {...common}
                  value={String(raw ?? "")}
                  placeholder={stored ? "" : "Not set"}
                  onFocus={(e) => raw === SECRET_MASK && e.target.select()}
                  onChange={(e) => ctx.set(pointer, e.target.value)}
                />
                {stored && (
                  <span className="secret-note">
                    {raw === SECRET_MASK ? "Stored; type to replace it" : raw === "" ? "Will be removed" : "Will be replaced"}
                    {raw !== SECRET_MASK && (
                      <button type="button" className="link" onClick={() => ctx.set(pointer, SECRET_MASK)}>
                        Keep stored value
                      </button>
                    )}
                  </span>
                )}
              </div>
            );
          }
          case "json":
            return <textarea {...common} className="code" rows={6} spellCheck={false} value={String(raw ?? "")} onChange={(e) => ctx.set(pointer, e.target.value)} />;
          default:
            return (
              <input
                type={schema.format === "uri" || schema.format === "url" ? "url" : schema.format === "email" ? "email" : "text"}
                maxLength={schema.maxLength}
                {...common}
                value={String(raw ?? "")}
                onChange={(e) => ctx.set(pointer, e.target.value)}
              />
            );
        }
      }}
    </FieldShell>
  );
}

function StringList({ ctx, pointer, id, label, list, disabled, describedBy }: { ctx: Ctx; pointer: string; id: string; label: string; list: string[]; disabled: boolean; describedBy?: string }) {
  const rows = list.length ? list : [""];
  return (
    <div className="string-list" id={id} aria-describedby={describedBy}>
      {rows.map((v, i) => (
        <div key={i} className="string-list-row">
          <input type="text" aria-label={`${label} ${i + 1}`} disabled={disabled} value={v} onChange={(e) => ctx.set(pointer, rows.map((x, j) => (j === i ? e.target.value : x)))} />
          <button type="button" className="btn btn-small btn-ghost" aria-label={`Remove ${label} ${i + 1}`} disabled={disabled || rows.length === 1} onClick={() => ctx.set(pointer, rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" className="btn btn-small" disabled={disabled} onClick={() => ctx.set(pointer, [...rows, ""])}>
        Add {label.toLowerCase()}
      </button>
    </div>
  );
}

/**
 * A form generated from a JSON Schema: one input per property (text,
 * number, checkbox, select, list, nested fieldset, JSON for anything else),
 * required and range checks before sending, and the server's per-field
 * errors (JSON pointers) shown under the field they name. Fields marked
 * "x-secret" are password inputs that keep the stored value unless typed
 * over.
 */
export function SchemaForm({ schema, initialValue, onSubmit, serverErrors, formError, submitLabel = "Save", busy, disabled, onCancel, extraActions, label }: SchemaFormProps) {
  const id = useId().replace(/:/g, "");
  const [raw, setRaw] = useState(() => toRaw(schema, initialValue));
  const [clientErrors, setClientErrors] = useState<Errors>({});
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(0);
  const formRef = useRef<HTMLFormElement>(null);
  const pointers = useMemo(() => fieldPointers(schema), [schema]);

  // Server errors go to the field they name (or its closest rendered
  // parent) until that field is edited; the rest are listed on top.
  const { fieldErrors, stray } = useMemo(() => {
    const fe: Errors = {};
    const st: FieldProblem[] = [];
    for (const p of serverErrors ?? []) {
      const owner = ownerOf(pointers, p.field);
      if (owner === null) {
        st.push(p);
        continue;
      }
      if (touched.has(owner)) continue;
      // An error inside a field (a JSON object's key, a list item) names its place.
      const inner = p.field.slice(owner.length).replace(/^\//, "");
      const msg = inner ? `${inner}: ${p.message}` : p.message;
      fe[owner] = fe[owner] ? `${fe[owner]}; ${msg}` : msg;
    }
    return { fieldErrors: fe, stray: st };
  }, [serverErrors, pointers, touched]);
  const errors = { ...fieldErrors, ...clientErrors };

  const ctx: Ctx = {
    id,
    raw,
    initial: initialValue,
    errors,
    disabled: !!disabled || !!busy,
    set: (p, v) => {
      setRaw((r: unknown) => setAt(r, p, v));
      setTouched((t) => new Set(t).add(p));
      if (clientErrors[p]) setClientErrors(({ [p]: _, ...rest }) => rest);
    },
  };

  // New server errors: they apply to the values as submitted.
  const [seenServer, setSeenServer] = useState(serverErrors);
  if (seenServer !== serverErrors) {
    setSeenServer(serverErrors);
    setTouched(new Set());
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { value, errors: errs } = fromRaw(schema, raw, initialValue);
    setClientErrors(errs);
    setSubmitted((n) => n + 1);
    if (Object.keys(errs).length > 0) {
      // Move focus to the first invalid input, as a screen reader user would need.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus());
      return;
    }
    await onSubmit(value as Record<string, unknown>);
  };

  const count = Object.keys(errors).length;
  const req = schema.required ?? [];
  return (
    <form ref={formRef} className="schema-form" noValidate onSubmit={submit} aria-label={label} data-submitted={submitted}>
      {(formError || stray.length > 0 || count > 0) && (
        <div className="form-alert" role="alert">
          {formError && <p>{formError}</p>}
          {count > 0 && <p>{count === 1 ? "One field needs attention." : `${count} fields need attention.`}</p>}
          {stray.length > 0 && (
            <ul>
              {stray.map((p, i) => (
                <li key={i}>
                  {p.field ? <code>{p.field}</code> : null} {p.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {kindOf(schema) === "object" ? (
        Object.entries(schema.properties ?? {}).map(([k, sub]) => <SchemaField key={k} ctx={ctx} schema={sub} pointer={pointerJoin("", k)} name={k} required={req.includes(k)} />)
      ) : (
        <SchemaField ctx={ctx} schema={schema} pointer="" name={schema.title ?? "value"} required />
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={!!disabled || !!busy}>
          {busy ? "Saving…" : submitLabel}
        </button>
        {onCancel && (
          <button type="button" className="btn" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        )}
        {extraActions}
      </div>
    </form>
  );
}
