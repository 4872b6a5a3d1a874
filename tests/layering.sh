#!/usr/bin/env bash
# Fails if a file under map/ or protocol/ includes Asio, spdlog, CLI11, fmt or another layer:
# those two layers depend on the standard library only (README, "Layout").
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
pattern='#[[:space:]]*include[[:space:]]*[<"](boost/|asio|spdlog/|CLI/|fmt/|tessera/(server|client)/)'
bad=$(grep -rEn "$pattern" map protocol || true)
# protocol/ must not reach into map/ either (the map is the server's business).
bad2=$(grep -rEn '#[[:space:]]*include[[:space:]]*[<"]tessera/map/' protocol || true)
if [ -n "$bad$bad2" ]; then
  echo "layering violation: map/ and protocol/ may use the standard library only:"
  printf '%s\n' "$bad" "$bad2" | sed '/^$/d'
  exit 1
fi
files=$(find map protocol -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) | wc -l)
echo "layering ok: $files files in map/ and protocol/ include only the standard library"
