#!/usr/bin/env bash
# Builds the web app (dashboards/web) with the committed lock file; the
# result is embedded into bin/puod.
set -euo pipefail
cd "$(dirname "$0")/.."
web=dashboards/web
if [ ! -f "$web/package.json" ]; then
  echo "build-web: no web app yet ($web/package.json missing), skipping"
  exit 0
fi
cd "$web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
