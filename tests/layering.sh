#!/usr/bin/env bash
# The layering rules (README, "Layout") as an allow-list: every #include of every C/C++ file in a
# layer must be one the layer may use, and anything else fails the check.
#   map/, protocol/  the standard library, a few named system headers, and the layer itself
#   client/          that, plus protocol/ and Boost; client/tools/ (tessera-benchmark) also CLI11
#   everywhere but server/ and tests/: no server/ header
# A quoted include of a bare file name must name a file next to the includer.
#
# Usage: layering.sh [ROOT]     (ROOT: the source tree, default this script's repository)
# tests/layering_selftest.sh runs it on trees with one forbidden include each and expects failure.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The C++20 standard library, and the C library as C++ includes it.
std_headers=" algorithm any array atomic barrier bit bitset charconv chrono codecvt compare
  complex concepts condition_variable coroutine deque exception execution filesystem format
  forward_list fstream functional future initializer_list iomanip ios iosfwd iostream istream
  iterator latch limits list locale map memory memory_resource mutex new numbers numeric optional
  ostream queue random ranges ratio regex scoped_allocator semaphore set shared_mutex source_location
  span sstream stack stdexcept stop_token streambuf string string_view syncstream system_error
  thread tuple type_traits typeindex typeinfo unordered_map unordered_set utility valarray variant
  vector version cassert cctype cerrno cfenv cfloat cinttypes climits clocale cmath csetjmp csignal
  cstdarg cstddef cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype "
# System headers a layer may name, with the reason each is there.
#   emmintrin.h: SSE2 intrinsics for the map's 16-byte group scan (with a portable fallback).
map_system=" emmintrin.h "
protocol_system=" "
client_system=" "
std_headers=" $(echo $std_headers) "  # one space between names, one at each end

violations=()

# check_layer DIR ALLOWED_PREFIXES SYSTEM_HEADERS: every include in DIR is a standard header, one
# of SYSTEM_HEADERS, starts with one of ALLOWED_PREFIXES (space-separated), or is a bare quoted
# name of a file next to the includer.
check_layer() {
  local dir=$1 prefixes=$2 system=$3
  [ -d "$dir" ] || return 0
  local file line header ok prefix
  while IFS= read -r -d '' file; do
    while IFS= read -r line; do
      header=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1/' \
        <<<"${line#*:}")
      ok=0
      if [[ "$std_headers$system" == *" $header "* ]]; then
        ok=1
      elif [[ "${line#*:}" == *\"* && "$header" != */* && -f "$(dirname "$file")/$header" ]]; then
        ok=1
      else
        for prefix in $prefixes; do
          [[ "$header" == "$prefix"* ]] && ok=1
        done
      fi
      [ "$ok" = 1 ] || violations+=("$file:${line%%:*}: $header (not allowed in $dir/)")
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$file" || true)
  done < <(find "$dir" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.cc' \) \
    -print0)
}

check_layer map "tessera/map/" "$map_system"
check_layer protocol "tessera/protocol/" "$protocol_system"
check_layer client/include "tessera/client/ tessera/protocol/ boost/" "$client_system"
check_layer client/src "tessera/client/ tessera/protocol/ boost/" "$client_system"
check_layer client/examples "tessera/client/ tessera/protocol/ boost/" "$client_system"
check_layer client/tools "tessera/client/ tessera/protocol/ boost/ CLI/" "$client_system"
# A file straight under client/ outside those folders gets the library's rules.
while IFS= read -r -d '' extra; do
  violations+=("$extra: a source file outside client/{include,src,examples,tools}")
done < <(find client -maxdepth 1 -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) \
  -print0 2>/dev/null || true)

# server/ headers stay inside server/ and the tests.
while IFS= read -r hit; do
  violations+=("$hit (only server/ and tests/ may include server/ headers)")
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]tessera/server/' \
  --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.cc' \
  --exclude-dir=server --exclude-dir=tests --exclude-dir='build*' --exclude-dir=.git . || true)

if [ "${#violations[@]}" -ne 0 ]; then
  echo "layering violation:"
  printf '  %s\n' "${violations[@]}"
  exit 1
fi
files=$(find map protocol client -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) |
  wc -l)
echo "layering ok: $files files in map/, protocol/ and client/ include only what their layer may"
