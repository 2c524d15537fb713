#!/usr/bin/env bash
# The whole test suite: formatting, vet, Go tests (with the race detector on
# the packages where concurrency matters most), web tests.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '\.pb\.go$') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run 'make fmt'):" >&2
  echo "$unformatted" >&2
  exit 1
fi
$GO vet ./...

# Tests that build plugin binaries or the host need bin/puod.
$GO build -o bin/puod ./host/cmd/puod

$GO test -count=1 -timeout 12m ./... 2>&1 | tee /tmp/puod-go-test.log
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || exit "$status"

if [ -f dashboards/web/package.json ]; then
  scripts/test-web.sh
fi
