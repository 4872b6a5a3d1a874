#!/usr/bin/env bash
# The README's quick start, run as a new user runs it (ctest -L slow -R quickstart):
#   tests/quickstart.sh SOURCE_DIR
# In a fresh clone of SOURCE_DIR's committed HEAD (in a scratch folder, removed afterwards): the
# README's first command (scripts/start, which installs what is missing, builds Release and runs
# the server; here on a free port), then each command of the README's "from another terminal"
# block against it, checking the output the README promises in its comment; then Ctrl-C (SIGINT),
# and the shutdown log. Any difference fails with a message. The build is the slow part; with
# ccache installed it is used (CCACHE_BASEDIR is the clone, so a later run hits the cache).
set -euo pipefail
src=${1:?usage: quickstart.sh SOURCE_DIR}
scratch=$(mktemp -d /tmp/tessera-quickstart.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server"; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$scratch/start.log" ] && tail -20 "$scratch/start.log" >&2; exit 1; }

git clone -q "$src" "$scratch/tessera"
cd "$scratch/tessera"

# The README's code blocks: the quick start's first ```sh block, and the one after "another terminal".
block() {  # block N: the Nth ```sh block of the Quick start section
  awk -v want="$1" '/^## Quick start/{q=1; next} q && /^## /{exit}
    q && /^```sh/{n++; inside=(n==want); next} q && /^```/{inside=0; next} inside{print}' README.md
}
start_cmd=$(block 1 | head -1 | sed 's/ *#.*//')
[ "$start_cmd" = "scripts/start" ] || fail "the quick start's first command is '$start_cmd'"
mapfile -t client_cmds < <(block 2)
[ ${#client_cmds[@]} -ge 3 ] || fail "no client commands found in the README's quick start"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$scratch/tessera"
fi
# scripts/start execs the server: $server is the server's pid once it runs.
$start_cmd --port "$port" >"$scratch/start.log" 2>&1 &
server=$!
for _ in $(seq 1 3600); do
  grep -q "Ready to accept connections" "$scratch/start.log" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || fail "scripts/start exited before the server was ready"
  sleep 1
done
grep -q "Ready to accept connections tcp on 127.0.0.1:$port" "$scratch/start.log" ||
  fail "the server did not become ready on 127.0.0.1:$port"

for line in "${client_cmds[@]}"; do
  cmd=$(sed 's/ *#.*//' <<<"$line")
  want=$(sed -n 's/.*# *//p' <<<"$line")
  read -r -a argv <<<"$cmd"
  case "${argv[0]}" in
    redis-cli) argv=(redis-cli -p "$port" "${argv[@]:1}") ;;
    */tessera-benchmark) argv+=(-p "$port") ;;
    */tessera-client-example) argv+=(127.0.0.1 "$port") ;;
    *) fail "the quick start runs '${argv[0]}', which this test does not know how to point at its port" ;;
  esac
  [ -x "${argv[0]}" ] || command -v "${argv[0]}" >/dev/null || fail "'${argv[0]}' is not there after scripts/start"
  out=$(timeout 120 "${argv[@]}" 2>&1) || fail "'$cmd' failed: $out"
  if [ -n "$want" ] && [ "$out" != "$want" ]; then fail "'$cmd' printed '$out', the README says '$want'"; fi
  case "${argv[0]}" in
    */tessera-benchmark) grep -q "requests per second" <<<"$out" || fail "tessera-benchmark printed: $out" ;;
  esac
  echo "ok: $cmd"
done

kill -INT "$server"
for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server" 2>/dev/null && fail "the server did not stop within 5 s of SIGINT"
wait "$server" || fail "the server exited with status $?"
server=""
log=$(cat "$scratch/start.log")
grep -q "Received SIGINT, shutting down" <<<"$log" || fail "no shutdown line in the log"
grep -q "shards)\|(1 shard)" <<<"$log" || fail "the ready line does not count the shards"
grep -q "(1 shards)" <<<"$log" && fail "'(1 shards)' in the log"
grep -q "DB saved on disk" <<<"$log" || fail "the keys were not saved at Ctrl-C (default save rules)"
[ -f dump.rdb ] || fail "no dump.rdb after Ctrl-C"
echo "quick start OK"
