// Measures the JavaScript a first visit loads (the entry script and the
// chunks index.html preloads), gzipped, and fails over the budget.
//   node scripts/size.mjs [dist] [budget KB, default 300]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dist = process.argv[2] ?? "dist";
const budget = Number(process.argv[3] ?? 300) * 1024;
const html = readFileSync(join(dist, "index.html"), "utf8");
const files = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/?([^"]+\.js)"/g)].map((m) => m[1]);
let total = 0;
for (const f of new Set(files)) {
  const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  total += gz;
  console.log(`  ${f}: ${(gz / 1024).toFixed(1)} KB gzipped`);
}
console.log(`initial JavaScript: ${(total / 1024).toFixed(1)} KB gzipped (budget ${budget / 1024} KB)`);
if (files.length === 0) {
  console.error("size: no script found in index.html");
  process.exit(1);
}
if (total > budget) process.exit(1);
