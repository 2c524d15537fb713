import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { SessionProvider } from "../auth/session";
import AlertsPage from "../pages/AlertsPage";
import { usePath } from "../router";
import type { AlertChange } from "./live";
import type { Alert, AlertNotification, NotificationPage } from "./types";

// The live-update hook is replaced so a test can deliver alert.changed events.
const live = vi.hoisted(() => ({ handlers: new Set<(c: AlertChange) => void>() }));
vi.mock("./live", async () => {
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
    severity: "warning",
    fingerprint: "fp1",
    state: "resolved",
    labels: { pipeline: "ETL_Vendas", team: "data" },
    value: "30s",
    since: "2026-03-10T10:20:00Z",
    history: [
      { rule_id: "r1", fingerprint: "fp1", seq: 1, from: "normal", to: "firing", at: "2026-03-10T10:05:00Z", value: "6m12s", reason: "condition active" },
      { rule_id: "r1", fingerprint: "fp1", seq: 1, from: "firing", to: "resolved", at: "2026-03-10T10:20:00Z", value: "30s", reason: "condition cleared" },
    ],
    ...patch,
  };
}

function ntf(patch: Partial<AlertNotification> = {}): AlertNotification {
  return {
    id: "n-sent",
    notification_id: "e1",
    rule_id: "r1",
    rule_name: "ETL_Vendas slower than 5 minutes",
    fingerprint: "fp1",
    alert_id: "r1:fp1",
    sink_source_id: "slack1",
    sink_name: "Slack #data",
    group_key: "r1/fp1",
    status: "firing",
    title: "ETL_Vendas took 6m12s (limit 5m)",
    state: "delivered",
    attempts: 0,
    last_error: "",
    delivered_at: "2026-03-10T10:05:01Z",
    created_at: "2026-03-10T10:05:00Z",
    ...patch,
  };
}

const deadLetter = (patch: Partial<AlertNotification> = {}) =>
  ntf({ id: "n-dead", sink_source_id: "hook9", sink_name: "Ops webhook", state: "dead", attempts: 1, last_error: "slack refused the message: no_service (HTTP 404)", delivered_at: undefined, ...patch });

interface Call {
  method: string;
  url: URL;
}
type Route = (c: Call) => [number, unknown] | unknown;

function server(role: string, routes: Record<string, Route>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: string, init: RequestInit) => {
    const url = new URL(input, "http://puod.test");
    const c: Call = { method: init.method ?? "GET", url };
    calls.push(c);
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    const key = `${c.method} ${url.pathname}`;
    if (key === "POST /api/v1/auth/login") return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
    if (key === "GET /api/v1/auth/me") return json(200, { user: { id: "u", username: "u", display_name: "U" }, profile: { id: "p1", name: "default" }, role, via: "password", memberships: [] });
    const h = routes[key];
    if (!h) return json(404, { error: { code: "not_found", message: `no route ${key}` } });
    const r = h(c);
    if (Array.isArray(r) && typeof r[0] === "number") return json(r[0], r[1]);
    return json(200, r);
  });
  const of = (method: string, path: string) => calls.filter((c) => c.method === method && c.url.pathname === path);
  return { fetch: fetch as unknown as typeof globalThis.fetch, of };
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

const page = (notifications: AlertNotification[], more: Partial<NotificationPage> = {}): NotificationPage => ({
  notifications,
  next_cursor: "",
  dead_count: notifications.filter((n) => n.state === "dead").length,
  ...more,
});

