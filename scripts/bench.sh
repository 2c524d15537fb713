#!/usr/bin/env bash
# Runs the benchmarks and writes BENCHMARKS.md (figures as ratios to
# baselines measured in the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=$(mktemp)
# The alerting latency benchmark runs Prometheus Alertmanager next to PUOD
# (Debian's package; ALERTMANAGER may name another executable).
if [ -z "${ALERTMANAGER:-}" ] && ! command -v prometheus-alertmanager >/dev/null && ! command -v alertmanager >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq prometheus-alertmanager >/dev/null
fi
$GO test -run '^$' -bench . -benchtime=1x -count=1 -timeout 60m ./bench/... | tee "$out"
# First dashboard render in headless Chromium (needs `make build`: bin/puod,
# bin/plugins and the web dependencies).
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d dashboards/web/node_modules ]; then
  (cd dashboards/web && npm ci --no-audit --no-fund)
fi
node dashboards/web/scripts/render-bench.mjs | tee -a "$out"
$GO run ./bench/cmd/benchreport < "$out" > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
