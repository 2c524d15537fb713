import { useCallback, useEffect, useMemo, useRef } from "react";
import "../runs/runs.css";
import type { Plugin, Source } from "../api/types";
import { useResource } from "../auth/session";
import { Link } from "../components/Link";
import { Skeleton, StateMessage } from "../components/States";
import { navigate, useSearch, useTitle } from "../router";
import { PipelinesTable } from "../runs/PipelinesTable";
import { RunDetailView, safeUrl } from "../runs/RunDetailView";
import { RunFilterBar } from "../runs/RunFilters";
import { RunsTable } from "../runs/RunsTable";
import { eventMatches, filtersToSearch, hasFilters, parseFilters, runsRequest, PAGE_SIZE, type RunFilters } from "../runs/filters";
import { useRunChanges } from "../runs/live";
import type { PipelinePage, PipelineSummary, RunDetail, RunPage } from "../runs/types";
import { useKeysetList, type KeysetList } from "../runs/useKeysetList";

// The list the reader came from, so "← Runs" on a run goes back to it.
let lastRunsHref = "/runs";

/** Live updates come in bursts (a poll stores many runs): re-read at most this often. */
const REFRESH_COALESCE_MS = 1000;

function useCoalesced(fn: () => void): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, REFRESH_COALESCE_MS);
  }, []);
}

function useSourceNames() {
  const sources = useResource<{ sources: Source[] }>("/api/v1/sources?limit=500");
  const list = sources.data?.sources;
  const name = useCallback((id: string) => list?.find((s) => s.id === id)?.name ?? id, [list]);
  return { list, name };
}

function Tabs({ current }: { current: "runs" | "pipelines" }) {
  return (
    <nav className="view-tabs" aria-label="Explorer views">
      <Link href={lastRunsHref} aria-current={current === "runs" ? "page" : undefined}>
        Runs
      </Link>
      <Link href="/pipelines" aria-current={current === "pipelines" ? "page" : undefined}>
        Pipelines
      </Link>
    </nav>
  );
}

function Head({ current, live }: { current: "runs" | "pipelines"; live?: string }) {
  return (
    <div className="page-head">
      <div>
        <h1>Pipelines and runs</h1>
        <p className="muted">Every run PUOD collected from your sources, newest first. Filters are in the address: share it to share the view.</p>
      </div>
      <div className="page-head-side">
        {live && (
          <span className={`live live-${live}`} role="status" title={live === "open" ? "New and changed runs appear without a reload" : "Live updates reconnect by themselves; Refresh the page to see the latest runs meanwhile"}>
            {live === "open" ? "Live" : live === "connecting" ? "Connecting…" : "Live updates paused"}
          </span>
        )}
        <Tabs current={current} />
      </div>
    </div>
  );
}

function LoadMore<T>({ list, noun }: { list: KeysetList<T & { id: string }>; noun: string }) {
  const n = list.items?.length ?? 0;
  return (
    <div className="load-more">
      <span className="muted small" role="status">
        {n} {noun}
        {n === 1 ? "" : "s"} shown{list.next ? "" : n > 0 ? " · end of the list" : ""}
      </span>
      {list.moreError && (
        <span className="field-error" role="alert">
          {list.moreError}
        </span>
      )}
      {list.next && (
        <button type="button" className="btn" onClick={list.loadMore} disabled={list.loadingMore}>
          {list.loadingMore ? "Loading…" : list.moreError ? "Try again" : `Load more`}
        </button>
      )}
    </div>
  );
}

function RunsExplorer() {
  useTitle("Runs");
  const search = useSearch();
  const filters = useMemo(() => parseFilters(search), [search]);
  const key = filtersToSearch(filters);
  lastRunsHref = `/runs${key}`;
  const sources = useSourceNames();
  const pipelines = useResource<PipelinePage>("/api/v1/pipelines?limit=500");
  const setFilters = useCallback((f: RunFilters, opts?: { replace?: boolean }) => navigate(`/runs${filtersToSearch(f)}`, opts), []);

  const list = useKeysetList<RunPage["runs"][number], RunPage>(
    key,
    (cursor) => runsRequest(filters, { cursor, limit: PAGE_SIZE }),
    (p) => ({ items: p.runs, next: p.next_cursor }),
  );
  const refresh = useCoalesced(list.refresh);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const live = useRunChanges(
    useCallback(
      (c) => {
        if (eventMatches(c.tags, filtersRef.current)) refresh();
      },
      [refresh],
    ),
  );

  const filtered = hasFilters(filters);
  let body;
  if (list.error && !list.items) {
    body = (
      <StateMessage
        kind="error"
        title="Could not load the runs"
        action={
          <>
            <button type="button" className="btn" onClick={list.reload}>
              Retry
            </button>
            {filtered && (
              <button type="button" className="btn btn-ghost" onClick={() => setFilters({})}>
                Clear filters
              </button>
            )}
          </>
        }
      >
        {list.error}
      </StateMessage>
    );
  } else if (!list.items) {
    body = <Skeleton lines={6} />;
  } else if (list.items.length === 0) {
    body = filtered ? (
      <StateMessage
        kind="empty"
        title="No runs match these filters"
        action={
          <button type="button" className="btn" onClick={() => setFilters({})}>
            Clear filters
          </button>
        }
      >
        Widen the time range, or choose another state, source or pipeline.
      </StateMessage>
    ) : (
      <StateMessage kind="empty" title="No runs yet" action={<Link className="btn" href="/sources">Go to sources</Link>}>
        Runs appear here once a source has been polled. Add a source, or use “Test connection” on one to check it answers.
      </StateMessage>
    );
  } else {
    body = (
      <>
        <RunsTable runs={list.items} sourceName={sources.name} fresh={list.fresh} />
        <LoadMore list={list} noun="run" />
      </>
    );
  }

  return (
    <>
      <Head current="runs" live={live} />
      <RunFilterBar filters={filters} onChange={setFilters} sources={sources.list} pipelines={pipelines.data?.pipelines} />
      <div aria-busy={list.loading || undefined} className="runs-body">
        {body}
      </div>
    </>
  );
}

