#!/usr/bin/python3
"""tests/clients/python/suite.py: Debian's python3-redis (redis-py 4.3) as an application uses it.

Run by tests/clients/driver.py (its docstring has the protocol): once against redis-server, once
against tessera-server, with the same expectations. Each call is a function below; it passes when
it returns, fails on any exception. Every client gets socket timeouts, and every call runs in a
thread that the suite stops waiting for after TESSERA_CLIENTS_CALL_TIMEOUT seconds, so a hanging
server cannot hang the suite. Calls use their own keys (`py:<call>:...`) and never rely on what an
earlier call left behind (the `dropped_connection` call restarts the server).

Interpreter: Debian's /usr/bin/python3, whose dist-packages hold python3-redis.
"""

import os
import random
import socket
import sys
import threading
import time
import traceback

import redis
from redis.exceptions import ResponseError, TimeoutError as RedisTimeoutError

HOST = os.environ.get("TESSERA_CLIENTS_HOST", "127.0.0.1")
PORT = int(os.environ.get("TESSERA_CLIENTS_PORT", "6379"))
CALL_TIMEOUT = float(os.environ.get("TESSERA_CLIENTS_CALL_TIMEOUT", "5"))
# A socket timeout below the call's, so that a silent server shows as redis-py's TimeoutError.
SOCKET_TIMEOUT = max(0.5, CALL_TIMEOUT / 2)

CALLS = []


def call(fn):
    """Registers a call; its name in the report is the function's."""
    CALLS.append(fn)
    return fn


def client(**options) -> redis.Redis:
    options.setdefault("socket_timeout", SOCKET_TIMEOUT)
    options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
    if "connection_pool" in options:
        return redis.Redis(connection_pool=options["connection_pool"])
    return redis.Redis(host=HOST, port=PORT, **options)


def pool(cls=redis.ConnectionPool, **options):
    return cls(host=HOST, port=PORT, socket_timeout=SOCKET_TIMEOUT,
               socket_connect_timeout=SOCKET_TIMEOUT, **options)


