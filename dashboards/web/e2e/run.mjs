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
      await page.getByRole("heading", { name: "Plugins", level: 1 }).waitFor();
      expect(new URL(page.url()).pathname === "/plugins", `landed on ${page.url()}`);
      await page.getByRole("button", { name: "Log out" }).waitFor();
    },
    { critical: true },
  );

  await test("the plugins page shows acme.hello running", async () => {
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

  await test("the dashboards page says plainly what is missing", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboards" }).click();
    await page.getByRole("heading", { name: "Dashboards", level: 1 }).waitFor();
    await page.locator(".state").first().waitFor();
    await shot(page, "dashboards");
  });

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
