"""Tenant sandboxes: every process Facade starts on a tenant's behalf runs in one (bubblewrap).

A sandboxed node has (docs/security.md, "Sandboxes"):
- its own **user namespace**, root inside mapping to the host uids SandboxSpec.uid.. (a range
  of 65536 owning nothing on the host); for an instance or a backend (`own_network`) the
  node's network namespace is created inside that user namespace, so the tenant is root of its
  own network and of nothing else;
- an **init** (catatonit, PID 1 of the node's PID namespace) that holds the PID namespace and
  reaps orphans, started with the node (own-network nodes: it creates both namespaces) or on a
  front-end's first `exec`; if it dies, the next launch starts another;
- per launched process (a workload, an `exec`): `nsenter` puts bwrap in the node's network
  namespace as the node's host uid (no supplementary group), bwrap joins the node's user and
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

bwrap runs unprivileged (as the node's host uid), so every path it binds must be reachable
by that uid. A directory below one the uid cannot search (the state folder may sit in a 0700
home, the Python in /root/.pyenv) is first bound, once, on a "bridge" under
/run/facade/PLANE/ (mode 0711: entered, not listed); bwrap binds it from there. PLANE names
this control plane (a hash of its state folder), so two planes on one host keep apart.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from facade.dataplane.linux import cgroups, seccomp
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.procfs import netns_inode_of, starttime
from facade.domain.sandbox import UID_RANGE
from facade.domain.specs import SandboxSpec

BRIDGE_ROOT = Path("/run/facade")
INIT_ARGV = ("catatonit", "-P")
HANDSHAKE_TIMEOUT = 10.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# a tenant's root: Docker's default set, plus NET_ADMIN over its own network
CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",
                "CAP_SETFCAP")
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
FS_DIRS = {"tmp": 0o1777, "root": 0o700, "home": 0o755, "var": 0o755, "run": 0o755,
           "var/tmp": 0o1777, "var/lib": 0o755, "var/log": 0o755, "var/cache": 0o755}
MS_BIND = 0x1000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_REC = 0x4000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class NoSandbox(DataPlaneError):
    """The node has no sandbox (a router, or a node made before sandboxes existed)."""


@dataclass(frozen=True)
class Launched:
    monitor: subprocess.Popen[bytes]  # bwrap's monitor, in the host's PID namespace
    pid: int | None  # the sandboxed process as the host sees it; None: bwrap failed to start


def last_line(path: Path) -> str:
    """The last line a process wrote to its log (what bwrap says when it cannot start)."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"


