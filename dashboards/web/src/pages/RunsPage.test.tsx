import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { SessionProvider } from "../auth/session";
import { usePath } from "../router";
import type { RunChange } from "../runs/live";
import type { Run, RunDetail } from "../runs/types";
import RunsPage from "./RunsPage";

// The live-update hook is replaced so a test can deliver run.changed events.
const live = vi.hoisted(() => ({ handlers: new Set<(c: RunChange) => void>() }));
vi.mock("../runs/live", async () => {
  const { useEffect } = await import("react");
  return {
    useRunChanges(fn: (c: RunChange) => void) {
      useEffect(() => {
        live.handlers.add(fn);
        return () => void live.handlers.delete(fn);
      }, [fn]);
    },
  };
});

function run(i: number, patch: Partial<Run> = {}): Run {
  return {
    id: `r${i}`,
    source_id: "s1",
    pipeline_id: "p1",
    pipeline_name: "etl_vendas_daily",
    external_id: `ext-${i}`,
    state: "succeeded",
    started_at: "2026-03-10T10:00:00Z",
    ended_at: "2026-03-10T10:01:23Z",
    duration_ms: 83_000,
    attempt: 1,
    attributes: {},
    sort_at: "2026-03-10T10:00:00Z",
    updated_at: "2026-03-10T10:01:23Z",
    ...patch,
  };
}

const sources = { sources: [{ id: "s1", plugin_id: "puod.databricks", name: "Databricks prod" }, { id: "s2", plugin_id: "puod.airflow", name: "Airflow" }], next_cursor: "" };
const plugins = { plugins: [{ id: "puod.databricks", name: "Databricks", version: "1", kinds: ["connector"], state: "running", pid: 1, restarts: 0, last_error: "" }] };
const pipelines = {
  pipelines: [
    { id: "p1", source_id: "s1", external_id: "job-1", name: "etl_vendas_daily", tags: [], attributes: {}, last_run: { id: "r1", external_id: "ext-1", state: "failed", started_at: "2026-03-10T10:00:00Z" }, window_runs: 10, success_rate: 0.9, median_duration_ms: 60000 },
    { id: "p2", source_id: "s2", external_id: "dag_x", name: "dag_x", tags: [], attributes: {}, last_run: null, window_runs: 0, success_rate: null, median_duration_ms: null },
  ],
  next_cursor: "",
};

type Handler = (url: URL) => unknown | Promise<unknown>;

function server(routes: Record<string, Handler>) {
  const calls: URL[] = [];
  const fetch = vi.fn(async (input: string) => {
    const url = new URL(input, "http://puod.test");
    calls.push(url);
    const h = routes[url.pathname] ?? (url.pathname === "/api/v1/sources" ? () => sources : url.pathname === "/api/v1/plugins" ? () => plugins : url.pathname === "/api/v1/pipelines" ? () => pipelines : undefined);
    if (!h) return new Response(JSON.stringify({ error: { code: "not_found", message: "run: not found" } }), { status: 404 });
    const body = await h(url);
    if (body instanceof Response) return body;
    return new Response(JSON.stringify(body), { status: 200 });
  });
  const runCalls = () => calls.filter((u) => u.pathname === "/api/v1/runs");
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, runCalls };
}

function Routed() {
  // As App does: the page follows the path.
  return <RunsPage path={usePath()} />;
}

function renderAt(url: string, srv: ReturnType<typeof server>) {
  window.history.replaceState(null, "", url);
  return render(
    <SessionProvider client={new ApiClient({ fetch: srv.fetch })}>
      <Routed />
    </SessionProvider>,
  );
}

