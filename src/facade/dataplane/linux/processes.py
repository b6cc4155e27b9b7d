"""Long-running processes inside node namespaces, tracked by pidfiles the kernel can vouch for.

A tenant's program (ProcessSpec.sandboxed: a backend's workload) starts in its node's sandbox
(sandbox.py); one of Facade's own (a management agent) as `ip netns exec NETNS argv...`. Never
through a shell, in a new session, with its output in state_dir/logs/KEY.log, and recorded in
state_dir/run/KEY.json as {key, pid, netns, fingerprint, starttime}, the pid being the
program's own as the host sees it (not bwrap's), and indexed by namespace as the empty file
state_dir/run/by-netns/NETNS/KEY (a node's deletion finds its pidfiles without reading every
other node's: at 1,000 nodes that was two reads of 1,000 files per deletion). A pidfile counts only while its pid is alive with the
same start time (so a reused pid is not mistaken for it) and sits in the namespace named in it
(/proc/PID/ns/net has that namespace's inode). Children of this process are reaped on every
`observe`/`stop`, so none stays a zombie.

A control plane killed between starting a program and writing its pidfile would leave it
running unrecorded, and the next would start a second one. `collect_unrecorded`, at the next
start, finds such programs: a sandboxed one through its bwrap (sandbox_orphans.py), one of
Facade's own through the intent file state_dir/run/KEY.starting ({netns, argv}) written
before it starts and removed once its pidfile is there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from facade.dataplane.linux import children
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.procfs import netns_inode_of, pidns_inode_of, pids_running, starttime
from facade.dataplane.linux.sandbox import Sandboxes, last_line
from facade.domain.specs import ObservedProcess, ProcessSpec

__all__ = ["PidFile", "Processes", "netns_inode_of", "starttime"]


@dataclass(frozen=True)
class PidFile:
    key: str
    pid: int
    netns: str
    fingerprint: str
    starttime: int


class Processes:
    def __init__(self, state_dir: Path, sandboxes: Sandboxes) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"
        self.sandboxes = sandboxes
        self.index_dir = self.run_dir / "by-netns"
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._indexed = False  # pidfiles written before the index existed are indexed once

    # -- pidfiles --------------------------------------------------------------------------
    def _pidfile(self, key: str) -> Path:
        return self.run_dir / f"{key}.json"

    def read(self, key: str) -> PidFile | None:
        try:
            data = json.loads(self._pidfile(key).read_text())
            return PidFile(key=key, pid=int(data["pid"]), netns=str(data["netns"]),
                           fingerprint=str(data["fingerprint"]),
                           starttime=int(data["starttime"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def all(self) -> list[PidFile]:
        try:
            entries = sorted(self.run_dir.glob("*.json"))
        except FileNotFoundError:
            return []
        out = []
        for p in entries:
            pf = self.read(p.stem)
            if pf is not None:
                out.append(pf)
        return out

    def in_netns(self, netns: str) -> list[PidFile]:
        """The pidfiles naming `netns`, found through its index (no other pidfile is read)."""
        self._index_all_once()
        try:
            keys = os.listdir(self.index_dir / netns)
        except FileNotFoundError:
            return []
        return [pf for key in sorted(keys)
                if (pf := self.read(key)) is not None and pf.netns == netns]

    def _intent(self, key: str) -> Path:
        return self.run_dir / f"{key}.starting"

    def remove_pidfile(self, key: str, netns: str | None = None) -> None:
        """Remove a pidfile and its index entry; `netns`: the namespace it names, when the
        caller read it already (else it is read here)."""
        if netns is None:
            pf = self.read(key)
            netns = pf.netns if pf is not None else None
        with contextlib.suppress(FileNotFoundError):
            self._pidfile(key).unlink()
        if netns is not None:
            self._unindex(netns, key)

    def _index(self, netns: str, key: str) -> None:
        folder = self.index_dir / netns
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()

    def _unindex(self, netns: str, key: str) -> None:
        folder = self.index_dir / netns
        with contextlib.suppress(FileNotFoundError):
            (folder / key).unlink()
        with contextlib.suppress(OSError):  # not empty: another process of that namespace
            folder.rmdir()

    def drop_index(self) -> None:
        """After every pidfile went (cleanup): the index's folders too."""
        shutil.rmtree(self.index_dir, ignore_errors=True)
        self._indexed = False

    def _index_all_once(self) -> None:
        if self._indexed:
            return
        self._indexed = True
        for pf in self.all():
            if not (self.index_dir / pf.netns / pf.key).exists():
                self._index(pf.netns, pf.key)

    def alive(self, pf: PidFile) -> bool:
        if starttime(pf.pid) != pf.starttime:
            return False
        want = ns.inode(pf.netns)
        return want is not None and netns_inode_of(pf.pid) == want

    # -- children --------------------------------------------------------------------------
    def reap(self) -> None:
        """Collect the children that have exited (children.py), these and the sandboxes' node
        inits. A child that is not ours at the head of the kernel's line (a command another
        thread runs, which its caller reaps): every child is polled instead."""
        seen: set[int] = set()
        while (pid := children.next_exited()) is not None and pid not in seen:
            seen.add(pid)
            if not (children.collect(self._children, self._lock, pid)
                    or self.sandboxes.collect(pid)):
                children.poll_all(self._children, self._lock)
                self.sandboxes.reap()
                return

    def adopt(self, popen: subprocess.Popen[bytes]) -> None:
        """Reap this child (a sandbox's monitor) on a later `reap`."""
        with self._lock:
            self._children[popen.pid] = popen

    # -- operations ------------------------------------------------------------------------
    def start(self, spec: ProcessSpec) -> int:
        if not ns.exists(spec.netns):
            raise FileNotFoundError(f"no namespace {spec.netns} for process {spec.key}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.key}.log"
        with open(log_path, "ab") as log:
            if spec.sandboxed:
                launched = self.sandboxes.launch(spec.netns, spec.argv, env=spec.env,
                                                 stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=subprocess.STDOUT,
                                                 die_with_parent=False)
                popen, pid = launched.monitor, launched.pid
            else:
                env = dict(os.environ)
                env.update(dict(spec.env))
                _write_json(self._intent(spec.key), {"netns": spec.netns, "argv": spec.argv})
                popen = subprocess.Popen(
                    ["ip", "netns", "exec", spec.netns, *spec.argv],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, close_fds=True, start_new_session=True)
                pid = popen.pid
                wait_entered(pid, spec.netns)
                ns.SCAN.spawned()
        self.adopt(popen)
        if pid is None:
            popen.wait()
            self.reap()
            raise DataPlaneError(f"start_process {spec.key}: the sandbox did not start: "
                                 f"{last_line(log_path)}")
        st = starttime(pid)
        record = {"key": spec.key, "pid": pid, "netns": spec.netns,
                  "fingerprint": spec.fingerprint(), "starttime": st if st is not None else -1}
        before = self.read(spec.key)
        if before is not None and before.netns != spec.netns:
            self._unindex(before.netns, spec.key)
        self._index(spec.netns, spec.key)
        _write_json(self._pidfile(spec.key), record)
        with contextlib.suppress(FileNotFoundError):
            self._intent(spec.key).unlink()
        return pid

    def collect_unrecorded(self) -> list[str]:
        """At a control plane's start: kill the programs a crash of the previous one left
        started but not recorded (see the module's docstring); a pidfile's program stays."""
        recorded = frozenset(pf.pid for pf in self.all())
        return self.sandboxes.collect_orphans(recorded=recorded) + self.sweep_intents(recorded)

    def sweep_intents(self, recorded: frozenset[int] = frozenset()) -> list[str]:
        """Kill what each intent file's start left running that is not `recorded`; remove
        the intent files."""
        removed = []
        try:
            intents = sorted(self.run_dir.glob("*.starting"))
        except FileNotFoundError:
            return []
        for path in intents:
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                intent = json.loads(path.read_text())
                argv = [str(a) for a in intent["argv"]]
                head = ["ip", "netns", "exec", str(intent["netns"])]  # until it runs argv
                for pid in pids_running(argv, head + argv):
                    if pid not in recorded:
                        self.kill_pids([pid], grace=0.0, group=True)
                        removed.append(f"process {pid}")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return removed

    def observe_one(self, key: str) -> ObservedProcess | None:
        pf = self.read(key)
        if pf is None or not self.alive(pf):
            return None
        return ObservedProcess(key=pf.key, netns=pf.netns, pid=pf.pid,
                               fingerprint=pf.fingerprint)

    def keys(self) -> frozenset[str]:
        try:
            return frozenset(p.stem for p in self.run_dir.glob("*.json"))
        except FileNotFoundError:
            return frozenset()

    def observe(self) -> dict[str, ObservedProcess]:
        self.reap()
        out = {}
        for pf in self.all():
            if self.alive(pf):
                out[pf.key] = ObservedProcess(key=pf.key, netns=pf.netns, pid=pf.pid,
                                              fingerprint=pf.fingerprint)
        return out

    def stop(self, key: str, grace: float = 1.0) -> None:
        pf = self.read(key)
        if pf is not None and starttime(pf.pid) == pf.starttime:
            self.kill_pids([pf.pid], grace=grace, group=True)
        self.remove_pidfile(key, pf.netns if pf is not None else None)
        self.reap()

    def kill_pids(self, pids: list[int], *, grace: float, group: bool = False) -> None:
        """SIGTERM (the process group too if `group`), wait up to `grace`, then SIGKILL."""
        if not pids:
            return
        self._signal(pids, signal.SIGTERM, group)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.reap()
            if all(starttime(p) is None for p in pids):
                break
            time.sleep(0.01)
        else:
            self._signal(pids, signal.SIGKILL, group)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                self.reap()
                if all(starttime(p) is None for p in pids):
                    break
                time.sleep(0.01)
        self.reap()

    @staticmethod
    def _signal(pids: list[int], sig: signal.Signals, group: bool) -> None:
        for pid in pids:
            if group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, sig)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _in_netns_now(self, netns: str, known: set[int]) -> list[int]:
        """The processes in the namespace: a /proc scan shared with the other deletions of
        the moment (netns.ProcessScan), and, read now, the node's cgroup (what its sandboxed
        processes forked meanwhile) and `known` (its pidfiles'); each checked to be in it
        still."""
        want = ns.inode(netns)
        candidates = set(ns.SCAN.pids_in(netns)) | set(self.sandboxes.groups.pids(netns)) | known
        return sorted(p for p in candidates if want is not None and netns_inode_of(p) == want)

    def kill_netns(self, netns: str) -> list[int]:
        """Kill every process in the namespace (_in_netns_now) at once, as a machine
        being switched off: a sandboxed node's init ignores SIGTERM (the PID 1 of a namespace
        takes only the signals it handles), and its death takes the whole PID namespace
        with it. Drops the namespace's pidfiles."""
        pidfiles = self.in_netns(netns)
        pids = self._in_netns_now(netns, {pf.pid for pf in pidfiles})
        # the sandboxed processes first (their own PID namespace), while their bwrap monitors
        # live to reap them: a monitor killed first would leave them to the host's init, and a
        # namespace's init does not finish dying before all of its namespace is reaped
        own = pidns_inode_of(os.getpid())
        inner = [p for p in pids if pidns_inode_of(p) not in (own, None)]
        self.kill_pids(inner, grace=0.0)
        self.kill_pids([p for p in pids if p not in inner], grace=0.0)
        for pf in pidfiles:
            self.remove_pidfile(pf.key, pf.netns)
        return pids


def _write_json(path: Path, data: object) -> None:
    """`data` as JSON in `path`, whole or not at all (a file beside it, renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def wait_entered(pid: int, netns: str, timeout: float = 2.0) -> None:
    """Wait until `ip netns exec` has moved `pid` into `netns` (milliseconds): before that its
    pidfile does not count (`alive`), and whoever observed the process at once would find it
    not running and start it again. Returns early if the process is gone."""
    want = ns.inode(netns)
    deadline = time.monotonic() + timeout
    while want is not None and time.monotonic() < deadline:
        got = netns_inode_of(pid)
        if got is None or got == want:
            return
        time.sleep(0.002)
