#!/usr/bin/env bash
# Builds the web app (dashboards/web) with the committed lock file and copies
# the result into host/web/dist, which `go build` embeds into bin/puod.
# Assets get a gzip twin (name.gz) that the host sends to browsers that
# accept it.
set -euo pipefail
cd "$(dirname "$0")/.."
web=dashboards/web
out=host/web/dist
if [ ! -f "$web/package.json" ]; then
  echo "build-web: no web app yet ($web/package.json missing), skipping"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "build-web: npm not found: install Node.js 20.19 or later (with npm) to build the web UI" >&2
  exit 1
fi
(
  cd "$web"
  # npm ci when node_modules is missing or older than the lock file.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  npm run --silent build
)
# Replace the embedded copy whole; keep .gitkeep so a clean tree compiles.
find "$out" -mindepth 1 ! -name .gitkeep -delete 2>/dev/null || true
mkdir -p "$out"
cp -R "$web/dist/." "$out/"
find "$out/assets" -type f \( -name '*.js' -o -name '*.css' -o -name '*.svg' \) -size +1k -exec gzip -9 -k -n -f {} \;
echo "build-web: $(find "$out" -type f ! -name .gitkeep ! -name '*.gz' | wc -l) files in $out"