def plane_of(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


def _bind(source: str, target: str, *, readonly: bool) -> None:
    if _libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind {source} on {target}: {os.strerror(err)}")
    if readonly and _libc.mount(None, target.encode(), None,
                                MS_BIND | MS_REMOUNT | MS_RDONLY, None) != 0:
        err = ctypes.get_errno()
        _libc.umount2(target.encode(), MNT_DETACH)
        raise OSError(err, f"read-only {target}: {os.strerror(err)}")


def _unmount(target: Path) -> bool:
    return bool(_libc.umount2(str(target).encode(), MNT_DETACH) == 0)


def _searchable_by_all(path: Path) -> bool:
    """Every directory from / down to `path` may be entered by any uid."""
    for p in (path, *path.parents):
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _mounted_below(root: Path) -> list[Path]:
    """Mount points under `root` (deepest first; a point mounted twice is listed twice), from
    the kernel's mount table (os.path.ismount cannot tell a bind mount from the same file
    system)."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = Path(fields[4].encode().decode("unicode_escape"))
            if point == root or root in point.parents:
                found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def runtime_paths() -> list[Path]:
    """The Python that runs Facade, as the sandbox shows it (read-only, at the same paths):
    its base installation, the virtual environment, and the package's root if it lies
    elsewhere (an editable install). Paths under /usr are already there."""
    import facade

    candidates = [Path(sys.base_prefix), Path(sys.prefix),
                  Path(facade.__file__).resolve().parent.parent]
    out: list[Path] = []
    for p in candidates:
        p = p.resolve()
        if p == Path("/usr") or Path("/usr") in p.parents:
            continue
        if any(p == q or q in p.parents for q in out):
            continue
        out = [q for q in out if p not in q.parents] + [p]
    return out


def view_args(*, fs: Path, hostname: str, runtime: list[tuple[str, str]],
              binds: list[tuple[str, str]], hide: list[str]) -> list[str]:
    """bwrap's arguments for a node's view of the file system (pure; `fs` and the sources
    are paths bwrap can reach, see Bridge)."""
    args = ["--unshare-ipc", "--unshare-uts", "--hostname", hostname, "--unshare-cgroup-try",
            "--ro-bind", "/usr", "/usr"]
    for name in TOP_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    args += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev"]
    for name in ("tmp", "root", "home", "var", "run"):
        args += ["--bind", str(fs / name), f"/{name}"]
    for source, target in runtime:
        args += ["--ro-bind", source, target]
    for source, target in binds:
        args += ["--ro-bind", source, target]
    for path in hide:
        args += ["--tmpfs", path]
    return args


def env_args(hostname: str, env: tuple[tuple[str, str], ...]) -> list[str]:
    args = ["--clearenv"]
    for key, value in (("PATH", PATH), ("HOME", "/root"), ("HOSTNAME", hostname),
                       ("LANG", "C.UTF-8"), *env):
        args += ["--setenv", key, value]
    return args


def caps_args() -> list[str]:
    return [a for cap in CAPABILITIES for a in ("--cap-add", cap)]


def _folder(path: Path) -> Path:
    """A bind's source folder, made (empty) if it is not there yet: its owner fills it later
    (an appliance's files are written by its reconciler, which may run after its backends'
    nodes are made), and bwrap refuses a missing source: the node's init failed to start
    (about one backend in ten when 20 appliances of 3 were created at once)."""
    path.mkdir(parents=True, exist_ok=True)
    return path


class Bridge:
    """Host directories made reachable for bwrap under /run/facade/PLANE (see module doc)."""

    def __init__(self, state_dir: Path, plane: str) -> None:
        self.state_dir = state_dir.resolve()
        self.root = BRIDGE_ROOT / plane
        self._known: dict[Path, Path] = {}
        self._lock = threading.Lock()

    def _entry(self, host: Path) -> Path:
        """The top directory to bind for `host`: for the state folder's children the child
        (one bridge for all nodes, one for all appliances), else the path itself."""
        if self.state_dir in host.parents:
            return self.state_dir / host.relative_to(self.state_dir).parts[0]
        return host

    def path(self, host: Path, *, readonly: bool) -> str:
        host = host.resolve()
        if _searchable_by_all(host.parent) and self.state_dir not in host.parents:
            return str(host)
        top = self._entry(host)
        with self._lock:
            point = self._known.get(top)
            if point is None:
                point = self.root / hashlib.sha256(str(top).encode()).hexdigest()[:12]
                if point not in _mounted_below(point):
                    for d in (BRIDGE_ROOT, self.root):
                        d.mkdir(mode=0o711, exist_ok=True)
                        os.chmod(d, 0o711)
                    point.mkdir(exist_ok=True)
                    top.mkdir(parents=True, exist_ok=True)
                    if self.state_dir in top.parents:
                        os.chmod(top, 0o711)  # entered by the nodes' uids, never listed
                    _bind(str(top), str(point), readonly=readonly)
                self._known[top] = point
        return str(point / host.relative_to(top)) if host != top else str(point)

    @staticmethod
    def remove_all() -> list[str]:
        """Unmount every bridge on this host (of any control plane) and remove their folders."""
        removed = []
        for point in _mounted_below(BRIDGE_ROOT):
            if _unmount(point):
                removed.append(f"mount {point}")
        for top, dirs, _ in os.walk(BRIDGE_ROOT, topdown=False):
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(top, d))
        with contextlib.suppress(OSError):
            BRIDGE_ROOT.rmdir()
        return removed

    def remove(self) -> list[str]:
        """Unmount this plane's bridges (a driver used on its own, as in tests)."""
        removed = []
        for point in _mounted_below(self.root):
            if _unmount(point):
                removed.append(f"mount {point}")
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root):
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)
            self.root.rmdir()
        self._known.clear()
        return removed

    def forget(self) -> None:
        self._known.clear()


