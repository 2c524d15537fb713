import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, errorMessage } from "../api/client";
import { useEvents, type EventStatus, type PuodEvent } from "../api/events";
import type { CardType, Plugin } from "../api/types";
import { useResource, useSession } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { CardCatalog } from "../dashboard/CardCatalog";
import { CardSettings, type CardSettingsValue } from "../dashboard/CardSettings";
import { DashboardGrid } from "../dashboard/DashboardGrid";
import { LiveCard, type CardOutcome } from "../dashboard/LiveCard";
import { addCard, applyLayout, cardTitle, describeChanges, differs, duplicateCard, putBody, removeCard, updateCard, type Dashboard, type TimeRange } from "../dashboard/model";
import { TimeRangePicker } from "../dashboard/TimeRangePicker";
import "../dashboard/dashboard.css";
import { navigate, useTitle } from "../router";

// Events that arrive together (a poll that brings many runs) re-query each
// affected card once.
const COALESCE_MS = 250;

function useLiveRefresh(tagsOf: React.RefObject<Map<string, string[]>>, onDashboardChanged: (e: PuodEvent) => void) {
  const [keys, setKeys] = useState<Record<string, number>>({});
  const pending = useRef<Set<string> | "all" | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const changed = useRef(onDashboardChanged);
  changed.current = onDashboardChanged;

  const flush = useCallback(() => {
    timer.current = null;
    const p = pending.current;
    pending.current = null;
    if (!p) return;
    const ids = p === "all" ? [...tagsOf.current.keys()] : [...p];
    setKeys((k) => {
      const n = { ...k };
      for (const id of ids) n[id] = (n[id] ?? 0) + 1;
      return n;
    });
  }, [tagsOf]);

  const status = useEvents(
    useCallback(
      (e: PuodEvent) => {
        if (e.topic === "dashboard.changed") {
          changed.current(e);
          return;
        }
        if (e.topic === "reset") {
          pending.current = "all";
        } else {
          const tags = new Set(e.tags ?? []);
          const hit = [...tagsOf.current].filter(([, t]) => t.some((x) => tags.has(x))).map(([id]) => id);
          if (hit.length === 0) return;
          if (pending.current !== "all") {
            pending.current ??= new Set();
            hit.forEach((id) => (pending.current as Set<string>).add(id));
          }
        }
        timer.current ??= setTimeout(flush, COALESCE_MS);
      },
      [tagsOf, flush],
    ),
  );
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  return { keys, status };
}

