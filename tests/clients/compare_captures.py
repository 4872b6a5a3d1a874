#!/usr/bin/env python3
"""tests/clients/compare_captures.py: where Tessera's replies differ from Redis's, byte for byte.

    driver.py --capture DIR --suite NAME ... -- SUITE...     records both servers' conversations
    compare_captures.py DIR [--all]                           then this compares them

Reads the transcripts driver.py --capture wrote (DIR/redis-NNN.txt, DIR/tessera-NNN.txt: one line
per chunk, `<seconds> C>|S> <bytes as a Python literal>`), splits each connection's two byte
streams into requests and RESP2/RESP3 replies, pairs them in order, and prints every request that
got different replies from the two servers, with both replies' bytes. The suites make the same
requests against both, so what differs is the server (or a request whose reply varies by nature:
INFO, CLIENT ID, HELLO's id, SCAN cursors and orders, and commands Tessera lacks). Without --all,
requests that vary by nature are left out.
"""

import argparse
import ast
import collections
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

# Requests whose replies differ between any two servers by nature (upper-cased prefixes).
VARYING = (b"INFO", b"CLIENT\r\n$2\r\nID", b"CLIENT\r\n$4\r\nLIST", b"SCAN", b"HELLO",
           b"DBSIZE", b"KEYS")


def streams(path: Path) -> Tuple[bytes, bytes]:
    """The client-to-server and server-to-client bytes of one transcript."""
    sent, received = bytearray(), bytearray()
    for line in path.read_text().splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3 or parts[1] not in ("C>", "S>") or parts[2] == "<closed>":
            continue
        data = ast.literal_eval(parts[2])
        (sent if parts[1] == "C>" else received).extend(data)
    return bytes(sent), bytes(received)


def value_end(buf: bytes, i: int) -> int:
    """The end of the RESP2/RESP3 value that starts at buf[i] (ValueError if incomplete)."""
    kind = buf[i:i + 1]
    eol = buf.index(b"\r\n", i)
    head = buf[i + 1:eol]
    if kind in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return eol + 2
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        return eol + 2 if n < 0 else eol + 2 + n + 2
    if kind in (b"*", b"%", b"~", b">", b"|"):
        n = int(head)
        if n < 0:
            return eol + 2
        end = eol + 2
        for _ in range(n * 2 if kind in (b"%", b"|") else n):
            end = value_end(buf, end)
        return end
    raise ValueError(f"not a RESP type byte: {kind!r} at {i}")


def split(buf: bytes, inline_ok: bool) -> List[bytes]:
    """Requests (RESP arrays or inline lines) or replies, in order; an incomplete tail is kept."""
    out, i = [], 0
    while i < len(buf):
        try:
            if inline_ok and buf[i:i + 1] != b"*":
                end = buf.index(b"\r\n", i) + 2
            else:
                end = value_end(buf, i)
        except (ValueError, IndexError):
            out.append(buf[i:])
            break
        out.append(buf[i:end])
        i = end
    return out


def replies_by_request(directory: Path, server: str) -> Dict[bytes, Set[bytes]]:
    found: Dict[bytes, Set[bytes]] = collections.defaultdict(set)
    for path in sorted(directory.glob(f"{server}-*.txt")):
        try:
            sent, received = streams(path)
        except (ValueError, SyntaxError):
            continue  # e.g. "upstream connect failed" while the server restarted
        for request, reply in zip(split(sent, True), split(received, False)):
            found[request].add(reply)
    return found


def show(data: bytes, limit: int) -> str:
    text = repr(data[:limit])
    return text + (f" ... ({len(data)} bytes)" if len(data) > limit else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--all", action="store_true", help="include requests that vary by nature")
    ap.add_argument("--limit", type=int, default=300, help="bytes of each reply shown")
    args = ap.parse_args()
    redis = replies_by_request(args.directory, "redis")
    tessera = replies_by_request(args.directory, "tessera")
    if not redis or not tessera:
        print(f"{args.directory}: no redis-*.txt or tessera-*.txt transcripts", file=sys.stderr)
        return 2
    differing = 0
    for request in sorted(set(redis) & set(tessera)):
        if redis[request] == tessera[request]:
            continue
        if not args.all and any(request.upper().lstrip(b"*0123456789\r\n$").startswith(v)
                                for v in VARYING):
            continue
        differing += 1
        print(f"request {show(request, 200)}")
        for server, replies in (("redis  ", redis[request]), ("tessera", tessera[request])):
            for reply in sorted(replies)[:3]:
                print(f"  {server} {show(reply, args.limit)}")
    common = len(set(redis) & set(tessera))
    print(f"{common} requests sent to both servers, {differing} with different replies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