def _read_info(fd: int, popen: subprocess.Popen[bytes]) -> int | None:
    """The sandboxed process's host pid from bwrap's --info-fd; None if bwrap gave up."""
    data = b""
    deadline = HANDSHAKE_TIMEOUT
    while True:
        ready, _, _ = select.select([fd], [], [], deadline)
        if not ready:
            popen.kill()
            raise DataPlaneError(f"sandbox: bwrap did not start in {HANDSHAKE_TIMEOUT:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])


class Sandboxes:
    """The sandboxes of one driver's nodes: their records, views, inits and launches."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.nodes_dir = state_dir / "nodes"
        self.plane = plane_of(state_dir)
        self.groups = cgroups.NodeGroups(self.plane)
        self.bridge = Bridge(state_dir, self.plane)
        self._filter: bytes | None = None
        self._inits: dict[int, subprocess.Popen[bytes]] = {}  # monitors of node inits
        self._inits_lock = threading.Lock()

    def reap(self) -> None:
        """Collect the monitors of node inits that have exited (they run for a node's life)."""
        with self._inits_lock:
            for pid, popen in list(self._inits.items()):
                if popen.poll() is not None:
                    del self._inits[pid]

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
        binds = [(self.bridge.path(_folder(Path(src)), readonly=True), dst)
                 for src, dst in spec.binds]
        state = str(self.state_dir.resolve())
        hide = [state for _, target in runtime
                if state == target or state.startswith(target.rstrip("/") + "/")]
        return view_args(fs=fs, hostname=spec.hostname, runtime=runtime, binds=binds,
                         hide=hide)

    # -- starting processes ----------------------------------------------------------------
    def _spawn(self, args: list[str], *, spec: SandboxSpec, pass_fds: list[int],
               stdin: int | IO[bytes] | None, stdout: int | IO[bytes] | None,
               stderr: int | IO[bytes] | None, as_uid: bool) -> subprocess.Popen[bytes]:
        """Start `args` (with `as_uid`: as the node's host uid and gid, no supplementary
        group, through setpriv: Python forks a large process more slowly when it changes
        the uid itself than when it may vfork)."""
        if as_uid:
            args = ["setpriv", f"--reuid={spec.uid}", f"--regid={spec.uid}", "--clear-groups",
                    "--", *args]
        try:
            return subprocess.Popen(
                args, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=pass_fds,
                close_fds=True, start_new_session=True, env={"PATH": PATH})
        finally:
            for fd in pass_fds:
                os.close(fd)

    def _handshake(self, popen: subprocess.Popen[bytes], info_r: int, block_w: int,
                   before: Callable[[int], None]) -> int | None:
        """Read the child's pid, run `before(pid)` while it waits, then let it go on."""
        try:
            pid = _read_info(info_r, popen)
            if pid is not None:
                try:
                    before(pid)
                except BaseException:
                    # the child would go on when its block pipe closes: it must not run
                    # without what `before` was to give it (its limits, its uid map)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    popen.kill()
                    popen.wait()
                    raise
                with contextlib.suppress(BrokenPipeError):
                    os.write(block_w, b"1")
            return pid
        finally:
            os.close(info_r)
            os.close(block_w)

    def _nsenter(self, netns: str, spec: SandboxSpec) -> list[str]:
        """Into the node's network namespace, then the node's host uid and gid (nsenter drops
        the supplementary groups)."""
        return ["nsenter", f"--net={ns.path(netns)}", "-S", str(spec.uid), "-G", str(spec.uid),
                "--", "bwrap"]

    def _start_init(self, netns: str, spec: SandboxSpec) -> int:
        """Start the node's init: (a) an own-network node without a network namespace yet:
        bwrap makes the user and network namespaces, which the driver names and maps; (b) an
        own-network node whose network exists: join the user namespace that owns it; (c) a
        front-end: a new user namespace in Facade's network namespace."""
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        fds = [info_w, block_r, self._seccomp_fd()]
        create = spec.own_network and not ns.exists(netns)
        if spec.own_network and not create:
            user_fd = ns.owner_userns(netns)
            fds.append(user_fd)
            head = [*self._nsenter(netns, spec), "--userns", str(user_fd),
                    "--block-fd", str(block_r)]
        else:
            head = ["bwrap"] if create else self._nsenter(netns, spec)
            head += ["--unshare-user", "--userns-block-fd", str(block_r)]
            if create:
                head.append("--unshare-net")
        args = [*head, "--uid", "0", "--gid", "0", "--info-fd", str(info_w), "--unshare-pid",
                *self._view(netns, spec), *env_args(spec.hostname, ()), *caps_args(),
                "--as-pid-1", "--new-session", "--seccomp", str(fds[2]), "--", *INIT_ARGV]
        log = open(self._dir(netns) / "init.log", "ab")
        try:
            popen = self._spawn(args, spec=spec, pass_fds=fds, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, as_uid=create)
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
            pid = self._handshake(popen, info_r, block_w, before)
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
        """Start `argv` in the node's sandbox (its init first, if it is not running)."""
        spec = self.record(netns)
        if spec is None:
            raise NoSandbox(f"node {netns} has no sandbox")
        init = self._ensure_init(netns, spec)
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        user_fd = os.open(f"/proc/{init}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        pid_fd = os.open(f"/proc/{init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        seccomp_fd = self._seccomp_fd()
        args = [*self._nsenter(netns, spec), "--userns", str(user_fd), "--pidns", str(pid_fd),
                "--uid", "0", "--gid", "0", "--info-fd", str(info_w), "--block-fd",
                str(block_r), *self._view(netns, spec), *env_args(spec.hostname, env),
                *caps_args(), "--new-session", "--chdir", "/root",
                *(["--die-with-parent"] if die_with_parent else []),
                "--seccomp", str(seccomp_fd), "--", *argv]
        popen = self._spawn(args, spec=spec, pass_fds=[info_w, block_r, user_fd, pid_fd,
                                                       seccomp_fd],
                            stdin=stdin, stdout=stdout, stderr=stderr, as_uid=False)
        pid = self._handshake(popen, info_r, block_w, lambda p: self.groups.add(netns, p))
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

    def collect_orphans(self, *, every_plane: bool = False) -> list[str]:
        """Kill sandboxes nothing knows of: a control plane killed in the few milliseconds
        between starting a node's init and naming its namespace leaves a bwrap (and its init)
        that no namespace name and no cgroup leads to. Such a bwrap names this plane's bridge
        in its command line; it is an orphan when its child's network namespace has no name.
        `every_plane`: any plane's bwrap, named or not (cleanup removes everything)."""
        root = str(BRIDGE_ROOT if every_plane else self.bridge.root).encode()
        named = {ns.inode(n) for n in ns.list_all()}
        children: dict[int, list[int]] = {}
        monitors = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
            if os.path.basename(argv[0]) == b"bwrap" and any(a.startswith(root + b"/")
                                                             for a in argv):
                monitors.append(int(entry))
        removed = []
        for monitor in monitors:
            tree = list(children.get(monitor, []))
            if not every_plane and any(netns_inode_of(p) in named for p in tree):
                continue  # a node's init or process: its namespace has its name
            for pid in tree:
                tree += children.get(pid, [])
            for pid in [*reversed(tree), monitor]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    removed.append(f"process {pid}")
        return removed

    def cleanup(self) -> list[str]:
        """Everything sandboxes leave on the host once every node is gone: processes still in
        a node's control group or under a sandbox's bwrap, control groups and bridges (of every
        control plane, as cleanup removes every plane's namespaces), and this plane's node
        folders."""
        removed = self.collect_orphans(every_plane=True)
        for pid in self.groups.all_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
        removed += self.groups.remove_all()
        removed += Bridge.remove_all()
        self.bridge.forget()
        if self.nodes_dir.exists():
            for entry in sorted(os.scandir(self.nodes_dir), key=lambda e: e.name):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(f"files {entry.path}")
        return removed
