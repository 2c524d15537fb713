import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { SessionProvider } from "../auth/session";
import { emptyRuleForm, fieldLabel, formToBody, groupSummary, previewProblems, previewSummary, ruleToForm } from "./model";
import { PREVIEW_DEBOUNCE_MS, RuleEditor } from "./RuleEditor";
import type { AlertRule, AlertRulePreview } from "./types";

vi.setConfig({ testTimeout: 30_000 });

function rule(patch: Partial<AlertRule> = {}): AlertRule {
  return {
    id: "r1",
    name: "ETL_Vendas slower than 5 minutes",
    severity: "warning",
    kind: "duration_above",
    selector: { pipeline: "ETL_Vendas" },
    condition: { duration_above: { threshold: "5m" } },
    sinks: ["slack1"],
    revision: 3,
    provisioned: false,
    created_by: "u",
    created_at: "2026-03-01T00:00:00Z",
    updated_at: "2026-03-01T00:00:00Z",
    ...patch,
  };
}

function preview(fired: number, patch: Partial<AlertRulePreview> = {}): AlertRulePreview {
  const episodes = Array.from({ length: fired }, (_, i) => ({
    fingerprint: `fp${i % 2}`,
    source_id: i % 2 ? "syn" : "dbx",
    pipeline_id: `p${i % 2}`,
    pipeline: i % 2 ? "ETL_Vendas_Synapse" : "ETL_Vendas",
    fired_at: `2026-03-0${i + 2}T10:05:01Z`,
    resolved_at: i === fired - 1 ? null : `2026-03-0${i + 2}T10:20:00Z`,
    value: "7m0s (running)",
    threshold: "5m0s",
  }));
  return {
    fired,
    episodes,
    daily: [0, 1, 0, 0, 2, 0, 0].map((n, i) => (i === 1 ? Math.max(0, fired - 2) : n)),
    runs_evaluated: 672,
    points_evaluated: 0,
    window: { from: "2026-03-01T12:00:00Z", to: "2026-03-08T12:00:00Z" },
    truncated: false,
    notes: [],
    ...patch,
  };
}

interface Call {
  method: string;
  path: string;
  body: any;
}

/** A fake API: auth and the routes given; calls are recorded. */
function server(role: string, routes: Record<string, (c: Call) => [number, unknown]>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: string, init: RequestInit) => {
    const url = new URL(input, "http://puod.test");
    const c: Call = { method: init.method ?? "GET", path: url.pathname, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const json = (status: number, b?: unknown) => new Response(b === undefined ? null : JSON.stringify(b), { status });
    const key = `${c.method} ${c.path}`;
    if (key === "POST /api/v1/auth/login") return json(200, { access_token: "a", refresh_token: "r", expires_in: 900 });
    if (key === "GET /api/v1/auth/me") return json(200, { user: { id: "u", username: "u", display_name: "U" }, profile: { id: "p1", name: "default" }, role, via: "password", memberships: [] });
    if (key === "GET /api/v1/sources") return json(200, { sources: [{ id: "dbx", plugin_id: "puod.databricks", name: "Databricks (demo)" }] });
    if (key === "GET /api/v1/plugins") return json(200, { plugins: [] });
    const h = routes[key];
    if (!h) return json(404, { error: { code: "not_found", message: `no route ${key}` } });
    return json(...h(c));
  });
  const previews = () => calls.filter((c) => c.method === "POST" && c.path === "/api/v1/alert-rules/preview");
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, previews };
}

async function renderEditor(id: string | null, srv: ReturnType<typeof server>) {
  window.history.replaceState(null, "", id ? `/alerts/rules/${id}` : "/alerts/rules/new");
  const client = new ApiClient({ fetch: srv.fetch });
  await client.login("u", "p");
  return render(
    <SessionProvider client={client}>
      <RuleEditor id={id} />
    </SessionProvider>,
  );
}

const summary = () => within(screen.getByRole("region", { name: "Preview" })).getByRole("status");
// The debounce and a loaded machine take longer than waitFor's default second.
const until = (check: () => void) => waitFor(check, { timeout: 5000 });
const wait = (ms: number) => act(() => new Promise((r) => setTimeout(r, ms)));

