"""redis-py (Debian's python3-redis) transactions against one server: usage PORT.

pipeline() is MULTI/EXEC by default; transaction() adds WATCH and retries. The same expectations
hold for tessera-server and Redis 7.0; any difference fails with a message and exit status 1."""
import sys
import threading

import redis

port = int(sys.argv[1])


def client():
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=20)


def expect(got, want, what):
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)


r = client()
r.flushall()

# The default pipeline: MULTI ... EXEC, replies in order, keys on every shard.
pipe = r.pipeline()
for i in range(10):
    pipe.set(f"py:k{i}", i)
pipe.incrby("py:k3", 10).get("py:k3").mget("py:k0", "py:k9").append("py:k9", "x")
expect(pipe.execute(), [True] * 10 + [13, b"13", [b"0", b"9"], 2], "pipeline replies")

# A command that fails at run time: its error in place, the others applied.
pipe = r.pipeline()
pipe.set("py:s", "abc").incr("py:s").set("py:after", "1")
res = pipe.execute(raise_on_error=False)
expect(res[0], True, "first reply")
expect(isinstance(res[1], redis.ResponseError), True, "INCR of a string is an error")
expect(str(res[1]), "value is not an integer or out of range", "the error text")
expect(res[2], True, "third reply")
expect(r.get("py:after"), b"1", "a command after the failing one ran")

# A command refused while queueing: EXECABORT, nothing applied.
pipe = r.pipeline()
pipe.set("py:never", "1").execute_command("NOSUCHCOMMAND").set("py:never2", "1")
try:
    pipe.execute()
    print("FAIL an unknown command in a transaction did not raise")
    sys.exit(1)
except redis.ResponseError as e:
    expect("EXECABORT" in str(e) or "unknown command" in str(e), True, f"the error ({e})")
expect(r.exists("py:never", "py:never2"), 0, "nothing applied after EXECABORT")

# transaction(): WATCH, read, MULTI, write; concurrent increments all land exactly once.
r.set("py:counter", 0)


def worker():
    c = client()

    def add_one(pipe):
        value = int(pipe.get("py:counter"))
        pipe.multi()
        pipe.set("py:counter", value + 1)

    for _ in range(50):
        c.transaction(add_one, "py:counter")


threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
expect(r.get("py:counter"), b"200", "concurrent WATCH transactions")

# A watched key changed by another client: WatchError from a pipeline with watch().
other = client()
with r.pipeline() as pipe:
    pipe.watch("py:w")
    other.set("py:w", "changed")
    pipe.multi()
    pipe.set("py:w", "mine")
    try:
        pipe.execute()
        print("FAIL EXEC ran although a watched key changed")
        sys.exit(1)
    except redis.WatchError:
        pass
expect(r.get("py:w"), b"changed", "the other client's write stands")

# Atomic multi-key commands.
expect(r.msetnx({"py:n1": 1, "py:n2": 2}), True, "MSETNX of new keys")
expect(r.msetnx({"py:n2": 3, "py:n3": 3}), False, "MSETNX with one existing key")
expect(r.exists("py:n3"), 0, "MSETNX wrote nothing")
expect(r.rename("py:n1", "py:renamed"), True, "RENAME")
expect(r.copy("py:renamed", "py:copied"), True, "COPY")
expect(r.mget("py:n1", "py:renamed", "py:copied"), [None, b"1", b"1"], "after RENAME and COPY")
print("all redis-py transaction checks passed")
