"""A throwaway PostgreSQL server for a test process (Debian's `postgresql` package, which
`make deps` installs): `initdb` into a temporary folder, `postgres` listening on a Unix socket
in that folder only (no TCP port, so runs side by side never collide), stopped and removed at
the process's exit, and killed by the kernel if the process dies first (its parent-death
signal).

PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user
(setpriv), and the folder is given to it. Durability is off (fsync, full-page writes): the data
lives as long as the test run.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

SETTINGS = ("fsync=off", "full_page_writes=off", "synchronous_commit=off", "max_connections=300",
            "listen_addresses=", "shared_buffers=32MB")


def _bin(program: str) -> str:
    """Debian keeps the server's programs in /usr/lib/postgresql/VERSION/bin, off PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
                   key=lambda p: int(Path(p).parts[-3]))
    path = found[-1] if found else shutil.which(program)
    if path is None:
        raise RuntimeError(f"no {program}: install Debian's postgresql package (make deps)")
    return path


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as the server's user (root cannot be it)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


@dataclass
class Server:
    folder: Path
    proc: subprocess.Popen[bytes]
    # the superuser's connection, kept: a new one is a new server process, 10-20 ms, and the
    # tests ask after every test which databases are free (tests/stores.py)
    _admin: psycopg.Connection[tuple[Any, ...]] | None = None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}"

    def admin(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (CREATE / DROP DATABASE) as the superuser;
        the rows it returned."""
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(host=str(self.folder), user="postgres",
                                          dbname="postgres", autocommit=True)
        cur = self._admin.execute(sql.encode())
        return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self.proc.poll() is None:
            self.proc.send_signal(3)  # SIGQUIT: immediate shutdown, nothing to keep
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """A server of this process, ready to accept connections; stopped at exit."""
    folder = Path(tempfile.mkdtemp(prefix="facade-pg-"))
    data = folder / "data"
    as_user = _as_server_user()
    if as_user:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                   check=True, capture_output=True)
    log = open(folder / "server.log", "ab")  # the server's: it keeps its own copy
    opts = [arg for s in SETTINGS for arg in ("-c", s)]
    proc = subprocess.Popen([*(as_user or ["setpriv"]), "--pdeathsig=QUIT", _bin("postgres"),
                             "-D", str(data), "-k", str(folder), *opts],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = Server(folder, proc)
    atexit.register(server.stop)
    _wait_ready(server)
    return server


def _wait_ready(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.admin("SELECT 1")
            return
        except psycopg.OperationalError:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                log = (server.folder / "server.log").read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"the test PostgreSQL server did not start:\n{log}") from None
            time.sleep(0.05)