describe("RunsPage: runs list", () => {
  beforeEach(() => live.handlers.clear());

  it("sends the URL's filters to the API and keeps the URL in step with the form", async () => {
    const user = userEvent.setup();
    const srv = server({ "/api/v1/runs": () => ({ runs: [run(1, { state: "failed", error_message: "OOM in stage 3" })], next_cursor: "" }) });
    renderAt("/runs?source=s1&state=failed&q=vendas", srv);

    const row = await screen.findByRole("row", { name: /etl_vendas_daily/ });
    expect(within(row).getByText("Failed")).toHaveClass("run-failed");
    expect(within(row).getByText("Databricks prod")).toBeInTheDocument();
    expect(within(row).getByText("1m 23s")).toBeInTheDocument();
    expect(within(row).getByText("OOM in stage 3")).toBeInTheDocument();
    expect(within(row).getByRole("link", { name: "etl_vendas_daily" })).toHaveAttribute("href", "/runs/r1");
    const first = srv.runCalls()[0]!;
    expect(Object.fromEntries(first.searchParams)).toEqual({ source: "s1", state: "failed", q: "vendas", limit: "50" });
    expect(screen.getByLabelText("State")).toHaveValue("failed");
    expect(screen.getByLabelText("Source")).toHaveValue("s1");
    expect(screen.getByLabelText("Search")).toHaveValue("vendas");

    // The pipeline list follows the source.
    const pipelineOptions = within(screen.getByLabelText("Pipeline")).getAllByRole("option").map((o) => o.textContent);
    expect(pipelineOptions).toEqual(["All pipelines", "etl_vendas_daily"]);

    await user.selectOptions(screen.getByLabelText("State"), "Timed out");
    await waitFor(() => expect(window.location.search).toBe("?source=s1&state=timed_out&q=vendas"));
    await waitFor(() => expect(srv.runCalls().at(-1)!.searchParams.get("state")).toBe("timed_out"));

    await user.selectOptions(screen.getByLabelText("Started"), "Last 24 hours");
    await waitFor(() => expect(window.location.search).toContain("range=24h"));
    const withRange = srv.runCalls().at(-1)!;
    const from = Date.parse(withRange.searchParams.get("from")!);
    expect(Math.abs(Date.now() - 86_400_000 - from)).toBeLessThan(60_000);
    expect(withRange.searchParams.has("range")).toBe(false);

    // Typing searches after a pause, replacing the history entry.
    const len = window.history.length;
    await user.clear(screen.getByLabelText("Search"));
    await user.type(screen.getByLabelText("Search"), "oom");
    await waitFor(() => expect(srv.runCalls().at(-1)!.searchParams.get("q")).toBe("oom"));
    expect(window.history.length).toBe(len);

    await user.click(screen.getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(window.location.search).toBe(""));
    await waitFor(() => expect(srv.runCalls().at(-1)!.search).toBe("?limit=50"));
  });

  it("loads more with the API's cursor and says when the list ends", async () => {
    const user = userEvent.setup();
    const srv = server({
      "/api/v1/runs": (u) => {
        const c = u.searchParams.get("cursor");
        if (!c) return { runs: [run(1), run(2)], next_cursor: "c1" };
        if (c === "c1") return { runs: [run(3)], next_cursor: "c2" };
        return { runs: [run(4, { state: "running", duration_ms: undefined, ended_at: undefined })], next_cursor: "" };
      },
    });
    renderAt("/runs?state=succeeded", srv);
    await screen.findByText("ext-2");
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await screen.findByText("ext-3");
    const second = srv.runCalls()[1]!;
    expect(second.searchParams.get("cursor")).toBe("c1");
    expect(second.searchParams.get("state")).toBe("succeeded");
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await screen.findByText("ext-4");
    expect(srv.runCalls()[2]!.searchParams.get("cursor")).toBe("c2");
    expect(screen.getAllByRole("row")).toHaveLength(5); // header + 4
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    expect(screen.getByText(/4 runs shown · end of the list/)).toBeInTheDocument();
    expect(screen.getByText(/so far$/)).toBeInTheDocument();
  });

  it("re-reads the first page on a matching run.changed and keeps later pages", async () => {
    const user = userEvent.setup();
    let changed = false;
    const srv = server({
      "/api/v1/runs": (u) => {
        if (u.searchParams.get("cursor") === "c1") return { runs: [run(3)], next_cursor: "" };
        return changed
          ? { runs: [run(9, { state: "failed", updated_at: "2026-03-10T11:00:00Z" }), run(1), run(2, { state: "failed", updated_at: "2026-03-10T11:00:00Z" })], next_cursor: "c1x" }
          : { runs: [run(1), run(2)], next_cursor: "c1" };
      },
    });
    renderAt("/runs?source=s1", srv);
    await screen.findByText("ext-2");
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await screen.findByText("ext-3");
    const before = srv.runCalls().length;

    // Another source's run: nothing to re-read.
    act(() => live.handlers.forEach((h) => h({ tags: ["runs", "source:s2", "pipeline:p2"], payload: { run_id: "x" } })));
    await new Promise((r) => setTimeout(r, 1200));
    expect(srv.runCalls().length).toBe(before);

    changed = true;
    act(() => live.handlers.forEach((h) => h({ tags: ["runs", "source:s1", "pipeline:p1"], payload: { run_id: "r9" } })));
    await screen.findByText("ext-9", {}, { timeout: 3000 });
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows.map((r) => r.getAttribute("data-run"))).toEqual(["r9", "r1", "r2", "r3"]);
    expect(rows[0]).toHaveClass("row-fresh");
    expect(rows[1]).not.toHaveClass("row-fresh");
    expect(within(rows[2]!).getByText("Failed")).toBeInTheDocument();
  });

  it("shows designed empty and error states", async () => {
    const user = userEvent.setup();
    let fail = true;
    const srv = server({
      "/api/v1/runs": () =>
        fail
          ? new Response(JSON.stringify({ error: { code: "invalid", message: "invalid query parameter state: must be one of queued, running" } }), { status: 400 })
          : { runs: [], next_cursor: "" },
    });
    renderAt("/runs?state=exploded", srv);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not load the runs");
    expect(alert).toHaveTextContent("must be one of");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Clear filters" }));
    expect(await screen.findByText("No runs yet")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to sources" })).toHaveAttribute("href", "/sources");

    window.history.pushState(null, "", "/runs?state=cancelled");
    act(() => window.dispatchEvent(new PopStateEvent("popstate")));
    expect(await screen.findByText("No runs match these filters")).toBeInTheDocument();
  });
});

