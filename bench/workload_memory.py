"""Benchmark: the private memory (USS) of each built-in workload, against issue 11's target of
8 MB per backend process.

No root and no namespaces: each workload runs as the unit tests run it, `python -m
facade.workloads.X` on 127.0.0.1 on a free port (http-echo; web forwarding to that echo; search
with a second search backend as its peer, so every POST is replicated). Each gets a bounded
amount of traffic: REQUESTS requests on one keep-alive connection, then CLIENTS concurrent
clients with REQUESTS / CLIENTS requests each, and a few `GET /_facade/stats` as the management
agent does. Then /proc/PID/smaps_rollup is read: USS = Private_Clean + Private_Dirty (pages
mapped by this process alone), RSS, and PSS (shared pages divided among their users).

The workload package is copied to a temporary folder and run from there twice: with its
bytecode compiled beforehand (`cached`, as after any run that could write __pycache__), and
without (`source`: compiled at every start, as in a sandbox whose read-only source tree has no
__pycache__). The Python standard library keeps its own bytecode either way.

    .venv/bin/python bench/workload_memory.py [--src DIR] [--requests 200] [--clients 8]

`--src` measures another checkout's workloads (e.g. the main branch, for a before/after).
Prints a Markdown table; docs/benchmarks.md records its output.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

IP = "127.0.0.1"
TARGET_MB = 8.0
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0
SETTLE = 0.5  # seconds between the last request and the reading of smaps_rollup

Traffic = Callable[[http.client.HTTPConnection, int], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((IP, 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    """USS, RSS and PSS of a process in MB (MiB), from /proc/PID/smaps_rollup."""
    kb: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                kb[parts[0].rstrip(":")] = int(parts[1])
    return {"uss": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024,
            "rss": kb["Rss"] / 1024, "pss": kb["Pss"] / 1024}


def copy_workloads(src: Path, dest: Path, *, compiled: bool) -> Path:
    """facade/__init__.py and facade/workloads/*.py of `src` under dest; bytecode if asked."""
    pkg = dest / "facade"
    (pkg / "workloads").mkdir(parents=True)
    shutil.copy2(src / "facade" / "__init__.py", pkg / "__init__.py")
    for module in (src / "facade" / "workloads").glob("*.py"):
        shutil.copy2(module, pkg / "workloads" / module.name)
    if compiled:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest)], check=True,
                       env=env, timeout=60)
    return dest


class Runner:
    """Starts workload processes from one copied tree and always stops them."""

    def __init__(self, tree: Path, tmp: Path, *, compiled: bool) -> None:
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
        self.env["PYTHONPATH"] = str(tree)
        if not compiled:
            self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, module: str, name: str, port: int, *extra: str) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"facade.workloads.{module}", "--name", name, "--ip", IP,
             "--port", str(port), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env=self.env)
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):  # "listening on IP:PORT"
            left = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
            chunk = os.read(proc.stdout.fileno(), 256) if ready else b""
            if not chunk:
                raise RuntimeError(f"{module} did not start within {START_TIMEOUT}s: {line!r}")
            line += chunk
        return proc.pid

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


@contextmanager
def running(tree: Path, *, compiled: bool) -> Iterator[Runner]:
    with tempfile.TemporaryDirectory(prefix="facade-bench-wl-") as tmp:
        runner = Runner(tree, Path(tmp), compiled=compiled)
        try:
            yield runner
        finally:
            runner.stop_all()


def call(conn: http.client.HTTPConnection, method: str, path: str,
         body: bytes | None = None, expect: int = 200) -> bytes:
    conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    data = response.read()
    if response.status != expect:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def echo_traffic(conn: http.client.HTTPConnection, i: int) -> None:
    call(conn, "GET", f"/page/{i}")
    call(conn, "POST", "/submit", b"x" * 1024)
    call(conn, "GET", "/whoami")


def web_traffic(conn: http.client.HTTPConnection, i: int) -> None:
    call(conn, "GET", f"/page/{i}?q=a+b")  # forwarded to the echo
    call(conn, "POST", "/documents", json.dumps({"id": str(i)}).encode())
    call(conn, "GET", "/")


def search_traffic(conn: http.client.HTTPConnection, i: int) -> None:
    words = f"document number {i} about datagram protocol headers w{i % 17}"
    doc_id = f"doc-{i}"
    call(conn, "POST", "/documents", json.dumps({"id": doc_id, "text": words}).encode(), 201)
    call(conn, "GET", "/search?q=" + quote(f"datagram w{i % 17}"))
    call(conn, "GET", "/documents/" + quote(doc_id, safe=""))


def drive(port: int, traffic: Traffic, requests: int, clients: int) -> None:
    """`requests` rounds on one keep-alive connection, then `clients` concurrent clients with
    requests // clients rounds each; a few stats reads in between."""
    errors: list[BaseException] = []

    def client(rounds: int, offset: int) -> None:
        conn = http.client.HTTPConnection(IP, port, timeout=HTTP_TIMEOUT)
        try:
            for i in range(rounds):
                traffic(conn, offset + i)
                if i % 50 == 0:
                    call(conn, "GET", "/_facade/stats")
                    call(conn, "GET", "/health")
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            conn.close()

    client(requests, 0)
    threads = [threading.Thread(target=client, args=(requests // clients, (k + 1) * requests))
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HTTP_TIMEOUT * requests)
    if errors:
        raise RuntimeError(f"traffic failed: {errors[0]!r}")


def measure(tree: Path, *, compiled: bool, requests: int,
            clients: int) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    """(workload, memory at start, memory after the traffic) for each built-in workload."""
    rows = []
    with running(tree, compiled=compiled) as r:
        echo_port = free_port()
        pid = r.start("http_echo", "echo-1", echo_port)
        start = memory_mb(pid)
        drive(echo_port, echo_traffic, requests, clients)
        time.sleep(SETTLE)
        rows.append(("http-echo", start, memory_mb(pid)))

        upstream = r.tmp / "upstream.json"
        upstream.write_text(json.dumps({"appliance": "echo", "endpoint": f"{IP}:{echo_port}"}))
        web_port = free_port()
        pid = r.start("web", "web-1", web_port, "--upstream-file", str(upstream))
        start = memory_mb(pid)
        drive(web_port, web_traffic, requests, clients)
        time.sleep(SETTLE)
        rows.append(("web", start, memory_mb(pid)))

        ports = [free_port(), free_port()]
        peers = r.tmp / "peers.json"
        peers.write_text(json.dumps({"peers": [f"{IP}:{p}" for p in ports]}))
        pids = [r.start("search", f"search-{i}", p, "--data-dir", str(r.tmp / f"data-{i}"),
                        "--peers-file", str(peers)) for i, p in enumerate(ports)]
        start = memory_mb(pids[0])
        drive(ports[0], search_traffic, requests, clients)  # each POST replicated to the peer
        time.sleep(SETTLE)
        rows.append(("search", start, memory_mb(pids[0])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src",
                        help="the src/ folder whose workloads to measure (default: this one)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    print(f"built-in workloads, USS/RSS/PSS in MB after {args.requests} rounds on one "
          f"connection and {args.clients} concurrent clients; {args.src}\n")
    print("| workload | bytecode | USS at start | USS | RSS | PSS | target | ok? |")
    print("|---|---|---|---|---|---|---|---|")
    for compiled in (True, False):
        with tempfile.TemporaryDirectory(prefix="facade-bench-tree-") as tmp:
            tree = copy_workloads(args.src, Path(tmp), compiled=compiled)
            rows = measure(tree, compiled=compiled, requests=args.requests,
                           clients=args.clients)
        for name, start, after in rows:
            ok = "yes" if after["uss"] <= TARGET_MB else "**no**"
            print(f"| {name} | {'cached' if compiled else 'source'} | {start['uss']:.1f} | "
                  f"{after['uss']:.1f} | {after['rss']:.1f} | {after['pss']:.1f} | "
                  f"{TARGET_MB:.0f} | {ok} |", flush=True)


if __name__ == "__main__":
    main()
