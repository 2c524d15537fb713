import { useMemo, useState } from "react";
import type { CardType, Plugin } from "../api/types";
import { CardSettings, type CardSettingsValue } from "./CardSettings";

const vizLabel: Record<string, string> = {
  stat: "Stat",
  timeseries: "Time series",
  bar: "Bar chart",
  table: "Table",
  "status-grid": "Status grid",
};

/** The plugin a card type comes from ("puod" for the host's built-ins). */
export function pluginOf(ct: CardType): string {
  return ct.plugin_id || (ct.type.includes("/") ? ct.type.split("/")[0]! : ct.type.split(".")[0] || "puod");
}

/**
 * The card catalog of the add-card dialog: every card type the host and
 * its running plugins offer, grouped by plugin and searchable; choosing one
 * opens its settings form.
 */
export function CardCatalog({ types, plugins, onAdd, onClose }: { types: CardType[]; plugins: Plugin[]; onAdd: (ct: CardType, v: CardSettingsValue) => void; onClose: () => void }) {
  const [q, setQ] = useState("");
  const [chosen, setChosen] = useState<CardType | null>(null);
  const groups = useMemo(() => {
    const names = new Map(plugins.map((p) => [p.id, p.name]));
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const by = new Map<string, CardType[]>();
    for (const ct of types) {
      const hay = `${ct.title} ${ct.description ?? ""} ${ct.type} ${ct.visualization} ${names.get(pluginOf(ct)) ?? ""}`.toLowerCase();
      if (!words.every((w) => hay.includes(w))) continue;
      const id = pluginOf(ct);
      by.set(id, [...(by.get(id) ?? []), ct]);
    }
    return [...by]
      .map(([id, list]) => ({ id, name: id === "puod" ? "Built in" : (names.get(id) ?? id), list }))
      .sort((a, b) => (a.id === "puod" ? -1 : b.id === "puod" ? 1 : a.name.localeCompare(b.name)));
  }, [types, plugins, q]);

  return (
    <div className="catalog-dialog" role="dialog" aria-modal="true" aria-labelledby="catalog-title" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="catalog-panel">
        <header className="catalog-head">
          <h2 id="catalog-title">{chosen ? `Add “${chosen.title}”` : "Add a card"}</h2>
          <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close the card catalog">
            Close
          </button>
        </header>
        {chosen ? (
          <div className="catalog-body">
            <p className="muted">
              {chosen.description} <span className="chip chip-viz">{vizLabel[chosen.visualization] ?? chosen.visualization}</span>
            </p>
            <CardSettings cardType={chosen} submitLabel="Add to dashboard" onSubmit={(v) => onAdd(chosen, v)} onCancel={() => setChosen(null)} />
          </div>
        ) : (
          <div className="catalog-body">
            <label className="visually-hidden" htmlFor="catalog-search">
              Search card types
            </label>
            <input id="catalog-search" type="search" className="catalog-search" placeholder="Search card types (title, plugin, visualization)…" value={q} onChange={(e) => setQ(e.target.value)} autoFocus />
            {groups.length === 0 && <p className="muted catalog-none">{types.length === 0 ? "No card types: no plugin that offers cards is running." : `No card type matches “${q}”.`}</p>}
            {groups.map((g) => (
              <section key={g.id} className="catalog-section" aria-label={g.name}>
                <h3>
                  {g.name} <span className="muted small">· {g.list.length}</span>
                </h3>
                <ul className="catalog-list">
                  {g.list.map((ct) => (
                    <li key={ct.type}>
                      <button type="button" className="catalog-item" data-card-type={ct.type} onClick={() => setChosen(ct)}>
                        <span className="catalog-item-head">
                          <strong>{ct.title}</strong>
                          <span className="chip chip-viz">{vizLabel[ct.visualization] ?? ct.visualization}</span>
                        </span>
                        {ct.description && <span className="catalog-item-desc">{ct.description}</span>}
                      </button>
                    </li>
                  ))}
                </ul>
              </section>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}
