// JSON Schema helpers for SchemaForm: which input a schema gets, the form's
// raw state (what the user typed) and its conversion to the value sent,
// client-side validation, and JSON pointers.

export interface JSONSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  oneOf?: JSONSchema[];
  anyOf?: JSONSchema[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  additionalProperties?: boolean | JSONSchema;
  items?: JSONSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  readOnly?: boolean;
  writeOnly?: boolean;
  "x-secret"?: boolean;
  [key: string]: unknown;
}

/** What the API shows for a secret that is set (sources.yaml). */
export const SECRET_MASK = "********";

export type Kind = "object" | "string" | "enum" | "number" | "integer" | "boolean" | "stringList" | "multiEnum" | "json" | "secret";

export function schemaType(s: JSONSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
  if (s.type) return s.type;
  if (s.properties) return "object";
  if (s.enum) return "enum";
  return undefined;
}

/** Enum choices: enum, or oneOf of consts with titles. */
export function choices(s: JSONSchema): { value: unknown; label: string }[] | null {
  if (Array.isArray(s.enum)) return s.enum.map((v) => ({ value: v, label: String(v) }));
  const alts = s.oneOf ?? s.anyOf;
  if (alts && alts.length > 0 && alts.every((a) => "const" in a)) {
    return alts.map((a) => ({ value: a.const, label: a.title ?? String(a.const) }));
  }
  return null;
}

export function kindOf(s: JSONSchema): Kind {
  const t = schemaType(s);
  if (choices(s) && t !== "array") return "enum";
  switch (t) {
    case "object":
      return s.properties && Object.keys(s.properties).length > 0 ? "object" : "json";
    case "string":
      return s["x-secret"] ? "secret" : "string";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "boolean":
      return "boolean";
    case "array": {
      const items = s.items ?? {};
      if (choices(items)) return "multiEnum";
      return schemaType(items) === "string" ? "stringList" : "json";
    }
  }
  return "json";
}

// ---- JSON pointers (RFC 6901) ----

