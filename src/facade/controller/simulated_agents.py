"""The simulated hosts' agents as the control plane's children (docs/multi-host.md, "Simulated
hosts on their agents"): `python -m facade.workloads.host_agent --apply` for each simulated
host, reaching the API over its unix socket ($FACADE_HOME/api.sock: root's, no TLS, no
port), its token in its environment, its agent id fixed per host (`sim-NAME`: a run that
replaces a dead one registers at once, where a new id would wait until the dead one's
heartbeat is stale), its state folder $FACADE_HOME/host-agents/NAME (its pidfiles, sandboxes, FRR
folder, `agent.pid` and `agent.log`).

A supervisor thread forks every run of every agent (also the first, which `start` hands it)
and runs an agent again when it dies, unless it was stopped on purpose:
`stop` (a host removed), or a file `stopped` in its folder (a test's host loss made from
outside the process: the marker first, then the agent killed; removing the marker runs it
again, as a machine's agent that comes back). Each agent dies with the
control plane (PR_SET_PDEATHSIG): the next `facade up` starts them again (`hosts.restore`),
and their hosts' kernels keep forwarding meanwhile (the namespaces and FRR outlive them).
That signal is tied to the *thread* that forked the child (prctl(2)), not to the process:
hence the one supervisor thread, which lives as long as the control plane. A run forked by
the caller of `start` (an API request's worker thread, which the server's thread pool ends
once idle) was killed seconds later, and its host was away until the supervisor ran it
again: `facade host remove` was refused (409) at the end of a test module so.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facade.domain import names, workload

log = logging.getLogger("facade.hosts")

EVERY = 0.5  # seconds between the supervisor's looks
PR_SET_PDEATHSIG = 1
STOPPED = "stopped"  # the marker file of an agent stopped on purpose


def folder(home: Path, host: str) -> Path:
    """Host HOST's agent's state folder."""
    return home / names.HOST_AGENTS_DIR / host


def agent_id(host: str) -> str:
    return f"sim-{host}-agent"


def _die_with_parent() -> None:  # in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Run:
    token: str
    address: str
    proc: subprocess.Popen[bytes] | None = None
    stopped: bool = False
    held: bool = False  # dead, and not run again while the marker `stopped` is there
    runs: int = 0


@dataclass
class _Spawn:
    """A first run asked of the supervisor thread by `start`, and its outcome."""

    host: str
    run: _Run
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SimulatedAgents:
    """HostAgentRuns (service/context.py) with child processes."""

    def __init__(self, home: Path, python: str = sys.executable,
                 ended: Callable[[str, str], None] | None = None) -> None:
        self.home = Path(home)
        self.python = python
        # told at once when an agent's process ends (HostWork.gone: its host is away now,
        # not when its open long poll would have ended)
        self.ended = ended
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._spawns: queue.SimpleQueue[_Spawn] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._watch, name="facade-host-agents",
                                        daemon=True)
        self._thread.start()

    def start(self, host: str, token: str, address: str) -> None:
        with self._lock:
            old = self._runs.get(host)
            if old is not None:
                old.stopped = True
                _end(old.proc)
            run = _Run(token=token, address=address)
            self._runs[host] = run
            (folder(self.home, host) / STOPPED).unlink(missing_ok=True)
        spawn = _Spawn(host, run)
        self._spawns.put(spawn)  # forked by the supervisor's thread: see the module
        while not spawn.done.wait(EVERY):
            if self._quit.is_set() or not self._thread.is_alive():
                raise RuntimeError(f"host {host}: the agents' supervisor has stopped")
        if spawn.error is not None:
            raise spawn.error

    def stop(self, host: str) -> None:
        with self._lock:
            run = self._runs.pop(host, None)
        if run is not None:
            run.stopped = True
            _end(run.proc)

    def pid(self, host: str) -> int | None:
        with self._lock:
            run = self._runs.get(host)
            return run.proc.pid if run is not None and run.proc is not None else None

    def close(self) -> None:
        """Every agent stopped (the control plane stops): their hosts stay as they are."""
        self._quit.set()
        self._thread.join(5)
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            run.stopped = True
            _end(run.proc)

    def _spawn(self, host: str, run: _Run) -> None:
        """One run of host HOST's agent (under the lock)."""
        where = folder(self.home, host)
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = [self.python, "-m", "facade.workloads.host_agent",
                "--control-plane", f"unix:{self.home / workload.API_SOCKET}",
                "--underlay", run.address, "--apply", "--state", str(where),
                "--agent", agent_id(host)]
        env = {**os.environ, "FACADE_HOST_TOKEN": run.token}
        with open(where / "agent.log", "ab") as out:
            run.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        run.runs += 1
        (where / "agent.pid").write_text(f"{run.proc.pid}\n")
        log.info("host %s: agent started (pid %d, run %d)", host, run.proc.pid, run.runs)

    def _watch(self) -> None:
        """The supervisor's thread: every fork of an agent (`start`'s first runs, handed
        over, and the runs again), and a look at the runs every EVERY seconds. It must not
        end before the control plane does (its end would kill every agent): a failed look
        is logged, and the next one comes."""
        last = time.monotonic()
        while not self._quit.is_set():
            try:
                spawn = self._spawns.get(timeout=EVERY)
            except queue.Empty:
                spawn = None
            if spawn is not None:
                with self._lock:
                    try:
                        if not spawn.run.stopped:
                            self._spawn(spawn.host, spawn.run)
                    except Exception as exc:  # start() raises it to its caller
                        spawn.error = exc
                spawn.done.set()
            if time.monotonic() - last >= EVERY:
                last = time.monotonic()
                try:
                    self._look()
                except Exception:
                    log.exception("the host agents' supervisor")

    def _look(self) -> None:
        """Each run that ended is run again, unless it was stopped on purpose."""
        with self._lock:
            for host, run in list(self._runs.items()):
                if run.stopped or run.proc is None or run.proc.poll() is None:
                    continue
                if not run.held and self.ended is not None:
                    self.ended(host, f"its agent ended (exit {run.proc.returncode})")
                if (folder(self.home, host) / STOPPED).exists():
                    if not run.held:
                        log.info("host %s: agent stopped on purpose (exit %s)", host,
                                 run.proc.returncode)
                    run.held = True
                    continue  # until the marker is removed
                run.held = False
                log.warning("host %s: agent exited (%s): started again", host,
                            run.proc.returncode)
                self._spawn(host, run)


def _end(proc: subprocess.Popen[bytes] | None) -> None:
    """A run ended: SIGTERM, then SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
