#!/usr/bin/env bash
# Web UI tests: the unit tests (vitest in jsdom), then end-to-end tests in
# headless Chromium against a real `puod serve --demo` with the first-party
# plugins and the acme.hello example plugin. Screenshots of the main pages go to test-artifacts/screenshots/.
# The e2e part ends with "N passed, M failed"; any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
web=dashboards/web
GO=${GO:-go}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
shots=$root/test-artifacts/screenshots

step() { printf '\n== test-web: %s\n' "$*"; }

step "dependencies"
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ] || [ "$web/package.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --no-audit --no-fund)
fi

step "unit tests"
(cd "$web" && npx vitest run)

step "build the UI (type check included) into bin/puod"
scripts/build-web.sh
(cd "$web" && node scripts/size.mjs dist 300)
$GO build -o bin/puod ./host/cmd/puod

if [ ! -x "$CHROMIUM" ]; then
  step "install Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step "the first-party plugins, the acme.hello example bundle and the visualization gallery"
# The dashboards and runs tests read the demo simulators' runs through the real connectors.
PLUGIN_OUT=$tmp/plugins GO=$GO scripts/build-plugins.sh
bundle=$tmp/plugins/acme.hello
mkdir -p "$bundle"
cp sdk/examples/hello/plugin.json "$bundle/"
$GO build -o "$bundle/acme-hello" ./sdk/examples/hello
bin/puod plugins checksum "$bundle" >/dev/null
(cd "$web" && GALLERY_OUT="$tmp/gallery" npx vite build --config e2e/gallery/vite.config.ts)

step "start puod serve"
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url=http://127.0.0.1:$port
password="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PUOD_ADMIN_PASSWORD=$password bin/puod serve --demo --listen "127.0.0.1:$port" --data-dir "$tmp/data" --plugin-dir "$tmp/plugins" >"$tmp/puod.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "test-web: puod serve exited; its log:" >&2
    cat "$tmp/puod.log" >&2
    exit 1
  fi
  sleep 0.25
done
if ! curl -fsS "$url/" | grep -q '<div id="root">'; then
  echo "test-web: $url/ does not serve the web UI. Wire it in host/app/app.go: a.api.SetFallback(web.Handler())" >&2
  exit 1
fi

step "end-to-end tests (headless chromium)"
rm -rf "$shots"
status=0
(cd "$web" && PUOD_URL=$url PUOD_ADMIN_PASSWORD=$password SCREENSHOT_DIR=$shots GALLERY_DIR=$tmp/gallery CHROMIUM=$CHROMIUM node e2e/run.mjs) || status=$?
if [ "$status" != 0 ]; then
  echo "test-web: the host's log (last 60 lines):" >&2
  tail -n 60 "$tmp/puod.log" >&2
fi
exit "$status"
