"""controller/simulated_agents.py: the simulated hosts' agents as child processes (here with
no control plane to reach: each asks again with backoff, which is all these tests need). An
agent that dies is run again, its end told at once (`ended`); one killed after the `stopped`
marker is not, until the marker goes; `stop` ends it for good; `close` ends them all."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facade.controller.simulated_agents import STOPPED, SimulatedAgents, folder

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _until(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[tuple[SimulatedAgents, list[str]]]:
    ended: list[str] = []
    runs = SimulatedAgents(tmp_path, ended=lambda host, why: ended.append(f"{host}: {why}"))
    try:
        yield runs, ended
    finally:
        runs.close()


def test_an_agent_is_run_again_unless_stopped_on_purpose(
        agents: tuple[SimulatedAgents, list[str]], tmp_path: Path) -> None:
    runs, ended = agents
    runs.start("h1", "fch_test-token", "172.31.0.11")
    first = runs.pid("h1")
    assert _running(first) and (folder(tmp_path, "h1") / "agent.pid").read_text() == f"{first}\n"
    cmdline = Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
    assert b"unix:" + bytes(tmp_path / "api.sock") in cmdline and b"--apply" in cmdline
    assert b"sim-h1-agent" in cmdline
    environ = Path(f"/proc/{first}/environ").read_bytes().split(b"\0")
    assert b"FACADE_HOST_TOKEN=fch_test-token" in environ  # not on its command line
    assert first is not None
    os.kill(first, signal.SIGKILL)
    _until(lambda: runs.pid("h1") != first and _running(runs.pid("h1")), "run again")
    assert ended == ["h1: its agent ended (exit -9)"]

    (folder(tmp_path, "h1") / STOPPED).write_text("a test's loss\n")
    second = runs.pid("h1")
    assert second is not None
    os.kill(second, signal.SIGKILL)
    time.sleep(1.5)  # three looks of the supervisor
    assert runs.pid("h1") == second and not _running(second)
    assert len(ended) == 2  # told once
    (folder(tmp_path, "h1") / STOPPED).unlink()
    _until(lambda: runs.pid("h1") != second and _running(runs.pid("h1")), "run after marker")

    third = runs.pid("h1")
    runs.stop("h1")
    assert not _running(third) and runs.pid("h1") is None
    time.sleep(1.0)
    assert len(ended) == 2  # a stop on purpose is not an end to tell


def test_close_ends_every_agent(agents: tuple[SimulatedAgents, list[str]]) -> None:
    runs, _ = agents
    runs.start("h1", "fch_a", "172.31.0.11")
    runs.start("h2", "fch_b", "172.31.0.12")
    pids = [runs.pid("h1"), runs.pid("h2")]
    runs.start("h2", "fch_c", "172.31.0.12")  # started again: the run before ended first
    assert not _running(pids[1]) and _running(runs.pid("h2"))
    pids.append(runs.pid("h2"))
    runs.close()
    assert not any(_running(p) for p in pids)


def test_an_agent_outlives_the_thread_that_started_it(
        agents: tuple[SimulatedAgents, list[str]]) -> None:
    """`host add` starts an agent from an API request's worker thread, which the server's
    thread pool ends once it is idle: the agent's parent-death signal is tied to the thread
    that forked it (prctl(2)), so it must be forked by the supervisor's own thread, which
    lives as long as the control plane (before, every agent added over the API was killed
    some seconds later, and its host away while it ran again)."""
    runs, ended = agents
    starter = threading.Thread(target=runs.start, args=("h1", "fch_a", "172.31.0.11"))
    starter.start()
    starter.join()
    first = runs.pid("h1")
    assert _running(first)
    time.sleep(1.5)  # three looks of the supervisor
    assert runs.pid("h1") == first and _running(first) and ended == []
