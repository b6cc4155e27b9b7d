"""Collecting exited children (dataplane/linux/processes.py, Processes.reap): the children that
exited are reaped (no zombie is left), the running ones are not touched, a child that is not
ours keeps its exit status for its owner, and a reap with nothing exited polls no child at all
(at 500 appliances the control plane has about 1,500 children, and a poll of each cost 10 ms of
CPU several times per node deleted). Real processes, no namespace."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from facade.dataplane.linux import children
from facade.dataplane.linux.processes import Processes
from facade.dataplane.linux.sandbox import Sandboxes

pytestmark = pytest.mark.no_store  # tests/conftest.py


class _Inits:
    """The one part of Sandboxes that reaping uses: the monitors of node inits."""

    def __init__(self) -> None:
        self.inits: dict[int, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()

    def collect(self, pid: int) -> bool:
        return children.collect(self.inits, self.lock, pid)

    def reap(self) -> None:
        children.poll_all(self.inits, self.lock)


def _procs(tmp_path: Path) -> tuple[Processes, _Inits]:
    inits = _Inits()
    return Processes(tmp_path / "state", cast(Sandboxes, cast(Any, inits))), inits


def _zombie_or_gone(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return "zombie" if stat.rsplit(")", 1)[1].split()[0] == "Z" else "alive"


def _exited(popen: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Wait until `popen` has exited, without reaping it."""
    deadline = time.monotonic() + timeout
    while _zombie_or_gone(popen.pid) == "alive":
        assert time.monotonic() < deadline, f"{popen.pid} did not exit"
        time.sleep(0.01)


def test_exited_children_are_reaped_and_running_ones_left(tmp_path: Path) -> None:
    procs, inits = _procs(tmp_path)
    running = subprocess.Popen(["sleep", "30"])
    done = [subprocess.Popen(["true"]) for _ in range(3)]
    init = subprocess.Popen(["true"])
    try:
        procs.adopt(running)
        for p in done:
            procs.adopt(p)
        inits.inits[init.pid] = init
        for p in (*done, init):
            _exited(p)
            assert _zombie_or_gone(p.pid) == "zombie"  # exited, not reaped yet
        procs.reap()
        for p in (*done, init):
            assert _zombie_or_gone(p.pid) == "gone"
            assert p.returncode == 0
        assert _zombie_or_gone(running.pid) == "alive"
        assert running.returncode is None
        assert inits.inits == {}
    finally:
        running.kill()
        running.wait()


def test_a_child_not_ours_keeps_its_exit_status_and_ours_are_still_reaped(
        tmp_path: Path) -> None:
    procs, _ = _procs(tmp_path)
    foreign = subprocess.Popen(["sh", "-c", "exit 3"])  # older: first in the kernel's line
    ours = subprocess.Popen(["sh", "-c", "exit 4"])
    procs.adopt(ours)
    _exited(foreign)
    _exited(ours)
    procs.reap()
    assert _zombie_or_gone(ours.pid) == "gone" and ours.returncode == 4
    assert _zombie_or_gone(foreign.pid) == "zombie"  # left to its owner...
    assert foreign.wait(timeout=5) == 3  # ...with its own status


def test_a_reap_with_nothing_exited_polls_no_child(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    procs, _ = _procs(tmp_path)
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(20)]
    polls = []
    real_poll = subprocess.Popen.poll

    def counted(self: subprocess.Popen[bytes]) -> int | None:
        polls.append(self.pid)
        return real_poll(self)

    try:
        for p in children:
            procs.adopt(p)
        monkeypatch.setattr(subprocess.Popen, "poll", counted)
        procs.reap()
        assert polls == []
        children[7].kill()  # (kill() polls it first)
        _exited(children[7])
        polls.clear()
        procs.reap()
        assert polls == [children[7].pid]  # the one that exited, and no other
        assert children[7].returncode is not None
    finally:
        monkeypatch.undo()
        for p in children:
            p.kill()
            p.wait()


def test_next_exited_child_says_none_without_children_that_exited() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert children.next_exited() in (None, *_other_zombies(child.pid))
    finally:
        child.kill()
        child.wait()


def _other_zombies(mine: int) -> list[int]:
    """Exited children of this test process other than `mine` (left by other tests)."""
    out = []
    for stat in Path("/proc/self/task").glob("*/children"):
        for pid in stat.read_text().split():
            if int(pid) != mine and _zombie_or_gone(int(pid)) == "zombie":
                out.append(int(pid))
    return out
