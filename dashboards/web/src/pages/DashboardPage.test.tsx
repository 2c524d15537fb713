import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Suspense } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import type { PuodEvent } from "../api/events";
import { SessionProvider } from "../auth/session";
import type { Dashboard } from "../dashboard/model";
import { statFrame, tableFrame } from "../viz/fixtures";
import DashboardPage from "./DashboardPage";

// The live-updates hook: the test plays the server's events.
let emit: (e: PuodEvent) => void = () => {};
vi.mock("../api/events", () => ({
  useEvents: (fn: (e: PuodEvent) => void) => {
    emit = fn;
    return "open";
  },
}));
// react-grid-layout needs layout measurements jsdom has not: draw the cards in order.
vi.mock("../dashboard/DashboardGrid", () => ({
  DashboardGrid: ({ cards, renderCard }: { cards: { id: string }[]; renderCard: (id: string) => React.ReactNode }) => (
    <div data-testid="grid">
      {cards.map((c) => (
        <div key={c.id} data-card-id={c.id}>
          {renderCard(c.id)}
        </div>
      ))}
    </div>
  ),
}));

const cardTypes = {
  card_types: [
    { type: "puod.success_rate", plugin_id: "puod", title: "Success rate", description: "Share of runs that succeeded", visualization: "stat", options_schema: { type: "object", properties: { pipeline_id: { type: "string", title: "Pipeline" } } } },
    { type: "puod.recent_failures", plugin_id: "puod", title: "Recent failures", visualization: "table", options_schema: { type: "object", properties: { limit: { type: "integer", default: 20 } } } },
    {
      type: "puod.databricks/runs_table",
      plugin_id: "puod.databricks",
      title: "Databricks runs",
      description: "Job runs, newest first",
      visualization: "table",
      default_size: { w: 8, h: 4 },
      options_schema: { type: "object", required: ["source_id"], properties: { source_id: { type: "string", title: "Source", oneOf: [{ const: "s1", title: "Databricks (demo)" }] }, limit: { type: "integer", title: "Limit", default: 25 } } },
    },
  ],
};

function dashboard(over: Partial<Dashboard> = {}): Dashboard {
  return {
    id: "d1",
    slug: "ops",
    title: "Ops",
    description: "What runs",
    time_range: { from: "now-24h", to: "now" },
    refresh_seconds: 0,
    cards: [
      { id: "a", type: "puod.success_rate", title: "", options: { pipeline_id: "p1" }, time_range: null, x: 0, y: 0, w: 3, h: 2 },
      { id: "b", type: "puod.recent_failures", title: "Failures", options: {}, time_range: { from: "now-7d", to: "now" }, x: 3, y: 0, w: 9, h: 4 },
      { id: "c", type: "acme.gone/widget", title: "", options: {}, time_range: null, x: 0, y: 4, w: 4, h: 2 },
    ],
    version: 3,
    read_only: false,
    provisioned: false,
    ...over,
  };
}

interface Call {
  method: string;
  url: string;
  body?: any;
}

