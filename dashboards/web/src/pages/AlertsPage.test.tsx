import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import type { AlertChange } from "../alerts/live";
import type { Alert, AlertRule, Silence } from "../alerts/types";
import { SessionProvider } from "../auth/session";
import { usePath } from "../router";
import AlertsPage from "./AlertsPage";

// The live-update hook is replaced so a test can deliver alert.changed events.
const live = vi.hoisted(() => ({ handlers: new Set<(c: AlertChange) => void>() }));
vi.mock("../alerts/live", async () => {
  const { useEffect } = await import("react");
  return {
    useAlertChanges(fn: (c: AlertChange) => void) {
      useEffect(() => {
        live.handlers.add(fn);
        return () => void live.handlers.delete(fn);
      }, [fn]);
      return "open";
    },
  };
});

vi.setConfig({ testTimeout: 30_000 });

function alert(patch: Partial<Alert> = {}): Alert {
  return {
    id: "r1:fp1",
    rule_id: "r1",
    rule_name: "ETL_Vendas slower than 5 minutes",
    severity: "critical",
    fingerprint: "fp1",
    state: "firing",
    labels: { pipeline: "ETL_Vendas", team: "data" },
    value: "6m12s",
    since: "2026-03-10T10:05:00Z",
    active_since: "2026-03-10T10:00:00Z",
    history: [
      { rule_id: "r1", fingerprint: "fp1", seq: 1, from: "normal", to: "pending", at: "2026-03-10T10:00:00Z", value: "5m01s" },
      { rule_id: "r1", fingerprint: "fp1", seq: 2, from: "pending", to: "firing", at: "2026-03-10T10:05:00Z", value: "6m12s", reason: "held for 5m" },
    ],
    ...patch,
  };
}

function rule(patch: Partial<AlertRule> = {}): AlertRule {
  return {
    id: "r1",
    name: "ETL_Vendas slower than 5 minutes",
    severity: "critical",
    kind: "duration_above",
    selector: { pipeline: "ETL_Vendas" },
    condition: { duration_above: { threshold: "5m" } },
    annotations: { summary: "{{ .Pipeline.Name }} took {{ .Value }}" },
    sinks: ["slack1"],
    revision: 3,
    provisioned: false,
    created_by: "u",
    created_at: "2026-03-01T00:00:00Z",
    updated_at: "2026-03-01T00:00:00Z",
    ...patch,
  };
}

const silence = (patch: Partial<Silence> = {}): Silence => ({
  id: "sil1",
  matchers: [{ name: "team", op: "=", value: "data" }],
  starts_at: "2026-03-10T10:00:00Z",
  ends_at: "2999-03-10T12:00:00Z",
  created_by: "u",
  comment: "warehouse maintenance",
  status: "active",
  created_at: "2026-03-10T10:00:00Z",
  ...patch,
});

interface Call {
  method: string;
  url: URL;
  body: any;
}
type Route = (c: Call) => [number, unknown] | unknown;

function server(role: string, routes: Record<string, Route>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: string, init: RequestInit) => {
    const url = new URL(input, "http://puod.test");
    const c: Call = { method: init.method ?? "GET", url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    const key = `${c.method} ${url.pathname}`;
    if (key === "POST /api/v1/auth/login") return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
    if (key === "GET /api/v1/auth/me") return json(200, { user: { id: "u", username: "u", display_name: "U" }, profile: { id: "p1", name: "default" }, role, via: "password", memberships: [] });
    if (key === "GET /api/v1/sources") return json(200, { sources: [{ id: "slack1", plugin_id: "puod.slack", name: "Slack #data" }] });
    if (key === "GET /api/v1/plugins") return json(200, { plugins: [{ id: "puod.slack", name: "Slack", version: "1", kinds: ["alert-sink"], state: "running", pid: 1, restarts: 0, last_error: "" }] });
    const h = routes[key];
    if (!h) return json(404, { error: { code: "not_found", message: `no route ${key}` } });
    const r = h(c);
    if (Array.isArray(r) && typeof r[0] === "number") return json(r[0], r[1]);
    return json(200, r);
  });
  const of = (method: string, path: string) => calls.filter((c) => c.method === method && c.url.pathname === path);
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, of };
}

function Routed() {
  return <AlertsPage path={usePath()} />;
}

