// End-to-end tests of the web UI in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser download),
// against a running `puod serve` that has the acme.hello example plugin.
//
//   PUOD_URL=http://127.0.0.1:PORT PUOD_ADMIN_PASSWORD=… node e2e/run.mjs
//
// Optional: SCREENSHOT_DIR (default ../../test-artifacts/screenshots),
// GALLERY_DIR (a built e2e/gallery, served for the visualization checks),
// CHROMIUM (default /usr/bin/chromium). Prints "N passed, M failed" last
// and exits non-zero on any failure.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const base = (process.env.PUOD_URL ?? "").replace(/\/$/, "");
const password = process.env.PUOD_ADMIN_PASSWORD ?? "";
const shots = resolve(process.env.SCREENSHOT_DIR ?? join(here, "../../../test-artifacts/screenshots"));
const galleryDir = process.env.GALLERY_DIR;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!base || !password) {
  console.error("e2e: set PUOD_URL and PUOD_ADMIN_PASSWORD (scripts/test-web.sh does)");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const results = [];
let skipRest = false;
async function test(name, fn, { critical = false } = {}) {
  if (skipRest) {
    results.push({ name, ok: false, error: "skipped: an earlier step every later one needs failed" });
    console.log(`SKIP ${name}`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e?.stack ?? e).split("\n").slice(0, 6).join("\n     ")}`);
    if (critical) skipRest = true;
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const profile = mkdtempSync(join(tmpdir(), "puod-e2e-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 860 },
  locale: "en-US",
  timezoneId: "UTC",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
context.setDefaultTimeout(15_000);
const page = context.pages()[0] ?? (await context.newPage());
// Uncaught errors and CSP violations fail the run: the UI must work under its own policy.
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(`page error: ${e.message}`));
page.on("console", (m) => {
  if (m.type() === "error" && !/status of (400|401|404)/.test(m.text())) pageErrors.push(`console error: ${m.text()}`);
});
const noErrors = (where) => {
  const errs = pageErrors.splice(0);
  expect(errs.length === 0, `${where}: ${errs.join("; ")}`);
};

const sourceName = `hello-e2e-${Date.now().toString(36)}`;
// The viewer the dashboards tests create; the alerting tests reuse it.
let viewer = null;

try {
  await test("the login page renders and refuses a wrong password", async () => {
    await page.goto(`${base}/`);
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await shot(page, "login");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
    noErrors("login page");
  });

  await test(
    "log in as admin",
    async () => {
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      // `/` opens the default dashboard.
      await page.getByRole("heading", { name: /Pipelines overview/, level: 1 }).waitFor();
      expect(new URL(page.url()).pathname === "/dashboards/pipelines-overview", `landed on ${page.url()}`);
      await page.getByRole("button", { name: "Log out" }).waitFor();
    },
    { critical: true },
  );

  await test("the plugins page shows acme.hello running", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Plugins" }).click();
    await page.getByRole("heading", { name: "Plugins", level: 1 }).waitFor();
    const card = page.getByRole("article", { name: "Hello connector" });
    const deadline = Date.now() + 45_000;
    for (;;) {
      const state = await card.locator(".badge").getAttribute("data-state").catch(() => null);
      if (state === "running") break;
      expect(Date.now() < deadline, `acme.hello is ${state ?? "not listed"}, not running`);
      await page.waitForTimeout(1000);
      await page.getByRole("button", { name: "Refresh" }).click();
    }
    await card.getByText("acme.hello", { exact: true }).waitFor();
    await card.getByText("1.0.0", { exact: true }).waitFor();
    await card.getByRole("link", { name: /Hello runs/ }).waitFor();
    await card.getByText(/Log tail/).click(); // admins see the log tail
    await shot(page, "plugins");
    noErrors("plugins page");
  });

  await test("the card catalog lists acme.hello/greeting_runs", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Card catalog" }).click();
    const item = page.locator('[data-card-type="acme.hello/greeting_runs"]');
    await item.waitFor();
    await item.getByRole("heading", { name: "Hello runs" }).waitFor();
    await item.getByText("Bar chart").waitFor();
    await item.getByRole("rowheader", { name: "limit" }).waitFor();
    await page.getByRole("heading", { name: /Hello connector/, level: 2 }).waitFor();
    await shot(page, "catalog");
    noErrors("catalog page");
  });

  let generated = false;
  await test("a source for acme.hello is created through the generated form; server errors land on the field", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sources" }).click();
    await page.getByRole("heading", { name: "Sources", level: 1 }).waitFor();
    await page.getByRole("button", { name: "New source" }).click();
    await page.getByLabel("Plugin").selectOption("acme.hello");
    const form = page.getByRole("form", { name: "New source" });
    await form.getByLabel(/^Name/).fill(sourceName);
    generated = (await form.getByLabel(/^Greeting/).count()) > 0;
    // First without the required greeting: the server's error must show next to the settings.
    if (generated) {
      await form.getByLabel(/^Runs/).fill("12");
    } else {
      await form.getByLabel("Settings (JSON)").fill('{"runs": 12}');
    }
    await form.getByRole("button", { name: "Create source" }).click();
    const owner = generated ? '[data-pointer="/config/greeting"]' : '[data-pointer="/config"]';
    await form.locator(`${owner} .field-error`).waitFor();
    await shot(page, "sources-form-errors");
    if (generated) {
      await form.getByLabel(/^Greeting/).fill("Hello from e2e");
      await form.getByLabel(/^Token/).fill("e2e-secret-token");
    } else {
      await form.getByLabel("Settings (JSON)").fill('{"greeting": "Hello from e2e", "runs": 12, "token": "e2e-secret-token"}');
    }
    await form.getByRole("button", { name: "Create source" }).click();
    await page.getByRole("status").filter({ hasText: `Created ${sourceName}.` }).waitFor();
    await page.locator(`tr[data-source="${sourceName}"]`).waitFor();
    noErrors("sources page");
  });

  await test("test connection answers ok", async () => {
    const row = page.locator(`tr[data-source="${sourceName}"]`);
    await row.getByRole("button", { name: `Test connection of ${sourceName}` }).click();
    const result = row.getByTestId("test-result");
    await result.waitFor();
    const text = await result.innerText();
    expect(/\bok\b/.test(text), `test connection answered: ${text}`);
    await shot(page, "sources");
  });

  await test("editing the source shows its secret masked, never in clear", async () => {
    const row = page.locator(`tr[data-source="${sourceName}"]`);
    await row.getByRole("button", { name: `Edit ${sourceName}` }).click();
    const form = page.getByRole("form", { name: `Edit ${sourceName}` });
    await form.waitFor();
    if (generated) {
      const token = form.getByLabel(/^Token/);
      expect((await token.getAttribute("type")) === "password", "the token is a password input");
      expect((await token.inputValue()) === "********", `token shows ${await token.inputValue()}`);
    } else {
      const json = await form.getByLabel("Settings (JSON)").inputValue();
      expect(json.includes('"token": "********"'), `settings show ${json}`);
    }
    const html = await page.content();
    expect(!html.includes("e2e-secret-token"), "the secret appears in the page");
    await shot(page, "sources-edit");
    await form.getByRole("button", { name: "Cancel" }).click();
  });

  await test("a reload on a client route keeps the session (refresh token in sessionStorage)", async () => {
    await page.reload();
    await page.getByRole("heading", { name: "Sources", level: 1 }).waitFor();
    await page.locator(`tr[data-source="${sourceName}"]`).waitFor();
    noErrors("reload");
  });

  await dashboardTests();

  await test("API paths keep JSON 404s; missing assets are 404; the UI has its security headers", async () => {
    const api = await page.request.get(`${base}/api/v1/no-such-thing`);
    expect(api.status() === 404, `api status ${api.status()}`);
    expect((await api.json()).error?.code === "not_found", "api 404 is the JSON error");
    const asset = await page.request.get(`${base}/assets/missing-0000.js`);
    expect(asset.status() === 404, `missing asset status ${asset.status()}`);
    const index = await page.request.get(`${base}/plugins`);
    expect(index.headers()["cache-control"] === "no-cache", `index cache-control ${index.headers()["cache-control"]}`);
    expect((index.headers()["content-security-policy"] ?? "").includes("default-src 'self'"), "CSP on index.html");
    const js = (await index.text()).match(/\/assets\/[^"]+\.js/)?.[0];
    const jsRes = await page.request.get(`${base}${js}`);
    expect(/immutable/.test(jsRes.headers()["cache-control"] ?? ""), `asset cache-control ${jsRes.headers()["cache-control"]}`);
  });

  await runsExplorerTests();

  await alertsTests();

  await notificationsTests();

  await test("log out", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByText("You are logged out.").waitFor();
    await page.goto(`${base}/sources`);
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    noErrors("logout");
  });

  if (galleryDir) {
    const server = await serveStatic(galleryDir);
    try {
      await test("every visualization renders from a frame (gallery)", async () => {
        const g = await context.newPage();
        g.on("pageerror", (e) => pageErrors.push(`gallery page error: ${e.message}`));
        await g.goto(`http://127.0.0.1:${server.address().port}/index.html`);
        await g.locator(".viz-stat").waitFor();
        await g.locator(".uplot canvas").waitFor();
        const box = await g.locator(".uplot canvas").first().boundingBox();
        expect(box && box.width > 200 && box.height > 100, `uPlot canvas is ${JSON.stringify(box)}`);
        expect((await g.locator(".viz-bar [data-testid=bar]").count()) === 3, "three bars");
        expect((await g.locator(".viz-status-grid .run-failed").count()) > 0, "failed runs are coloured");
        await g.locator(".viz-status-grid button.run-failed").first().click();
        await g.getByTestId("clicked").filter({ hasText: "(failed)" }).waitFor();
        await g.getByRole("button", { name: "Next" }).click();
        await g.getByText("Rows 5–5 of 5").waitFor();
        await g.getByRole("button", { name: "Previous" }).click();
        await g.getByText("Could not load this card").waitFor();
        await g.getByText("No rows").waitFor();
        await g.waitForTimeout(200);
        await g.screenshot({ path: join(shots, "visualizations.png"), fullPage: true });
        await g.close();
        noErrors("gallery");
      });
    } finally {
      server.close();
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok).length;
console.log(`\nscreenshots: ${shots}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

function serveStatic(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
  const srv = createServer((req, res) => {
    const p = resolve(dir, "." + decodeURIComponent(new URL(req.url, "http://x").pathname));
    try {
      if (!p.startsWith(resolve(dir)) || !statSync(p).isFile()) throw new Error("no");
      res.writeHead(200, { "Content-Type": types[extname(p)] ?? "application/octet-stream" });
      res.end(readFileSync(p));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => srv.listen(0, "127.0.0.1", () => ok(srv)));
}

// The pipelines and runs explorer, on the demo sources' runs (the host runs
// with --demo): list, filter by state through the form (the URL keeps it),
// a run's detail with its vendor link, the pipelines view.
async function runsExplorerTests() {
  await test("the runs explorer lists the demo runs", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
    await page.getByRole("heading", { name: "Pipelines and runs", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname === "/runs", `at ${page.url()}`);
    // The demo sources are polled shortly after the host starts.
    const deadline = Date.now() + 60_000;
    while ((await page.locator("tr[data-run]").count()) === 0) {
      expect(Date.now() < deadline, "no runs listed after 60 s: start the host with --demo and the first-party plugins in its plugin directory");
      await page.waitForTimeout(2000);
      if ((await page.locator("tr[data-run]").count()) === 0) await page.reload();
      await page.getByRole("heading", { name: "Pipelines and runs", level: 1 }).waitFor();
    }
    const sourcesShown = await page.locator("tr[data-run] td:nth-child(3)").allInnerTexts();
    expect(sourcesShown.some((s) => /\(demo\)/.test(s)), `sources shown: ${[...new Set(sourcesShown)].join(", ")}`);
    await page.locator("tr[data-run] .run-state").first().waitFor();
    await shot(page, "runs");
    noErrors("runs page");
  });

  let failedCount = 0;
  await test("filtering by state=failed shows only failed runs and lives in the URL", async () => {
    await page.getByLabel("State").selectOption("failed");
    await page.waitForURL((u) => u.searchParams.get("state") === "failed");
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = await page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")));
      if (states.length > 0 && states.every((s) => s === "failed")) {
        failedCount = states.length;
        break;
      }
      expect(Date.now() < deadline, `rows after filtering: ${states.join(", ") || "none"}`);
      await page.waitForTimeout(500);
    }
    // A reload (or a shared link) reproduces the view.
    await page.reload();
    await page.locator("tr[data-run]").first().waitFor();
    expect((await page.getByLabel("State").inputValue()) === "failed", "the state filter survives a reload");
    const states = await page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")));
    expect(states.every((s) => s === "failed"), `after reload: ${states.join(", ")}`);
    await shot(page, "runs-failed");
    noErrors("runs filter");
  });

  await test("a failed run's detail shows its error, tasks and the vendor link", async () => {
    expect(failedCount > 0, "no failed run to open");
    const first = page.locator("tr[data-run]").first();
    const name = (await first.locator("a.run-link").innerText()).trim();
    await first.locator("a.run-link").click();
    await page.getByRole("heading", { name, level: 1 }).waitFor();
    expect(/^\/runs\/[^/]+$/.test(new URL(page.url()).pathname), `at ${page.url()}`);
    await page.locator(".run-head .run-state[data-state=failed]").waitFor();
    const vendor = page.getByRole("link", { name: /^Open in / });
    await vendor.waitFor();
    const href = await vendor.getAttribute("href");
    expect(/^https?:\/\//.test(href ?? ""), `vendor href ${href}`);
    expect((await vendor.getAttribute("target")) === "_blank", "the vendor link opens a new tab");
    expect(/\bnoopener\b/.test((await vendor.getAttribute("rel")) ?? ""), "the vendor link has rel=noopener");
    await page.getByRole("region", { name: "Timing" }).waitFor();
    await page.getByRole("region", { name: /^Tasks/ }).waitFor();
    await page.waitForTimeout(200);
    await shot(page, "run-detail");
    // Back to the filtered list the run was opened from.
    await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "← Runs" }).click();
    await page.waitForURL((u) => u.pathname === "/runs" && u.searchParams.get("state") === "failed");
    noErrors("run detail");
  });

  await test("the pipelines view lists pipelines with their last run", async () => {
    await page.getByRole("navigation", { name: "Explorer views" }).getByRole("link", { name: "Pipelines" }).click();
    await page.locator("tr[data-pipeline]").first().waitFor();
    await page.locator("tr[data-pipeline] .last-run").first().waitFor();
    await shot(page, "pipelines");
    // A pipeline's "Runs" link filters the runs list by it.
    const row = page.locator("tr[data-pipeline]").first();
    await row.getByRole("link", { name: /^Runs of / }).click();
    await page.waitForURL((u) => u.pathname === "/runs" && !!u.searchParams.get("pipeline"));
    await page.locator("tr[data-run], .state-empty").first().waitFor();
    noErrors("pipelines view");
  });
}

// Dashboards on the demo sources (the host runs with --demo and the
// first-party plugins): the default dashboard at /, a plugin card added
// from the catalog and configured through its generated form, dragged,
// resized, saved, kept across a reload, removed; a failed run injected in
// the Databricks simulator reaching the open page without a reload; a
// viewer without edit controls.
async function dashboardTests() {
  const apiLogin = async (username, pw) => {
    const r = await fetch(`${base}/api/v1/auth/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password: pw }) });
    expect(r.ok, `API login of ${username}: ${r.status}`);
    return (await r.json()).access_token;
  };
  const token = await apiLogin("admin", password);
  const api = async (method, path, body, tok = token) => {
    const r = await fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${tok}`, Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const cardsReady = () => page.locator("[data-cards-ready=true]").waitFor({ timeout: 30_000 });
  const title = "E2E Databricks runs";
  let copyId = null;
  let dbx = null;

  await test("the default dashboard opens at / and shows data", async () => {
    await page.goto(`${base}/`);
    await page.waitForURL((u) => u.pathname === "/dashboards/pipelines-overview");
    await page.getByRole("heading", { name: /Pipelines overview/, level: 1 }).waitFor();
    await cardsReady();
    // The demo sources are polled shortly after the host starts.
    const deadline = Date.now() + 90_000;
    for (let i = 0; ; i++) {
      const cells = await page.locator(".viz-status-grid [class*='run-']").count();
      const stat = await page.locator("[data-testid=stat-value]:not(.stat-null)").count();
      if (cells > 0 && stat > 0) break;
      expect(Date.now() < deadline, `no data on the default dashboard after 90 s (status-grid cells ${cells}, stats ${stat})`);
      await page.waitForTimeout(2000);
      if (i % 10 === 9) {
        await page.reload();
        await cardsReady();
      }
    }
    expect((await page.locator(".card .state-error").count()) === 0, `cards in error: ${await page.locator(".card .state-error").allInnerTexts()}`);
    await page.getByText("Read-only").first().waitFor();
    await page.waitForTimeout(300);
    await shot(page, "dashboard");
    noErrors("default dashboard");
  });

  await test("a status-grid cell opens its run", async () => {
    await page.locator(".viz-status-grid button[class*='run-']").first().click();
    await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
    await page.goBack();
    await page.waitForURL((u) => u.pathname === "/dashboards/pipelines-overview");
    await cardsReady();
  });

  await test("a plugin card is added from the catalog through its generated form, dragged, resized and saved", async () => {
    const sources = (await api("GET", "/api/v1/sources")).body?.sources ?? [];
    dbx = sources.find((s) => s.name === "Databricks (demo)");
    expect(dbx, `no "Databricks (demo)" source: ${sources.map((s) => s.name).join(", ")}`);
    await page.getByRole("button", { name: "Copy to edit" }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/dashboards/") && u.pathname !== "/dashboards/pipelines-overview");
    await page.getByRole("button", { name: "Add card" }).waitFor();
    copyId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    await cardsReady();
    await page.setViewportSize({ width: 1280, height: 2200 });

    await page.getByRole("button", { name: "Add card" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a card" });
    await dialog.getByRole("region", { name: "Built in" }).waitFor();
    await dialog.getByLabel("Search card types").fill("databricks");
    const choice = dialog.locator('[data-card-type$="runs_table"]').first();
    await choice.waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });
    await shot(page, "dashboard-edit-catalog");
    await page.setViewportSize({ width: 1280, height: 2200 });
    await choice.click();
    const form = page.getByRole("form", { name: /^Options of / });
    await form.getByLabel(/^Source/).selectOption({ label: "Databricks (demo)" });
    await page.getByLabel("Card title").fill(title);
    await form.getByRole("button", { name: "Add to dashboard" }).click();
    await dialog.waitFor({ state: "detached" });

    const card = page.getByRole("region", { name: title, exact: true });
    await card.waitFor();
    await page.getByText("Unsaved changes").waitFor();
    const item = page.locator(".grid-item").filter({ has: card });
    const start = await item.boundingBox();
    const grid = await page.locator(".dashboard-grid").boundingBox();
    const col = grid.width / 12;
    // Drag it by the header to the top of the grid: it takes row 0, the others move down.
    const head = await card.locator(".card-head h3").boundingBox();
    await page.mouse.move(head.x + 30, head.y + head.height / 2);
    await page.mouse.down();
    await page.mouse.move(head.x + 40, head.y - 30, { steps: 4 });
    await page.mouse.move(head.x + 30, grid.y + 8, { steps: 25 });
    await page.mouse.up();
    await page.waitForTimeout(400);
    const moved = await item.boundingBox();
    expect(moved.y < start.y - 300, `the card did not move up: ${start.y} → ${moved.y}`);
    // Resize it from the bottom-right handle: two columns narrower, one row taller.
    const handle = await item.locator(".react-resizable-handle").last().boundingBox();
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x - col, handle.y + 50, { steps: 10 });
    await page.mouse.move(handle.x - 2 * col, handle.y + 112, { steps: 10 });
    await page.mouse.up();
    await page.waitForTimeout(400);
    const resized = await item.boundingBox();
    expect(resized.width < moved.width - col && resized.height > moved.height + 50, `not resized: ${JSON.stringify(moved)} → ${JSON.stringify(resized)}`);
    await page.setViewportSize({ width: 1280, height: 860 });
    await shot(page, "dashboard-edit");

    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Dashboard saved.").waitFor();
    const saved = (await api("GET", `/api/v1/dashboards/${encodeURIComponent(copyId)}`)).body;
    const c = saved.cards.find((x) => x.title === title);
    expect(c, `saved cards: ${saved.cards.map((x) => x.title || x.type).join(", ")}`);
    expect(/runs_table$/.test(c.type) && c.options.source_id === dbx.id, `saved card ${JSON.stringify(c)}`);
    expect(c.time_range === null, `card time range ${JSON.stringify(c.time_range)}`);
    const ct = ((await api("GET", "/api/v1/card-types")).body?.card_types ?? []).find((t) => t.type === c.type);
    const size = { w: 6, h: 4, ...ct?.default_size };
    expect(c.x === 0 && c.y === 0, `the card was not moved to the top: ${JSON.stringify(c)}`);
    expect(c.w < Math.min(12, size.w) && c.h > size.h, `the card was not resized from ${JSON.stringify(size)}: ${JSON.stringify(c)}`);
    noErrors("add card");
  });

  await test("a reload keeps the layout and the options; the card shows the source's runs", async () => {
    expect(copyId, "no copy to reload");
    await page.setViewportSize({ width: 1280, height: 2200 });
    const card = page.getByRole("region", { name: title, exact: true });
    const item = page.locator(".grid-item").filter({ has: card });
    // Relative to the grid: the "saved" notice above it is gone after the reload.
    const place = async () => {
      const [g, b] = [await page.locator(".dashboard-grid").boundingBox(), await item.boundingBox()];
      return { x: b.x - g.x, y: b.y - g.y, width: b.width, height: b.height };
    };
    const before = await place();
    await page.reload();
    await cardsReady();
    const after = await place();
    expect(Math.abs(after.x - before.x) < 3 && Math.abs(after.y - before.y) < 3 && Math.abs(after.width - before.width) < 3 && Math.abs(after.height - before.height) < 3, `layout changed across reload: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    expect((await card.locator(".state-error").count()) === 0, `card error: ${await card.innerText()}`);
    await card.locator("table, .state-empty").first().waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByRole("button", { name: `Configure ${title}` }).click();
    const form = page.getByRole("form", { name: /^Options of / });
    const selected = await form.getByLabel(/^Source/).evaluate((el) => el.options[el.selectedIndex]?.text);
    expect(selected === "Databricks (demo)", `source after reload: ${selected}`);
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await page.setViewportSize({ width: 1280, height: 860 });
    noErrors("reload");
  });

  await test("the card is removed and the removal saved", async () => {
    await page.getByRole("button", { name: `Remove ${title}` }).click();
    await page.getByText("Unsaved changes").waitFor();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Dashboard saved.").waitFor();
    expect((await page.getByRole("region", { name: title }).count()) === 0, "the card is still shown");
    const saved = (await api("GET", `/api/v1/dashboards/${encodeURIComponent(copyId)}`)).body;
    expect(!saved.cards.some((x) => x.title === title), "the card is still saved");
    noErrors("remove card");
  });

  await test("a new failed run in the Databricks simulator appears on the open dashboard without a reload", async () => {
    expect(dbx?.config?.workspace_url, `no workspace_url in ${JSON.stringify(dbx?.config)}`);
    await page.locator("a.brand").click(); // in-app navigation to /
    await page.waitForURL((u) => u.pathname === "/dashboards/pipelines-overview");
    await cardsReady();
    await page.getByText("Live", { exact: true }).waitFor();
    await page.evaluate(() => (window.__e2eNoReload = true));
    const before = await page.getByText("demo_failure_probe").count();
    const r = await fetch(`${dbx.config.workspace_url.replace(/\/$/, "")}/puod-demo/failed-run`, { method: "POST" });
    expect(r.ok, `demo trigger answered ${r.status}: add it to host/demo (POST /puod-demo/failed-run)`);
    const run = await r.json();
    const deadline = Date.now() + 90_000;
    while ((await page.getByText("demo_failure_probe").count()) <= before) {
      expect(Date.now() < deadline, `run ${run.run_id} of demo_failure_probe did not appear within 90 s`);
      await page.waitForTimeout(1000);
    }
    expect(await page.evaluate(() => window.__e2eNoReload === true), "the page was reloaded");
    await page.waitForTimeout(300);
    await shot(page, "dashboard-live-failure");
    noErrors("live update");
  });

  await test("the dashboards list shows the provisioned dashboard read-only; the copy is deleted after a confirmation", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboards" }).click();
    await page.getByRole("heading", { name: "Dashboards", level: 1 }).waitFor();
    const prov = page.locator('li[data-dashboard="pipelines-overview"]');
    await prov.getByText("Read-only").waitFor();
    await prov.getByText(/\d+ cards/).waitFor();
    expect((await prov.getByRole("button", { name: /^Delete/ }).count()) === 0, "a read-only dashboard offers Delete");
    await shot(page, "dashboards");
    const copy = (await api("GET", `/api/v1/dashboards/${encodeURIComponent(copyId)}`)).body;
    const item = page.locator(`li[data-dashboard="${copy.slug}"]`);
    await item.getByRole("button", { name: `Delete ${copy.title}` }).click();
    await item.getByRole("group", { name: `Confirm deleting ${copy.title}` }).getByRole("button", { name: "Delete" }).click();
    await page.getByText(`Deleted “${copy.title}”.`).waitFor();
    await item.waitFor({ state: "detached" });
    expect((await api("GET", `/api/v1/dashboards/${encodeURIComponent(copyId)}`)).status === 404, "the copy still exists");
    noErrors("dashboards list");
  });

  await test("a viewer sees no edit controls and the API refuses their writes", async () => {
    const username = `e2e-viewer-${Date.now().toString(36)}`;
    const pw = `Viewer-${Math.random().toString(36).slice(2)}-pass-2024`;
    const created = await api("POST", "/api/v1/users", { username, password: pw, role: "viewer", display_name: "E2E viewer" });
    expect(created.status === 201 || created.status === 200, `create viewer: ${created.status} ${JSON.stringify(created.body)}`);
    viewer = { username, password: pw };
    const v = await context.newPage();
    try {
      await v.goto(`${base}/`);
      await v.getByLabel("Username").fill(username);
      await v.getByLabel("Password").fill(pw);
      await v.getByRole("button", { name: "Log in" }).click();
      await v.getByRole("heading", { name: /Pipelines overview/, level: 1 }).waitFor();
      await v.locator("[data-cards-ready=true]").waitFor({ timeout: 30_000 });
      for (const name of ["Edit", "Copy to edit", "Add card", "Save"]) {
        expect((await v.getByRole("button", { name, exact: true }).count()) === 0, `a viewer sees "${name}"`);
      }
      expect((await v.locator(".card-actions").count()) === 0, "a viewer sees card controls");
      await v.waitForTimeout(300);
      await v.screenshot({ path: join(shots, "dashboard-viewer.png"), fullPage: true });
      await v.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboards" }).click();
      await v.locator('li[data-dashboard="pipelines-overview"]').waitFor();
      for (const name of [/^New dashboard$/, /^Import$/, /^Copy /, /^Delete /]) {
        expect((await v.getByRole("button", { name }).count()) === 0, `a viewer sees ${name}`);
      }
      await v.getByRole("button", { name: /^Export / }).first().waitFor();
      const vt = await apiLogin(username, pw);
      const put = await api("POST", "/api/v1/dashboards", { title: "viewer's", cards: [] }, vt);
      expect(put.status === 403, `a viewer's POST /api/v1/dashboards answered ${put.status}`);
    } finally {
      await v.close();
    }
  });
}

