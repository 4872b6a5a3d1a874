#!/usr/bin/env python3
"""tests/clients/driver.py: one client library's suite, against tessera-server and redis-server.

Design note. A *suite* is a program in the library's own language (Python, C, JavaScript) that
makes a fixed list of calls and reports each one; this driver owns everything around it: the
servers, the timeouts, the expectations and the verdict. It runs the suite twice, once against
Debian's redis-server 7.0.15 (the reference) and once against this build's tessera-server, each
freshly started on a free 127.0.0.1 port, and then judges every call:

  - it must pass against Redis (otherwise the suite's expectation is wrong);
  - against Tessera it must pass too, unless tests/clients/unsupported.txt lists it, with the
    reason and the issue that adds the missing feature: then it must FAIL against Tessera. A
    listed call that starts passing fails the run with "remove it from the list", so the list can
    only shrink, and only truthfully. A listed call the suite no longer makes fails the run too.

The suite protocol (the same for every language), one line each, on the suite's stdout:
  VERSION <text>               which library (and version) the suite drives
  RESULT <call> pass
  RESULT <call> fail <why>     <why> on one line
  CONTROL restart              asks the driver to restart the server on the same port (data is
                               lost); the driver answers "OK" (or "ERROR <why>") on the suite's
                               stdin once the new server accepts connections
Anything else the suite prints is its log, shown with a [server] prefix. The suite learns where to
connect from TESSERA_CLIENTS_HOST / TESSERA_CLIENTS_PORT, and TESSERA_CLIENTS_CALL_TIMEOUT (seconds)
bounds each of its calls; TESSERA_CLIENTS_SERVER (redis or tessera) is for its messages only:
a suite must never branch on it, the expectations are the same for both servers.

Robustness: every process started here (servers, the suite) is stopped by its PID (the suite by
its own process group, which it was started in), in a finally, and dies with the driver
(PR_SET_PDEATHSIG) should the driver itself be killed (ctest's timeout); the whole suite run is
bounded by --timeout per server; a server that dies under the suite, or does not exit 0 on
SIGTERM, fails the run.

--capture DIR puts a recording TCP proxy between the suite and each server and writes every
connection's bytes, both directions, to DIR/<server>-<n>.txt: the way to find the byte-level
difference when a library behaves differently against the two servers (compare_captures.py DIR
prints the requests whose replies differ).

Only Python's standard library is used here.
"""

import argparse
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
SERVERS = ("redis", "tessera")  # Redis first: a suite that is wrong shows there.

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec; the signal setting survives exec.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _new_session_dying_with_parent() -> None:
    os.setsid()  # the suite and whatever it starts form one group, killed together
    _die_with_parent()


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# unsupported.txt


@dataclass
class Unsupported:
    suite: str
    call: str  # '*': every call of the suite
    issue: str  # '#14', or '-' where no issue adds the feature
    reason: str
    line: int


def read_unsupported(path: Path) -> List[Unsupported]:
    """Parses `suite call issue reason...` lines; '#' starts a comment line."""
    entries = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 3)
        if len(parts) < 4 or not (parts[2] == "-" or parts[2].startswith("#")):
            raise SystemExit(f"{path}:{n}: expected 'suite call #issue reason', got: {raw}")
        entries.append(Unsupported(parts[0], parts[1], parts[2], parts[3], n))
    return entries


# --------------------------------------------------------------------------------------------------
# Servers