describe("RunsPage: run detail", () => {
  const detail: RunDetail = {
    ...run(7, { state: "failed", raw_state: "INTERNAL_ERROR", error_message: "Job aborted: stage 3 ran out of memory", url: "https://adb-1.azuredatabricks.net/#job/1/run/7", attempt: 2 }),
    queued_at: "2026-03-10T09:59:00Z",
    attributes: { cluster: "etl-large", triggered_by: "schedule" },
    metrics: { rows_written: 125000 },
    tasks: [
      { external_id: "t1", name: "extract", state: "succeeded", raw_state: "SUCCESS", started_at: "2026-03-10T10:00:00Z", ended_at: "2026-03-10T10:00:30Z" },
      { external_id: "t2", name: "transform_vendas", state: "failed", raw_state: "FAILED", started_at: "2026-03-10T10:00:30Z", ended_at: "2026-03-10T10:01:23Z", attempt: 2, error_message: "OutOfMemoryError" },
    ],
  };

  it("shows state, vendor state, times, error, attributes, metrics, tasks and the vendor link", async () => {
    const srv = server({ "/api/v1/runs/r7": () => detail });
    renderAt("/runs/r7", srv);
    const h1 = await screen.findByRole("heading", { level: 1, name: "etl_vendas_daily" });
    const article = h1.closest("article")!;
    expect(within(article).getAllByText("Failed")[0]).toHaveClass("run-failed");
    expect(screen.getByTestId("raw-state")).toHaveTextContent("INTERNAL_ERROR");
    expect(screen.getByRole("region", { name: "Error" })).toHaveTextContent("Job aborted: stage 3 ran out of memory");

    const link = await screen.findByRole("link", { name: /Open in Databricks/ });
    expect(link).toHaveAttribute("href", "https://adb-1.azuredatabricks.net/#job/1/run/7");
    expect(link).toHaveAttribute("target", "_blank");
    expect(link.getAttribute("rel")).toContain("noopener");

    const timing = screen.getByRole("region", { name: "Timing" });
    expect(within(timing).getByText("1m 23s")).toBeInTheDocument();
    expect(within(timing).getByText("2")).toBeInTheDocument();
    expect(within(timing).getByText("Started").nextElementSibling!.querySelector("time")).toHaveAttribute("dateTime", "2026-03-10T10:00:00Z");

    const attrs = screen.getByRole("region", { name: "Attributes" });
    expect(within(attrs).getByText("cluster").nextElementSibling).toHaveTextContent("etl-large");
    expect(within(screen.getByRole("region", { name: "Metrics" })).getByText("Rows written").nextElementSibling!.textContent).toMatch(/125.?000/);

    const tasks = screen.getByRole("region", { name: /Tasks/ });
    const rows = within(tasks).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(within(rows[1]!).getByRole("rowheader")).toHaveTextContent("transform_vendas");
    expect(within(rows[1]!).getByText("Failed")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("OutOfMemoryError")).toBeInTheDocument();
    expect(within(rows[0]!).getByText("30 s")).toBeInTheDocument();

    expect(screen.getByRole("link", { name: "All runs of etl_vendas_daily" })).toHaveAttribute("href", "/runs?pipeline=p1");
    expect(document.title).toBe("etl_vendas_daily run · PUOD");
  });

  it("never links a vendor url that is not http(s), and says when there is none", async () => {
    const srv = server({ "/api/v1/runs/r7": () => ({ ...detail, url: "javascript:alert(1)", error_message: undefined, tasks: [], attributes: {}, metrics: undefined }) });
    renderAt("/runs/r7", srv);
    await screen.findByRole("heading", { level: 1 });
    expect(screen.queryByRole("link", { name: /Open in/ })).toBeNull();
    expect(screen.getByText("The vendor link of this run is not a web address.")).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Error" })).toBeNull();
    expect(screen.getByText(/has no tasks/)).toBeInTheDocument();
    expect(screen.getByText(/no attributes/)).toBeInTheDocument();
  });

  it("says plainly when the run does not exist", async () => {
    const srv = server({});
    renderAt("/runs/nope", srv);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("This run does not exist in this profile");
    expect(within(alert).getByRole("link", { name: "Back to runs" })).toHaveAttribute("href", expect.stringMatching(/^\/runs/));
  });

  it("re-reads the run on its run.changed", async () => {
    let state = "running";
    const srv = server({ "/api/v1/runs/r7": () => ({ ...detail, state, duration_ms: undefined, ended_at: undefined }) });
    renderAt("/runs/r7", srv);
    await screen.findByText("Running");
    state = "failed";
    act(() => live.handlers.forEach((h) => h({ tags: ["runs", "source:s1", "pipeline:p1"], payload: { run_id: "r7", state: "failed" } })));
    expect(await screen.findByText("Failed", { selector: ".run-head .run-state" }, { timeout: 3000 })).toBeInTheDocument();
  });
});

describe("RunsPage: pipelines", () => {
  it("lists pipelines with their last state linking to the run and to their runs", async () => {
    const srv = server({});
    renderAt("/pipelines", srv);
    const row = await screen.findByRole("row", { name: /etl_vendas_daily/ });
    expect(within(row).getByRole("link", { name: "Last run: failed" })).toHaveAttribute("href", "/runs/r1");
    expect(within(row).getByRole("link", { name: "Runs of etl_vendas_daily" })).toHaveAttribute("href", "/runs?pipeline=p1");
    expect(within(row).getByText("90 %")).toBeInTheDocument();
    const other = screen.getByRole("row", { name: /dag_x/ });
    expect(within(other).getByText("No runs yet")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Pipelines" })).toHaveAttribute("aria-current", "page");
    expect(srv.calls.some((u) => u.pathname === "/api/v1/pipelines" && u.searchParams.get("limit") === "50")).toBe(true);
  });
});