function PipelinesView() {
  useTitle("Pipelines");
  const search = useSearch();
  const filters = useMemo(() => {
    const f = parseFilters(search);
    return { source: f.source, q: f.q };
  }, [search]);
  const key = filtersToSearch(filters);
  const sources = useSourceNames();
  const setFilters = useCallback((f: RunFilters, opts?: { replace?: boolean }) => navigate(`/pipelines${filtersToSearch({ source: f.source, q: f.q })}`, opts), []);
  const list = useKeysetList<PipelineSummary, PipelinePage>(
    key,
    (cursor) => {
      const p = new URLSearchParams();
      if (filters.source) p.set("source", filters.source);
      if (filters.q) p.set("q", filters.q);
      p.set("limit", String(PAGE_SIZE));
      if (cursor) p.set("cursor", cursor);
      return `/api/v1/pipelines?${p.toString()}`;
    },
    (p) => ({ items: p.pipelines, next: p.next_cursor }),
  );
  const refresh = useCoalesced(list.refresh);
  const live = useRunChanges(useCallback(() => refresh(), [refresh]));
  const filtered = hasFilters(filters);

  let body;
  if (list.error && !list.items) {
    body = (
      <StateMessage kind="error" title="Could not load the pipelines" action={<button type="button" className="btn" onClick={list.reload}>Retry</button>}>
        {list.error}
      </StateMessage>
    );
  } else if (!list.items) {
    body = <Skeleton lines={5} />;
  } else if (list.items.length === 0) {
    body = filtered ? (
      <StateMessage kind="empty" title="No pipelines match" action={<button type="button" className="btn" onClick={() => setFilters({})}>Clear filters</button>} />
    ) : (
      <StateMessage kind="empty" title="No pipelines yet" action={<Link className="btn" href="/sources">Go to sources</Link>}>
        A pipeline appears when PUOD first sees one of its runs.
      </StateMessage>
    );
  } else {
    body = (
      <>
        <PipelinesTable pipelines={list.items} sourceName={sources.name} />
        <LoadMore list={list} noun="pipeline" />
      </>
    );
  }
  return (
    <>
      <Head current="pipelines" live={live} />
      <RunFilterBar filters={filters} onChange={setFilters} sources={sources.list} pipelines={undefined} fields={["q", "source"]} searchHelp="Pipeline name or id" />
      {body}
    </>
  );
}

function RunDetailPage({ id }: { id: string }) {
  const run = useResource<RunDetail>(`/api/v1/runs/${encodeURIComponent(id)}`);
  const sources = useResource<{ sources: Source[] }>("/api/v1/sources?limit=500");
  const plugins = useResource<{ plugins: Plugin[] }>("/api/v1/plugins");
  const r = run.data?.id === id ? run.data : undefined;
  useTitle(r ? `${r.pipeline_name || r.external_id} run` : "Run");
  const refresh = useCoalesced(run.reload);
  const current = useRef(r);
  current.current = r;
  useRunChanges(
    useCallback(
      (c) => {
        const cur = current.current;
        if (c.payload.run_id ? c.payload.run_id === id : !!cur?.pipeline_id && c.tags.includes(`pipeline:${cur.pipeline_id}`)) refresh();
      },
      [id, refresh],
    ),
  );

  if (run.error && !r) {
    const notFound = /not found|404/i.test(run.error);
    return (
      <>
        <nav aria-label="Breadcrumb" className="crumbs">
          <Link href={lastRunsHref}>← Runs</Link>
        </nav>
        <StateMessage
          kind="error"
          title={notFound ? "This run does not exist in this profile" : "Could not load the run"}
          action={
            notFound ? (
              <Link className="btn" href={lastRunsHref}>
                Back to runs
              </Link>
            ) : (
              <button type="button" className="btn" onClick={run.reload}>
                Retry
              </button>
            )
          }
        >
          {run.error}
        </StateMessage>
      </>
    );
  }
  if (!r) {
    return (
      <>
        <nav aria-label="Breadcrumb" className="crumbs">
          <Link href={lastRunsHref}>← Runs</Link>
        </nav>
        <StateMessage kind="loading" title="Loading the run…" />
      </>
    );
  }
  const source = sources.data?.sources.find((s) => s.id === r.source_id);
  const plugin = source && plugins.data?.plugins.find((p) => p.id === source.plugin_id);
  const url = safeUrl(r.url);
  const vendor = plugin?.name || (url ? new URL(url).hostname : "the vendor console");
  return <RunDetailView run={r} sourceName={source?.name ?? r.source_id} vendor={vendor} backHref={lastRunsHref} />;
}

/** The pipelines and runs explorer: /runs, /runs/<id> and /pipelines. */
export default function RunsPage({ path }: { path: string }) {
  if (path === "/pipelines") return <PipelinesView />;
  const m = /^\/runs\/([^/]+)\/?$/.exec(path);
  if (m) return <RunDetailPage key={m[1]} id={decodeURIComponent(m[1]!)} />;
  return <RunsExplorer />;
}