describe("Notifications page", () => {
  beforeEach(() => live.handlers.clear());
  afterEach(() => vi.restoreAllMocks());

  it("lists notifications with their delivery, highlights a dead letter with its reason and lets an editor retry it", async () => {
    const user = userEvent.setup();
    let dead = deadLetter();
    const srv = server("editor", {
      "GET /api/v1/notifications": (c) => {
        const all = [dead, ntf()];
        const state = c.url.searchParams.get("state");
        return page(state ? all.filter((n) => n.state === state) : all, { dead_count: dead.state === "dead" ? 1 : 0 });
      },
      "POST /api/v1/notifications/n-dead/retry": () => {
        dead = { ...dead, state: "pending", next_attempt_at: "2026-03-10T10:30:00Z" };
        return dead;
      },
    });
    await renderAt("/alerts/notifications", srv);
    await screen.findByRole("heading", { level: 1, name: "Notifications" });
    expect(screen.getByRole("navigation", { name: "Alerting views" }).querySelector('[aria-current="page"]')).toHaveTextContent("Notifications");

    const deadRow = await screen.findByRole("row", { name: /Ops webhook/ });
    expect(deadRow).toHaveClass("ntf-dead");
    expect(within(deadRow).getByText("dead")).toHaveAttribute("data-kind", "notification");
    expect(within(deadRow).getByTestId("dead-reason")).toHaveTextContent("no_service (HTTP 404)");
    expect(within(deadRow).getByText(/Given up after 1 attempt$/)).toBeInTheDocument();
    expect(within(deadRow).getByRole("link", { name: "ETL_Vendas slower than 5 minutes" })).toHaveAttribute("href", "/alerts/r1%3Afp1");

    const sentRow = screen.getByRole("row", { name: /Slack #data/ });
    expect(sentRow).not.toHaveClass("ntf-dead");
    expect(within(sentRow).getByText("sent")).toHaveAttribute("data-state", "sent");
    expect(within(sentRow).getByText(/Delivered/)).toBeInTheDocument();
    expect(within(sentRow).queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();

    expect(screen.getByRole("note")).toHaveTextContent("1 dead letter");
    await user.click(within(deadRow).getByRole("button", { name: "Retry notification to Ops webhook" }));
    expect(await screen.findByText(/^Sent again to Ops webhook/)).toHaveAttribute("role", "status");
    expect(srv.of("POST", "/api/v1/notifications/n-dead/retry")).toHaveLength(1);
    const retried = await screen.findByRole("row", { name: /Ops webhook/ });
    await waitFor(() => expect(within(retried).getByText("retrying")).toBeInTheDocument());
    expect(retried).not.toHaveClass("ntf-dead");
    expect(within(retried).queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("note")).not.toBeInTheDocument();
  });

  it("filters by delivery state through the address, and offers the dead letters from the banner", async () => {
    const user = userEvent.setup();
    const srv = server("viewer", {
      "GET /api/v1/notifications": (c) => {
        const all = [deadLetter(), ntf()];
        const state = c.url.searchParams.get("state");
        return page(state ? all.filter((n) => n.state === state) : all, { dead_count: 1 });
      },
    });
    await renderAt("/alerts/notifications?state=delivered", srv);
    await screen.findByRole("row", { name: /Slack #data/ });
    expect(srv.of("GET", "/api/v1/notifications")[0]!.url.search).toBe("?state=delivered");
    expect(screen.getByLabelText("Delivery state")).toHaveValue("delivered");
    expect(screen.queryByRole("row", { name: /Ops webhook/ })).not.toBeInTheDocument();

    await user.click(within(screen.getByRole("note")).getByRole("button", { name: "Show dead letters" }));
    await waitFor(() => expect(window.location.search).toBe("?state=dead"));
    const row = await screen.findByRole("row", { name: /Ops webhook/ });
    expect(srv.of("GET", "/api/v1/notifications").at(-1)!.url.search).toBe("?state=dead");
    // A viewer reads the reason but cannot retry.
    expect(within(row).getByTestId("dead-reason")).toHaveTextContent("no_service");
    expect(screen.queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("note")).not.toBeInTheDocument();

    await user.selectOptions(screen.getByLabelText("Delivery state"), "All states");
    await waitFor(() => expect(srv.of("GET", "/api/v1/notifications").at(-1)!.url.search).toBe(""));
  });

  it("shows older pages on request and says when there is nothing", async () => {
    const user = userEvent.setup();
    const srv = server("viewer", {
      "GET /api/v1/notifications": (c) =>
        c.url.searchParams.get("cursor") === "c2"
          ? page([ntf({ id: "n-old", sink_name: "Mail ops", created_at: "2026-03-09T10:00:00Z" })])
          : c.url.searchParams.get("state") === "dead"
            ? page([])
            : page([ntf()], { next_cursor: "c2" }),
    });
    const view = await renderAt("/alerts/notifications", srv);
    await screen.findByRole("row", { name: /Slack #data/ });
    await user.click(screen.getByRole("button", { name: "Show older notifications" }));
    await screen.findByRole("row", { name: /Mail ops/ });
    expect(screen.getAllByRole("row")).toHaveLength(3); // header + 2
    expect(screen.queryByRole("button", { name: "Show older notifications" })).not.toBeInTheDocument();
    view.unmount();

    await renderAt("/alerts/notifications?state=dead", srv);
    expect(await screen.findByText("No dead letters")).toBeInTheDocument();
  });

  it("says why a retry was refused", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "GET /api/v1/notifications": () => page([deadLetter()]),
      "POST /api/v1/notifications/n-dead/retry": () => [409, { error: { code: "conflict", message: "notification n-dead was delivered at 2026-03-10T10:06:00Z: only a dead notification can be retried" } }],
    });
    await renderAt("/alerts/notifications", srv);
    await user.click(await screen.findByRole("button", { name: "Retry notification to Ops webhook" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("only a dead notification can be retried");
  });
});

describe("Alert list", () => {
  beforeEach(() => live.handlers.clear());
  afterEach(() => vi.restoreAllMocks());

  it("marks an alert whose notification is held back, the tooltip saying by what", async () => {
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert({ state: "firing", held_status: "firing", held_by: ["silence 01JSILENCE"] }), alert({ id: "r1:fp2", fingerprint: "fp2", labels: { pipeline: "ETL_Compras" } })] }),
      "GET /api/v1/alert-rules": () => ({ rules: [] }),
    });
    await renderAt("/alerts", srv);
    const row = async (id: string) => (await screen.findAllByRole("row")).find((r) => r.dataset.alert === id)!;
    await screen.findByRole("table");
    const chip = (await row("r1:fp1")).querySelector("[data-kind=held]");
    expect(chip).toHaveTextContent(/^held/);
    expect(chip).toHaveAttribute("title", "The firing notification is held back: silence 01JSILENCE; it is sent when this ends.");
    expect((await row("r1:fp2")).querySelector("[data-kind=held]")).toBeNull();
  });
});

describe("Alert detail timeline", () => {
  beforeEach(() => live.handlers.clear());
  afterEach(() => vi.restoreAllMocks());

  it("merges state changes and notifications, newest first, and lets an editor retry a dead letter", async () => {
    const user = userEvent.setup();
    let dead = deadLetter({ id: "n-dead", status: "resolved", created_at: "2026-03-10T10:20:00Z", title: "Resolved" });
    const srv = server("editor", {
      "GET /api/v1/alerts": () => ({ alerts: [alert()] }),
      "GET /api/v1/notifications": () =>
        page([
          dead,
          ntf({ id: "n-retry", sink_name: "Mail ops", sink_source_id: "mail1", state: "pending", attempts: 2, last_error: "smtp: 421 try later", next_attempt_at: "2026-03-10T10:06:00Z", delivered_at: undefined }),
          ntf(),
        ]),
      "POST /api/v1/notifications/n-dead/retry": () => {
        dead = { ...dead, state: "delivered", delivered_at: "2026-03-10T10:25:00Z" };
        return { ...dead, state: "pending" };
      },
    });
    await renderAt("/alerts/r1%3Afp1", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    const q = srv.of("GET", "/api/v1/notifications")[0]!.url.searchParams;
    expect([q.get("rule_id"), q.get("fingerprint")]).toEqual(["r1", "fp1"]);

    const timeline = document.querySelector(".alert-timeline") as HTMLElement;
    await waitFor(() => expect(within(timeline).getAllByRole("listitem")).toHaveLength(5));
    const steps = within(timeline).getAllByRole("listitem");
    // Newest first; a notification sits above the transition that sent it.
    expect(steps.map((s) => `${s.dataset.kind}:${s.dataset.to ?? s.dataset.phase}`)).toEqual([
      "notification:dead",
      "transition:resolved",
      "notification:retrying",
      "notification:sent",
      "transition:firing",
    ]);
    expect(steps[0]).toHaveTextContent("Resolved notification to Ops webhook");
    expect(within(steps[0]!).getByTestId("dead-reason")).toHaveTextContent("no_service (HTTP 404)");
    expect(steps[2]).toHaveTextContent("Firing notification to Mail ops");
    expect(steps[2]).toHaveTextContent("2 failed attempts, next");
    expect(steps[2]).toHaveTextContent("smtp: 421 try later");
    expect(steps[3]).toHaveTextContent("Firing notification to Slack #data");
    expect(within(steps[3]!).getByText("sent")).toHaveAttribute("data-kind", "notification");
    expect(steps[3]).toHaveTextContent("Delivered");
    expect(within(steps[3]!).getByText(/Delivered/).querySelector("time")).toHaveAttribute("datetime", "2026-03-10T10:05:01Z");
    expect(within(timeline).getAllByRole("button", { name: /Retry/ })).toHaveLength(1);

    await user.click(within(steps[0]!).getByRole("button", { name: "Retry notification to Ops webhook" }));
    expect(await screen.findByText(/^Sent again to Ops webhook/)).toHaveAttribute("role", "status");
    await waitFor(() => expect(timeline.querySelector('[data-notification="n-dead"]')).toHaveAttribute("data-phase", "sent"));
    expect(within(timeline).queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();
  });

  it("looks again while a notification is on its way, and on alert.changed", async () => {
    let delivered = false;
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert({ state: "firing", history: alert().history.slice(0, 1) })] }),
      "GET /api/v1/notifications": () => page([delivered ? ntf() : ntf({ state: "pending", delivered_at: undefined, next_attempt_at: "2026-03-10T10:05:00Z" })]),
    });
    await renderAt("/alerts/r1%3Afp1", srv);
    const step = await waitFor(() => {
      const el = document.querySelector('[data-notification="n-sent"]');
      expect(el).not.toBeNull();
      return el as HTMLElement;
    });
    expect(step).toHaveAttribute("data-phase", "pending");
    expect(step).toHaveTextContent("Queued, sending");
    delivered = true;
    await waitFor(() => expect(document.querySelector('[data-notification="n-sent"]')).toHaveAttribute("data-phase", "sent"), { timeout: 8000 });
    // Nothing pending: no more polling, but an alert.changed reloads.
    const before = srv.of("GET", "/api/v1/notifications").length;
    act(() => live.handlers.forEach((h) => h({ kind: "alert", alert_id: "r1:fp1" })));
    await waitFor(() => expect(srv.of("GET", "/api/v1/notifications").length).toBe(before + 1), { timeout: 3000 });
    // A viewer has no Retry anywhere.
    expect(screen.queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();
  });

  it("says what holds the notification back, linked to where it ends, above the timeline", async () => {
    const user = userEvent.setup();
    const held = alert({
      state: "firing",
      history: alert().history.slice(0, 1),
      held_status: "firing",
      held_by: ["silence 01JSILENCE", 'inhibited: source "Airflow prod" is unhealthy (connection refused)'],
    });
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [held] }),
      "GET /api/v1/notifications": () => page([]),
      "GET /api/v1/silences": () => ({ silences: [] }),
    });
    await renderAt("/alerts/r1%3Afp1", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    const notice = screen.getByRole("note");
    expect(notice).toHaveTextContent('The firing notification is held back: silence 01JSILENCE; source "Airflow prod" is unhealthy (connection refused); it is sent when these end.');
    expect(notice).toHaveAttribute("data-held", "firing");
    // Above the timeline.
    const timeline = screen.getByRole("heading", { level: 2, name: "Timeline" });
    expect(notice.compareDocumentPosition(timeline) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(within(notice).getByRole("link", { name: /Airflow prod/ })).toHaveAttribute("href", "/sources");
    await user.click(within(notice).getByRole("link", { name: "silence 01JSILENCE" }));
    await screen.findByRole("heading", { level: 1, name: "Silences" });
    expect(window.location.pathname).toBe("/alerts/silences");
  });

  it("says nothing of held notifications when none is held; one held by a silence reads as one", async () => {
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert({ held_status: "resolved", held_by: ["silence s1"] }), alert({ id: "r1:fp2", fingerprint: "fp2" })] }),
      "GET /api/v1/notifications": () => page([]),
    });
    const view = await renderAt("/alerts/r1%3Afp1", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    expect(screen.getByRole("note")).toHaveTextContent("The resolved notification is held back: silence s1; it is sent when this ends.");
    view.unmount();
    await renderAt("/alerts/r1%3Afp2", srv);
    await screen.findByRole("heading", { level: 1, name: /ETL_Vendas slower/ });
    expect(screen.queryByRole("note")).not.toBeInTheDocument();
  });

  it("keeps the state changes when the notifications cannot be read", async () => {
    const srv = server("viewer", {
      "GET /api/v1/alerts": () => ({ alerts: [alert()] }),
      "GET /api/v1/notifications": () => [500, { error: { code: "internal", message: "database unavailable" } }],
    });
    await renderAt("/alerts/r1%3Afp1", srv);
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not load the notifications: database unavailable");
    const timeline = document.querySelector(".alert-timeline") as HTMLElement;
    expect(within(timeline).getAllByRole("listitem").map((s) => s.dataset.to)).toEqual(["resolved", "firing"]);
  });
});
