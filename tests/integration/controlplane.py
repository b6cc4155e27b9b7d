"""A real control plane in a child process (`python -m facade.api.server`, as root) with its own
state folder and port, driven through the real `facade` command and the REST API. Used by the
end-to-end tests and by the benchmarks under bench/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests import stores
from tests.pages import follow

ROOT = Path(__file__).resolve().parents[2]
FACADE = str(Path(sys.executable).with_name("facade"))


_databases: dict[Path, str] = {}  # a plane's state folder -> its PostgreSQL store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ControlPlane:
    home: Path
    url: str
    token: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)
    log: Any = None

    def cli(self, *args: str, check: bool = True, timeout: float = 120,
            token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if token is not None:
            env["FACADE_TOKEN"] = token
        res = subprocess.run([FACADE, *args], env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT)
        if check and res.returncode != 0:
            raise AssertionError(f"facade {' '.join(args)} -> {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        r = self.api("GET", path, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def items(self, path: str, token: str | None = None,
              params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list route, following next_cursor (docs/api.md, "Paging")."""
        return follow(lambda query: self.api("GET", path, token=token, params=query),
                      {"limit": 1000, **(params or {})})

    def events(self, token: str | None = None) -> list[dict[str, Any]]:
        """The whole event log, oldest first (the API pages it newest first)."""
        return self.items("/v1/events", token=token)[::-1]

    def stored(self) -> bytes:
        """Everything the store holds, as bytes: the SQLite file and its write-ahead log (what
        was not checkpointed yet), or every row of every table of its PostgreSQL database as
        text."""
        if self.home not in _databases:
            wal = self.home / "facade.db-wal"
            return (self.home / "facade.db").read_bytes() + \
                (wal.read_bytes() if wal.exists() else b"")
        with psycopg.connect(_databases[self.home]) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public'").fetchall()]
            return "\n".join(str(row) for t in tables for row in conn.execute(
                f'SELECT t::text FROM "{t}" t'.encode())).encode()

    def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)


def _store(home: Path) -> list[str]:
    """The server's store option: none (SQLite in `home`), or with FACADE_TEST_STORE=postgresql
    a database of this process's server (tests/stores.py), empty at the first start, so the
    control plane migrates it, and the same one at every restart of the plane in `home`."""
    if stores.STORE != "postgresql":
        return []
    if home not in _databases:
        _databases[home] = stores.postgresql_url(migrated=False, dropped=False)
    return ["--database", _databases[home]]


def start_control_plane(home: Path, *, args: tuple[str, ...] = (), scheme: str = "http",
                        verify: str | bool = True,
                        env: dict[str, str] | None = None) -> ControlPlane:
    """`args`: more of the server's options (`--tls-cert ...`: then `scheme` https and
    `verify` the certificate to trust); `env`: more of its environment."""
    extra = env or {}
    port = _free_port()
    # the resync (the drift safety net, 60 s by default) runs every 2 s here, so that the
    # drift tests see a repair in seconds (docs/guarantees.md states both)
    env = {**os.environ, "FACADE_HOME": str(home), "FACADE_URL": f"{scheme}://127.0.0.1:{port}",
           "FACADE_RESYNC": os.environ.get("FACADE_RESYNC", "2"),
           "FACADE_RESYNC_RATE": os.environ.get("FACADE_RESYNC_RATE", "1000"),
           # what `facade apply` records of its files (cli/applied.py) stays with this plane
           "XDG_STATE_HOME": str(home.parent / f"{home.name}-state"), **extra}
    env.pop("FACADE_TOKEN", None)
    # the CLI's tables and trees as a pipe gets them (200 columns), not at a test runner's
    # width (a pytest-xdist worker has COLUMNS=80, which wraps their lines)
    for key in ("COLUMNS", "LINES"):
        env.pop(key, None)
    log = open(home.parent / f"{home.name}-server.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "facade.api.server", "--port", str(port),
                             *_store(home), *args],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"control plane exited with {proc.returncode}; see {log.name}")
        if time.monotonic() > deadline:  # never leave a half-started control plane behind
            stop_control_plane(ControlPlane(home=home, url="", token="", proc=proc, env=env,
                                            log=log))
            raise RuntimeError(f"control plane did not answer within 30 s; see {log.name}")
        try:
            if httpx.get(f"{scheme}://127.0.0.1:{port}/v1/health", timeout=1,
                         verify=verify).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    token = (home / "operator.token").read_text().strip()
    env["FACADE_TOKEN"] = token
    return ControlPlane(home=home, url=f"{scheme}://127.0.0.1:{port}", token=token, proc=proc,
                        env=env, log=log)


def stop_control_plane(cp: ControlPlane) -> None:
    if cp.proc.poll() is None:
        os.killpg(cp.proc.pid, signal.SIGTERM)
        try:
            cp.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(cp.proc.pid, signal.SIGKILL)
            cp.proc.wait(timeout=10)
    if cp.log is not None:
        cp.log.close()


def cleanup(home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`facade cleanup --this-plane` (the user's command) for this state folder: removes every
    kernel object Facade made, and of the host's control groups, sandbox processes and bridges
    this plane's only (another test run may have its own beside this one, in a sandbox of its
    own whose namespaces this one cannot see; the cgroup hierarchies are the host's). Run it
    once the control plane is stopped."""
    env = {k: v for k, v in os.environ.items() if k not in ("FACADE_URL", "FACADE_TOKEN")}
    return subprocess.run([FACADE, "cleanup", "--this-plane"],
                          env={**env, "FACADE_HOME": str(home)},
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
