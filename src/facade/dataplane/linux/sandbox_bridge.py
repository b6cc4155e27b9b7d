"""Host directories made reachable for bwrap: bind mounts on a "bridge" under /run/facade/PLANE
(sandbox.py's Sandboxes binds the node's files, the Python and the node's binds through one).

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
import os
import stat
import threading
from pathlib import Path

BRIDGE_ROOT = Path("/run/facade")
LAUNCH = "launch"  # a plane's launch namespace's folder (sandbox_mounts.py)
MS_BIND = 0x1000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def bind(source: str, target: str, *, readonly: bool) -> None:
    if _libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind {source} on {target}: {os.strerror(err)}")
    if readonly and _libc.mount(None, target.encode(), None,
                                MS_BIND | MS_REMOUNT | MS_RDONLY, None) != 0:
        err = ctypes.get_errno()
        _libc.umount2(target.encode(), MNT_DETACH)
        raise OSError(err, f"read-only {target}: {os.strerror(err)}")


def make_private(target: Path) -> None:
    """Mounts made on or under `target` propagate nowhere (it must be a mount point)."""
    if _libc.mount(None, str(target).encode(), None, MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"make {target} private: {os.strerror(err)}")


def unmount(target: Path) -> bool:
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


def mounted_below(root: Path) -> list[Path]:
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


def _remove_tree(root: Path, planes: list[Path]) -> list[str]:
    """Unmount everything mounted under `root` (deepest first), then remove the launch
    namespaces' pins of `planes` (sandbox_mounts.py) and the empty folders, `root` too. Only
    folders and those pins: a bridge that did not unmount shows a host folder's files."""
    removed = []
    for point in mounted_below(root):
        if unmount(point):
            removed.append(f"mount {point}")
    still = set(mounted_below(root))  # what did not unmount
    for plane in planes:
        pin = plane / LAUNCH / "mnt"
        if pin.is_file() and pin not in still:
            pin.unlink()
    found = []
    for top, dirs, _ in os.walk(root):
        dirs[:] = [d for d in dirs if Path(top, d) not in still]  # never into a host folder
        found += [Path(top, d) for d in dirs]
    for d in [*reversed(found), root]:
        with contextlib.suppress(OSError):
            d.rmdir()
    return removed


class Bridge:
    """Host directories made reachable for bwrap under /run/facade/PLANE (see module doc)."""

    def __init__(self, state_dir: Path, plane: str) -> None:
        self.state_dir = state_dir.resolve()
        self.root = BRIDGE_ROOT / plane
        self._known: dict[Path, Path] = {}
        self._lock = threading.Lock()
        self.generation = 0  # moves whenever a bridge is bound or the known ones forgotten

    def _entry(self, host: Path) -> Path:
        """The top directory to bind for `host`: for the state folder's children the child
        (one bridge for all nodes, one for all appliances), else the path itself."""
        if self.state_dir in host.parents:
            return self.state_dir / host.relative_to(self.state_dir).parts[0]
        return host

    def make_root(self) -> None:
        """BRIDGE_ROOT and this plane's folder in it (entered by the nodes' uids, not listed)."""
        for d in (BRIDGE_ROOT, self.root):
            d.mkdir(mode=0o711, exist_ok=True)
            os.chmod(d, 0o711)

    def path(self, host: Path, *, readonly: bool) -> str:
        host = host.resolve()
        if _searchable_by_all(host.parent) and self.state_dir not in host.parents:
            return str(host)
        top = self._entry(host)
        with self._lock:
            point = self._known.get(top)
            if point is None:
                point = self.root / hashlib.sha256(str(top).encode()).hexdigest()[:12]
                if point not in mounted_below(point):
                    self.make_root()
                    point.mkdir(exist_ok=True)
                    top.mkdir(parents=True, exist_ok=True)
                    if self.state_dir in top.parents:
                        os.chmod(top, 0o711)  # entered by the nodes' uids, never listed
                    bind(str(top), str(point), readonly=readonly)
                    self.generation += 1
                self._known[top] = point
        return str(point / host.relative_to(top)) if host != top else str(point)

    @staticmethod
    def remove_all() -> list[str]:
        """Unmount every bridge on this host (of any control plane) and remove their folders."""
        planes = [p for p in BRIDGE_ROOT.iterdir() if p.is_dir()] if BRIDGE_ROOT.is_dir() else []
        return _remove_tree(BRIDGE_ROOT, planes)

    def remove(self) -> list[str]:
        """Unmount this plane's bridges (a driver used on its own, as in tests)."""
        removed = _remove_tree(self.root, [self.root])
        self._known.clear()
        return removed

    def forget(self) -> None:
        self._known.clear()
        self.generation += 1
