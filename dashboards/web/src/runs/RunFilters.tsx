import { useEffect, useId, useRef, useState } from "react";
import type { Source } from "../api/types";
import { stateLabel } from "../viz/palette";
import { RANGES, fromLocalInput, hasFilters, toLocalInput, type RunFilters } from "./filters";
import { RUN_STATES, type PipelineSummary } from "./types";

export interface RunFilterBarProps {
  filters: RunFilters;
  /** replace: change the URL without a history entry (typing). */
  onChange: (f: RunFilters, opts?: { replace?: boolean }) => void;
  sources: Source[] | undefined;
  pipelines: PipelineSummary[] | undefined;
  /** Which filters to show; the pipelines view has only source and text. */
  fields?: ("source" | "pipeline" | "state" | "time" | "q")[];
  searchHelp?: string;
}

/** Text search waits for a pause in typing before it changes the URL. */
const TYPE_DELAY_MS = 350;

export function RunFilterBar({ filters, onChange, sources, pipelines, fields = ["q", "source", "pipeline", "state", "time"], searchHelp = "Run id, pipeline name or error text" }: RunFilterBarProps) {
  const id = useId().replace(/:/g, "");
  const [text, setText] = useState(filters.q ?? "");
  const latest = useRef({ filters, onChange });
  latest.current = { filters, onChange };
  const custom = !filters.range && !!(filters.from || filters.to);
  const [showCustom, setShowCustom] = useState(custom);

  // The URL changed by itself (back, a link): show its text.
  useEffect(() => setText(filters.q ?? ""), [filters.q]);
  useEffect(() => setShowCustom(!filters.range && !!(filters.from || filters.to)), [filters.range, filters.from, filters.to]);

  useEffect(() => {
    const q = text.trim() || undefined;
    if (q === latest.current.filters.q) return;
    const t = setTimeout(() => latest.current.onChange({ ...latest.current.filters, q }, { replace: true }), TYPE_DELAY_MS);
    return () => clearTimeout(t);
  }, [text]);

  const set = (patch: Partial<RunFilters>) => onChange({ ...filters, q: text.trim() || undefined, ...patch });
  const show = (f: string) => fields.includes(f as never);
  const has = hasFilters(filters);

  const pipelineOptions = (pipelines ?? []).filter((p) => !filters.source || p.source_id === filters.source);
  const unknownPipeline = filters.pipeline && pipelines && !pipelines.some((p) => p.id === filters.pipeline);
  const sourceName = (sid: string) => sources?.find((s) => s.id === sid)?.name;

  return (
    <form
      className="filter-bar panel"
      role="search"
      aria-label="Filter runs"
      onSubmit={(e) => {
        e.preventDefault();
        set({});
      }}
    >
      {show("q") && (
        <div className="filter filter-q">
          <label htmlFor={`${id}-q`}>Search</label>
          <input id={`${id}-q`} type="search" value={text} placeholder={searchHelp} aria-describedby={`${id}-q-help`} onChange={(e) => setText(e.target.value)} />
          <span id={`${id}-q-help`} className="visually-hidden">
            Finds {searchHelp.toLowerCase()}; the list updates as you type.
          </span>
        </div>
      )}
      {show("source") && (
        <div className="filter">
          <label htmlFor={`${id}-source`}>Source</label>
          <select
            id={`${id}-source`}
            value={filters.source ?? ""}
            onChange={(e) => {
              const source = e.target.value || undefined;
              const keep = filters.pipeline && pipelines?.find((p) => p.id === filters.pipeline)?.source_id === source;
              set({ source, pipeline: keep || !source ? filters.pipeline : undefined });
            }}
          >
            <option value="">All sources</option>
            {filters.source && sources && !sources.some((s) => s.id === filters.source) && <option value={filters.source}>{filters.source}</option>}
            {(sources ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
      )}
      {show("pipeline") && (
        <div className="filter">
          <label htmlFor={`${id}-pipeline`}>Pipeline</label>
          <select id={`${id}-pipeline`} value={filters.pipeline ?? ""} onChange={(e) => set({ pipeline: e.target.value || undefined })}>
            <option value="">All pipelines</option>
            {unknownPipeline && <option value={filters.pipeline}>{filters.pipeline}</option>}
            {pipelineOptions.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {!filters.source && sourceName(p.source_id) ? ` (${sourceName(p.source_id)})` : ""}
              </option>
            ))}
          </select>
        </div>
      )}
      {show("state") && (
        <div className="filter">
          <label htmlFor={`${id}-state`}>State</label>
          <select id={`${id}-state`} value={filters.state ?? ""} onChange={(e) => set({ state: e.target.value || undefined })}>
            <option value="">Any state</option>
            {filters.state && !RUN_STATES.includes(filters.state as never) && <option value={filters.state}>{filters.state}</option>}
            {RUN_STATES.map((s) => (
              <option key={s} value={s}>
                {stateLabel[s] ?? s}
              </option>
            ))}
          </select>
        </div>
      )}
      {show("time") && (
        <div className="filter">
          <label htmlFor={`${id}-range`}>Started</label>
          <select
            id={`${id}-range`}
            value={filters.range ?? (showCustom ? "custom" : "")}
            onChange={(e) => {
              const v = e.target.value;
              if (v === "custom") {
                setShowCustom(true);
                // Start the custom range from the relative one chosen before.
                const r = RANGES.find((x) => x.value === filters.range);
                if (r) set({ range: undefined, from: new Date(Date.now() - r.ms).toISOString(), to: undefined });
                else if (filters.range) set({ range: undefined });
                return;
              }
              setShowCustom(false);
              set({ range: v || undefined, from: undefined, to: undefined });
            }}
          >
            <option value="">Any time</option>
            {RANGES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
            <option value="custom">Custom range…</option>
          </select>
        </div>
      )}
      {show("time") && showCustom && (
        <>
          <div className="filter">
            <label htmlFor={`${id}-from`}>From</label>
            <input id={`${id}-from`} type="datetime-local" value={toLocalInput(filters.from)} max={toLocalInput(filters.to) || undefined} onChange={(e) => set({ range: undefined, from: fromLocalInput(e.target.value) })} />
          </div>
          <div className="filter">
            <label htmlFor={`${id}-to`}>To</label>
            <input id={`${id}-to`} type="datetime-local" value={toLocalInput(filters.to)} min={toLocalInput(filters.from) || undefined} onChange={(e) => set({ range: undefined, to: fromLocalInput(e.target.value) })} />
          </div>
        </>
      )}
      {has && (
        <div className="filter filter-clear">
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => {
              setText("");
              setShowCustom(false);
              onChange({});
            }}
          >
            Clear filters
          </button>
        </div>
      )}
    </form>
  );
}