function server(opts: { role?: string; dash?: Dashboard; put?: (body: any) => [number, unknown] } = {}) {
  const calls: Call[] = [];
  let dash = opts.dash ?? dashboard();
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method: init.method!, url, body });
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    const key = `${init.method} ${url}`;
    if (key === "POST /api/v1/auth/login") return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
    if (key === "GET /api/v1/auth/me")
      return json(200, { user: { id: "u", username: "u", display_name: "U" }, profile: { id: "p1", name: "default" }, role: opts.role ?? "editor", via: "password", memberships: [] });
    if (key === "GET /api/v1/card-types") return json(200, cardTypes);
    if (key === "GET /api/v1/plugins") return json(200, { plugins: [{ id: "puod.databricks", name: "Databricks", version: "1", kinds: ["connector"], state: "running", pid: 1, restarts: 0, last_error: "" }] });
    if (key === "GET /api/v1/dashboards/ops" || key === "GET /api/v1/dashboards/d1") return json(200, dash);
    if (key === "PUT /api/v1/dashboards/d1") {
      const [status, b] = opts.put ? opts.put(body) : [200, { ...dash, ...body, version: dash.version + 1 }];
      if (status === 200) dash = b as Dashboard;
      return json(status, b);
    }
    if (key === "POST /api/v1/cards/query") {
      if (body.type === "puod.success_rate") return json(200, { frame: statFrame, as_of: "2025-01-01T00:00:00Z", cached: false, tags: ["pipeline:p1"] });
      if (body.type === "puod.databricks/runs_table") return json(503, { error: { code: "plugin_unavailable", message: "plugin puod.databricks is backoff" } });
      return json(200, { frame: tableFrame, as_of: "2025-01-01T00:00:00Z", cached: true, tags: ["source:s2"] });
    }
    return json(404, { error: { code: "not_found", message: `no route ${key}` } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

async function renderPage(srv: ReturnType<typeof server>) {
  const client = new ApiClient({ fetch: srv.fetch });
  await client.login("u", "p");
  render(
    <SessionProvider client={client}>
      <Suspense fallback="loading">
        <DashboardPage id="ops" />
      </Suspense>
    </SessionProvider>,
  );
  await screen.findByRole("heading", { name: /Ops/, level: 1 });
}

const queries = (srv: ReturnType<typeof server>) => srv.calls.filter((c) => c.url === "/api/v1/cards/query");

// Each test drives a whole page with userEvent; a loaded machine needs time.
vi.setConfig({ testTimeout: 30_000 });

describe("DashboardPage", () => {
  beforeEach(() => window.history.replaceState(null, "", "/dashboards/ops"));
  afterEach(() => vi.useRealTimers());

  it("renders every card from its query, with its own or the dashboard's time range, and a placeholder for a missing plugin", async () => {
    const srv = server();
    await renderPage(srv);
    const rate = await screen.findByRole("region", { name: "Success rate" });
    expect((await within(rate).findAllByText(/%/)).length).toBeGreaterThan(0);
    const failures = screen.getByRole("region", { name: "Failures" });
    await within(failures).findByRole("table");
    const gone = screen.getByRole("region", { name: "acme.gone/widget" });
    expect(within(gone).getByText("Plugin unavailable")).toBeInTheDocument();
    expect(queries(srv).map((c) => c.body)).toEqual([
      { type: "puod.success_rate", options: { pipeline_id: "p1" }, time_range: { from: "now-24h", to: "now" } },
      { type: "puod.recent_failures", options: {}, time_range: { from: "now-7d", to: "now" } },
    ]);
    expect(screen.getByText("Live")).toBeInTheDocument();
    await vi.waitFor(() => expect(document.querySelector("[data-cards-ready=true]")).not.toBeNull());

    // The dashboard's range applies to the cards that follow it, not to the one with its own.
    await userEvent.setup().selectOptions(screen.getByLabelText("Time range"), "Last 7 days");
    await vi.waitFor(() => expect(queries(srv)).toHaveLength(3));
    expect(queries(srv)[2]!.body.time_range).toEqual({ from: "now-7d", to: "now" });
    expect(queries(srv)[2]!.body.type).toBe("puod.success_rate");
  });

  it("shows a viewer no edit controls", async () => {
    const srv = server({ role: "viewer" });
    await renderPage(srv);
    await screen.findByRole("region", { name: "Success rate" });
    for (const name of [/^Edit$/, /Add card/, /Save/, /Copy to edit/, /Remove/, /Configure/, /Duplicate/]) {
      expect(screen.queryByRole("button", { name })).toBeNull();
    }
  });

  it("offers a read-only dashboard's editors a copy, not an edit", async () => {
    const srv = server({ dash: dashboard({ read_only: true, provisioned: true }) });
    await renderPage(srv);
    expect(screen.getByText("Read-only")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Copy to edit" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
  });

  it("adds a plugin card from the catalog through its generated form and saves the full dashboard with its version", async () => {
    const user = userEvent.setup();
    const srv = server();
    await renderPage(srv);
    await user.click(screen.getByRole("button", { name: "Edit" }));
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Add card" }));
    const dialog = screen.getByRole("dialog", { name: "Add a card" });
    expect(within(dialog).getByRole("region", { name: "Built in" })).toBeInTheDocument();
    await user.type(within(dialog).getByLabelText("Search card types"), "databricks");
    expect(within(dialog).queryByText("Success rate")).toBeNull();
    await user.click(within(dialog).getByRole("button", { name: /Databricks runs/ }));

    const form = screen.getByRole("form", { name: "Options of Databricks runs" });
    await user.click(within(form).getByRole("button", { name: "Add to dashboard" }));
    expect(within(form).getByText("Choose a value")).toBeInTheDocument(); // the source is required
    await user.selectOptions(within(form).getByLabelText(/^Source/), "Databricks (demo)");
    await user.clear(within(form).getByLabelText(/^Limit/));
    await user.type(within(form).getByLabelText(/^Limit/), "10");
    await user.type(screen.getByLabelText("Card title"), "DBX runs");
    await user.selectOptions(screen.getByLabelText("Card time range"), "Last 6 hours");
    await user.click(within(form).getByRole("button", { name: "Add to dashboard" }));

    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByText("Unsaved changes")).toBeInTheDocument();
    // The new card's query answers plugin_unavailable: the placeholder shows, the rest works.
    const added = await screen.findByRole("region", { name: "DBX runs" });
    expect(await within(added).findByText("Plugin unavailable")).toBeInTheDocument();
    expect(within(added).getByText(/plugin puod.databricks is backoff/)).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Duplicate Failures" }));
    await user.click(screen.getAllByRole("button", { name: "Remove Failures" })[0]!);
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Dashboard saved.");

    const put = srv.calls.find((c) => c.method === "PUT")!;
    expect(put.url).toBe("/api/v1/dashboards/d1");
    expect(put.body.version).toBe(3);
    expect(put.body.title).toBe("Ops");
    const cards = put.body.cards as any[];
    expect(cards.map((c) => c.type)).toEqual(["puod.success_rate", "acme.gone/widget", "puod.databricks/runs_table", "puod.recent_failures"]);
    expect(cards[2]).toEqual({ id: expect.any(String), type: "puod.databricks/runs_table", title: "DBX runs", options: { source_id: "s1", limit: 10 }, time_range: { from: "now-6h", to: "now" }, x: 0, y: 6, w: 8, h: 4 });
    expect(cards[3]).toMatchObject({ title: "Failures", options: {}, time_range: { from: "now-7d", to: "now" }, y: 10, w: 9, h: 4 });
    expect(new Set(cards.map((c) => c.id)).size).toBe(4);
    expect(screen.queryByText("Unsaved changes")).toBeNull();
    expect(screen.getByRole("button", { name: "Edit" })).toBeInTheDocument();
  });

  it("on 409 shows what changed from `current` and overwrites with the current version on request", async () => {
    const user = userEvent.setup();
    const current = dashboard({ version: 5, title: "Ops (renamed)", cards: [dashboard().cards[0]!] });
    let puts = 0;
    const srv = server({
      put: (body) => {
        puts++;
        if (puts === 1) return [409, { error: { code: "version_conflict", message: "the dashboard changed" }, current }];
        return [200, { ...current, ...body, version: 6 }];
      },
    });
    await renderPage(srv);
    await user.click(screen.getByRole("button", { name: "Edit" }));
    await user.click(screen.getByRole("button", { name: "Remove Success rate" }));
    await user.click(screen.getByRole("button", { name: "Save" }));

    const dialog = await screen.findByRole("alertdialog", { name: /changed since you started editing/ });
    expect(within(dialog).getByText("Title changed to “Ops (renamed)”.")).toBeInTheDocument();
    expect(within(dialog).getByText("Card “Failures” removed.")).toBeInTheDocument();
    expect(within(dialog).getByText("Card “acme.gone/widget” removed.")).toBeInTheDocument();
    expect(within(dialog).getByText(/Version 5/)).toBeInTheDocument();

    await user.click(within(dialog).getByRole("button", { name: "Overwrite with mine" }));
    await screen.findByText("Dashboard saved.");
    const bodies = srv.calls.filter((c) => c.method === "PUT").map((c) => c.body);
    expect(bodies.map((b) => b.version)).toEqual([3, 5]);
    expect(bodies[1].cards.map((c: any) => c.id)).toEqual(["b", "c"]);
  });

  it("on 409 can reload the other version, discarding the local changes", async () => {
    const user = userEvent.setup();
    const current = dashboard({ version: 4, title: "Theirs" });
    const srv = server({ put: () => [409, { error: { code: "version_conflict", message: "changed" }, current }] });
    await renderPage(srv);
    await user.click(screen.getByRole("button", { name: "Edit" }));
    await user.click(screen.getByRole("button", { name: "Remove Failures" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await user.click(await screen.findByRole("button", { name: "Reload theirs (discard mine)" }));
    expect(screen.getByRole("heading", { name: /Theirs/, level: 1 })).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "Failures" })).toBeInTheDocument();
    expect(screen.queryByText("Unsaved changes")).toBeNull();
  });

  it("re-queries only the cards whose last answer read a tag of the event; reset re-queries all", async () => {
    const srv = server();
    await renderPage(srv);
    await vi.waitFor(() => expect(document.querySelector("[data-cards-ready=true]")).not.toBeNull());
    expect(queries(srv)).toHaveLength(2);

    act(() => emit({ id: "e1", topic: "run.changed", time: "", tags: ["runs", "source:s9", "pipeline:p1"], payload: {} }));
    await vi.waitFor(() => expect(queries(srv)).toHaveLength(3));
    expect(queries(srv)[2]!.body.type).toBe("puod.success_rate");

    // A tag no card read: nothing re-queries.
    act(() => emit({ id: "e2", topic: "metric.appended", time: "", tags: ["metrics"], payload: {} }));
    act(() => emit({ id: "e3", topic: "run.changed", time: "", tags: ["runs", "source:s2", "pipeline:p7"], payload: {} }));
    await vi.waitFor(() => expect(queries(srv)).toHaveLength(4));
    expect(queries(srv)[3]!.body.type).toBe("puod.recent_failures");

    act(() => emit({ id: "e4", topic: "reset", time: "", tags: [], payload: {} }));
    await vi.waitFor(() => expect(queries(srv)).toHaveLength(6));
    await new Promise((r) => setTimeout(r, 400));
    expect(queries(srv)).toHaveLength(6);
  });
});
