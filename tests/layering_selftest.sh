#!/usr/bin/env bash
# Shows that tests/layering.sh can fail: copies the layers of the tree into a scratch folder, checks
# that the copy passes, then adds one file with a forbidden include at a time and expects the check to fail and
# to name the offending file. A check that passes everything would fail here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(cd "$here/.." && pwd)}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fresh_copy() {
  rm -rf "$scratch/tree"
  mkdir -p "$scratch/tree"
  for d in map protocol client bench; do
    [ -d "$root/$d" ] && cp -R "$root/$d" "$scratch/tree/$d"
  done
  # The copy keeps only source files: a build folder inside a layer must not matter.
  find "$scratch/tree" -type d -name 'build*' -prune -exec rm -rf {} +
}

fresh_copy
if ! "$here/layering.sh" "$scratch/tree" >"$scratch/out" 2>&1; then
  echo "self-test: the unmodified copy of the tree fails the check:"
  cat "$scratch/out"
  exit 1
fi

failures=0
# expect_violation FILE INCLUDE_LINE: with a new FILE holding INCLUDE_LINE (new files, so the test
# does not depend on how a layer's own files are named), the check must fail and
# name FILE.
expect_violation() {
  local file=$1 line=$2
  fresh_copy
  mkdir -p "$(dirname "$scratch/tree/$file")"
  printf '%s\n' "$line" >>"$scratch/tree/$file"
  if "$here/layering.sh" "$scratch/tree" >"$scratch/out" 2>&1; then
    echo "self-test FAILED: '$line' in $file passed the check"
    failures=$((failures + 1))
  elif ! grep -qF "$file" "$scratch/out"; then
    echo "self-test FAILED: '$line' in $file failed the check without naming the file:"
    cat "$scratch/out"
    failures=$((failures + 1))
  else
    echo "self-test ok: '$line' in $file is refused"
  fi
}

expect_violation map/include/tessera/map/probe.hpp '#include <absl/hash/hash.h>'
expect_violation map/include/tessera/map/probe.hpp '#include <gtest/gtest.h>'
expect_violation map/include/tessera/map/probe.hpp '#include "tessera/protocol/limits.hpp"'
expect_violation protocol/src/probe.cpp '#include <sys/socket.h>'
expect_violation protocol/src/probe.cpp '#include <boost/asio.hpp>'
expect_violation protocol/src/probe.cpp '#include "tessera/map/hash.hpp"'
expect_violation protocol/src/probe.cpp '#include "no_such_neighbour.hpp"'
expect_violation client/src/probe.cpp '#include <spdlog/spdlog.h>'
expect_violation client/src/probe.cpp '#include <tessera/map/hash.hpp>'
expect_violation client/src/probe.cpp '#include <CLI/CLI.hpp>'
expect_violation client/src/probe.cpp '  #  include <tessera/server/config.hpp>'
expect_violation bench/probe.cpp '#include "tessera/server/config.hpp"'
expect_violation client/stray.cpp '#include <string>'

[ "$failures" -eq 0 ] || exit 1
echo "layering self-test ok"
