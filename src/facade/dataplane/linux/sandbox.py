"""Tenant sandboxes: every process Facade starts on a tenant's behalf runs in one (bubblewrap).

A sandboxed node has (docs/security.md, "Sandboxes"):
- its own **user namespace**, root inside mapping to the host uids SandboxSpec.uid.. (a range
  of 65536 owning nothing on the host); for an instance or a backend (`own_network`) the
  node's network namespace is created inside that user namespace, so the tenant is root of its
  own network and of nothing else;
- an **init** (catatonit, PID 1 of the node's PID namespace) that holds the PID namespace and
  reaps orphans, started with the node (own-network nodes: it creates both namespaces) or on a
  front-end's first `exec`; if it dies, the next launch starts another;
- per launched process (a workload, an `exec`): `nsenter` puts bwrap in the plane's launch
  mount namespace and the node's network namespace as the node's host uid (no supplementary group), bwrap joins the node's user and
  PID namespaces, makes a new mount, IPC and UTS namespace (the node's name as hostname) with
  the node's view of the file system, keeps a fixed set of capabilities (namespaced: they
  reach the node's own objects only), sets no_new_privs and loads the seccomp filter
  (seccomp.py), then blocks until the driver has put it into the node's control groups
  (cgroups.py) and execs the program;
- a **view**: the host's /usr (and its /bin, /lib... links) and /etc read-only, a new /proc
  and a minimal /dev, the node's own writable /tmp, /root, /home, /var and /run (in
  STATE/nodes/NETNS/fs, kept across restarts of its processes, removed with the node), the
  Python that runs Facade read-only at its own path (the built-in workloads are Python
  programs), and the node's read-only binds. Nothing of the state folder, /run/netns, /sys or
  another node.

The parts, by role: sandbox_view.py (bwrap's arguments for the node's view, environment and
capabilities), sandbox_bridge.py (host folders made reachable for bwrap under /run/facade),
sandbox_mounts.py (the mount namespace every bwrap starts in: the host's without /run/netns),
sandbox_launch.py (spawning bwrap and the handshake that holds the child until the driver has
placed it), sandbox_orphans.py (bwraps nothing knows of); this module holds the nodes'
sandboxes: their records and files, their inits, launches and removal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from facade.dataplane.linux import cgroups, children, sandbox_orphans, seccomp
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.procfs import netns_inode_of, starttime
from facade.dataplane.linux.sandbox_bridge import BRIDGE_ROOT, Bridge
from facade.dataplane.linux.sandbox_launch import handshake, nsenter_argv, spawn
from facade.dataplane.linux.sandbox_mounts import LaunchMounts
from facade.dataplane.linux.sandbox_view import (
    caps_args,
    compile_package,
    env_args,
    folder,
    runtime_paths,
    view_args,
)
from facade.domain.sandbox import UID_RANGE
from facade.domain.specs import SandboxSpec

INIT_ARGV = ("catatonit", "-P")
LAUNCH_ATTEMPTS = 2  # a launch bwrap gave up on before its program ran: once more
FS_DIRS = {"tmp": 0o1777, "root": 0o700, "home": 0o755, "var": 0o755, "run": 0o755,
           "var/tmp": 0o1777, "var/lib": 0o755, "var/log": 0o755, "var/cache": 0o755}


class NoSandbox(DataPlaneError):
    """The node has no sandbox (a router, or a node made before sandboxes existed)."""


@dataclass(frozen=True)
class Launched:
    monitor: subprocess.Popen[bytes]  # bwrap's monitor, in the host's PID namespace
    pid: int | None  # the sandboxed process as the host sees it; None: bwrap failed to start


def last_line(path: Path) -> str:
    """What bwrap said last in a process's log when it could not start: its trailing lines
    (three at most: one of its processes may die saying why before another gives up, as
    "Unexpected short read from pid socket"), or the log's last line."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    said: list[str] = []
    for line in reversed(lines[-3:]):
        if not line.startswith("bwrap:"):
            break
        said.insert(0, line)
    return "; ".join(said) or (lines[-1] if lines else "no output")