async function renderAt(url: string, srv: ReturnType<typeof server>) {
  window.history.replaceState(null, "", url);
  const client = new ApiClient({ fetch: srv.fetch });
  await client.login("u", "p");
  return render(
    <SessionProvider client={client}>
      <Routed />
    </SessionProvider>,
  );
}

describe("AlertsPage", () => {
  beforeEach(() => {
    live.handlers.clear();
    vi.spyOn(window, "confirm").mockReturnValue(true);
  });
  afterEach(() => vi.restoreAllMocks());

  it("lists alerts with the URL's state filter, follows the filter and refreshes on alert.changed", async () => {
    const user = userEvent.setup();
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert()] }),
      "GET /api/v1/alert-rules": () => ({ rules: [rule()] }),
    });
    await renderAt("/alerts?state=firing", srv);
    const row = await screen.findByRole("row", { name: /ETL_Vendas slower/ });
    expect(within(row).getByText("firing")).toHaveAttribute("data-state", "firing");
    expect(within(row).getByText("critical")).toBeInTheDocument();
    expect(within(row).getByText("team=data")).toBeInTheDocument();
    expect(within(row).getByText("6m12s")).toBeInTheDocument();
    expect(within(row).getByRole("link", { name: /ETL_Vendas slower/ })).toHaveAttribute("href", "/alerts/r1%3Afp1");
    expect(srv.of("GET", "/api/v1/alerts")[0]!.url.search).toBe("?state=firing");
    expect(screen.getByLabelText("State")).toHaveValue("firing");

    await user.selectOptions(screen.getByLabelText("State"), "Pending");
    await waitFor(() => expect(window.location.search).toBe("?state=pending"));
    await waitFor(() => expect(srv.of("GET", "/api/v1/alerts").at(-1)!.url.search).toBe("?state=pending"));
    await user.selectOptions(await screen.findByLabelText("Rule"), "ETL_Vendas slower than 5 minutes");
    await waitFor(() => expect(srv.of("GET", "/api/v1/alerts").at(-1)!.url.search).toBe("?state=pending&rule_id=r1"));

    const before = srv.of("GET", "/api/v1/alerts").length;
    act(() => live.handlers.forEach((h) => h({ kind: "alert", alert_id: "r1:fp1" })));
    await waitFor(() => expect(srv.of("GET", "/api/v1/alerts").length).toBe(before + 1), { timeout: 3000 });
  });

  it("shows a designed empty state with a way out of the filters", async () => {
    const srv = server("viewer", { "GET /api/v1/alerts": () => ({ alerts: [] }), "GET /api/v1/alert-rules": () => ({ rules: [] }) });
    await renderAt("/alerts?state=resolved", srv);
    expect(await screen.findByText("No alerts match these filters")).toBeInTheDocument();
  });

  it("shows an alert's timeline and lets an editor acknowledge it", async () => {
    const user = userEvent.setup();
    let acked = false;
    const srv = server("editor", {
      "GET /api/v1/alerts": () => ({ alerts: [acked ? alert({ acknowledged_by: "u", acknowledged_at: "2026-03-10T10:07:00Z" }) : alert()] }),
      "POST /api/v1/alerts/r1%3Afp1/ack": () => {
        acked = true;
        return alert({ acknowledged_by: "u", acknowledged_at: "2026-03-10T10:07:00Z" });
      },
    });
    await renderAt("/alerts/r1%3Afp1", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    expect(srv.of("GET", "/api/v1/alerts")[0]!.url.search).toBe("?rule_id=r1");
    const timeline = document.querySelector(".alert-timeline")!;
    const steps = within(timeline as HTMLElement).getAllByRole("listitem");
    expect(steps.map((s) => s.getAttribute("data-to"))).toEqual(["firing", "pending"]);
    expect(steps[0]).toHaveTextContent("held for 5m");
    expect(screen.getByTestId("ack")).toHaveTextContent("not yet");

    await user.click(screen.getByRole("button", { name: "Acknowledge" }));
    await waitFor(() => expect(screen.getByTestId("ack")).toHaveTextContent("by you"));
    expect(srv.of("POST", "/api/v1/alerts/r1%3Afp1/ack")).toHaveLength(1);
    expect(screen.queryByRole("button", { name: "Acknowledge" })).not.toBeInTheDocument();
  });

  it("maps a 400 problem onto its field and sends only the chosen condition kind", async () => {
    const user = userEvent.setup();
    let n = 0;
    const srv = server("editor", {
      "POST /api/v1/alert-rules": (c) => {
        n++;
        if (n === 1)
          return [400, { error: { code: "invalid", message: "the alert rule has problems", fields: [{ field: "/condition/deadline/time_zone", message: "unknown time zone \"Mars/Olympus\"" }, { field: "/annotations/summary", message: "template: unexpected \"}\"" }] } }];
        return [201, rule({ ...c.body, id: "r9", kind: "deadline", revision: 1 })];
      },
      "GET /api/v1/alert-rules/r9": () => rule({ id: "r9", name: "Vendas by 6", kind: "deadline", condition: { deadline: { time: "06:00", time_zone: "Europe/Lisbon" } }, revision: 1 }),
    });
    await renderAt("/alerts/rules/new", srv);
    await user.type(await screen.findByLabelText("Name (required)"), "Vendas by 6");
    // Fields of another kind typed first must not leak into the body.
    await user.selectOptions(screen.getByLabelText("When"), "Run slower than");
    await user.type(screen.getByLabelText(/^Threshold/), "5m");
    await user.selectOptions(screen.getByLabelText("When"), "Not succeeded by a time");
    expect(screen.queryByLabelText(/^Threshold/)).not.toBeInTheDocument();
    await user.type(screen.getByLabelText(/^Time of day/), "06:00");
    await user.type(screen.getByLabelText(/^Time zone/), "Mars/Olympus");
    await user.type(screen.getByLabelText("Name (glob)"), "ETL_*");
    await user.click(screen.getByLabelText("Annotations summary value"));
    await user.paste("{{ .Pipeline.Name }");
    await user.type(screen.getByLabelText(/^Sinks/), "slack1, mail1");
    await user.click(screen.getByRole("button", { name: "Create rule" }));

    const tz = screen.getByLabelText(/^Time zone/);
    await waitFor(() => expect(tz).toHaveAttribute("aria-invalid", "true"));
    expect(tz.closest("[data-pointer]")).toHaveTextContent('unknown time zone "Mars/Olympus"');
    expect(screen.getByLabelText("Annotations summary value").closest("[data-pointer]")).toHaveTextContent('template: unexpected "}"');
    expect(srv.of("POST", "/api/v1/alert-rules")[0]!.body).toEqual({
      name: "Vendas by 6",
      severity: "warning",
      selector: { pipeline: "ETL_*" },
      condition: { deadline: { time: "06:00", time_zone: "Mars/Olympus" } },
      annotations: { summary: "{{ .Pipeline.Name }" },
      sinks: ["slack1", "mail1"],
    });

    await user.clear(tz);
    await user.type(tz, "Europe/Lisbon");
    await user.click(screen.getByRole("button", { name: "Create rule" }));
    await waitFor(() => expect(window.location.pathname).toBe("/alerts/rules/r9"));
    expect(srv.of("POST", "/api/v1/alert-rules")[1]!.body.condition).toEqual({ deadline: { time: "06:00", time_zone: "Europe/Lisbon" } });
  });

  it("on a revision conflict shows the stored rule and overwrites on request", async () => {
    const user = userEvent.setup();
    const stored = rule({ revision: 4, condition: { duration_above: { threshold: "10m" } }, updated_at: "2026-03-11T00:00:00Z" });
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => rule(),
      "PUT /api/v1/alert-rules/r1": (c) => (c.body.revision === 3 ? [409, { error: { code: "revision_conflict", message: "the alert rule changed meanwhile" }, current: stored }] : rule({ ...c.body, revision: 5 })),
    });
    await renderAt("/alerts/rules/r1", srv);
    const threshold = await screen.findByLabelText(/^Threshold/);
    expect(threshold).toHaveValue("5m");
    await user.clear(threshold);
    await user.type(threshold, "7m");
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    const conflict = await screen.findByRole("alert", { name: "Someone changed this rule meanwhile" });
    expect(within(conflict).getByLabelText("The stored rule")).toHaveTextContent('"threshold": "10m"');
    await user.click(within(conflict).getByRole("button", { name: "Overwrite with my version" }));
    await screen.findByText("Saved (revision 5).");
    const puts = srv.of("PUT", "/api/v1/alert-rules/r1");
    expect(puts.map((p) => p.body.revision)).toEqual([3, 4]);
    expect(puts[1]!.body.condition).toEqual({ duration_above: { threshold: "7m" } });
  });

  it("shows a rule from a rule file as read-only", async () => {
    const srv = server("editor", { "GET /api/v1/alert-rules/r1": () => rule({ provisioned: true }) });
    await renderAt("/alerts/rules/r1", srv);
    expect(await screen.findByText(/Loaded from a rule file/)).toBeInTheDocument();
    expect(screen.getByLabelText(/^Threshold/)).toBeDisabled();
    expect(screen.queryByRole("button", { name: /Save|Delete|Add/ })).not.toBeInTheDocument();
  });

  it("creates and expires silences", async () => {
    const user = userEvent.setup();
    let list = [silence()];
    const srv = server("editor", {
      "GET /api/v1/silences": () => ({ silences: list }),
      "POST /api/v1/silences": (c) => {
        if (!c.body.comment) return [400, { error: { code: "invalid", message: "invalid silence", fields: [{ field: "/comment", message: "a comment is required" }] } }];
        const s = silence({ id: "sil2", ...c.body, status: "active" });
        list = [s, ...list];
        return [201, s];
      },
      "DELETE /api/v1/silences/sil1": () => {
        list = list.map((s) => (s.id === "sil1" ? { ...s, status: "expired" } : s));
        return [204, undefined];
      },
    });
    await renderAt("/alerts/silences", srv);
    await screen.findByRole("row", { name: /warehouse maintenance/ });
    await user.click(screen.getByRole("button", { name: "New silence" }));
    await user.type(screen.getByLabelText("Matcher 1 label"), "rule");
    await user.selectOptions(screen.getByLabelText("Matcher 1 operator"), "=~");
    await user.type(screen.getByLabelText("Matcher 1 value"), "ETL_.*");
    await user.click(screen.getByRole("button", { name: "Create silence" }));
    expect(await screen.findByText("a comment is required")).toBeInTheDocument();
    await user.type(screen.getByLabelText(/^Comment/), "deploy");
    await user.click(screen.getByRole("button", { name: "Create silence" }));
    await screen.findByText("Silence created.");
    const body = srv.of("POST", "/api/v1/silences")[1]!.body;
    expect(body.matchers).toEqual([{ name: "rule", op: "=~", value: "ETL_.*" }]);
    expect(body.comment).toBe("deploy");
    expect(Date.parse(body.ends_at)).toBeGreaterThan(Date.now());
    expect(body.starts_at).toBeUndefined();

    await user.click(screen.getByRole("button", { name: "Expire silence warehouse maintenance" }));
    await screen.findByText("Silence expired: its alerts notify again.");
    expect(srv.of("DELETE", "/api/v1/silences/sil1")).toHaveLength(1);

    await user.click(screen.getByLabelText("Show expired silences"));
    await waitFor(() => expect(srv.of("GET", "/api/v1/silences").at(-1)!.url.search).toBe("?expired=true"));
  });

  it("shows a viewer no edit controls", async () => {
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert()] }),
      "GET /api/v1/alert-rules": () => ({ rules: [rule()] }),
      "GET /api/v1/alert-rules/r1": () => rule(),
      "GET /api/v1/silences": () => ({ silences: [silence()] }),
    });
    const view = await renderAt("/alerts/rules", srv);
    await screen.findByRole("row", { name: /ETL_Vendas slower/ });
    expect(screen.queryByRole("link", { name: "New rule" })).not.toBeInTheDocument();
    view.unmount();

    const v2 = await renderAt("/alerts/rules/r1", srv);
    expect(await screen.findByLabelText(/^Threshold/)).toBeDisabled();
    expect(screen.queryByRole("button", { name: /Save|Delete|Add|Remove/ })).not.toBeInTheDocument();
    v2.unmount();

    const v3 = await renderAt("/alerts/r1%3Afp1", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    expect(screen.queryByRole("button", { name: "Acknowledge" })).not.toBeInTheDocument();
    v3.unmount();

    await renderAt("/alerts/silences", srv);
    await screen.findByRole("row", { name: /warehouse maintenance/ });
    expect(screen.queryByRole("button", { name: /New silence|Expire/ })).not.toBeInTheDocument();
  });
});