def expect(actual, expected, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(fn, text: str, what: str) -> None:
    """fn() must raise ResponseError whose message is exactly `text` (Redis's words)."""
    try:
        got = fn()
    except ResponseError as e:
        expect(str(e), text, what + " (error text)")
        return
    raise AssertionError(f"{what}: expected the error {text!r}, got the reply {got!r}")


def restart_server() -> None:
    """Asks the driver to restart the server (same port, data lost) and waits for it."""
    print("CONTROL restart", flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "OK":
        raise RuntimeError(f"the driver could not restart the server: {answer or 'no answer'}")


# --------------------------------------------------------------------------------------------------
# Calls


@call
def ping():
    r = client()
    expect(r.ping(), True, "PING")
    expect(r.echo("hello"), b"hello", "ECHO")


@call
def set_get():
    r = client()
    expect(r.set("py:set_get:k", "v1"), True, "SET")
    expect(r.get("py:set_get:k"), b"v1", "GET")
    expect(r.get("py:set_get:missing"), None, "GET of a missing key")
    expect(r.set("py:set_get:k", 42), True, "SET of an int")
    expect(r.get("py:set_get:k"), b"42", "GET after SET of an int")


@call
def set_nx_xx():
    r = client()
    k = "py:set_nx_xx:k"
    expect(r.set(k, "a", xx=True), None, "SET XX of a missing key")
    expect(r.set(k, "a", nx=True), True, "SET NX of a missing key")
    expect(r.set(k, "b", nx=True), None, "SET NX of an existing key")
    expect(r.get(k), b"a", "the value after a refused SET NX")
    expect(r.set(k, "c", xx=True), True, "SET XX of an existing key")
    expect(r.get(k), b"c", "the value after SET XX")


@call
def setnx():
    r = client()
    k = "py:setnx:k"
    expect(r.setnx(k, "a"), True, "SETNX of a missing key")
    expect(r.setnx(k, "b"), False, "SETNX of an existing key")
    expect(r.get(k), b"a", "the value after a refused SETNX")


@call
def set_get_option():
    r = client()
    k = "py:set_get_option:k"
    expect(r.set(k, "first", get=True), None, "SET GET of a missing key")
    expect(r.set(k, "second", get=True), b"first", "SET GET returns the old value")
    expect(r.set(k, "third", nx=True, get=True), b"second", "SET NX GET of an existing key")
    expect(r.get(k), b"second", "the value after SET NX GET")


@call
def set_ex_px():
    r = client()
    expect(r.set("py:set_ex_px:ex", "v", ex=100), True, "SET EX")
    ttl = r.ttl("py:set_ex_px:ex")
    if not 90 <= ttl <= 100:
        raise AssertionError(f"TTL after SET EX 100: {ttl}")
    expect(r.set("py:set_ex_px:px", "v", px=100000), True, "SET PX")
    pttl = r.pttl("py:set_ex_px:px")
    if not 90000 <= pttl <= 100000:
        raise AssertionError(f"PTTL after SET PX 100000: {pttl}")
    expect(r.setex("py:set_ex_px:setex", 100, "v"), True, "SETEX")
    expect(r.set("py:set_ex_px:ex", "w", keepttl=True), True, "SET KEEPTTL")
    if r.ttl("py:set_ex_px:ex") < 90:
        raise AssertionError("SET KEEPTTL lost the TTL")


@call
def expire_ttl():
    r = client()
    k = "py:expire_ttl:k"
    r.set(k, "v")
    expect(r.ttl(k), -1, "TTL of a key without a deadline")
    expect(r.expire(k, 100), True, "EXPIRE")
    if not 90 <= r.ttl(k) <= 100:
        raise AssertionError(f"TTL after EXPIRE 100: {r.ttl(k)}")
    expect(r.persist(k), True, "PERSIST")
    expect(r.ttl(k), -1, "TTL after PERSIST")
    expect(r.ttl("py:expire_ttl:missing"), -2, "TTL of a missing key")
    r.set(k, "v", px=50)
    time.sleep(0.2)
    expect(r.get(k), None, "GET of a key whose 50 ms passed")


@call
def counters():
    r = client()
    k = "py:counters:n"
    expect(r.incr(k), 1, "INCR of a missing key")
    expect(r.incrby(k, 41), 42, "INCRBY")
    expect(r.decr(k), 41, "DECR")
    expect(r.decrby(k, 40), 1, "DECRBY")
    expect(r.incrbyfloat(k, 0.5), 1.5, "INCRBYFLOAT")
    r.set(k, "not a number")
    expect_error(lambda: r.incr(k), "value is not an integer or out of range",
                 "INCR of a non-number")


@call
def getdel():
    r = client()
    k = "py:getdel:k"
    r.set(k, "v")
    expect(r.getdel(k), b"v", "GETDEL")
    expect(r.exists(k), 0, "EXISTS after GETDEL")
    expect(r.getdel(k), None, "GETDEL of a missing key")


@call
def getex():
    r = client()
    k = "py:getex:k"
    r.set(k, "v")
    expect(r.getex(k), b"v", "GETEX without options")
    expect(r.getex(k, ex=100), b"v", "GETEX EX")
    if not 90 <= r.ttl(k) <= 100:
        raise AssertionError(f"TTL after GETEX EX 100: {r.ttl(k)}")
    expect(r.getex(k, persist=True), b"v", "GETEX PERSIST")
    expect(r.ttl(k), -1, "TTL after GETEX PERSIST")


@call
def mget_mset():
    r = client()
    values = {f"py:mget_mset:{i}": f"value-{i}" for i in range(50)}
    expect(r.mset(values), True, "MSET of 50 keys")
    keys = list(values) + ["py:mget_mset:missing"]
    expect(r.mget(keys), [v.encode() for v in values.values()] + [None], "MGET")
    expect(r.mget("py:mget_mset:3", "py:mget_mset:1"), [b"value-3", b"value-1"],
           "MGET with varargs")


@call
def delete_exists():
    r = client()
    keys = [f"py:delete_exists:{i}" for i in range(10)]
    for k in keys:
        r.set(k, "v")
    expect(r.exists(*keys, "py:delete_exists:missing"), 10, "EXISTS of 10 keys and a missing one")
    expect(r.exists(keys[0], keys[0]), 2, "EXISTS counts a key named twice twice")
    expect(r.delete(*keys[:4], "py:delete_exists:missing"), 4, "DEL of 4 keys and a missing one")
    expect(r.exists(*keys), 6, "EXISTS after DEL")
    expect(r.type(keys[5]), b"string", "TYPE")
    expect(r.type("py:delete_exists:missing"), b"none", "TYPE of a missing key")
    expect(r.strlen(keys[5]), 1, "STRLEN")


@call
def binary_values():
    r = client()
    every_byte = bytes(range(256)) * 4
    cases = {
        b"py:binary:every-byte": every_byte,
        b"py:binary:crlf": b"\r\n$3\r\n*1\r\n\r\n",
        b"py:binary:empty": b"",
        b"py:binary:nul": b"\x00",
        # Deterministic, so that captures of the two servers compare byte for byte.
        b"py:binary:large": random.Random(19).randbytes(1 << 20),
        b"py:binary:key\x00\xff\r\n": b"binary key",
    }
    for k, v in cases.items():
        expect(r.set(k, v), True, f"SET {k!r}")
    for k, v in cases.items():
        expect(r.get(k), v, f"GET {k!r}")
    expect(r.strlen(b"py:binary:large"), 1 << 20, "STRLEN of 1 MiB")
    expect(r.mget(list(cases)), list(cases.values()), "MGET of binary values")


@call
def decode_responses():
    r = client(decode_responses=True)
    text = "naïve café ünïcödé € 😀"
    expect(r.set("py:decode:k", text), True, "SET")
    expect(r.get("py:decode:k"), text, "GET decoded")
    expect(r.mget(["py:decode:k", "py:decode:missing"]), [text, None], "MGET decoded")
    expect(r.strlen("py:decode:k"), len(text.encode()), "STRLEN counts bytes")


@call
def pipeline_no_transaction():
    r = client()
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"py:pipeline:{i}", i)
    for i in range(200):
        pipe.get(f"py:pipeline:{i}")
    pipe.execute_command("NOSUCHCOMMAND", "x")
    pipe.get("py:pipeline:199")
    results = pipe.execute(raise_on_error=False)
    expect(len(results), 402, "number of replies")
    expect(results[:200], [True] * 200, "the SET replies")
    expect(results[200:400], [str(i).encode() for i in range(200)], "the GET replies")
    if not isinstance(results[400], ResponseError):
        raise AssertionError(f"an unknown command in a pipeline: {results[400]!r}")
    expect(str(results[400]), "unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
           "the error in place")
    expect(results[401], b"199", "the reply after the error")
    with r.pipeline(transaction=False) as pipe:
        expect(pipe.set("py:pipeline:ctx", "v").get("py:pipeline:ctx").execute(), [True, b"v"],
               "a chained pipeline as a context manager")


@call
def pipeline_transaction():
    r = client()
    pipe = r.pipeline()  # transaction=True: MULTI ... EXEC
    pipe.set("py:tx:a", "1").set("py:tx:b", "2").get("py:tx:a").mget("py:tx:a", "py:tx:b")
    expect(pipe.execute(), [True, True, b"1", [b"1", b"2"]], "MULTI/EXEC replies")


@call
def watch_transaction():
    r = client()
    k = "py:watch:n"
    r.set(k, "10")

    def add_one(pipe):
        value = int(pipe.get(k))
        pipe.multi()
        pipe.set(k, value + 1)

    expect(r.transaction(add_one, k), [True], "WATCH/MULTI/EXEC through transaction()")
    expect(r.get(k), b"11", "the value after the transaction")


@call
def scan_iter():
    r = client()
    wanted = {f"py:scan:{i}".encode() for i in range(300)}
    r.mset({k: "v" for k in wanted})
    r.mset({f"py:other:{i}": "v" for i in range(30)})
    got = list(r.scan_iter(match="py:scan:*", count=50))
    expect(set(got), wanted, "the keys SCAN MATCH returned")
    typed = set(r.scan_iter(match="py:scan:1*", count=1000, _type="STRING"))
    expect(typed, {k for k in wanted if k.startswith(b"py:scan:1")}, "SCAN MATCH TYPE string")
    expect(sorted(r.keys("py:scan:29*")), sorted(k for k in wanted if k.startswith(b"py:scan:29")),
           "KEYS")
    cursor, batch = r.scan(0, match="py:scan:*", count=10)
    if not isinstance(cursor, int) or not isinstance(batch, list):
        raise AssertionError(f"SCAN's reply: {cursor!r}, {batch!r}")


@call
def glob_patterns():
    r = client()
    names = ["a*b", "a?b", "a[b", "axb", "ab", "a\\b", "A1b", "a-b"]
    r.mset({f"py:glob:{n}": "v" for n in names})
    cases = {
        "py:glob:a\\*b": ["a*b"],
        "py:glob:a?b": ["a*b", "a?b", "a[b", "axb", "a\\b", "a-b"],
        "py:glob:a[*?]b": ["a*b", "a?b"],
        "py:glob:a[^*?]b": ["a[b", "axb", "a\\b", "a-b"],
        "py:glob:a[w-y]b": ["axb"],
        "py:glob:a[\\[]b": ["a[b"],
        "py:glob:a*": ["a*b", "a?b", "a[b", "axb", "ab", "a\\b", "a-b"],
        "py:glob:[aA]?b": ["a*b", "a?b", "a[b", "axb", "a\\b", "A1b", "a-b"],
    }
    for pattern, expected in cases.items():
        want = sorted(f"py:glob:{n}".encode() for n in expected)
        expect(sorted(r.keys(pattern)), want, f"KEYS {pattern}")
        expect(sorted(set(r.scan_iter(match=pattern, count=100))), want, f"SCAN MATCH {pattern}")


@call
def config_get_set():
    r = client()
    expect(r.config_get("maxmemory"), {"maxmemory": "0"}, "CONFIG GET maxmemory")
    expect(r.config_set("maxmemory", "100mb"), True, "CONFIG SET maxmemory")
    expect(r.config_get("maxmemory"), {"maxmemory": "104857600"}, "CONFIG GET after SET")
    expect(r.config_set("maxmemory", "0"), True, "CONFIG SET maxmemory back")
    expect(r.config_get("timeout"), {"timeout": "0"}, "CONFIG GET timeout")


@call
def connection_pool_threads():
    shared = pool(max_connections=6)
    r = client(connection_pool=shared)
    errors = []

    def worker(n):
        try:
            for i in range(150):
                k = f"py:pool:{n}:{i}"
                r.set(k, f"{n}-{i}")
                got = r.get(k)
                if got != f"{n}-{i}".encode():
                    raise AssertionError(f"thread {n}: GET {k} gave {got!r}")
            values = r.mget([f"py:pool:{n}:{i}" for i in range(150)])
            if values != [f"{n}-{i}".encode() for i in range(150)]:
                raise AssertionError(f"thread {n}: MGET gave wrong values")
        except Exception as e:  # reported below, by the calling thread
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError("; ".join(errors))
    created = shared._created_connections
    if not 1 <= created <= 6:
        raise AssertionError(f"the pool made {created} connections (max 6)")
    shared.disconnect()


@call
def blocking_pool_threads():
    shared = pool(redis.BlockingConnectionPool, max_connections=2, timeout=CALL_TIMEOUT)
    r = client(connection_pool=shared)
    errors = []

    def worker(n):
        try:
            for i in range(50):
                r.set(f"py:bpool:{n}", i)
                if r.get(f"py:bpool:{n}") != str(i).encode():
                    raise AssertionError(f"thread {n}: wrong value")
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError("; ".join(errors))
    shared.disconnect()


@call
def client_setname():
    r = client(single_connection_client=True)
    expect(r.client_getname(), None, "CLIENT GETNAME before SETNAME")
    expect(r.client_setname("py-suite"), True, "CLIENT SETNAME")
    expect(r.client_getname(), "py-suite", "CLIENT GETNAME")
    if not isinstance(r.client_id(), int):
        raise AssertionError("CLIENT ID is not an integer")
    expect_error(lambda: r.client_setname("has space"),
                 "Client names cannot contain spaces, newlines or special characters.",
                 "CLIENT SETNAME with a space")
    r.close()


@call
def info():
    r = client()
    r.set("py:info:k", "v")
    everything = r.info()
    expect(everything.get("redis_version"), "7.0.15", "INFO redis_version")
    if not isinstance(everything.get("connected_clients"), int):
        raise AssertionError(f"INFO connected_clients: {everything.get('connected_clients')!r}")
    server = r.info("server")
    expect(server.get("redis_mode"), "standalone", "INFO server: redis_mode")
    if "connected_clients" in server:
        raise AssertionError("INFO server has the clients section too")
    keyspace = r.info("keyspace")
    db0 = keyspace.get("db0")
    if not isinstance(db0, dict) or db0.get("keys", 0) < 1:
        raise AssertionError(f"INFO keyspace: {keyspace!r}")
    expect(r.dbsize() >= 1, True, "DBSIZE")


class SwallowingProxy:
    """A loopback TCP proxy to the server that, on its first connection only, forwards the
    client's bytes but never the server's replies: a server that went silent. Later connections
    are forwarded both ways."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            u = socket.create_connection((HOST, PORT), timeout=CALL_TIMEOUT)
            u.settimeout(None)
            self.sockets += [c, u]
            silent = self.connections == 1
            threading.Thread(target=self._pump, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, silent), daemon=True).start()

    @staticmethod
    def _pump(src, dst, swallow):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if not swallow:
                try:
                    dst.sendall(data)
                except OSError:
                    return

    def close(self):
        self.listener.close()
        for s in self.sockets:
            s.close()


@call
def retry_on_timeout():
    client().set("py:retry:k", "v")
    short = 0.3  # the silent connection always times out: any timeout shows it
    # Without retry_on_timeout the silent first connection surfaces as a TimeoutError...
    proxy = SwallowingProxy()
    try:
        r = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=short)
        try:
            got = r.get("py:retry:k")
            raise AssertionError(f"GET through a silent connection returned {got!r}")
        except RedisTimeoutError:
            pass
    finally:
        proxy.close()
    # ...with it, redis-py drops that connection and sends the command again on a new one.
    proxy = SwallowingProxy()
    try:
        # The same timeout bounds the retry, which must get a real answer: generous, for a loaded
        # machine (the silent first attempt costs it once).
        r = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=SOCKET_TIMEOUT / 2,
                        retry_on_timeout=True)
        expect(r.get("py:retry:k"), b"v", "GET retried after a timeout")
        expect(proxy.connections, 2, "connections made (the silent one, then the retry)")
        expect(r.get("py:retry:k"), b"v", "GET on the new connection")
    finally:
        proxy.close()


@call
def dropped_connection():
    shared = pool(max_connections=4)
    r = client(connection_pool=shared)
    expect(r.set("py:dropped:k", "v"), True, "SET before the restart")
    # Two idle connections in the pool, both dropped by the server's restart.
    held = [shared.get_connection("PING"), shared.get_connection("PING")]
    for c in held:
        shared.release(c)
    before = shared._created_connections
    restart_server()
    # The pool finds each dropped connection unusable when it hands it out, and connects anew.
    expect(r.ping(), True, "PING after the server dropped the pool's connections")
    expect(r.get("py:dropped:k"), None, "GET after the restart (the data was in memory only)")
    expect(r.set("py:dropped:k", "w"), True, "SET after the restart")
    pipe = r.pipeline(transaction=False)
    pipe.get("py:dropped:k").get("py:dropped:k")
    expect(pipe.execute(), [b"w", b"w"], "a pipeline after the restart")
    expect(shared._created_connections, before, "the pool re-made its connections in place")
    shared.disconnect()


@call
def idle_timeout_dropped():
    """CONFIG SET timeout 1: the server itself closes the pool's idle connection."""
    shared = pool(max_connections=2)
    r = client(connection_pool=shared)
    expect(r.set("py:idle:k", "v"), True, "SET")
    idle = shared.get_connection("GET")
    shared.release(idle)
    try:
        expect(client().config_set("timeout", 1), True, "CONFIG SET timeout 1")
        deadline = time.monotonic() + 2 * CALL_TIMEOUT
        while True:  # until the server has closed the idle connection (EOF is readable)
            try:
                if idle.can_read(timeout=0.1):
                    raise AssertionError("the idle connection has data but no EOF")
            except redis.ConnectionError:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no close of an idle connection {2 * CALL_TIMEOUT:g} s "
                                     "after CONFIG SET timeout 1")
        expect(r.get("py:idle:k"), b"v", "GET through the pool after the server closed its "
               "connection")
    finally:
        client().config_set("timeout", 0)
    shared.disconnect()