def plane_of(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


class Sandboxes:
    """The sandboxes of one driver's nodes: their records, views, inits and launches."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.nodes_dir = state_dir / "nodes"
        self.plane = plane_of(state_dir)
        self.groups = cgroups.NodeGroups(self.plane)
        self.bridge = Bridge(state_dir, self.plane)
        self.mounts = LaunchMounts(self.bridge)
        compile_package()
        self._filter: bytes | None = None
        self._inits: dict[int, subprocess.Popen[bytes]] = {}  # monitors of node inits
        self._inits_lock = threading.Lock()

    def collect(self, pid: int) -> bool:
        """Reap `pid` if it is the monitor of a node's init (False: it is not one)."""
        return children.collect(self._inits, self._inits_lock, pid)

    def reap(self) -> None:
        """Collect the monitors of node inits that have exited (they run for a node's life)."""
        children.poll_all(self._inits, self._inits_lock)

    # -- records ---------------------------------------------------------------------------
    def node_dir(self, netns: str) -> Path:
        """The node's folder (records, and its files under fs/), made if missing."""
        path = self.nodes_dir / netns
        if not path.exists():
            self.nodes_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
            path.mkdir(mode=0o711, exist_ok=True)
        return path

    def _dir(self, netns: str) -> Path:
        return self.nodes_dir / netns

    def record(self, netns: str) -> SandboxSpec | None:
        try:
            raw = json.loads((self._dir(netns) / "sandbox.json").read_text())
            raw["binds"] = tuple(tuple(b) for b in raw.get("binds", ()))
            return SandboxSpec(**raw)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def _write_record(self, netns: str, spec: SandboxSpec) -> None:
        path = self._dir(netns) / "sandbox.json"
        text = json.dumps(asdict(spec), sort_keys=True)
        with contextlib.suppress(FileNotFoundError):
            if path.read_text() == text:
                return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def _init_pid(self, netns: str) -> int | None:
        """The node's init if it is alive, in the node's network namespace."""
        try:
            raw = json.loads((self._dir(netns) / "init.json").read_text())
            pid, started = int(raw["pid"]), int(raw["starttime"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        if starttime(pid) != started or netns_inode_of(pid) != ns.inode(netns):
            return None
        return pid

    def _write_init(self, netns: str, pid: int) -> None:
        (self._dir(netns) / "init.json").write_text(
            json.dumps({"pid": pid, "starttime": starttime(pid) or -1}))

    # -- the node's files ------------------------------------------------------------------
    def _ensure_fs(self, netns: str, spec: SandboxSpec) -> None:
        top = self._dir(netns)
        fs = top / "fs"
        self.nodes_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        for d in (top, fs):
            d.mkdir(mode=0o711, exist_ok=True)
        for name, mode in FS_DIRS.items():
            path = fs / name
            if not path.exists():
                path.mkdir(mode=mode)
                os.chmod(path, mode)
                os.chown(path, spec.uid, spec.uid)

    def _seccomp_fd(self) -> int:
        if self._filter is None:
            self._filter = seccomp.compile_filter()
        r, w = os.pipe()
        try:
            os.write(w, self._filter)  # about 700 bytes: well within a pipe's buffer
        finally:
            os.close(w)
        return r

    def _view(self, netns: str, spec: SandboxSpec) -> list[str]:
        fs = Path(self.bridge.path(self._dir(netns) / "fs", readonly=False))
        runtime = [(self.bridge.path(p, readonly=True), str(p)) for p in runtime_paths()]
        binds = [(self.bridge.path(folder(Path(src)), readonly=True), dst)
                 for src, dst in spec.binds]
        state = str(self.state_dir.resolve())
        hide = [state for _, target in runtime
                if state == target or state.startswith(target.rstrip("/") + "/")]
        return view_args(fs=fs, hostname=spec.hostname, runtime=runtime, binds=binds,
                         hide=hide)

    # -- starting processes ----------------------------------------------------------------

    def _start_init(self, netns: str, spec: SandboxSpec) -> int:
        """Start the node's init: (a) an own-network node without a network namespace yet:
        bwrap makes the user and network namespaces, which the driver names and maps; (b) an
        own-network node whose network exists: join the user namespace that owns it; (c) a
        front-end: a new user namespace in Facade's network namespace."""
        view = self._view(netns, spec)  # first: it may bind a bridge the launch namespace needs
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        fds = [info_w, block_r, self._seccomp_fd()]
        create = spec.own_network and not ns.exists(netns)
        if spec.own_network and not create:
            user_fd = ns.owner_userns(netns)
            fds.append(user_fd)
            head = [*nsenter_argv(netns, spec, self.mounts.path()), "--userns", str(user_fd),
                    "--block-fd", str(block_r)]
        else:
            head = [*nsenter_argv(None if create else netns, spec, self.mounts.path()),
                    "--unshare-user", "--userns-block-fd", str(block_r)]
            if create:
                head.append("--unshare-net")
        args = [*head, "--uid", "0", "--gid", "0", "--info-fd", str(info_w), "--unshare-pid",
                *view, *env_args(spec.hostname, ()), *caps_args(),
                "--as-pid-1", "--new-session", "--seccomp", str(fds[2]), "--", *INIT_ARGV]
        log = open(self._dir(netns) / "init.log", "ab")
        try:
            popen = spawn(args, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=log,
                          stderr=log)
        finally:
            log.close()

        def before(pid: int) -> None:
            if create or not spec.own_network:
                for kind in ("uid", "gid"):
                    with open(f"/proc/{pid}/{kind}_map", "w") as fh:
                        fh.write(f"0 {spec.uid} {UID_RANGE}\n")
            if create:
                ns.attach(netns, pid)
            self.groups.add(netns, pid)

        try:
            pid = handshake(popen, info_r, block_w, before)
        except BaseException:
            if create:
                ns.remove(netns)
            raise
        ns.SCAN.spawned()
        if pid is None:
            popen.wait()
            raise DataPlaneError(f"sandbox {netns}: bwrap could not start the node's init: "
                                 f"{last_line(self._dir(netns) / 'init.log')}")
        with self._inits_lock:
            self._inits[popen.pid] = popen
        self._write_init(netns, pid)
        return pid

    def _ensure_init(self, netns: str, spec: SandboxSpec) -> int:
        pid = self._init_pid(netns)
        return pid if pid is not None else self._start_init(netns, spec)

    def prepare(self, netns: str, spec: SandboxSpec) -> bool:
        """Make the node's sandbox as `spec` says: its files, record and control groups, and
        for an own-network node without a network namespace the namespaces themselves (its
        init makes them). True when it created the network namespace."""
        self._ensure_fs(netns, spec)
        self._write_record(netns, spec)
        self.groups.ensure(netns, cgroups.Limits(memory=spec.memory, pids=spec.pids,
                                                 cpu_weight=spec.cpu_weight))
        if spec.own_network and not ns.exists(netns):
            self._start_init(netns, spec)
            return True
        return False

    def launch(self, netns: str, argv: list[str] | tuple[str, ...], *,
               env: tuple[tuple[str, str], ...] = (), stdin: int | IO[bytes] | None,
               stdout: int | IO[bytes] | None, stderr: int | IO[bytes] | None,
               die_with_parent: bool) -> Launched:
        """Start `argv` in the node's sandbox (its init first, if it is not running). bwrap
        now and then gives up before the program runs ("Unexpected short read from pid
        socket": its process that joins the node's PID namespace is gone before it says its
        pid), most often on a loaded machine: nothing ran, so it is tried once more, the
        node's init first started again if it is gone."""
        spec = self.record(netns)
        if spec is None:
            raise NoSandbox(f"node {netns} has no sandbox")
        for attempt in range(LAUNCH_ATTEMPTS):
            launched = self._launch_once(netns, spec, argv, env=env, stdin=stdin,
                                         stdout=stdout, stderr=stderr,
                                         die_with_parent=die_with_parent)
            if launched.pid is not None or attempt == LAUNCH_ATTEMPTS - 1:
                return launched
            launched.monitor.communicate()  # bwrap has exited: reap it (and its pipes)
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def _launch_once(self, netns: str, spec: SandboxSpec, argv: list[str] | tuple[str, ...],
                     *, env: tuple[tuple[str, str], ...], stdin: int | IO[bytes] | None,
                     stdout: int | IO[bytes] | None, stderr: int | IO[bytes] | None,
                     die_with_parent: bool) -> Launched:
        init = self._ensure_init(netns, spec)
        view = self._view(netns, spec)  # first: it may bind a bridge the launch namespace needs
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        user_fd = os.open(f"/proc/{init}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        pid_fd = os.open(f"/proc/{init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        seccomp_fd = self._seccomp_fd()
        args = [*nsenter_argv(netns, spec, self.mounts.path()), "--userns", str(user_fd),
                "--pidns", str(pid_fd), "--uid", "0", "--gid", "0", "--info-fd", str(info_w),
                "--block-fd", str(block_r), *view, *env_args(spec.hostname, env),
                *caps_args(), "--new-session", "--chdir", "/root",
                *(["--die-with-parent"] if die_with_parent else []),
                "--seccomp", str(seccomp_fd), "--", *argv]
        popen = spawn(args, pass_fds=[info_w, block_r, user_fd, pid_fd, seccomp_fd],
                      stdin=stdin, stdout=stdout, stderr=stderr)
        pid = handshake(popen, info_r, block_w, lambda p: self.groups.add(netns, p))
        ns.SCAN.spawned()
        return Launched(monitor=popen, pid=pid)

    # -- observing and removing ------------------------------------------------------------
    def remove(self, netns: str) -> list[str]:
        """After the node's namespace is gone: what is left in its groups (a process that ran
        while the namespace went), the groups, and its files."""
        removed = []
        for pid in self.groups.pids(netns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
        gone = self.groups.remove(netns)
        if gone is False:
            raise DataPlaneError(f"cgroup of {netns}: still busy after its processes were killed")
        if gone:
            removed.append(f"cgroup {netns}")
        top = self._dir(netns)
        if top.exists():
            shutil.rmtree(top, ignore_errors=True)
            removed.append(f"files {top}")
        return removed

    def collect_orphans(self, *, every_plane: bool = False,
                        recorded: frozenset[int] = frozenset()) -> list[str]:
        """Kill sandboxes nothing knows of (sandbox_orphans.py): this plane's (a launch is
        known when one of its processes is `recorded` in a pidfile), or with `every_plane`
        any plane's bwrap, named or not (cleanup removes everything)."""
        root = str(BRIDGE_ROOT if every_plane else self.bridge.root).encode()
        return sandbox_orphans.collect(root, every_plane=every_plane, recorded=recorded)

    def cleanup(self, *, every_plane: bool = True) -> list[str]:
        """Everything sandboxes leave on the host once every node is gone: processes still in
        a node's control group or under a sandbox's bwrap, control groups and bridges (of every
        control plane, as cleanup removes every plane's namespaces; with `every_plane` False
        this plane's only, for a control plane beside others on one host whose namespaces are
        its own, such as a test run in a sandbox), and this plane's node folders."""
        removed = self.collect_orphans(every_plane=every_plane)
        pids = self.groups.all_pids() if every_plane else self.groups.plane_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
        if every_plane:
            removed += self.groups.remove_all()
            removed += Bridge.remove_all()
        else:
            removed += self.groups.remove_plane()
            removed += self.bridge.remove()
        self.bridge.forget()
        if self.nodes_dir.exists():
            for entry in sorted(os.scandir(self.nodes_dir), key=lambda e: e.name):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(f"files {entry.path}")
        return removed
