"""The tests' throwaway PostgreSQL server (tests/pg.py) goes away with the process that started
it: at its exit, and when it dies without running its exit handlers (killed, crashed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.controlplane import ROOT

pytestmark = pytest.mark.no_store  # tests/conftest.py

STARTS = """
import os, sys
from tests import pg
server = pg.start()
server.admin("CREATE DATABASE probe")
print(server.proc.pid, server.folder, flush=True)
if sys.argv[1] == "crash":
    os._exit(3)  # no exit handlers: only the server's parent-death signal stops it
"""


def _gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie (dead, not yet reaped by whoever adopted it) is gone too
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("end", ["exit", "crash"])
def test_the_server_is_stopped_when_its_process_ends(end: str) -> None:
    run = subprocess.run([sys.executable, "-c", STARTS, end], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == (0 if end == "exit" else 3), run.stderr
    pid, folder = run.stdout.split()
    assert _gone(int(pid)), f"the server {pid} outlived its test process"
    if end == "exit":  # the exit handler removed its data too
        assert not Path(folder).exists()
    shutil.rmtree(folder, ignore_errors=True)
