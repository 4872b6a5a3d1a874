"""The Prometheus endpoint of a running tessera-server: usage PORT METRICS_PORT SHARDS [scrape-only].

Scrapes GET /metrics, parses it with python3-prometheus-client's parser (Debian's package, the
format Prometheus itself reads), checks the families and their shapes, runs commands and checks
that the counters moved by exactly what they did, then checks the HTTP errors and bounds. Any
difference prints FAIL and exits 1."""
import socket
import sys
import time
import urllib.error
import urllib.request

import redis
from prometheus_client.parser import text_string_to_metric_families

port, metrics_port, shards = (int(a) for a in sys.argv[1:4])
http_checks = len(sys.argv) < 5
url = f"http://127.0.0.1:{metrics_port}/metrics"


def fail(what):
    print(f"FAIL {what}")
    sys.exit(1)


def expect(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def scrape():
    with urllib.request.urlopen(url, timeout=10) as r:
        expect(r.status, 200, "status")
        expect(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8", "type")
        text = r.read().decode()
    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return types, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


types, before = scrape()
for name, kind in [("tessera_keys", "gauge"), ("tessera_store_memory_bytes", "gauge"),
                   ("tessera_commands", "counter"), ("tessera_errors", "counter"),
                   ("tessera_command_duration_seconds", "histogram"),
                   ("tessera_connected_clients", "gauge"), ("tessera_expired_keys", "counter"),
                   ("tessera_evicted_keys", "counter"), ("tessera_memory_used_bytes", "gauge"),
                   ("process_resident_memory_bytes", "gauge")]:
    expect(types.get(name), kind, f"type of {name}")
expect(len([k for k in before if k[0] == "tessera_keys"]), shards, "one tessera_keys per shard")
if value(before, "process_resident_memory_bytes") <= 0 or value(before, "tessera_memory_used_bytes") <= 0:
    fail("process memory figures")

r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
for i in range(100):
    r.set(f"key:{i}", "v")
r.set("ttl", "v", px=1)
for i in range(7):
    r.get(f"key:{i}")
r.get("missing")
try:
    r.execute_command("INCR", "key:1")  # not an integer: -ERR, a failed call
except redis.ResponseError:
    pass
try:
    r.execute_command("NOSUCHCOMMAND")  # refused: only errorstats
except redis.ResponseError:
    pass
time.sleep(0.05)
r.get("ttl")  # expired by now: reclaimed as an expired key
dbsize = r.dbsize()

_, after = scrape()
expect(value(after, "tessera_commands_total", cmd="set") - value(before, "tessera_commands_total", cmd="set"), 101, "SET calls")
expect(value(after, "tessera_commands_total", cmd="get") - value(before, "tessera_commands_total", cmd="get"), 9, "GET calls")
expect(value(after, "tessera_commands_failed_total", cmd="incr") - value(before, "tessera_commands_failed_total", cmd="incr"), 1, "INCR failures")
expect(value(after, "tessera_errors_total", prefix="ERR") - value(before, "tessera_errors_total", prefix="ERR"), 2, "ERR replies")
expect(sum(v for k, v in after.items() if k[0] == "tessera_keys"), dbsize, "keys summed over shards")
expect(sum(v for k, v in after.items() if k[0] == "tessera_expired_keys_total") -
       sum(v for k, v in before.items() if k[0] == "tessera_expired_keys_total"), 1, "expired keys")
if value(after, "tessera_connected_clients") < 1:
    fail("connected clients")
if sum(v for k, v in after.items() if k[0] == "tessera_store_memory_bytes") <= 0:
    fail("store memory")
# The histogram: cumulative buckets, +Inf equal to the count, the count equal to the calls.
get = ("cmd", "get")
buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in after.items()
                  if k[0] == "tessera_command_duration_seconds_bucket" and get in k[1]))
if len(buckets) < 10:
    fail(f"GET's histogram has {len(buckets)} buckets")
if any(b[1] < a[1] for a, b in zip(buckets, buckets[1:])):
    fail("buckets not cumulative")
expect(buckets[-1][0], float("inf"), "last bucket")
expect(buckets[-1][1], value(after, "tessera_command_duration_seconds_count", cmd="get"), "+Inf == count")
expect(value(after, "tessera_command_duration_seconds_count", cmd="get"), value(after, "tessera_commands_total", cmd="get"), "count == calls")


if not http_checks:
    print("metrics endpoint OK")
    sys.exit(0)


# ---- HTTP: everything but a scrape gets its error, and the connection is closed ----
def raw(request, read_for=5.0):
    s = socket.create_connection(("127.0.0.1", metrics_port), timeout=read_for)
    s.sendall(request)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        data += b"<open>"
    s.close()
    return data


def status_of(reply):
    return reply.split(b"\r\n", 1)[0].decode(errors="replace")


expect(status_of(raw(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")), "HTTP/1.1 404 Not Found", "other path")
got = raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
expect(status_of(got), "HTTP/1.1 405 Method Not Allowed", "POST")
if b"\r\nAllow: GET, HEAD\r\n" not in got:
    fail("405 without Allow")
expect(status_of(raw(b"GARBAGE\r\n\r\n")), "HTTP/1.1 400 Bad Request", "garbage")
expect(status_of(raw(b"GET /metrics HTTP/2.0\r\n\r\n")), "HTTP/1.1 505 HTTP Version Not Supported", "HTTP/2")
expect(status_of(raw(b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")), "HTTP/1.1 400 Bad Request", "a body")
expect(status_of(raw(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")),
       "HTTP/1.1 431 Request Header Fields Too Large", "huge header")
head = raw(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
expect(status_of(head), "HTTP/1.1 200 OK", "HEAD")
expect(head.endswith(b"\r\n\r\n"), True, "HEAD has no body")
# Keep-alive: two scrapes on one connection, pipelined.
two = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
expect(two.count(b"HTTP/1.1 200 OK\r\n"), 2, "keep-alive scrapes")
# At most 64 connections: the next ones get 503.
held = [socket.create_connection(("127.0.0.1", metrics_port)) for _ in range(64)]
time.sleep(0.2)
expect(status_of(raw(b"GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 503 Service Unavailable", "past 64 connections")
for s in held:
    s.close()
time.sleep(0.2)
# A slow client: half a request, then silence: 408 after 10 s, and closed.
started = time.monotonic()
slow = raw(b"GET /metrics HTTP/1.1\r\nHo", read_for=15)
expect(status_of(slow), "HTTP/1.1 408 Request Timeout", "slow client")
if not 9 <= time.monotonic() - started <= 13:
    fail(f"408 after {time.monotonic() - started:.1f} s")
# Still serving.
scrape()
print("metrics endpoint OK")
