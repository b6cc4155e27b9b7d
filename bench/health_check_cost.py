"""Benchmark: what one health check costs the built-in workload that answers it.

An http-echo workload on 127.0.0.1 (no root needed), asked `GET /health` N times over one
kept-alive connection (as the control plane's prober asks, docs/health.md), one request at a
time with a 0.5 ms pause between them (so that each one wakes the workload, as checks spread
over a second do); the workload's CPU (utime + stime from /proc/PID/stat) per check.

    .venv/bin/python bench/health_check_cost.py [--checks 4000] [--src PATH]

--src runs the workload of another source tree (an export of an older commit) for a
comparison in one run.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REQUEST = (b"GET /health HTTP/1.1\r\nHost: bench\r\nUser-Agent: facade-probe\r\n"
           b"Connection: keep-alive\r\n\r\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(src: str, checks: int) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facade.workloads.http_echo", "--name", "b1",
                             "--ip", "127.0.0.1", "--port", str(port)],
                            env={**os.environ, "PYTHONPATH": src}, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with sock:
            before = cpu_seconds(proc.pid)
            for _ in range(checks):
                sock.sendall(REQUEST)
                data = b""
                while not data.endswith(b"ok\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise ConnectionError("the workload closed the connection")
                    data += chunk
                time.sleep(0.0005)
            return (cpu_seconds(proc.pid) - before) / checks
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=4000)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    args = ap.parse_args()
    runs = [measure(args.src, args.checks) * 1e6 for _ in range(3)]
    print(f"http-echo, {args.checks} health checks on one connection, 3 runs: workload CPU per "
          f"check {', '.join(f'{r:.0f}' for r in runs)} us ({args.src})")


if __name__ == "__main__":
    main()
