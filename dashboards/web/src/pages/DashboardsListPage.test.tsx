import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { SessionProvider } from "../auth/session";
import DashboardsListPage from "./DashboardsListPage";

const list = {
  dashboards: [
    { id: "d0", slug: "pipelines-overview", title: "Pipelines overview", description: "Every pipeline", card_count: 6, version: 1, read_only: true, provisioned: true, time_range: { from: "now-24h", to: "now" } },
    { id: "d1", slug: "mine", title: "Mine", card_count: 1, version: 4, read_only: false, provisioned: false, time_range: { from: "now-24h", to: "now" } },
  ],
};

function server(role: string) {
  const calls: { key: string; body?: any }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const key = `${init.method} ${url}`;
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ key, body });
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    switch (key) {
      case "POST /api/v1/auth/login":
        return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
      case "GET /api/v1/auth/me":
        return json(200, { user: { id: "u", username: "u", display_name: "U" }, profile: { id: "p", name: "default" }, role, via: "password", memberships: [] });
      case "GET /api/v1/dashboards":
        return json(200, list);
      case "DELETE /api/v1/dashboards/d1":
        return json(204);
      case "POST /api/v1/dashboards":
        return json(201, { ...body, id: "d9", slug: "new-one", version: 1, read_only: false, provisioned: false });
      case "POST /api/v1/dashboards/import":
        return json(400, { error: { code: "invalid_dashboard", message: "cards[0].w must be at least 1" } });
    }
    return json(404, { error: { code: "not_found", message: key } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

async function renderList(role: string) {
  const srv = server(role);
  const client = new ApiClient({ fetch: srv.fetch });
  await client.login("u", "p");
  render(
    <SessionProvider client={client}>
      <DashboardsListPage />
    </SessionProvider>,
  );
  await screen.findByText("Pipelines overview");
  return srv;
}

vi.setConfig({ testTimeout: 30_000 });

describe("DashboardsListPage", () => {
  beforeEach(() => window.history.replaceState(null, "", "/dashboards"));

  it("lists dashboards with card counts and a read-only badge; deletes after a confirmation", async () => {
    const user = userEvent.setup();
    const srv = await renderList("editor");
    const prov = screen.getByText("Pipelines overview").closest("li")!;
    expect(within(prov).getByText("Read-only")).toBeInTheDocument();
    expect(within(prov).getByText(/6 cards/)).toBeInTheDocument();
    expect(within(prov).queryByRole("button", { name: /Delete/ })).toBeNull();
    expect(within(prov).getByRole("button", { name: "Copy Pipelines overview" })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Delete Mine" }));
    expect(srv.calls.some((c) => c.key.startsWith("DELETE"))).toBe(false);
    await user.click(within(screen.getByRole("group", { name: "Confirm deleting Mine" })).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Deleted “Mine”.")).toBeInTheDocument();
    expect(srv.calls.filter((c) => c.key === "DELETE /api/v1/dashboards/d1")).toHaveLength(1);
  });

  it("creates a dashboard and opens it in edit mode; shows the import error", async () => {
    const user = userEvent.setup();
    const srv = await renderList("admin");
    await user.click(screen.getByRole("button", { name: "New dashboard" }));
    await user.type(screen.getByLabelText(/^Title/), "New one");
    await user.click(screen.getByRole("button", { name: "Create and add cards" }));
    await vi.waitFor(() => expect(window.location.pathname + window.location.search).toBe("/dashboards/new-one?edit=1"));
    expect(srv.calls.find((c) => c.key === "POST /api/v1/dashboards")?.body).toMatchObject({ title: "New one", cards: [] });

    await user.click(screen.getByRole("button", { name: "Import" }));
    await user.type(screen.getByLabelText("Dashboard JSON"), "not json");
    await user.click(within(screen.getByRole("form", { name: "Import a dashboard" })).getByRole("button", { name: "Import" }));
    expect(await screen.findByText(/This is not valid JSON/)).toBeInTheDocument();
    await user.clear(screen.getByLabelText("Dashboard JSON"));
    await user.click(screen.getByLabelText("Dashboard JSON"));
    await user.paste('{"title":"x","cards":[]}');
    await user.click(within(screen.getByRole("form", { name: "Import a dashboard" })).getByRole("button", { name: "Import" }));
    expect(await screen.findByText("cards[0].w must be at least 1")).toBeInTheDocument();
  });

  it("shows a viewer no create, import, copy or delete", async () => {
    await renderList("viewer");
    for (const name of [/New dashboard/, /^Import$/, /^Copy /, /^Delete /]) expect(screen.queryByRole("button", { name })).toBeNull();
    expect(screen.getAllByRole("button", { name: /^Export / })).toHaveLength(2);
  });
});