/** The live-updates stream's state, shown subtly beside the time range. */
function LiveStatus({ state }: { state: EventStatus }) {
  const live = state === "open";
  const text = live ? "Live" : state === "connecting" ? "Connecting…" : "Not live";
  return (
    <span className={`live-status ${live ? "is-live" : "is-off"}`} role="status" title={live ? "Cards refresh when their data changes" : "Live updates are not connected; cards show the data of their last query"} data-live={live}>
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

export default function DashboardPage({ id }: { id: string }) {
  const { client, me } = useSession();
  const canEdit = me?.role === "editor" || me?.role === "admin";
  const res = useResource<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(id)}`);
  const types = useResource<{ card_types: CardType[] }>("/api/v1/card-types");
  const [saved, setSaved] = useState<Dashboard | null>(null);
  const [draft, setDraft] = useState<Dashboard | null>(null);
  const [viewRange, setViewRange] = useState<TimeRange | null>(null);
  const [catalog, setCatalog] = useState(false);
  const [configuring, setConfiguring] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Dashboard | null>(null);
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [outcomes, setOutcomes] = useState<Record<string, CardOutcome["state"]>>({});
  const [staleNotice, setStaleNotice] = useState(false);
  const tagsOf = useRef(new Map<string, string[]>());
  const plugins = useResource<{ plugins: Plugin[] }>(catalog ? "/api/v1/plugins" : null);

  useEffect(() => {
    if (!res.data) return;
    setSaved(res.data);
    setStaleNotice(false);
    if (canEdit && !res.data.read_only && new URLSearchParams(window.location.search).get("edit") === "1") {
      setDraft((d) => d ?? res.data!);
      window.history.replaceState(null, "", window.location.pathname);
    }
  }, [res.data, canEdit]);

  const editing = draft !== null;
  const shown = draft ?? saved;
  const dirty = !!(draft && saved && differs(draft, saved));
  useTitle(shown?.title ?? "Dashboard");

  // Someone else's save: reload when just viewing, warn when editing.
  const editingRef = useRef(editing);
  editingRef.current = editing;
  const savedRef = useRef(saved);
  savedRef.current = saved;
  const { keys, status } = useLiveRefresh(tagsOf, (e) => {
    const p = (e.payload ?? {}) as { dashboard_id?: string; version?: number };
    const s = savedRef.current;
    if (!s || p.dashboard_id !== s.id || (p.version ?? 0) <= s.version) return;
    if (editingRef.current) setStaleNotice(true);
    else res.reload();
  });

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const byType = useMemo(() => new Map((types.data?.card_types ?? []).map((t) => [t.type, t])), [types.data]);
  const onOutcome = useCallback((cid: string, o: CardOutcome) => {
    tagsOf.current.set(cid, o.tags);
    setOutcomes((m) => (m[cid] === o.state ? m : { ...m, [cid]: o.state }));
  }, []);

  // Cards no longer on the page stop listening.
  useEffect(() => {
    const ids = new Set(shown?.cards.map((c) => c.id));
    for (const k of tagsOf.current.keys()) if (!ids.has(k)) tagsOf.current.delete(k);
  }, [shown]);

  if (res.error && !saved) {
    const missing = /not found/i.test(res.error);
    return (
      <StateMessage kind={missing ? "empty" : "error"} title={missing ? "Dashboard not found" : "Could not load the dashboard"} action={missing ? <Link className="btn" href="/dashboards">All dashboards</Link> : <button className="btn" onClick={res.reload}>Retry</button>}>
        {res.error}
      </StateMessage>
    );
  }
  if (!shown || !saved) {
    return (
      <>
        <div className="page-head">
          <h1>Dashboard</h1>
        </div>
        <Skeleton lines={5} />
      </>
    );
  }

  const range = editing ? shown.time_range : (viewRange ?? shown.time_range);
  const setRange = (r: TimeRange) => (draft ? setDraft({ ...draft, time_range: r }) : setViewRange(r));
  const catalogReady = !!types.data || !!types.error;
  const ready = catalogReady && shown.cards.every((c) => outcomes[c.id] !== undefined);

  const save = async (base?: Dashboard) => {
    if (!draft) return;
    setSaving(true);
    setMessage(null);
    try {
      const d = await client.put<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(saved.id)}`, putBody(draft, base?.version ?? saved.version));
      setSaved(d ?? { ...draft, version: (base?.version ?? saved.version) + 1 });
      setDraft(null);
      setConflict(null);
      setStaleNotice(false);
      setMessage({ kind: "ok", text: "Dashboard saved." });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        const body = e.body as { current?: Dashboard } | undefined;
        let current = body?.current;
        if (!current) current = await client.get<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(saved.id)}`).catch(() => undefined);
        if (current) setConflict(current);
        else setMessage({ kind: "error", text: e.message });
      } else {
        setMessage({ kind: "error", text: errorMessage(e) });
      }
    } finally {
      setSaving(false);
    }
  };

  const copyToEdit = async () => {
    setMessage(null);
    try {
      const c = await client.post<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(saved.id)}/copy`, { title: `${saved.title} (copy)` });
      navigate(`/dashboards/${encodeURIComponent(c.slug || c.id)}?edit=1`);
    } catch (e) {
      setMessage({ kind: "error", text: errorMessage(e) });
    }
  };

  const discard = () => {
    if (dirty && !window.confirm("Discard your unsaved changes to this dashboard?")) return;
    setDraft(null);
    setConflict(null);
    setStaleNotice(false);
  };

  const configCard = configuring ? shown.cards.find((c) => c.id === configuring) : undefined;
  const configType = configCard ? byType.get(configCard.type) : undefined;
  const titleOf = (c: Dashboard["cards"][number]) => cardTitle(c, byType.get(c.type));

  return (
    <div className={`dashboard-view${editing ? " is-editing" : ""}`} data-cards-ready={ready} data-dashboard={saved.slug}>
      <div className="page-head dashboard-head">
        <div className="dashboard-title">
          <p className="crumbs">
            <Link href="/dashboards">Dashboards</Link>
          </p>
          <h1>
            {shown.title}
            {saved.read_only && (
              <span className="badge badge-muted ro-badge" title="Provisioned from dashboards-as-code: copy it to edit">
                Read-only
              </span>
            )}
          </h1>
          {shown.description && <p className="muted">{shown.description}</p>}
        </div>
        <div className="dashboard-tools" role="toolbar" aria-label="Dashboard">
          <LiveStatus state={status} />
          <TimeRangePicker value={range} onChange={setRange} label={editing ? "Dashboard time range (saved)" : "Time range"} />
          {editing ? (
            <>
              {dirty && (
                <span className="unsaved" role="status">
                  <span className="unsaved-dot" aria-hidden="true" /> Unsaved changes
                </span>
              )}
              <button type="button" className="btn" onClick={() => setCatalog(true)}>
                Add card
              </button>
              <button type="button" className="btn" onClick={discard} disabled={saving}>
                {dirty ? "Discard" : "Done"}
              </button>
              <button type="button" className="btn btn-primary" onClick={() => void save()} disabled={!dirty || saving}>
                {saving ? "Saving…" : "Save"}
              </button>
            </>
          ) : canEdit ? (
            saved.read_only ? (
              <button type="button" className="btn" onClick={() => void copyToEdit()}>
                Copy to edit
              </button>
            ) : (
              <button type="button" className="btn" onClick={() => setDraft(saved)}>
                Edit
              </button>
            )
          ) : null}
        </div>
      </div>

      {message && (
        <div className={message.kind === "ok" ? "notice" : "error-box"} role={message.kind === "ok" ? "status" : "alert"}>
          {message.text}
        </div>
      )}
      {staleNotice && !conflict && (
        <div className="notice" role="status">
          Someone else saved this dashboard while you were editing. Saving will show what they changed.
        </div>
      )}
      {conflict && draft && (
        <section className="conflict panel" role="alertdialog" aria-labelledby="conflict-title">
          <h2 id="conflict-title">This dashboard changed since you started editing</h2>
          <p className="muted">
            Version {conflict.version} was saved{conflict.updated_at ? ` at ${new Date(conflict.updated_at).toLocaleString()}` : ""}. What changed:
          </p>
          <ul>
            {describeChanges(saved, conflict, titleOf).map((l, i) => (
              <li key={i}>{l}</li>
            ))}
          </ul>
          <div className="form-actions">
            <button
              type="button"
              className="btn"
              onClick={() => {
                setSaved(conflict);
                setDraft(null);
                setConflict(null);
                setStaleNotice(false);
              }}
            >
              Reload theirs (discard mine)
            </button>
            <button type="button" className="btn btn-danger" onClick={() => void save(conflict)} disabled={saving}>
              Overwrite with mine
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => setConflict(null)}>
              Keep editing
            </button>
          </div>
        </section>
      )}
      {types.error && (
        <div className="error-box" role="alert">
          Could not load the card catalog: {types.error}
        </div>
      )}

      {shown.cards.length === 0 ? (
        <StateMessage
          kind="empty"
          title="This dashboard has no cards yet"
          action={
            editing ? (
              <button type="button" className="btn btn-primary" onClick={() => setCatalog(true)}>
                Add a card
              </button>
            ) : undefined
          }
        >
          {editing ? "Pick a card from the catalog: built-in cards and every running plugin's." : canEdit ? (saved.read_only ? "Copy it to add cards." : "Edit it to add cards from the catalog.") : "An editor can add cards to it."}
        </StateMessage>
      ) : (
        <DashboardGrid
          cards={shown.cards}
          editable={editing}
          onLayoutChange={(l) => setDraft((d) => (d ? applyLayout(d, l) : d))}
          renderCard={(cid) => {
            const c = shown.cards.find((x) => x.id === cid)!;
            const ct = byType.get(c.type);
            const title = cardTitle(c, ct);
            return catalogReady ? (
              <LiveCard
                card={c}
                cardType={types.data ? ct : { type: c.type, title: c.type, visualization: "table" }}
                range={c.time_range ?? range}
                refreshKey={keys[c.id] ?? 0}
                onOutcome={onOutcome}
                actions={
                  editing ? (
                    <span className="card-actions">
                      {ct && (
                        <button type="button" className="icon-btn" aria-label={`Configure ${title}`} title="Configure" onClick={() => setConfiguring(c.id)}>
                          <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4" /></svg>
                        </button>
                      )}
                      <button type="button" className="icon-btn" aria-label={`Duplicate ${title}`} title="Duplicate" onClick={() => setDraft((d) => d && duplicateCard(d, c.id))}>
                        <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M8 8h12v12H8zM4 16V4h12" /></svg>
                      </button>
                      <button type="button" className="icon-btn icon-btn-danger" aria-label={`Remove ${title}`} title="Remove" onClick={() => setDraft((d) => d && removeCard(d, c.id))}>
                        <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13" /></svg>
                      </button>
                    </span>
                  ) : undefined
                }
              />
            ) : (
              <section className="card" aria-label={title}>
                <header className="card-head">
                  <h3>{title}</h3>
                </header>
                <div className="card-body">
                  <StateMessage kind="loading" title="Loading…" />
                </div>
              </section>
            );
          }}
        />
      )}

      {catalog && draft && (
        <CardCatalog
          types={types.data?.card_types ?? []}
          plugins={plugins.data?.plugins ?? []}
          onClose={() => setCatalog(false)}
          onAdd={(ct, v) => {
            setDraft((d) => d && addCard(d, ct, v).dashboard);
            setCatalog(false);
          }}
        />
      )}
      {configCard && configType && draft && (
        <div className="catalog-dialog" role="dialog" aria-modal="true" aria-labelledby="configure-title" onKeyDown={(e) => e.key === "Escape" && setConfiguring(null)}>
          <div className="catalog-panel">
            <header className="catalog-head">
              <h2 id="configure-title">Configure “{titleOf(configCard)}”</h2>
              <button type="button" className="btn btn-ghost btn-small" onClick={() => setConfiguring(null)}>
                Close
              </button>
            </header>
            <div className="catalog-body">
              <CardSettings
                cardType={configType}
                initial={{ title: configCard.title, options: configCard.options, time_range: configCard.time_range }}
                submitLabel="Apply"
                onCancel={() => setConfiguring(null)}
                onSubmit={(v: CardSettingsValue) => {
                  setDraft((d) => d && updateCard(d, configCard.id, v));
                  setConfiguring(null);
                }}
              />
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