@call
def error_replies():
    r = client()
    expect_error(lambda: r.execute_command("NOSUCH", "a", "b"),
                 "unknown command 'NOSUCH', with args beginning with: 'a' 'b' ", "unknown command")
    expect_error(lambda: r.execute_command("GET"),
                 "wrong number of arguments for 'get' command", "GET without a key")
    expect_error(lambda: r.execute_command("SET", "k", "v", "NX", "XX"), "syntax error",
                 "SET NX XX")
    expect(r.ping(), True, "the connection works after the errors")


@call
def flushdb():
    r = client()
    r.mset({f"py:flush:{i}": "v" for i in range(20)})
    expect(r.flushdb(), True, "FLUSHDB")
    expect(r.dbsize(), 0, "DBSIZE after FLUSHDB")
    expect(r.flushall(), True, "FLUSHALL")


@call
def pubsub():
    r = client()
    p = r.pubsub()
    p.subscribe("py:channel")
    message = p.get_message(timeout=SOCKET_TIMEOUT)
    expect(message and message["type"], "subscribe", "the subscribe confirmation")
    expect(r.publish("py:channel", "hello"), 1, "PUBLISH to one subscriber")
    message = p.get_message(timeout=SOCKET_TIMEOUT)
    expect(message and (message["type"], message["data"]), ("message", b"hello"), "the message")
    p.close()


