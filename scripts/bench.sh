#!/usr/bin/env bash
# Runs the benchmarks and writes BENCHMARKS.md (figures as ratios to
# baselines measured in the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=$(mktemp)
$GO test -run '^$' -bench . -benchtime=1x -count=1 -timeout 60m ./bench/... | tee "$out"
$GO run ./bench/cmd/benchreport < "$out" > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
