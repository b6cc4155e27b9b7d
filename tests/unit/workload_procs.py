"""Run workloads as real subprocesses on loopback for their unit tests, and always stop them."""

from __future__ import annotations

import http.client
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
IP = "127.0.0.1"
START_TIMEOUT = 20.0  # generous: a loaded 2-core machine
HTTP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((IP, 0))
        return int(s.getsockname()[1])


class Workloads:
    """Starts workload subprocesses and always stops them, whatever happened in the test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, module: str, *args: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
        with open(self.tmp / f"stderr-{len(self.procs)}.log", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env,
            )
        self.procs.append(proc)
        self.wait_listening(proc)
        return proc

    def wait_listening(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline, out = time.monotonic() + START_TIMEOUT, b""
        while b"\n" not in out:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"no 'listening' line within {START_TIMEOUT}s: {out!r}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                err = (self.tmp / f"stderr-{self.procs.index(proc)}.log").read_text()
                raise RuntimeError(f"workload exited ({proc.wait(5)}): {out!r} {err}")
            out += chunk
        line = out.decode().splitlines()[0]
        assert line.startswith("listening on "), line
        return line

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(10)
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn.request(method, path, body)
    response = conn.getresponse()
    return response.status, response.headers, response.read()