describe("RuleEditor preview", () => {
  it("previews the rule as opened, then each edit once the form rests", async () => {
    let fired = 3;
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, rule()],
      "POST /api/v1/alert-rules/preview": () => [200, preview(fired)],
    });
    await renderEditor("r1", srv);
    await until(() => expect(summary()).toHaveTextContent("Would have fired 3 times in the last 7 days"));
    expect(summary()).toHaveAttribute("data-fired", "3");
    expect(srv.previews()).toHaveLength(1);
    expect(srv.previews()[0]!.body).toEqual({
      rule: { name: "ETL_Vendas slower than 5 minutes", severity: "warning", selector: { pipeline: "ETL_Vendas" }, condition: { duration_above: { threshold: "5m" } }, sinks: ["slack1"] },
      days: 7,
    });
    const region = screen.getByRole("region", { name: "Preview" });
    // The newest first, with their pipelines; the open one says so.
    const items = within(within(region).getByRole("list", { name: "Latest firings" })).getAllByRole("listitem");
    expect(items).toHaveLength(3);
    expect(items[0]).toHaveTextContent("ETL_Vendas (Databricks (demo))");
    expect(items[0]).toHaveTextContent("still firing");
    expect(items[1]).toHaveTextContent("ETL_Vendas_Synapse");
    expect(items[1]).not.toHaveTextContent("Databricks");
    expect(items[1]).toHaveTextContent("resolved");
    expect(within(region).getByText(/672 runs of the selected pipelines replayed/)).toBeInTheDocument();
    expect(within(region).getByRole("img", { name: "Firings per day: 0, 1, 0, 0, 2, 0, 0" })).toBeInTheDocument();

    // Several changes in a row: "Checking…" at once, one request once
    // the form rests, for the last value.
    fired = 1;
    const threshold = screen.getByLabelText(/^Threshold/);
    fireEvent.change(threshold, { target: { value: "1" } });
    fireEvent.change(threshold, { target: { value: "10" } });
    fireEvent.change(threshold, { target: { value: "10m" } });
    expect(summary()).toHaveTextContent("Checking…");
    await until(() => expect(summary()).toHaveTextContent("Would have fired once in the last 7 days"));
    expect(srv.previews()).toHaveLength(2);
    expect(srv.previews()[1]!.body.rule.condition).toEqual({ duration_above: { threshold: "10m" } });

    // An edit undone before the form rests asks nothing.
    fireEvent.change(threshold, { target: { value: "10m " } });
    fireEvent.change(threshold, { target: { value: "10m" } });
    await wait(PREVIEW_DEBOUNCE_MS + 300);
    expect(srv.previews()).toHaveLength(2);
    expect(summary()).toHaveTextContent("Would have fired once");
  });

  it("shows the rule's problems in the preview, linked to their fields", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, rule()],
      "POST /api/v1/alert-rules/preview": (c) =>
        c.body.rule.condition.duration_above?.threshold === "5 min"
          ? [400, { error: { code: "invalid_request", message: "alert rule is invalid", fields: [{ field: "/rule/condition/duration_above/threshold", message: '"5 min" is not a duration' }] } }]
          : [200, preview(0)],
    });
    await renderEditor("r1", srv);
    await until(() => expect(summary()).toHaveTextContent("Would not have fired in the last 7 days"));
    const threshold = screen.getByLabelText(/^Threshold/);
    fireEvent.change(threshold, { target: { value: "5 min" } });
    await until(() => expect(summary()).toHaveTextContent("The rule has problems"));
    const region = screen.getByRole("region", { name: "Preview" });
    const problem = within(region).getByText(/is not a duration/).closest("li")!;
    expect(problem).toHaveAttribute("data-pointer", "/condition/duration_above/threshold");
    await user.click(within(problem).getByRole("link", { name: "Threshold" }));
    expect(threshold).toHaveFocus();
    // The save flow's own problems are untouched: the field is not marked.
    expect(threshold).not.toHaveAttribute("aria-invalid");
  });

  it("asks nothing for an untouched new rule, then previews what is typed", async () => {
    const srv = server("editor", { "POST /api/v1/alert-rules/preview": () => [200, preview(2)] });
    await renderEditor(null, srv);
    await screen.findByLabelText("Name (required)");
    await until(() => expect(summary()).toHaveTextContent("Fill in the rule to see how often it would have fired in the last 7 days."));
    await wait(PREVIEW_DEBOUNCE_MS + 300);
    expect(srv.previews()).toHaveLength(0);
    fireEvent.change(screen.getByLabelText("Name (required)"), { target: { value: "Failures" } });
    await until(() => expect(summary()).toHaveTextContent("Would have fired 2 times"));
    expect(srv.previews()).toHaveLength(1);
  });

  it("says when the preview failed and retries on request", async () => {
    const user = userEvent.setup();
    let n = 0;
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, rule({ provisioned: true })],
      "POST /api/v1/alert-rules/preview": () =>
        ++n === 1 ? [503, { error: { code: "unavailable", message: "the preview needs more than 10 s for this rule over this window: preview fewer days, or narrow the pipeline selector" } }] : [200, preview(1, { truncated: true, notes: ["only the newest 100000 runs were replayed"] })],
    });
    await renderEditor("r1", srv);
    // A rule from a file is read-only, and still previewed.
    await until(() => expect(summary()).toHaveTextContent("Could not preview the rule: the preview needs more than 10 s"));
    await user.click(screen.getByRole("button", { name: "Retry preview" }));
    await until(() => expect(summary()).toHaveTextContent("Would have fired once in the last 7 days"));
    expect(within(screen.getByRole("region", { name: "Preview" })).getByRole("note")).toHaveTextContent("only the newest 100000 runs were replayed");
    expect(srv.previews()).toHaveLength(2);
  });

  it("is not offered to viewers (the API refuses them)", async () => {
    const srv = server("viewer", { "GET /api/v1/alert-rules/r1": () => [200, rule()] });
    await renderEditor("r1", srv);
    expect(await screen.findByLabelText(/^Threshold/)).toBeDisabled();
    await wait(PREVIEW_DEBOUNCE_MS + 300);
    expect(screen.queryByRole("region", { name: "Preview" })).not.toBeInTheDocument();
    expect(srv.previews()).toHaveLength(0);
  });
});