// Alerting on the demo (the host runs with --demo, which loads the rule
// file host/demo/rules/etl_vendas.yaml into the default profile): the
// alerts list, the rules list with the demo rule, that rule read-only in
// the editor, a silence created, listed and expired; the dashboards tests'
// viewer without New/Save/Expire controls.
async function alertsTests() {
  const ruleFile = readFileSync(join(here, "../../../host/demo/rules/etl_vendas.yaml"), "utf8");
  const ruleName = ruleFile.match(/^\s+name:\s*(.+?)\s*$/m)?.[1]?.replace(/^["']|["']$/g, "");
  const ruleId = ruleFile.match(/^\s+-\s*id:\s*(.+?)\s*$/m)?.[1]?.replace(/^["']|["']$/g, "");
  const alertingTabs = (p) => p.getByRole("navigation", { name: "Alerting views" });
  const apiLogin = async (username, pw) => {
    const r = await fetch(`${base}/api/v1/auth/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password: pw }) });
    expect(r.ok, `API login of ${username}: ${r.status}`);
    return (await r.json()).access_token;
  };
  const comment = `e2e maintenance ${Date.now().toString(36)}`;

  await test("the alerts page lists alerts or says there are none", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Alerts" }).click();
    await page.getByRole("heading", { name: "Alerts", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname === "/alerts", `at ${page.url()}`);
    await page.locator("tr[data-alert], .state-empty").first().waitFor();
    if ((await page.locator("tr[data-alert]").count()) > 0) {
      await page.locator("tr[data-alert] [data-kind=alert-state]").first().waitFor();
    } else {
      await page.getByText("No alerts", { exact: true }).waitFor();
    }
    expect((await alertingTabs(page).getByRole("link", { name: "Alerts" }).getAttribute("aria-current")) === "page", "the Alerts tab is not current");
    await shot(page, "alerts");
    noErrors("alerts page");
  });

  await test("the rules page lists the demo rule from its rule file", async () => {
    expect(ruleName && ruleId, "no rule name or id in host/demo/rules/etl_vendas.yaml");
    await alertingTabs(page).getByRole("link", { name: "Rules" }).click();
    await page.getByRole("heading", { name: "Alert rules", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname === "/alerts/rules", `at ${page.url()}`);
    const row = page.locator("tr[data-rule]").filter({ has: page.getByRole("link", { name: ruleName, exact: true }) });
    // --demo loads the rule once the demo's Slack source is running.
    const deadline = Date.now() + 60_000;
    while ((await row.count()) === 0) {
      expect(Date.now() < deadline, `"${ruleName}" is not listed after 60 s`);
      await page.waitForTimeout(1000);
      await page.reload();
      await page.locator("tr[data-rule], .state-empty").first().waitFor();
    }
    await row.getByText("Run slower than", { exact: true }).waitFor();
    await row.locator("[data-kind=severity][data-state=warning]").waitFor();
    await row.getByText("rule file", { exact: true }).waitFor();
    expect((await row.locator("td.num").innerText()).trim() === "1", "the demo rule has one sink");
    await shot(page, "alert-rules");
    noErrors("alert rules");
  });

  await test("the demo rule opens filled in and read-only in the editor", async () => {
    await page.getByRole("link", { name: ruleName, exact: true }).click();
    await page.getByRole("heading", { name: ruleName, level: 1 }).waitFor();
    expect(new URL(page.url()).pathname === `/alerts/rules/${encodeURIComponent(ruleId)}`, `at ${page.url()}`);
    const form = page.getByRole("form", { name: `Edit ${ruleName}` });
    await form.waitFor();
    const field = (ptr) => form.locator(`[data-pointer="${ptr}"]`).locator("input, select").first();
    const values = {
      "/name": ruleName,
      "/severity": "warning",
      "/condition": "duration_above",
      "/condition/duration_above/threshold": "5m",
      "/selector/pipeline": "ETL_Vendas",
    };
    for (const [ptr, want] of Object.entries(values)) {
      const got = await field(ptr).inputValue();
      expect(got === want, `${ptr} is "${got}", want "${want}"`);
      expect(await field(ptr).isDisabled(), `${ptr} is editable`);
    }
    expect((await form.getByLabel("Labels team value").inputValue()) === "data-sales", "the team label is not filled");
    expect((await form.getByLabel("Annotations summary value").inputValue()).includes("{{.Pipeline.Name}}"), "the summary annotation is not filled");
    const sinks = await field("/sinks").inputValue();
    expect(sinks !== "" && sinks !== "demo-slack", `sinks is "${sinks}": the demo's Slack source id`);
    await page.getByRole("note").filter({ hasText: "Loaded from a rule file: read-only here." }).waitFor();
    for (const name of [/^Save/, /^Create rule$/, /^Delete rule$/, /^Add /, /^Remove /]) {
      expect((await page.getByRole("button", { name }).count()) === 0, `a read-only rule offers ${name}`);
    }
    await shot(page, "alert-rule-editor");
    await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "← Alert rules" }).click();
    await page.getByRole("heading", { name: "Alert rules", level: 1 }).waitFor();
    noErrors("rule editor");
  });

  // The editor's live preview replays the demo's simulated history (a day of
  // ETL_Vendas runs in three sources, some slower than 5 minutes) through the
  // rule: the count it shows is at least what the API said a moment before
  // for the same rule (history only grows).
  await test("the rule editor previews how often the demo rule would have fired in the last 7 days", async () => {
    const token = await apiLogin("admin", password);
    const auth = { Authorization: `Bearer ${token}` };
    const stored = await (await fetch(`${base}/api/v1/alert-rules/${encodeURIComponent(ruleId)}`, { headers: auth })).json();
    const rule = Object.fromEntries(["name", "severity", "labels", "selector", "condition", "for", "annotations", "sinks"].filter((k) => stored[k] !== undefined).map((k) => [k, stored[k]]));
    const previewOf = (tok, body) => fetch(`${base}/api/v1/alert-rules/preview`, { method: "POST", headers: { Authorization: `Bearer ${tok}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const res = await previewOf(token, { rule, days: 7 });
    expect(res.status === 200, `POST /api/v1/alert-rules/preview answered ${res.status}: ${await res.clone().text()}`);
    const api = await res.json();
    expect(api.runs_evaluated > 0 && api.fired > 0, `the demo's history should make the rule fire: ${JSON.stringify({ fired: api.fired, runs: api.runs_evaluated })}`);
    const bad = await previewOf(token, { rule: { ...rule, condition: { duration_above: { threshold: "five minutes" } } } });
    const badBody = await bad.json();
    expect(bad.status === 400 && badBody.error.fields.some((f) => f.field === "/rule/condition/duration_above/threshold"), `an invalid rule answered ${bad.status} ${JSON.stringify(badBody)}`);
    if (viewer) {
      const vt = await apiLogin(viewer.username, viewer.password);
      const v = await previewOf(vt, { rule });
      expect(v.status === 403, `a viewer's preview answered ${v.status}`);
    }

    await page.goto(`${base}/alerts/rules/${encodeURIComponent(ruleId)}`);
    const region = page.getByRole("region", { name: "Preview" });
    const status = region.getByRole("status");
    await status.filter({ hasText: /^Would (have|not have) fired/ }).waitFor({ timeout: 30_000 });
    const shown = Number(await status.getAttribute("data-fired"));
    const text = (await status.innerText()).trim();
    expect(shown >= api.fired, `the editor shows ${shown} firings, the API said ${api.fired} a moment before`);
    expect(text === `Would have fired ${shown === 1 ? "once" : `${shown} times`} in the last 7 days`, `the preview says "${text}"`);
    const items = region.getByRole("list", { name: "Latest firings" }).getByRole("listitem");
    await items.first().waitFor();
    expect((await items.first().innerText()).includes("ETL_Vendas"), `the newest firing is "${await items.first().innerText()}"`);
    await region.getByRole("img", { name: /^Firings per day: / }).waitFor();
    await shot(page, "alert-rule-preview");
    await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "← Alert rules" }).click();
    await page.getByRole("heading", { name: "Alert rules", level: 1 }).waitFor();
    noErrors("rule preview");
  });

  // The editor keeps a rule's group policy (the API's `group`, collapsed
  // under "Grouping and repeat"): the server's problem with a duration is
  // marked on its field; the saved policy is what the API returns.
  await test("the rule editor saves a rule's grouping and repeat, and marks a wrong duration on its field", async () => {
    const token = await apiLogin("admin", password);
    const auth = { Authorization: `Bearer ${token}` };
    const sources = await (await fetch(`${base}/api/v1/sources?limit=500`, { headers: auth })).json();
    const slack = sources.sources?.find((s) => s.name === "Slack (demo)");
    expect(slack, `no "Slack (demo)" source: ${JSON.stringify(sources)}`);
    const name = `E2E grouping ${Date.now().toString(36)}`;
    await page.goto(`${base}/alerts/rules/new`);
    const form = page.getByRole("form", { name: "New alert rule" });
    await form.waitFor();
    await form.getByLabel("Name (required)", { exact: true }).fill(name);
    // A run-failed rule on a pipeline that does not exist: it never fires.
    await form.getByLabel("Name (glob)", { exact: true }).fill(`E2E_Grouping_${Date.now().toString(36)}`);
    await form.getByLabel("Sinks", { exact: true }).fill(slack.id);
    const section = form.locator('details[data-pointer="/group"]');
    expect(!(await section.evaluate((d) => d.open)), "the grouping section is open before it is asked for");
    await section.locator("summary").click();
    const group = form.getByRole("group", { name: "Grouping and repeat" });
    const placeholders = await Promise.all(["Group wait", "Group interval", "Repeat after"].map((l) => group.getByLabel(l, { exact: true }).getAttribute("placeholder")));
    expect(placeholders.join(" ") === "500ms 10s 4h", `the placeholders are ${placeholders}`);
    await group.getByLabel("Group by", { exact: true }).fill("pipeline, source_id");
    const wait = group.getByLabel("Group wait", { exact: true });
    await wait.fill("2h"); // more than the 1h the host takes
    await group.getByLabel("Repeat after", { exact: true }).fill("1h");
    await form.getByRole("button", { name: "Create rule" }).click();
    await form.locator('[data-pointer="/group/wait"] .field-error').waitFor();
    expect((await wait.getAttribute("aria-invalid")) === "true", "Group wait is not marked invalid");
    await shot(page, "alert-rule-editor-grouping");
    await wait.fill("1s");
    await form.getByRole("button", { name: "Create rule" }).click();
    await page.getByRole("heading", { name, level: 1 }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    expect(id && id !== "new", `after Create the page is ${page.url()}`);
    const stored = await (await fetch(`${base}/api/v1/alert-rules/${encodeURIComponent(id)}`, { headers: auth })).json();
    const want = { by: ["pipeline", "source_id"], wait: "1s", repeat: "1h" };
    expect(JSON.stringify(stored.group) === JSON.stringify(want), `the stored group is ${JSON.stringify(stored.group)}, want ${JSON.stringify(want)}`);
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Delete rule" }).click();
    await page.getByRole("heading", { name: "Alert rules", level: 1 }).waitFor();
    noErrors("rule grouping");
  });

  await test("a silence with a matcher is created and listed", async () => {
    await alertingTabs(page).getByRole("link", { name: "Silences" }).click();
    await page.getByRole("heading", { name: "Silences", level: 1 }).waitFor();
    await page.getByRole("button", { name: "New silence" }).click();
    const form = page.getByRole("form", { name: "New silence" });
    await form.getByLabel("Matcher 1 label").fill("team");
    await form.getByLabel("Matcher 1 operator").selectOption("=");
    await form.getByLabel("Matcher 1 value").fill("data-sales");
    expect((await form.getByLabel(/^Ends/).inputValue()) !== "", "Ends has no default");
    await form.getByLabel(/^Comment/).fill(comment);
    await form.getByRole("button", { name: "Create silence" }).click();
    await page.getByRole("status").filter({ hasText: "Silence created." }).waitFor();
    await form.waitFor({ state: "detached" });
    const row = page.locator("tr[data-silence]").filter({ hasText: comment });
    await row.waitFor();
    expect((await row.getAttribute("data-status")) === "active", `the new silence is ${await row.getAttribute("data-status")}`);
    await row.locator("code").filter({ hasText: 'team="data-sales"' }).waitFor();
    await row.getByText("admin", { exact: true }).waitFor();
    await row.getByRole("button", { name: `Expire silence ${comment}` }).waitFor();
    await shot(page, "silences");
    noErrors("silences");
  });

  await test("a viewer sees the alerting pages without New, Save or Expire", async () => {
    expect(viewer, "no viewer: the dashboards tests create it");
    const v = await context.newPage();
    v.on("pageerror", (e) => pageErrors.push(`viewer page error: ${e.message}`));
    try {
      await v.goto(`${base}/`);
      await v.getByLabel("Username").fill(viewer.username);
      await v.getByLabel("Password").fill(viewer.password);
      await v.getByRole("button", { name: "Log in" }).click();
      await v.getByRole("button", { name: "Log out" }).waitFor();
      await v.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Alerts" }).click();
      await v.getByRole("heading", { name: "Alerts", level: 1 }).waitFor();
      await v.locator("tr[data-alert], .state-empty").first().waitFor();

      await alertingTabs(v).getByRole("link", { name: "Rules" }).click();
      await v.getByRole("link", { name: ruleName, exact: true }).waitFor();
      expect((await v.getByRole("link", { name: "New rule" }).count()) === 0, "a viewer sees New rule");
      await v.getByRole("link", { name: ruleName, exact: true }).click();
      await v.getByRole("form", { name: `Edit ${ruleName}` }).waitFor();
      for (const name of [/^Save/, /^Delete rule$/]) {
        expect((await v.getByRole("button", { name }).count()) === 0, `a viewer sees ${name}`);
      }

      await v.goto(`${base}/alerts/silences`);
      await v.getByRole("heading", { name: "Silences", level: 1 }).waitFor();
      await v.locator("tr[data-silence]").filter({ hasText: comment }).waitFor();
      expect((await v.getByRole("button", { name: "New silence" }).count()) === 0, "a viewer sees New silence");
      expect((await v.getByRole("button", { name: /^Expire/ }).count()) === 0, "a viewer sees Expire");

      const vt = await apiLogin(viewer.username, viewer.password);
      const r = await fetch(`${base}/api/v1/silences`, {
        method: "POST",
        headers: { Authorization: `Bearer ${vt}`, "Content-Type": "application/json" },
        body: JSON.stringify({ matchers: [{ name: "team", op: "=", value: "x" }], ends_at: new Date(Date.now() + 3_600_000).toISOString(), comment: "viewer's" }),
      });
      expect(r.status === 403, `a viewer's POST /api/v1/silences answered ${r.status}`);
    } finally {
      await v.close();
    }
    noErrors("viewer on the alerting pages");
  });

  await test("the silence is expired and listed with the expired ones", async () => {
    const row = page.locator("tr[data-silence]").filter({ hasText: comment });
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: `Expire silence ${comment}` }).click();
    await page.getByRole("status").filter({ hasText: "Silence expired" }).waitFor();
    await row.waitFor({ state: "detached" });
    await page.getByLabel("Show expired silences").check();
    await page.waitForURL((u) => u.pathname === "/alerts/silences" && u.searchParams.get("expired") === "true");
    await page.locator(`tr[data-silence][data-status=expired]`).filter({ hasText: comment }).waitFor();
    expect((await page.getByRole("button", { name: `Expire silence ${comment}` }).count()) === 0, "an expired silence offers Expire");
    noErrors("silence expiry");
  });
}

// Notifications and dead letters on the demo: a rule (created through the
// API) on an OpenLineage pipeline of its own, with two sinks: the demo's
// Slack and a puod.slack source whose incoming webhook is a local receiver
// that refuses permanently (404 no_service, as Slack does for a removed
// webhook) until told to accept. A slow run fires the alert; its detail
// shows the delivered notification and the dead letter with its reason;
// the Notifications page lists the dead letter highlighted; a viewer has
// no Retry; after the receiver is fixed, Retry delivers it exactly once.
async function notificationsTests() {
  const suffix = Date.now().toString(36);
  const sinkName = `e2e refusing webhook ${suffix}`;
  const receiver = { accept: false, refused: 0, accepted: 0 };
  const hook = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (!receiver.accept) {
        receiver.refused++;
        res.writeHead(404, { "Content-Type": "text/html" }).end("no_service");
        return;
      }
      receiver.accepted++;
      res.writeHead(200, { "Content-Type": "text/html" }).end("ok");
    });
  });
  await new Promise((ok) => hook.listen(0, "127.0.0.1", ok));
  const login = await fetch(`${base}/api/v1/auth/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "admin", password }) });
  const token = login.ok ? (await login.json()).access_token : null;
  const api = async (method, path, body, tok = token) => {
    const r = await fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const alertingTabs = (p) => p.getByRole("navigation", { name: "Alerting views" });
  let alertId = null;
  let deadId = null;

  try {
    await test("a slow run of a rule with two sinks leaves one notification delivered and one dead letter", async () => {
      expect(token, `API login of admin: ${login.status}`);
      const sources = await api("GET", "/api/v1/sources?limit=500");
      const slack = sources.body?.sources?.find((s) => s.name === "Slack (demo)");
      expect(slack, `no "Slack (demo)" source: ${JSON.stringify(sources.body)}`);
      const bad = await api("POST", "/api/v1/sources", {
        plugin_id: "puod.slack",
        name: sinkName,
        poll_interval_seconds: 0,
        enabled: true,
        config: { webhook_url: `http://127.0.0.1:${hook.address().port}/services/T0E2E/B0E2E/refused` },
      });
      expect(bad.status === 201, `create the refusing sink: ${bad.status} ${JSON.stringify(bad.body)}`);
      const job = `E2E_Notify_${suffix}`;
      const rule = await api("POST", "/api/v1/alert-rules", {
        name: `${job} slower than 5 minutes`,
        severity: "critical",
        selector: { pipeline: job },
        condition: { duration_above: { threshold: "5m" } },
        annotations: { summary: "{{.Pipeline.Name}} took {{.Value}} (limit {{.Threshold}})" },
        sinks: [slack.id, bad.body.id],
      });
      expect(rule.status === 201, `create the rule: ${rule.status} ${JSON.stringify(rule.body)}`);
      const tok = await api("POST", "/api/v1/tokens", { name: `e2e lineage ${suffix}`, role: "editor" });
      expect(tok.status === 201, `create an API token: ${tok.status}`);
      const runId = crypto.randomUUID();
      for (const [eventType, ago] of [["START", 7], ["COMPLETE", 1]]) {
        const r = await api(
          "POST",
          "/api/v1/lineage",
          { eventType, eventTime: new Date(Date.now() - ago * 60_000).toISOString(), producer: "https://example.com/puod-e2e", schemaURL: "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent", run: { runId }, job: { namespace: "e2e", name: job } },
          tok.body.token,
        );
        expect(r.status === 200, `lineage ${eventType}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      const deadline = Date.now() + 90_000;
      let list = [];
      for (;;) {
        list = (await api("GET", `/api/v1/notifications?rule_id=${encodeURIComponent(rule.body.id)}`)).body?.notifications ?? [];
        const states = Object.fromEntries(list.map((n) => [n.sink_source_id, n.state]));
        if (states[slack.id] === "delivered" && states[bad.body.id] === "dead") break;
        expect(Date.now() < deadline, `after 90 s the notifications are ${JSON.stringify(list.map((n) => [n.sink_name, n.state, n.last_error]))}`);
        await new Promise((ok) => setTimeout(ok, 500));
      }
      expect(list.length === 2, `${list.length} notifications, want 2 (one per sink)`);
      const dead = list.find((n) => n.state === "dead");
      expect(/no_service/.test(dead.last_error), `the dead letter's reason: ${dead.last_error}`);
      expect(receiver.refused === 1 && receiver.accepted === 0, `the refusing webhook saw ${JSON.stringify(receiver)}`);
      alertId = dead.alert_id;
      deadId = dead.id;
      expect(alertId, "the notification names no alert");
    });

    await test("the alert's timeline shows the delivered notification and the dead letter with its reason", async () => {
      expect(alertId, "no alert: the previous test failed");
      await page.goto(`${base}/alerts/${encodeURIComponent(alertId)}`);
      await page.getByRole("heading", { name: /E2E_Notify_/, level: 1 }).waitFor();
      const timeline = page.locator(".alert-timeline");
      const sent = timeline.locator("li[data-kind=notification][data-phase=sent]").filter({ hasText: "Slack (demo)" });
      await sent.waitFor();
      expect(/Delivered/.test(await sent.innerText()), `the delivered step says ${await sent.innerText()}`);
      await sent.locator("[data-kind=notification][data-state=sent]").waitFor();
      const dead = timeline.locator("li[data-kind=notification][data-phase=dead]").filter({ hasText: sinkName });
      await dead.waitFor();
      await dead.getByTestId("dead-reason").filter({ hasText: "no_service" }).waitFor();
      await dead.getByRole("button", { name: `Retry notification to ${sinkName}` }).waitFor();
      await timeline.locator("li[data-kind=transition][data-to=firing]").waitFor();
      const kinds = await timeline.locator(":scope > li").evaluateAll((els) => els.map((e) => e.dataset.kind));
      expect(kinds.indexOf("notification") < kinds.lastIndexOf("transition"), `newest first: ${kinds}`);
      await shot(page, "alert-detail");
      noErrors("alert detail timeline");
    });

    await test("the notifications page lists the dead letter highlighted; a viewer cannot retry it", async () => {
      await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "← Alerts" }).click();
      await alertingTabs(page).getByRole("link", { name: "Notifications" }).click();
      await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
      expect(new URL(page.url()).pathname === "/alerts/notifications", `at ${page.url()}`);
      const row = page.locator(`tr[data-notification="${deadId}"]`);
      await row.waitFor();
      expect((await row.getAttribute("class"))?.includes("ntf-dead"), "the dead letter is not highlighted");
      await row.getByTestId("dead-reason").filter({ hasText: "no_service" }).waitFor();
      await page.getByRole("note").filter({ hasText: /dead letter/ }).waitFor();
      await page.locator("tr[data-notification][data-state=delivered]").filter({ hasText: "Slack (demo)" }).first().waitFor();
      await shot(page, "notifications");
      noErrors("notifications page");

      expect(viewer, "no viewer: the dashboards tests create it");
      const v = await context.newPage();
      v.on("pageerror", (e) => pageErrors.push(`viewer page error: ${e.message}`));
      try {
        await v.goto(`${base}/`);
        await v.getByLabel("Username").fill(viewer.username);
        await v.getByLabel("Password").fill(viewer.password);
        await v.getByRole("button", { name: "Log in" }).click();
        await v.getByRole("button", { name: "Log out" }).waitFor();
        await v.goto(`${base}/alerts/notifications?state=dead`);
        const vrow = v.locator(`tr[data-notification="${deadId}"]`);
        await vrow.getByTestId("dead-reason").waitFor();
        expect((await v.getByRole("button", { name: /^Retry/ }).count()) === 0, "a viewer sees Retry");
      } finally {
        await v.close();
      }
      const vtok = await api("POST", "/api/v1/tokens", { name: `e2e viewer ${suffix}`, role: "viewer" });
      expect(vtok.status === 201, `create a viewer API token: ${vtok.status}`);
      const r = await api("POST", `/api/v1/notifications/${deadId}/retry`, undefined, vtok.body.token);
      expect(r.status === 403, `a viewer's retry answered ${r.status}`);
      noErrors("viewer on the notifications page");
    });

    await test("Retry sends the dead letter again once the sink accepts: delivered exactly once", async () => {
      receiver.accept = true;
      const row = page.locator(`tr[data-notification="${deadId}"]`);
      await row.getByRole("button", { name: `Retry notification to ${sinkName}` }).click();
      await page.getByRole("status").filter({ hasText: `Sent again to ${sinkName}` }).waitFor();
      // The page looks again while the notification is on its way.
      await page.locator(`tr[data-notification="${deadId}"][data-state=delivered]`).waitFor({ timeout: 30_000 });
      expect(!(await row.getAttribute("class"))?.includes("ntf-dead"), "a delivered notification is highlighted as dead");
      await row.locator("[data-kind=notification][data-state=sent]").waitFor();
      expect(receiver.accepted === 1, `the webhook accepted ${receiver.accepted} messages, want 1`);
      const again = await api("POST", `/api/v1/notifications/${deadId}/retry`);
      expect(again.status === 409 && /was delivered/.test(again.body?.error?.message ?? ""), `a second retry answered ${again.status} ${JSON.stringify(again.body)}`);
      noErrors("retry of a dead letter");
    });
  } finally {
    hook.close();
  }
}
