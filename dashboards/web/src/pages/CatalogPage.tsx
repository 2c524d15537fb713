import { useEffect, useMemo } from "react";
import type { CardType, Plugin } from "../api/types";
import { useResource } from "../auth/session";
import { kindOf, type JSONSchema } from "../components/schema";
import { Skeleton, StateMessage } from "../components/States";
import { humanize } from "../viz/frame";
import { useTitle } from "../router";

const vizLabel: Record<string, string> = {
  stat: "Stat",
  timeseries: "Time series",
  bar: "Bar chart",
  table: "Table",
  "status-grid": "Status grid",
};

function VizIcon({ viz }: { viz: string }) {
  const d: Record<string, string> = {
    stat: "M4 17h4V9H4zM10 17h4V5h-4zM16 17h4v-5h-4z",
    timeseries: "M3 17l5-6 4 3 6-8 3 3",
    bar: "M4 6h12M4 12h16M4 18h8",
    table: "M3 5h18v14H3zM3 10h18M3 15h18M9 5v14",
    "status-grid": "M4 5h4v4H4zM10 5h4v4h-4zM16 5h4v4h-4zM4 13h4v4H4zM10 13h4v4h-4zM16 13h4v4h-4z",
  };
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" strokeLinecap="round">
      <path d={d[viz] ?? "M4 4h16v16H4z"} />
    </svg>
  );
}

function optionRows(schema: JSONSchema | undefined) {
  const props = schema?.properties ?? {};
  const req = schema?.required ?? [];
  return Object.entries(props).map(([name, s]) => ({
    name,
    title: s.title ?? humanize(name),
    kind: kindOf(s),
    required: req.includes(name),
    def: s.default,
    enum: s.enum,
    description: s.description,
    range: [s.minimum !== undefined ? `≥ ${s.minimum}` : "", s.maximum !== undefined ? `≤ ${s.maximum}` : ""].filter(Boolean).join(", "),
  }));
}

function CardTypeItem({ ct }: { ct: CardType }) {
  const opts = optionRows(ct.options_schema);
  const described = opts.some((o) => o.description);
  return (
    <li className="panel card-type" id={ct.type} data-card-type={ct.type}>
      <header className="panel-head">
        <div>
          <h3>{ct.title}</h3>
          <code className="muted">{ct.type}</code>
        </div>
        <span className="chip chip-viz" title="Visualization">
          <VizIcon viz={ct.visualization} /> {vizLabel[ct.visualization] ?? ct.visualization}
        </span>
      </header>
      {ct.description && <p>{ct.description}</p>}
      <dl className="facts facts-inline">
        {ct.default_size && (
          <div>
            <dt>Default size</dt>
            <dd>
              {ct.default_size.w} × {ct.default_size.h}
            </dd>
          </div>
        )}
        <div>
          <dt>Options</dt>
          <dd>{opts.length || "none"}</dd>
        </div>
      </dl>
      {opts.length > 0 && (
        <table className="options-table">
          <caption className="visually-hidden">Options of {ct.title}</caption>
          <thead>
            <tr>
              <th scope="col">Option</th>
              <th scope="col">Type</th>
              <th scope="col">Default</th>
              {described && <th scope="col">Description</th>}
            </tr>
          </thead>
          <tbody>
            {opts.map((o) => (
              <tr key={o.name}>
                <th scope="row">
                  <code>{o.name}</code>
                  {o.required && <span className="req"> (required)</span>}
                </th>
                <td>
                  {o.enum ? o.enum.map(String).join(" | ") : o.kind}
                  {o.range && <span className="muted"> ({o.range})</span>}
                </td>
                <td>{o.def === undefined ? "—" : <code>{JSON.stringify(o.def)}</code>}</td>
                {described && <td>{o.description ?? ""}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}

export function CatalogPage() {
  useTitle("Card catalog");
  const types = useResource<{ card_types: CardType[] }>("/api/v1/card-types");
  const plugins = useResource<{ plugins: Plugin[] }>("/api/v1/plugins");

  const groups = useMemo(() => {
    const names = new Map((plugins.data?.plugins ?? []).map((p) => [p.id, p.name]));
    const by = new Map<string, CardType[]>();
    for (const ct of types.data?.card_types ?? []) {
      const id = ct.plugin_id || ct.type.split("/")[0] || "builtin";
      by.set(id, [...(by.get(id) ?? []), ct]);
    }
    return [...by]
      .map(([id, list]) => ({ id, name: id === "builtin" ? "Built in" : (names.get(id) ?? id), list }))
      .sort((a, b) => (a.id === "builtin" ? -1 : b.id === "builtin" ? 1 : a.name.localeCompare(b.name)));
  }, [types.data, plugins.data]);

  useEffect(() => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (id && types.data) document.getElementById(id)?.scrollIntoView({ block: "start" });
  }, [types.data]);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Card catalog</h1>
          <p className="muted">Every card type the host and its running plugins offer, grouped by plugin. A card is drawn by the visualization it declares.</p>
        </div>
      </div>
      {types.error && !types.data ? (
        <StateMessage kind="error" title="Could not load the card catalog" action={<button className="btn" onClick={types.reload}>Retry</button>}>
          {types.error}
        </StateMessage>
      ) : !types.data ? (
        <Skeleton lines={4} />
      ) : groups.length === 0 ? (
        <StateMessage kind="empty" title="No card types yet">
          Card types come from running connector plugins. Check the Plugins page.
        </StateMessage>
      ) : (
        groups.map((g) => (
          <section key={g.id} className="catalog-group" aria-labelledby={`group-${g.id}`}>
            <h2 id={`group-${g.id}`}>
              {g.name} <span className="muted small">{g.id !== g.name && <code>{g.id}</code>} · {g.list.length} card type{g.list.length === 1 ? "" : "s"}</span>
            </h2>
            <ul className="card-type-list">
              {g.list.map((ct) => (
                <CardTypeItem key={ct.type} ct={ct} />
              ))}
            </ul>
          </section>
        ))
      )}
    </>
  );
}