describe("RuleEditor grouping and repeat", () => {
  const grouped = () => rule({ group: { by: ["pipeline", "source_id"], wait: "1s", interval: "1m", repeat: "0s" } });
  const groupSection = () => document.querySelector('details[data-pointer="/group"]') as HTMLDetailsElement;

  it("round-trips a rule's group policy through the form", () => {
    const r = grouped();
    const body = formToBody(ruleToForm(r));
    expect(body.group).toEqual({ by: ["pipeline", "source_id"], wait: "1s", interval: "1m", repeat: "0s" });
    expect(formToBody(ruleToForm({ ...r, group: { repeat: "4h" } })).group).toEqual({ repeat: "4h" });
    expect(groupSummary(ruleToForm(r).group)).toBe("by pipeline, source_id · wait 1s · interval 1m · never repeat");
  });

  it("leaves the group out of the body when nothing is set, so the defaults apply", () => {
    expect(formToBody(emptyRuleForm())).not.toHaveProperty("group");
    expect(formToBody(ruleToForm(rule()))).not.toHaveProperty("group");
    const f = emptyRuleForm();
    f.group = { by: " , ", wait: " ", interval: "", repeat: "" };
    expect(formToBody(f)).not.toHaveProperty("group");
    expect(groupSummary(f.group)).toBe("defaults");
  });

  it("keeps the group settings when a rule is saved, collapsed until opened", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, grouped()],
      "POST /api/v1/alert-rules/preview": () => [200, preview(0)],
      "PUT /api/v1/alert-rules/r1": (c) => [200, { ...grouped(), ...c.body, revision: 4 }],
    });
    await renderEditor("r1", srv);
    await until(() => expect(summary()).toHaveTextContent("Would not have fired"));
    // The preview replays the same body, group included.
    expect(srv.previews()[0]!.body.rule.group).toEqual({ by: ["pipeline", "source_id"], wait: "1s", interval: "1m", repeat: "0s" });
    const section = groupSection();
    expect(section.open).toBe(false);
    expect(section.querySelector("summary")).toHaveTextContent("Grouping and repeat (by pipeline, source_id · wait 1s · interval 1m · never repeat)");
    await user.click(within(section).getByText("Grouping and repeat"));
    await until(() => expect(section.open).toBe(true));
    const group = screen.getByRole("group", { name: "Grouping and repeat" });
    expect(within(group).getByLabelText("Group by")).toHaveValue("pipeline, source_id");
    expect(within(group).getByLabelText("Group wait")).toHaveValue("1s");
    expect(within(group).getByLabelText("Group interval")).toHaveValue("1m");
    const repeat = within(group).getByLabelText("Repeat after");
    expect(repeat).toHaveValue("0s");
    expect(repeat).toHaveAttribute("placeholder", "4h");
    expect(within(group).getByLabelText("Group wait")).toHaveAttribute("placeholder", "500ms");
    expect(within(group).getByLabelText("Group interval")).toHaveAttribute("placeholder", "10s");
    expect(repeat).toHaveAccessibleDescription(/0s never repeats/);
    fireEvent.change(repeat, { target: { value: "2h" } });
    fireEvent.change(within(group).getByLabelText("Group interval"), { target: { value: "" } });
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    await screen.findByText("Saved (revision 4).");
    const put = srv.calls.find((c) => c.method === "PUT")!;
    expect(put.body.group).toEqual({ by: ["pipeline", "source_id"], wait: "1s", repeat: "2h" });
    expect(put.body.revision).toBe(3);
  });

  it("creates a rule without a group when the section is left empty", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "POST /api/v1/alert-rules/preview": () => [200, preview(0)],
      "POST /api/v1/alert-rules": (c) => [201, { ...rule(), ...c.body, id: "r9", revision: 1 }],
    });
    await renderEditor(null, srv);
    fireEvent.change(await screen.findByLabelText("Name (required)"), { target: { value: "Failures" } });
    fireEvent.change(screen.getByLabelText("Sinks"), { target: { value: "slack1" } });
    await user.click(screen.getByRole("button", { name: "Create rule" }));
    await until(() => expect(srv.calls.some((c) => c.method === "POST" && c.path === "/api/v1/alert-rules")).toBe(true));
    const post = srv.calls.find((c) => c.method === "POST" && c.path === "/api/v1/alert-rules")!;
    expect(post.body).not.toHaveProperty("group");
    expect(post.body.name).toBe("Failures");
  });

  it("opens the section and marks the fields of the server's problems in it", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, grouped()],
      "POST /api/v1/alert-rules/preview": () => [200, preview(0)],
      "PUT /api/v1/alert-rules/r1": () => [
        400,
        {
          error: {
            code: "invalid_request",
            message: "alert rule is invalid",
            fields: [
              { field: "/group/wait", message: "must be at most 1h0m0s" },
              { field: "/group/by/1", message: "a label name must match [A-Za-z_][A-Za-z0-9_]*" },
            ],
          },
        },
      ],
    });
    await renderEditor("r1", srv);
    await until(() => expect(summary()).toHaveTextContent("Would not have fired"));
    expect(groupSection().open).toBe(false);
    await user.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByText("The rule has problems: see the marked fields.")).toBeInTheDocument();
    await until(() => expect(groupSection().open).toBe(true));
    const wait = screen.getByLabelText("Group wait");
    expect(wait).toHaveAttribute("aria-invalid", "true");
    expect(wait).toHaveAccessibleDescription(/must be at most 1h0m0s/);
    expect(wait.closest("[data-pointer]")).toHaveAttribute("data-pointer", "/group/wait");
    const by = screen.getByLabelText("Group by");
    expect(by).toHaveAttribute("aria-invalid", "true");
    expect(by).toHaveAccessibleDescription(/a label name must match/);
    expect(screen.getByLabelText("Group interval")).not.toHaveAttribute("aria-invalid");
    // Placed on their fields: none is listed at the top.
    expect(screen.getByRole("alert")).not.toHaveTextContent("/group");
  });

  it("opens the section from a preview problem's link into it", async () => {
    const user = userEvent.setup();
    const srv = server("editor", {
      "GET /api/v1/alert-rules/r1": () => [200, grouped()],
      "POST /api/v1/alert-rules/preview": () => [400, { error: { code: "invalid_request", message: "alert rule is invalid", fields: [{ field: "/rule/group/by/1", message: "a label name must match [A-Za-z_][A-Za-z0-9_]*" }] } }],
    });
    await renderEditor("r1", srv);
    await until(() => expect(summary()).toHaveTextContent("The rule has problems"));
    expect(groupSection().open).toBe(false);
    await user.click(within(screen.getByRole("region", { name: "Preview" })).getByRole("link", { name: "Group by" }));
    expect(groupSection().open).toBe(true);
    expect(screen.getByLabelText("Group by")).toHaveFocus();
  });
});

describe("preview helpers", () => {
  it("words the count", () => {
    expect(previewSummary(0, 7)).toBe("Would not have fired in the last 7 days");
    expect(previewSummary(1, 7)).toBe("Would have fired once in the last 7 days");
    expect(previewSummary(12, 1)).toBe("Would have fired 12 times in the last day");
  });
  it("points problems at the form's fields", () => {
    expect(previewProblems([{ field: "/rule/condition/deadline/time", message: "x" }, { field: "/rule", message: "y" }, { field: "/days", message: "z" }])).toEqual([
      { field: "/condition/deadline/time", message: "x" },
      { field: "", message: "y" },
      { field: "/days", message: "z" },
    ]);
    expect(fieldLabel("/condition/deadline/time_zone")).toBe("Time zone");
    expect(fieldLabel("/annotations/summary")).toBe("Annotation summary");
    expect(fieldLabel("/labels/a~1b")).toBe("Label a/b");
    expect(fieldLabel("/sinks/1")).toBe("Sinks");
    expect(fieldLabel("/name")).toBe("Name");
    expect(fieldLabel("/group/wait")).toBe("Group wait");
    expect(fieldLabel("/group/by/1")).toBe("Group by");
  });
});
