import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "./api/client";
import { App } from "./App";

const me = (profile: string) => ({
  user: { id: "u1", username: "admin", display_name: "Administrator" },
  profile: { id: profile, name: profile === "p1" ? "Default" : "Finance" },
  role: "admin",
  via: "password",
  memberships: [
    { profile_id: "p1", profile_name: "Default", role: "admin" },
    { profile_id: "p2", profile_name: "Finance", role: "viewer" },
  ],
});

const plugins = {
  plugins: [
    {
      id: "acme.hello", name: "Hello connector", version: "1.0.0", kinds: ["connector"], state: "running", pid: 42, restarts: 1, last_error: "",
      log_tail: ["listening"], cards: [{ type: "acme.hello/greeting_runs", plugin_id: "acme.hello", title: "Hello runs", visualization: "bar" }],
    },
    { id: "broken", name: "", version: "", kinds: [], state: "failed", pid: 0, restarts: 0, last_error: "checksum mismatch: rebuild the bundle" },
  ],
};

function server() {
  const seen: { path: string; profile?: string; body?: any }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const h = init.headers as Record<string, string>;
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    seen.push({ path: `${init.method} ${url}`, profile: h["X-PUOD-Profile"], body });
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    switch (`${init.method} ${url}`) {
      case "POST /api/v1/auth/login":
        return body.password === "right" ? json(200, { access_token: "a", refresh_token: "r", expires_in: 900 }) : json(401, { error: { code: "unauthenticated", message: "wrong username or password" } });
      case "GET /api/v1/auth/me":
        return json(200, me(h["X-PUOD-Profile"] ?? "p1"));
      case "GET /api/v1/plugins":
        return json(200, plugins);
      case "POST /api/v1/auth/logout":
        return json(204);
    }
    return json(404, { error: { code: "not_found", message: `no route ${url}` } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, seen };
}

describe("App", () => {
  beforeEach(() => window.history.replaceState(null, "", "/"));

  it("opens the default dashboard at /", async () => {
    const srv = server();
    const client = new ApiClient({ fetch: srv.fetch });
    await client.login("admin", "right");
    render(<App client={client} />);
    await vi.waitFor(() => expect(window.location.pathname).toBe("/dashboards/pipelines-overview"));
    await vi.waitFor(() => expect(srv.seen.some((s) => s.path === "GET /api/v1/dashboards/pipelines-overview")).toBe(true));
    expect(screen.getByRole("link", { name: "Dashboards" })).toHaveAttribute("aria-current", "page");
  });

  it("logs in, shows the plugins, switches profile and logs out", async () => {
    window.history.replaceState(null, "", "/plugins");
    const user = userEvent.setup();
    const srv = server();
    render(<App client={new ApiClient({ fetch: srv.fetch })} />);

    await user.type(screen.getByLabelText("Username"), "admin");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");

    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "right");
    await user.click(screen.getByRole("button", { name: "Log in" }));

    const hello = await screen.findByRole("article", { name: "Hello connector" });
    expect(window.location.pathname).toBe("/plugins");
    expect(within(hello).getByText("running")).toBeInTheDocument();
    expect(within(hello).getByText("Hello runs")).toBeInTheDocument();
    expect(within(hello).getByText("Log tail (1 lines)")).toBeInTheDocument();
    const broken = screen.getByRole("article", { name: "broken" });
    expect(within(broken).getByText("checksum mismatch: rebuild the bundle")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Plugins" })).toHaveAttribute("aria-current", "page");

    await user.selectOptions(screen.getByLabelText("Profile"), "Finance (viewer)");
    await vi.waitFor(() => expect(srv.seen.filter((s) => s.path === "GET /api/v1/plugins").at(-1)?.profile).toBe("p2"));

    await user.click(screen.getByRole("button", { name: "Log out" }));
    expect(await screen.findByText("You are logged out.")).toBeInTheDocument();
    expect(srv.seen.find((s) => s.path === "POST /api/v1/auth/logout")?.body).toEqual({ refresh_token: "r" });
    expect(sessionStorage.getItem("puod.refresh_token")).toBeNull();
  });

  it("shows a page-not-found state for unknown routes", async () => {
    const srv = server();
    const client = new ApiClient({ fetch: srv.fetch });
    await client.login("admin", "right");
    window.history.replaceState(null, "", "/nowhere");
    render(<App client={client} />);
    expect(await screen.findByText("Page not found")).toBeInTheDocument();
  });
});
