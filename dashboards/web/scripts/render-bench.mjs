// First dashboard render in headless Chromium: the time from navigating to
// the default dashboard (a full page load that resumes the session) until
// every card has answered and is drawn, median of ROUNDS loads. Prints a
// Go-benchmark-style line for scripts/bench.sh:
//
//   BenchmarkDashboardRender 1 <ns> ns/op <ms> render-ms <kb> initial-js-gzip-KB
//
// Against a running host:  PUOD_URL=… PUOD_ADMIN_PASSWORD=… node scripts/render-bench.mjs
// Or alone (from the repo root after `make build`): node dashboards/web/scripts/render-bench.mjs
// starts bin/puod serve --demo with bin/plugins on a free port and stops it after.
// Optional: ROUNDS (default 5), CHROMIUM (default /usr/bin/chromium), DIST (default
// dashboards/web/dist), PLUGIN_DIR (default bin/plugins, when the script starts the host).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const rounds = Number(process.env.ROUNDS ?? 5);
const dist = resolve(process.env.DIST ?? join(here, "../dist"));
let base = (process.env.PUOD_URL ?? "").replace(/\/$/, "");
let password = process.env.PUOD_ADMIN_PASSWORD ?? "";
let host = null;
const tmp = mkdtempSync(join(tmpdir(), "puod-render-bench-"));

function initialJsKB() {
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const files = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/?([^"]+\.js)"/g)].map((m) => m[1]);
  let total = 0;
  for (const f of new Set(files)) total += gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  return total / 1024;
}

async function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
}

async function startHost() {
  const port = await freePort();
  password = `bench-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  base = `http://127.0.0.1:${port}`;
  host = spawn(join(root, "bin/puod"), ["serve", "--demo", "--listen", `127.0.0.1:${port}`, "--data-dir", join(tmp, "data"), "--plugin-dir", resolve(process.env.PLUGIN_DIR ?? join(root, "bin/plugins"))], {
    env: { ...process.env, PUOD_ADMIN_PASSWORD: password },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {}
    if (host.exitCode !== null) throw new Error(`bin/puod serve exited with ${host.exitCode}: run 'make build' first`);
    if (Date.now() > deadline) throw new Error("the host was not ready within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let context;
try {
  if (!base) await startHost();
  context = await chromium.launchPersistentContext(join(tmp, "chromium"), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context.setDefaultTimeout(60_000);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}/`);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("[data-cards-ready=true]").waitFor();
  // Measure with data: the demo sources are polled shortly after start.
  const deadline = Date.now() + 90_000;
  while ((await page.locator(".viz-status-grid [class*='run-']").count()) === 0 && Date.now() < deadline) {
    await page.waitForTimeout(2000);
    await page.reload();
    await page.locator("[data-cards-ready=true]").waitFor();
  }
  const times = [];
  for (let i = 0; i < rounds; i++) {
    await page.goto(`${base}/dashboards/pipelines-overview`);
    await page.locator("[data-cards-ready=true]").waitFor();
    // Let the frame that shows the last card paint.
    times.push(await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => ok(performance.now())))));
  }
  const ms = median(times);
  const kb = initialJsKB();
  console.log(`BenchmarkDashboardRender 1 ${Math.round(ms * 1e6)} ns/op ${ms.toFixed(1)} render-ms ${kb.toFixed(1)} initial-js-gzip-KB`);
} catch (e) {
  console.error(`render-bench: ${e?.message ?? e}`);
  process.exitCode = 1;
} finally {
  await context?.close();
  if (host && host.exitCode === null) {
    host.kill("SIGTERM");
    await new Promise((r) => host.once("exit", r));
  }
  rmSync(tmp, { recursive: true, force: true });
}
