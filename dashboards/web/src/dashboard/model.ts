// The dashboard as the API shows it (host/dashboards) and the pure
// operations the view performs on a draft: add, duplicate, remove, move,
// compare. Kept free of React so they are tested directly.
import type { CardType } from "../api/types";

export interface TimeRange {
  from: string;
  to: string;
}

export interface DashboardCard {
  id: string;
  type: string;
  title: string;
  options: Record<string, unknown>;
  /** null: follow the dashboard's time range. */
  time_range: TimeRange | null;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Dashboard {
  id: string;
  slug: string;
  title: string;
  description?: string;
  time_range: TimeRange;
  refresh_seconds?: number;
  cards: DashboardCard[];
  version: number;
  read_only: boolean;
  provisioned: boolean;
  created_by?: string;
  created_at?: string;
  updated_at?: string;
}

/** An entry of GET /api/v1/dashboards (no cards). */
export type DashboardSummary = Omit<Dashboard, "cards"> & { card_count: number };

/** POST /api/v1/cards/query answer. */
export interface CardQueryResult {
  frame: import("../viz/frame").Frame;
  as_of: string;
  cached: boolean;
  tags: string[];
}

export const DEFAULT_DASHBOARD = "pipelines-overview";
export const DEFAULT_RANGE: TimeRange = { from: "now-24h", to: "now" };
export const GRID_COLUMNS = 12;

export const RANGE_PRESETS: { label: string; range: TimeRange }[] = [
  { label: "Last 1 hour", range: { from: "now-1h", to: "now" } },
  { label: "Last 6 hours", range: { from: "now-6h", to: "now" } },
  { label: "Last 24 hours", range: { from: "now-24h", to: "now" } },
  { label: "Last 7 days", range: { from: "now-7d", to: "now" } },
  { label: "Last 30 days", range: { from: "now-30d", to: "now" } },
];

export function sameRange(a: TimeRange | null | undefined, b: TimeRange | null | undefined): boolean {
  return (a?.from ?? "") === (b?.from ?? "") && (a?.to ?? "") === (b?.to ?? "");
}

/** "Last 24 hours", or "from → to" for a range that is not a preset. */
export function rangeLabel(r: TimeRange): string {
  const p = RANGE_PRESETS.find((x) => sameRange(x.range, r));
  return p ? p.label : `${r.from} → ${r.to}`;
}

/** Short form for a card header: "7d". */
export function rangeShort(r: TimeRange): string {
  const m = /^now-(\d+[smhdw])$/.exec(r.from);
  return m && r.to === "now" ? m[1]! : `${r.from} → ${r.to}`;
}

/** A card id unique within the dashboard. */
export function newCardId(cards: { id: string }[]): string {
  const taken = new Set(cards.map((c) => c.id));
  for (;;) {
    const id = "c" + Math.random().toString(36).slice(2, 8);
    if (!taken.has(id)) return id;
  }
}

function bottom(cards: DashboardCard[]): number {
  return cards.reduce((m, c) => Math.max(m, c.y + c.h), 0);
}

/** Adds a card of type ct at the bottom of the grid, at the type's default size. */
export function addCard(d: Dashboard, ct: CardType, init: { title?: string; options?: Record<string, unknown>; time_range?: TimeRange | null }): { dashboard: Dashboard; card: DashboardCard } {
  const w = Math.min(GRID_COLUMNS, Math.max(1, ct.default_size?.w ?? 6));
  const h = Math.max(1, ct.default_size?.h ?? 4);
  const card: DashboardCard = { id: newCardId(d.cards), type: ct.type, title: init.title ?? "", options: init.options ?? {}, time_range: init.time_range ?? null, x: 0, y: bottom(d.cards), w, h };
  return { dashboard: { ...d, cards: [...d.cards, card] }, card };
}

/** A copy of a card placed under the dashboard's last row. */
export function duplicateCard(d: Dashboard, id: string): Dashboard {
  const c = d.cards.find((x) => x.id === id);
  if (!c) return d;
  const copy: DashboardCard = { ...c, id: newCardId(d.cards), options: structuredClone(c.options), time_range: c.time_range && { ...c.time_range }, y: bottom(d.cards) };
  return { ...d, cards: [...d.cards, copy] };
}

export function removeCard(d: Dashboard, id: string): Dashboard {
  return { ...d, cards: d.cards.filter((c) => c.id !== id) };
}

export function updateCard(d: Dashboard, id: string, patch: Partial<Omit<DashboardCard, "id">>): Dashboard {
  return { ...d, cards: d.cards.map((c) => (c.id === id ? { ...c, ...patch } : c)) };
}

/** Applies a grid layout; the same dashboard object when nothing moved (no false "unsaved changes"). */
export function applyLayout(d: Dashboard, layout: { id: string; x: number; y: number; w: number; h: number }[]): Dashboard {
  const at = new Map(layout.map((l) => [l.id, l]));
  let changed = false;
  const cards = d.cards.map((c) => {
    const l = at.get(c.id);
    if (!l || (l.x === c.x && l.y === c.y && l.w === c.w && l.h === c.h)) return c;
    changed = true;
    return { ...c, x: l.x, y: l.y, w: l.w, h: l.h };
  });
  return changed ? { ...d, cards } : d;
}

/** The PUT body: the full dashboard with the version it is based on. */
export function putBody(d: Dashboard, version = d.version) {
  return {
    slug: d.slug,
    title: d.title,
    description: d.description ?? "",
    time_range: d.time_range,
    refresh_seconds: d.refresh_seconds ?? 0,
    cards: d.cards.map(({ id, type, title, options, time_range, x, y, w, h }) => ({ id, type, title, options, time_range, x, y, w, h })),
    version,
  };
}

/** Whether two dashboards differ in anything a save would write. */
export function differs(a: Dashboard, b: Dashboard): boolean {
  const { version: _a, ...pa } = putBody(a);
  const { version: _b, ...pb } = putBody(b);
  return JSON.stringify(pa) !== JSON.stringify(pb);
}

/** Readable lines saying how `theirs` differs from `base` (what someone else saved). */
export function describeChanges(base: Dashboard, theirs: Dashboard, titleOf: (c: DashboardCard) => string): string[] {
  const out: string[] = [];
  if (base.title !== theirs.title) out.push(`Title changed to “${theirs.title}”.`);
  if ((base.description ?? "") !== (theirs.description ?? "")) out.push("Description changed.");
  if (!sameRange(base.time_range, theirs.time_range)) out.push(`Time range changed to ${rangeLabel(theirs.time_range)}.`);
  const before = new Map(base.cards.map((c) => [c.id, c]));
  const after = new Map(theirs.cards.map((c) => [c.id, c]));
  for (const c of theirs.cards) {
    const old = before.get(c.id);
    if (!old) {
      out.push(`Card “${titleOf(c)}” added.`);
      continue;
    }
    const what: string[] = [];
    if (old.title !== c.title) what.push("title");
    if (JSON.stringify(old.options) !== JSON.stringify(c.options)) what.push("options");
    if (!sameRange(old.time_range, c.time_range) || !old.time_range !== !c.time_range) what.push("time range");
    if (old.x !== c.x || old.y !== c.y) what.push("position");
    if (old.w !== c.w || old.h !== c.h) what.push("size");
    if (what.length) out.push(`Card “${titleOf(c)}”: ${what.join(", ")} changed.`);
  }
  for (const c of base.cards) if (!after.has(c.id)) out.push(`Card “${titleOf(c)}” removed.`);
  if (out.length === 0) out.push("Nothing visible changed (the other save may have written the same content).");
  return out;
}

/** The card's title: its own, else its type's. */
export function cardTitle(c: DashboardCard, ct?: CardType): string {
  return c.title || ct?.title || c.type;
}
