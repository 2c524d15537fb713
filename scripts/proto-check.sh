#!/usr/bin/env bash
# Fails when the committed generated code is stale, when the protocol does not
# lint, or when it changed incompatibly against the last released image in
# proto/releases/ (buf breaking, WIRE_JSON rules: wire and JSON compatible).
set -euo pipefail
cd "$(dirname "$0")/../proto"

buf lint

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r . "$tmp/proto"
(cd "$tmp/proto" && find . -name '*.pb.go' -delete && buf generate)
stale=0
while IFS= read -r f; do
  if ! cmp -s "$f" "$tmp/proto/$f"; then
    echo "proto-check: $f is stale: run 'make proto' and commit the result" >&2
    stale=1
  fi
done < <(find . -name '*.pb.go' | sort)
if [ "$(cd "$tmp/proto" && find . -name '*.pb.go' | sort)" != "$(find . -name '*.pb.go' | sort)" ]; then
  echo "proto-check: generated file set differs: run 'make proto' and commit the result" >&2
  stale=1
fi
[ "$stale" = 0 ] || exit 1

latest=$(ls releases/*.binpb | sort -V | tail -n 1)
if ! buf breaking --against "$latest"; then
  echo "proto-check: the protocol changed incompatibly since $(basename "$latest" .binpb)." >&2
  echo "Within a major only add fields, messages, RPCs and enum values; for a breaking change start puod.plugin.v2." >&2
  exit 1
fi
# Self-test: the compatibility check must catch a removed field, or it
# guards nothing.
mkdir -p "$tmp/broken"
cp -r . "$tmp/broken/proto"
sed -i '/string raw_state = 5;/d' "$tmp/broken/proto/puod/plugin/v1/plugin.proto"
against="$PWD/$latest"
report=$(cd "$tmp/broken/proto" && buf breaking --against "$against" 2>&1 || true)
if ! grep -q 'field "5" with name "raw_state"' <<<"$report"; then
  echo "proto-check: self-test failed: removing Run.raw_state was not reported as breaking" >&2
  exit 1
fi
echo "proto-check: generated code up to date, compatible with $(basename "$latest" .binpb) (self-test: a removed field is caught)"