@call
def other_types():
    r = client()
    expect(r.hset("py:types:h", mapping={"a": "1", "b": "2"}), 2, "HSET")
    expect(r.hgetall("py:types:h"), {b"a": b"1", b"b": b"2"}, "HGETALL")
    expect(r.rpush("py:types:l", "x", "y"), 2, "RPUSH")
    expect(r.lrange("py:types:l", 0, -1), [b"x", b"y"], "LRANGE")
    expect(r.sadd("py:types:s", "m"), 1, "SADD")
    expect(r.type("py:types:h"), b"hash", "TYPE of a hash")


@call
def lock():
    r = client()
    lk = r.lock("py:lock:resource", timeout=10, blocking_timeout=1)
    expect(lk.acquire(), True, "Lock.acquire")
    expect(r.lock("py:lock:resource", blocking_timeout=0.1).acquire(), False,
           "a second Lock.acquire while held")
    lk.release()
    expect(r.exists("py:lock:resource"), 0, "the lock key after release")


# --------------------------------------------------------------------------------------------------


def run(fn) -> None:
    outcome = {}

    def body():
        try:
            fn()
            outcome["ok"] = True
        except BaseException as e:  # every failure is reported, none ends the suite
            # The deepest frame of this file: the line of the call that failed.
            here = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
            where = f" (suite.py:{here[-1].lineno})" if here else ""
            outcome["why"] = f"{type(e).__name__}: {e}{where}"

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(CALL_TIMEOUT * 3)  # a call makes several round trips, each bounded by SOCKET_TIMEOUT
    if t.is_alive():
        print(f"RESULT {fn.__name__} fail timed out after {CALL_TIMEOUT * 3:g} s", flush=True)
    elif outcome.get("ok"):
        print(f"RESULT {fn.__name__} pass", flush=True)
    else:
        why = " ".join(outcome.get("why", "no outcome").split())
        print(f"RESULT {fn.__name__} fail {why[:500]}", flush=True)


def main() -> None:
    print(f"VERSION redis-py {redis.__version__} (Debian python3-redis), Python "
          f"{sys.version.split()[0]}", flush=True)
    for fn in CALLS:
        run(fn)
    sys.stdout.flush()
    os._exit(0)  # a call that timed out may have left a thread behind


if __name__ == "__main__":
    main()