class Server:
    """tessera-server or redis-server on a fixed loopback port, stopped by its PID."""

    def __init__(self, kind: str, tessera_path: str, port: int) -> None:
        self.kind = kind
        self.tessera_path = tessera_path
        self.port = port
        self.proc: Optional[subprocess.Popen] = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"tessera-clients-{kind}-", suffix=".log")
        self.problems: List[str] = []

    def argv(self) -> List[str]:
        if self.kind == "tessera":
            # Four shards whatever the machine, so that multi-key calls and SCAN cross shards.
            return [self.tessera_path, "--bind", "127.0.0.1", "--port", str(self.port),
                    "--shards", "4", "--log-level", "warning", "--save", ""]
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]

    def start(self, ready_timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                     close_fds=True)
        deadline = time.monotonic() + ready_timeout
        while not can_connect(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before it was "
                                   f"ready:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} not ready within {ready_timeout} s:\n"
                                   f"{self.output()}")
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `grace`; returns the exit status (negative: a signal)."""
        p, self.proc = self.proc, None
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
                self.problems.append(f"{self.kind} ignored SIGTERM for {grace} s (killed)")
        return p.returncode

    def output(self) -> str:
        try:
            return Path(self.log.name).read_text(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------------
# The recording proxy (--capture)


class CaptureProxy:
    """Forwards 127.0.0.1:<own port> to the server's port, writing every connection's bytes.

    One accept thread, two pump threads per connection. A transcript line is
    `<seconds> C> <bytes as a Python literal>` (client to server) or `S>` (server to client); a
    close is written as `C> <closed>` / `S> <closed>`."""

    def __init__(self, target_port: int, directory: Path, label: str) -> None:
        self.target_port = target_port
        self.directory = directory
        self.label = label
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.count = 0
        self.start = time.monotonic()
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.count += 1
            path = self.directory / f"{self.label}-{self.count:03d}.txt"
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError as e:
                path.write_text(f"upstream connect failed: {e}\n")
                client.close()
                continue
            out = open(path, "w", buffering=1)
            lock = threading.Lock()
            for src, dst, tag in ((client, upstream, "C>"), (upstream, client, "S>")):
                threading.Thread(target=self._pump, args=(src, dst, tag, out, lock),
                                 daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, tag: str, out, lock) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            with lock:
                stamp = f"{time.monotonic() - self.start:9.3f}"
                out.write(f"{stamp} {tag} {data!r}\n" if data else f"{stamp} {tag} <closed>\n")
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return


# --------------------------------------------------------------------------------------------------
# Running a suite against one server


@dataclass
class Run:
    server: str
    version: str = ""
    results: Dict[str, Tuple[bool, str]] = field(default_factory=dict)
    order: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    seconds: float = 0.0


def run_suite(kind: str, command: List[str], args) -> Run:
    run = Run(kind)
    started = time.monotonic()
    server = Server(kind, args.tessera_server, free_port())
    proxy: Optional[CaptureProxy] = None
    suite: Optional[subprocess.Popen] = None
    try:
        server.start()
        port = server.port
        if args.capture:
            proxy = CaptureProxy(server.port, Path(args.capture), kind)
            port = proxy.port
        env = dict(os.environ, TESSERA_CLIENTS_HOST="127.0.0.1", TESSERA_CLIENTS_PORT=str(port),
                   TESSERA_CLIENTS_SERVER=kind,
                   TESSERA_CLIENTS_CALL_TIMEOUT=str(args.call_timeout))
        suite = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, env=env, text=True, bufsize=1,
                                 errors="replace", preexec_fn=_new_session_dying_with_parent,
                                 close_fds=True)
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def reader() -> None:
            for line in suite.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=reader, daemon=True).start()
        deadline = started + args.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                run.problems.append(f"the suite did not finish within {args.timeout} s against "
                                    f"{kind} (killed)")
                break
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                break
            handle_line(line, run, server, suite)
        if suite.poll() is None:
            try:
                suite.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if suite.poll() is None:
            os.killpg(suite.pid, signal.SIGKILL)
            suite.wait(timeout=5)
        elif suite.returncode != 0:
            run.problems.append(f"the suite exited with status {suite.returncode} against {kind}")
        if not server.alive():
            code = server.proc.returncode if server.proc else None
            run.problems.append(f"{kind} died during the suite (status {code}); its output:\n"
                                f"{server.output()}")
    except RuntimeError as e:
        run.problems.append(str(e))
    finally:
        if suite is not None and suite.poll() is None:
            try:
                os.killpg(suite.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            suite.wait(timeout=5)
        if server.alive():
            code = server.stop()
            if code != 0:
                run.problems.append(f"{kind} exited with status {code} on SIGTERM; its output:\n"
                                    f"{server.output()}")
        run.problems.extend(server.problems)
        if proxy is not None:
            proxy.close()
        run.seconds = time.monotonic() - started
    return run


def handle_line(line: str, run: Run, server: Server, suite: subprocess.Popen) -> None:
    word, _, rest = line.partition(" ")
    if word == "VERSION":
        run.version = rest
    elif word == "RESULT":
        call, _, outcome = rest.partition(" ")
        status, _, why = outcome.partition(" ")
        if status not in ("pass", "fail") or not call:
            run.problems.append(f"malformed result line: {line}")
        elif call in run.results:
            run.problems.append(f"call {call} reported twice")
        else:
            run.results[call] = (status == "pass", why)
            run.order.append(call)
    elif word == "CONTROL" and rest == "restart":
        log(f"[{run.server}] restarting the server on port {server.port}")
        try:
            server.stop()
            server.start()
            answer = "OK"
        except RuntimeError as e:
            answer = "ERROR " + str(e).splitlines()[0]
            run.problems.append(f"restart of {run.server} failed: {e}")
        try:
            suite.stdin.write(answer + "\n")
            suite.stdin.flush()
        except OSError:
            pass
    else:
        log(f"[{run.server}] {line}")


# --------------------------------------------------------------------------------------------------
# Verdict


def judge(suite_name: str, runs: Dict[str, Run], listed: List[Unsupported],
          list_path: Path) -> Tuple[List[List[str]], List[str]]:
    """The table rows and the problems (empty: the run passes)."""
    problems: List[str] = []
    for run in runs.values():
        problems.extend(run.problems)
    by_call = {e.call: e for e in listed}
    wildcard = by_call.get("*")
    order: List[str] = []
    for run in runs.values():
        order += [c for c in run.order if c not in order]
    if not order:
        problems.append("the suite reported no calls at all")
    rows = []
    for call in order:
        redis = runs["redis"].results.get(call)
        tessera = runs["tessera"].results.get(call)
        entry = by_call.get(call) or wildcard
        cell = lambda r: "-" if r is None else ("pass" if r[0] else "FAIL")  # noqa: E731
        verdict = "ok"
        if redis is None or tessera is None:
            missing = "redis" if redis is None else "tessera"
            verdict = "PROBLEM"
            problems.append(f"{call}: not reported against {missing}")
        elif not redis[0]:
            verdict = "PROBLEM"
            problems.append(f"{call}: fails against Redis, the reference, so the suite's "
                            f"expectation is wrong: {redis[1]}")
        elif entry is not None:
            if tessera[0]:
                verdict = "PROBLEM"
                problems.append(
                    f"{call}: now passes against Tessera, but {list_path.name}:{entry.line} lists "
                    f"it as unsupported ({entry.issue}): remove it from the list (and regenerate "
                    f"the README's Clients table: tests/clients/readme_table.py --write)")
            else:
                verdict = f"unsupported, as listed ({entry.issue}: {entry.reason})"
        elif not tessera[0]:
            verdict = "PROBLEM"
            problems.append(f"{call}: fails against Tessera: {tessera[1]}")
        rows.append([call, cell(redis), cell(tessera), verdict])
    for e in listed:
        if e.call != "*" and e.call not in order:
            problems.append(f"{list_path.name}:{e.line} lists '{suite_name} {e.call}', a call the "
                            f"suite does not make: remove or rename the entry")
    return rows, problems


def print_report(suite_name: str, runs: Dict[str, Run], rows: List[List[str]],
                 problems: List[str]) -> None:
    version = runs["redis"].version or runs["tessera"].version or "?"
    log(f"\n== clients suite '{suite_name}': {version} ==")
    width = max([len(r[0]) for r in rows] + [4])
    log(f"{'call':<{width}}  redis  tessera  verdict")
    for call, redis, tessera, verdict in rows:
        log(f"{call:<{width}}  {redis:<5}  {tessera:<7}  {verdict}")
    for kind in SERVERS:
        for call in runs[kind].order:
            ok, why = runs[kind].results[call]
            if not ok:
                log(f"  {kind} {call}: {why}")
    both = sum(1 for r in rows if r[1] == "pass" and r[2] == "pass")
    listed = sum(1 for r in rows if r[3].startswith("unsupported"))
    log(f"{suite_name}: {len(rows)} calls, {both} pass against both servers, {listed} fail against "
        f"Tessera as listed in unsupported.txt; redis {runs['redis'].seconds:.1f} s, tessera "
        f"{runs['tessera'].seconds:.1f} s")
    if problems:
        log(f"{suite_name}: {len(problems)} PROBLEM(S):")
        for p in problems:
            log(f"  - {p}")
    else:
        log(f"{suite_name}: as expected")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", required=True, help="the suite's name in unsupported.txt")
    ap.add_argument("--tessera-server", required=True, help="path of the tessera-server binary")
    ap.add_argument("--unsupported", default=str(HERE / "unsupported.txt"))
    ap.add_argument("--timeout", type=float, default=50.0,
                    help="seconds the suite may take against one server (default 50)")
    ap.add_argument("--call-timeout", type=float, default=5.0,
                    help="seconds one call may take (passed to the suite; default 5)")
    ap.add_argument("--capture", metavar="DIR",
                    help="record every connection's bytes through a proxy, into DIR")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- the suite's command line")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no suite command given (after --)")
    if args.capture:
        Path(args.capture).mkdir(parents=True, exist_ok=True)
    list_path = Path(args.unsupported)
    listed = [e for e in read_unsupported(list_path) if e.suite == args.suite]
    runs = {kind: run_suite(kind, command, args) for kind in SERVERS}
    rows, problems = judge(args.suite, runs, listed, list_path)
    print_report(args.suite, runs, rows, problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
