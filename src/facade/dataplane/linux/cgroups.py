"""Per-node resource limits: one control group per sandboxed node, cgroup v1 or v2.

Each limit goes to the hierarchy that has its controller: a v1 hierarchy mounted with it
(`/sys/fs/cgroup/memory`, `.../pids`, `.../cpu`) if there is one, else the v2 hierarchy when its
root hands the controller down to its children (`cgroup.subtree_control`; Facade then enables
it below its own group only and never changes the root). A host with both (hybrid) is served per controller. The groups live at
`facade/<plane>/<netns>` in each hierarchy, `<plane>` naming one control plane (two may share a
host, e.g. two test runs side by side).

| limit | v1 | v2 |
|---|---|---|
| memory (bytes) | memory.limit_in_bytes (+ memory.memsw.limit_in_bytes: no swap beyond it) | memory.max, memory.swap.max = 0 |
| processes | pids.max | pids.max |
| CPU weight 1..10000 (100 = normal) | cpu.shares = weight x 1024 / 100 | cpu.weight |

A process joins a node's groups before it runs any code of the tenant's (the sandbox blocks
until the driver has written its pid, see sandbox.py), so everything it forks is counted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CONTROLLERS = ("memory", "pids", "cpu")
MOUNTINFO = "/proc/self/mountinfo"
TOP = "facade"
MAKE_ATTEMPTS = 5


@dataclass(frozen=True)
class Limits:
    memory: int  # bytes
    pids: int
    cpu_weight: int  # 1..10000, 100 = normal


@dataclass
class Hierarchies:
    """Where each controller lives: controller -> (mount point, is v2)."""

    where: dict[str, tuple[Path, bool]] = field(default_factory=dict)

    @classmethod
    def discover(cls, mountinfo: str = MOUNTINFO, root: Path = Path("/")) -> Hierarchies:
        v1: dict[str, Path] = {}
        v2: Path | None = None
        try:
            text = Path(mountinfo).read_text()
        except OSError:
            text = ""
        for line in text.splitlines():
            left, _, right = line.partition(" - ")
            fields = left.split()
            rest = right.split()
            if len(fields) < 5 or len(rest) < 3:
                continue
            mount = root / fields[4].lstrip("/")
            if rest[0] == "cgroup":
                for opt in rest[2].split(","):
                    if opt in CONTROLLERS:
                        v1.setdefault(opt, mount)
            elif rest[0] == "cgroup2" and v2 is None:
                v2 = mount
        where: dict[str, tuple[Path, bool]] = {c: (p, False) for c, p in v1.items()}
        if v2 is not None:
            # what the root lets its children use (Facade never changes the root itself)
            offered = _read(v2 / "cgroup.subtree_control").split()
            for c in CONTROLLERS:
                if c not in where and c in offered:
                    where[c] = (v2, True)
        return cls(where)

    def mounts(self) -> list[tuple[Path, bool]]:
        """Each hierarchy once (v2 serves several controllers from one mount)."""
        seen: list[tuple[Path, bool]] = []
        for entry in self.where.values():
            if entry not in seen:
                seen.append(entry)
        return seen

    def describe(self) -> str:
        if not self.where:
            return "no cgroup controller for memory, pids or cpu: limits are not enforced"
        return ", ".join(f"{c}: {'v2' if v2 else 'v1'} at {p}"
                         for c, (p, v2) in sorted(self.where.items()))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    if _read(path) == value:
        return
    with open(path, "w") as fh:
        fh.write(value)


def _v1_values(controller: str, limits: Limits) -> list[tuple[str, str]]:
    if controller == "memory":
        # memsw must never be below the memory limit: write the memory limit first when
        # lowering, and let _apply retry the pair in the other order when raising
        return [("memory.limit_in_bytes", str(limits.memory)),
                ("memory.memsw.limit_in_bytes", str(limits.memory))]
    if controller == "pids":
        return [("pids.max", str(limits.pids))]
    return [("cpu.shares", str(max(2, limits.cpu_weight * 1024 // 100)))]


def _v2_values(controller: str, limits: Limits) -> list[tuple[str, str]]:
    if controller == "memory":
        return [("memory.max", str(limits.memory)), ("memory.swap.max", "0")]
    if controller == "pids":
        return [("pids.max", str(limits.pids))]
    return [("cpu.weight", str(limits.cpu_weight))]


class NodeGroups:
    """The control groups of one control plane's nodes."""

    def __init__(self, plane: str, hierarchies: Hierarchies | None = None) -> None:
        self.plane = plane
        self.h = hierarchies if hierarchies is not None else Hierarchies.discover()

    def _dir(self, mount: Path, netns: str | None = None) -> Path:
        base = mount / TOP / self.plane
        return base / netns if netns else base

    def _enable_v2(self, mount: Path) -> None:
        """Let the node groups below facade/<plane> use the v2 controllers Facade needs."""
        wanted = [c for c, (p, v2) in self.h.where.items() if v2 and p == mount]
        for parent in (mount / TOP, self._dir(mount)):
            parent.mkdir(exist_ok=True)
            have = _read(parent / "cgroup.subtree_control").split()
            missing = [c for c in wanted if c not in have]
            if missing:
                _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))

    def ensure(self, netns: str, limits: Limits) -> None:
        """Make the node's groups exist with these limits (idempotent)."""
        for mount, v2 in self.h.mounts():
            # another plane's cleanup removes facade/ once it is empty: that may happen
            # between making it and making this plane's group in it, so make them again
            for attempt in range(MAKE_ATTEMPTS):
                try:
                    if v2:
                        self._enable_v2(mount)
                    self._dir(mount, netns).mkdir(parents=True, exist_ok=True)
                    break
                except FileNotFoundError:
                    if attempt == MAKE_ATTEMPTS - 1:
                        raise
        for controller, (mount, v2) in self.h.where.items():
            values = (_v2_values if v2 else _v1_values)(controller, limits)
            self._apply(self._dir(mount, netns), values)

    @staticmethod
    def _apply(group: Path, values: list[tuple[str, str]]) -> None:
        pending = [(k, v) for k, v in values if (group / k).exists()]
        for _ in range(2):  # memory/memsw: one order works when lowering, the other raising
            failed = []
            for key, value in pending:
                try:
                    _write(group / key, value)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    failed.append((key, value))
            if not failed:
                return
            pending = list(reversed(failed))
        key, value = pending[0]
        raise OSError(errno.EINVAL, f"cgroup {group}: {key} = {value} refused")

    def add(self, netns: str, pid: int) -> None:
        """Put a process into the node's groups (before it runs tenant code)."""
        for mount, _ in self.h.mounts():
            with open(self._dir(mount, netns) / "cgroup.procs", "w") as fh:
                fh.write(str(pid))

    def pids(self, netns: str) -> list[int]:
        out: set[int] = set()
        for mount, _ in self.h.mounts():
            out.update(_procs(self._dir(mount, netns)))
        return sorted(out)

    def remove(self, netns: str, wait: float = 1.0) -> bool | None:
        """Remove the node's groups once their processes are gone: True when removed, None
        when it had none, False if one stays busy."""
        results = [_rmdir_settled(self._dir(mount, netns), wait) for mount, _ in self.h.mounts()]
        if False in results:
            return False
        return True if True in results else None

    def node_groups(self) -> set[str]:
        """The netns names that have a group in some hierarchy."""
        found: set[str] = set()
        for mount, _ in self.h.mounts():
            with contextlib.suppress(OSError):
                found.update(e.name for e in os.scandir(self._dir(mount)) if e.is_dir())
        return found

    def all_pids(self) -> list[int]:
        """Every process in any Facade node group on this host (of any control plane): what
        sandboxes run, even one whose namespace has lost its name."""
        out: set[int] = set()
        for mount, _ in self.h.mounts():
            with contextlib.suppress(OSError):
                for plane in os.scandir(mount / TOP):
                    if not plane.is_dir():
                        continue
                    for node in os.scandir(plane.path):
                        if node.is_dir():
                            out.update(_procs(Path(node.path)))
        return sorted(out)

    def plane_pids(self) -> list[int]:
        """Every process in this control plane's node groups."""
        out: set[int] = set()
        for mount, _ in self.h.mounts():
            with contextlib.suppress(OSError):
                for node in os.scandir(self._dir(mount)):
                    if node.is_dir():
                        out.update(_procs(Path(node.path)))
        return sorted(out)

    def remove_all(self) -> list[str]:
        """Every Facade group on this host (of any control plane) that has no process left,
        then the planes' groups and Facade's own when empty. Returns the node groups removed."""
        return self._remove(every_plane=True)

    def remove_plane(self) -> list[str]:
        """This control plane's node groups that have no process left, then its own group and
        Facade's when empty; other planes' groups are left alone (two planes may share a host,
        e.g. two test runs side by side). Returns the node groups removed."""
        return self._remove(every_plane=False)

    def _remove(self, *, every_plane: bool) -> list[str]:
        removed = []
        for mount, _ in self.h.mounts():
            top = mount / TOP
            with contextlib.suppress(OSError):
                planes = ([Path(e.path) for e in os.scandir(top) if e.is_dir()] if every_plane
                          else [self._dir(mount)])
                for plane in planes:
                    with contextlib.suppress(OSError):
                        for node in os.scandir(plane):
                            if node.is_dir() and _rmdir_settled(Path(node.path)):
                                removed.append(f"cgroup {node.name}")
                    with contextlib.suppress(OSError):
                        plane.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
        return sorted(set(removed))


def _procs(group: Path) -> set[int]:
    """The processes of a group, as this PID namespace numbers them. One that this namespace
    cannot see is listed as 0 (another PID namespace's: a control plane in another sandbox on
    the same host): it is left out, never handed to kill(), where 0 would mean "my own process
    group"."""
    return {pid for line in _read(group / "cgroup.procs").split() if (pid := int(line)) > 0}


def _rmdir_settled(group: Path, wait: float = 0.5) -> bool | None:
    """Remove a group whose tasks are gone or exiting (EBUSY for a moment): True when removed,
    None when there was none, False if it stays busy."""
    deadline = time.monotonic() + wait
    while True:
        try:
            group.rmdir()
            return True
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