export function pointerJoin(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

export function pointerParts(p: string): string[] {
  if (p === "" || p === "/") return [];
  return p
    .replace(/^\//, "")
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Tree = Record<string, unknown>;

export function getAt(tree: unknown, p: string): unknown {
  let cur: unknown = tree;
  for (const k of pointerParts(p)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Tree)[k];
  }
  return cur;
}

/** An updated copy of tree with value at p. */
export function setAt<T>(tree: T, p: string, value: unknown): T {
  const parts = pointerParts(p);
  if (parts.length === 0) return value as T;
  const [head, ...rest] = parts as [string, ...string[]];
  const base: Tree = Array.isArray(tree) ? ([...tree] as unknown as Tree) : { ...((tree as Tree) ?? {}) };
  base[head] = setAt(base[head], rest.length ? "/" + rest.join("/") : "", value);
  return base as T;
}

// ---- raw state ----
// The form keeps what the user typed: numbers and JSON as text, so "1." or
// a half-written object is not lost while typing.

export function toRaw(s: JSONSchema, value: unknown): unknown {
  const v = value === undefined ? s.default : value;
  switch (kindOf(s)) {
    case "object": {
      const out: Tree = {};
      const obj = v && typeof v === "object" ? (v as Tree) : {};
      for (const [k, sub] of Object.entries(s.properties ?? {})) out[k] = toRaw(sub, obj[k]);
      return out;
    }
    case "number":
    case "integer":
      return typeof v === "number" ? String(v) : "";
    case "boolean":
      return v === true;
    case "stringList":
      return Array.isArray(v) ? v.map(String) : [];
    case "multiEnum":
      return Array.isArray(v) ? v : [];
    case "enum":
      return v === undefined ? undefined : v;
    case "json":
      return v === undefined ? "" : JSON.stringify(v, null, 2);
    default:
      return v === undefined || v === null ? "" : String(v);
  }
}

export type Errors = Record<string, string>;

function isEmpty(raw: unknown): boolean {
  return raw === undefined || raw === null || raw === "" || (Array.isArray(raw) && raw.length === 0);
}

/**
 * Converts the raw state to the value to send and validates it. Optional
 * fields left empty are omitted. A secret left at the mask keeps the stored
 * value (the mask is sent back); one that was set and is emptied is sent as
 * null, which removes it.
 */
export function fromRaw(s: JSONSchema, raw: unknown, initial: unknown, pointer = "", errors: Errors = {}, required = false): { value: unknown; errors: Errors } {
  const kind = kindOf(s);
  const fail = (msg: string) => {
    errors[pointer] = msg;
    return { value: undefined, errors };
  };
  if (kind === "object") {
    const out: Tree = {};
    const r = (raw as Tree) ?? {};
    const init = (initial as Tree) ?? {};
    for (const [k, sub] of Object.entries(s.properties ?? {})) {
      const { value } = fromRaw(sub, r[k], init[k], pointerJoin(pointer, k), errors, (s.required ?? []).includes(k));
      if (value !== undefined) out[k] = value;
    }
    return { value: out, errors };
  }
  if (kind === "secret" && raw === "" && initial === SECRET_MASK) {
    if (required) return fail("Required");
    return { value: null, errors };
  }
  if (kind === "boolean") return { value: raw === true, errors };
  if (isEmpty(raw)) {
    if (required) return fail(kind === "enum" ? "Choose a value" : "Required");
    return { value: undefined, errors };
  }
  let value: unknown = raw;
  if (kind === "number" || kind === "integer") {
    const text = String(raw).trim();
    const n = Number(text);
    if (text === "" || !Number.isFinite(n)) return fail("Must be a number");
    value = n;
  } else if (kind === "json") {
    try {
      value = JSON.parse(String(raw));
    } catch (e) {
      return fail(`Must be valid JSON (${(e as Error).message})`);
    }
  } else if (kind === "stringList") {
    value = (raw as string[]).map((x) => x.trim()).filter((x) => x !== "");
    if ((value as string[]).length === 0) {
      if (required) return fail("Add at least one value");
      return { value: undefined, errors };
    }
  }
  const msg = check(s, value, kind);
  if (msg) return fail(msg);
  return { value, errors };
}

const fmt = (n: number) => new Intl.NumberFormat(undefined, { maximumFractionDigits: 6 }).format(n);

/** The first problem of value against the schema's constraints, or null. */
export function check(s: JSONSchema, value: unknown, kind: Kind = kindOf(s)): string | null {
  if (kind === "secret" && value === SECRET_MASK) return null;
  if (typeof value === "string") {
    if (s.minLength !== undefined && value.length < s.minLength) {
      return s.minLength === 1 ? "Required" : `At least ${s.minLength} characters`;
    }
    if (s.maxLength !== undefined && value.length > s.maxLength) return `At most ${s.maxLength} characters`;
    if (s.pattern) {
      try {
        if (!new RegExp(s.pattern, "u").test(value)) return `Must match the pattern ${s.pattern}`;
      } catch {
        /* a pattern JavaScript cannot compile is left to the server */
      }
    }
    if ((s.format === "uri" || s.format === "url") && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value)) return "Must be a URL such as https://example.com";
    if (s.format === "email" && !/^[^@\s]+@[^@\s]+$/.test(value)) return "Must be an email address";
  }
  if (typeof value === "number") {
    if (kind === "integer" && !Number.isInteger(value)) return "Must be a whole number";
    if (s.minimum !== undefined && value < s.minimum) return `Must be at least ${fmt(s.minimum)}`;
    if (s.maximum !== undefined && value > s.maximum) return `Must be at most ${fmt(s.maximum)}`;
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return `Must be more than ${fmt(s.exclusiveMinimum)}`;
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return `Must be less than ${fmt(s.exclusiveMaximum)}`;
    if (s.multipleOf !== undefined && Math.abs(value / s.multipleOf - Math.round(value / s.multipleOf)) > 1e-9) return `Must be a multiple of ${fmt(s.multipleOf)}`;
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) return `Choose at least ${s.minItems}`;
    if (s.maxItems !== undefined && value.length > s.maxItems) return `Choose at most ${s.maxItems}`;
    if (s.items) {
      for (const item of value) {
        const m = check(s.items, item);
        if (m) return `“${String(item)}”: ${m.charAt(0).toLowerCase()}${m.slice(1)}`;
      }
    }
  }
  const opts = kind === "enum" ? choices(s) : null;
  if (opts && !opts.some((o) => JSON.stringify(o.value) === JSON.stringify(value))) return "Choose one of the listed values";
  return null;
}

/** Every pointer the form renders an input for. */
export function fieldPointers(s: JSONSchema, pointer = ""): string[] {
  if (kindOf(s) !== "object") return [pointer];
  return Object.entries(s.properties ?? {}).flatMap(([k, sub]) => fieldPointers(sub, pointerJoin(pointer, k)));
}

/** The rendered field a server error belongs to: the pointer itself, or its closest rendered parent (/config/tags/2 → /config/tags). */
export function ownerOf(pointers: string[], p: string): string | null {
  let cur = p;
  for (;;) {
    if (pointers.includes(cur)) return cur;
    const i = cur.lastIndexOf("/");
    if (i <= 0) return null;
    cur = cur.slice(0, i);
  }
}
