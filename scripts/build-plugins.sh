#!/usr/bin/env bash
# Builds one bundle per first-party plugin: bin/plugins/<id>/{plugin.json,<executable>}
# with the executable's sha256 filled in by 'puod plugins checksum'.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=${PLUGIN_OUT:-bin/plugins}
mkdir -p "$out"
shopt -s nullglob
for src in plugins/*/; do
  src=${src%/}
  [ -f "$src/plugin.json" ] || continue
  id=$(sed -n 's/^[[:space:]]*"id":[[:space:]]*"\([^"]*\)".*/\1/p' "$src/plugin.json" | head -n1)
  exe=$(sed -n 's/^[[:space:]]*"executable":[[:space:]]*"\([^"]*\)".*/\1/p' "$src/plugin.json" | head -n1)
  if [ -z "$id" ] || [ -z "$exe" ]; then
    echo "build-plugins: $src/plugin.json needs a top-level \"id\" and a single-path \"executable\"" >&2
    exit 1
  fi
  dest="$out/$id"
  mkdir -p "$dest.new"
  cp "$src/plugin.json" "$dest.new/plugin.json"
  $GO build -trimpath -ldflags '-s -w' -o "$dest.new/$exe" "./$src"
  ./bin/puod plugins checksum "$dest.new" >/dev/null
  # Swap the whole bundle at once so a running host never sees half of it.
  rm -rf "$dest.old"
  [ -d "$dest" ] && mv "$dest" "$dest.old"
  mv "$dest.new" "$dest"
  rm -rf "$dest.old"
  echo "built plugin $id -> $dest"
done
