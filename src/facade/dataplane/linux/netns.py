"""Network namespaces: create, remove, list, and run code inside one.

Namespace membership is per thread. `run_in_netns` enters /run/netns/NAME with libc `setns`
(`facade.nsenter`, shared with the management agent) in the calling thread, runs the callable,
and always returns the thread to the namespace it was in (the process stops if that ever
failed), so no code ever runs in a namespace it did not ask for. Sockets (netlink for pyroute2,
TCP for probes) keep the namespace they were made in, so `socket_in` makes a socket in a
namespace and hands it back to the calling thread.

Namespaces are created without forking (pyroute2's `netns.create` forks a helper): a dedicated
thread unshares its network namespace and bind-mounts /proc/thread-self/ns/net on
/run/netns/NAME, exactly what `ip netns add` does.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pyroute2 import netns as _pyroute2_netns  # type: ignore[import-untyped]

from facade import nsenter
from facade.domain import names
from facade.nsenter import CLONE_NEWNET

MNT_DETACH = 2
NETNS_RUN_DIR = "/run/netns"

T = TypeVar("T")

# iproute2's dance on first use (make /run/netns a shared mount of itself) must not run twice
# at once, or /run/netns is mounted on itself twice
_ATTACH = threading.Lock()

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20


class NamespaceMissing(FileNotFoundError):
    """The named namespace does not exist."""


def path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


_NSFS_DEV = os.stat("/proc/self/ns/net").st_dev  # every namespace file lives on nsfs


def exists(name: str) -> bool:
    """A namespace by that name. A name whose bind mount is missing (the empty mount point
    left when a process died between making it and binding the namespace on it) is not."""
    try:
        return os.stat(path(name)).st_dev == _NSFS_DEV
    except FileNotFoundError:
        return False


def _clear_stale(name: str) -> None:
    """Remove a mount point that holds no namespace, so the name can be used again."""
    if os.path.lexists(path(name)) and not exists(name):
        _remove_path(name)


def list_all() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def list_facade() -> list[str]:
    """Facade's namespaces (the fabric included)."""
    return [n for n in list_all() if names.is_facade_netns(n)]


def inode(name: str) -> int | None:
    """The namespace's inode (what /proc/PID/ns/net of its members points at), None if gone."""
    try:
        return os.stat(path(name)).st_ino
    except FileNotFoundError:
        return None


def _enter(name: str) -> None:
    try:
        fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceMissing(errno.ENOENT, f"no network namespace {name}") from None
    try:
        nsenter.setns(fd)
    except OSError as exc:
        err = exc.errno or 0
        if err == errno.EINVAL:  # a name without a namespace (see exists)
            raise NamespaceMissing(err, f"no network namespace {name} (only its name)") from None
        raise OSError(err, f"setns({name}): {os.strerror(err)}") from None
    finally:
        os.close(fd)


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn()` inside namespace `name`, in the calling thread, and come back to the
    thread's own namespace after it, whatever happens; return its result or raise.

    No thread hop: a hop costs two hand-overs of the interpreter lock, each up to its switch
    interval (5 ms) when other threads are busy, and a reconcile makes several such calls.
    Coming back is what makes this safe in a shared thread (an API worker, a controller
    worker): if the return ever failed, the thread would go on in a node's namespace, so the
    process stops at once instead (it never happens: root may always go back to a namespace
    it holds an open descriptor of)."""
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _enter(name)
        try:
            return fn()
        finally:
            try:
                nsenter.setns(back)
            except OSError as exc:  # pragma: no cover - never expected
                os.write(2, f"facade: cannot return from namespace {name}: "
                            f"{os.strerror(exc.errno or 0)}\n".encode())
                os._exit(70)
    finally:
        os.close(back)


def create(name: str, then: Callable[[], T] | None = None) -> T | None:
    """Create namespace `name` (it must not exist); optionally run `then()` inside it at once."""

    def make() -> T | None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare: {os.strerror(err)}")
        # pyroute2's helper does iproute2's dance: make /run/netns a shared mount, create the
        # mount point, bind the namespace on it. "thread-self": this thread's new namespace.
        try:
            with _ATTACH:
                _clear_stale(name)
                _pyroute2_netns.attach(name, "thread-self")
        except BaseException:
            _remove_path(name)
            raise
        return then() if then is not None else None

    return nsenter.in_new_thread(make)


def share_run_dir() -> None:
    """Make /run/netns a shared mount of itself if it is not one yet: the dance iproute2 (and
    pyroute2's attach) does on first use, done ahead of it where it must have happened before
    something else (the sandboxes' launch namespace: sandbox_mounts.py)."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    run = NETNS_RUN_DIR.encode()
    with _ATTACH:
        if _libc.mount(b"", run, b"none", MS_SHARED | MS_REC, None) == 0:
            return
        if _libc.mount(run, run, b"none", MS_BIND | MS_REC, None) != 0 \
                or _libc.mount(b"", run, b"none", MS_SHARED | MS_REC, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"make {NETNS_RUN_DIR} a shared mount: {os.strerror(err)}")


def attach(name: str, pid: int) -> None:
    """Give the network namespace of process `pid` the name `name` (bind it on
    /run/netns/NAME, as `ip netns attach` does): it then outlives the process."""
    _pyroute2_netns.attach(name, pid)


NS_GET_USERNS = 0xB701  # ioctl_ns(2): _IO(0xb7, 0x1)


def owner_userns(name: str) -> int:
    """A new descriptor of the user namespace that owns network namespace `name` (the
    caller closes it)."""
    fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(fd, NS_GET_USERNS)
    finally:
        os.close(fd)


def owned_by_child_userns(name: str) -> bool:
    """True when `name` belongs to a user namespace other than ours (a tenant sandbox's): its
    root has powers over that network and over nothing else."""
    try:
        fd = owner_userns(name)
    except OSError:
        return False
    try:
        return os.fstat(fd).st_ino != os.stat("/proc/self/ns/user").st_ino
    finally:
        os.close(fd)


def _remove_path(name: str) -> None:
    p = path(name)
    _libc.umount2(p.encode(), MNT_DETACH)
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def remove(name: str) -> bool:
    """Remove the namespace's name (or a stale one: see exists); True if there was one. The
    kernel frees the namespace once unused."""
    if not os.path.lexists(path(name)):
        return False
    _remove_path(name)
    return True


def socket_in(name: str, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket created inside namespace `name`, usable from any thread."""
    return run_in_netns(name, lambda: socket.socket(family, type_, proto))


def write_sysctls(values: dict[str, str]) -> None:
    """Write /proc/sys keys ("net/ipv4/ip_forward": "1"), each only if it differs. Call from
    inside a namespace thread: /proc/sys/net reflects the namespace of the thread that opens
    it. Every namespace has its own dentry of /proc/sys/net, all in one hash chain of the
    dentry cache, so each path walked from /proc/sys costs O(namespaces on the host) (about
    0.2 ms at 1,000): the folder is opened once and each key opened from it, once."""
    folders: dict[str, int] = {}
    try:
        for key, value in values.items():
            top, _, rest = key.partition("/")
            try:
                if top not in folders:
                    folders[top] = os.open(f"/proc/sys/{top}",
                                           os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                fd = os.open(rest, os.O_RDWR | os.O_CLOEXEC, dir_fd=folders[top])
            except FileNotFoundError:
                continue  # e.g. an interface that is gone, or IPv6 disabled at boot
            try:
                if os.pread(fd, 4096, 0).decode().strip() != value:
                    os.pwrite(fd, value.encode(), 0)  # at 0: strict sysctl writes
            finally:
                os.close(fd)
    finally:
        for fd in folders.values():
            os.close(fd)


def pids_in(name: str) -> list[int]:
    """Every process whose network namespace is `name` (scans /proc, independent of pidfiles)."""
    ident = _ns_ident(name)
    if ident is None:
        return []
    return _scan().get(ident, [])


def _ns_ident(name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path(name))
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _scan() -> dict[tuple[int, int], list[int]]:
    """Every process but this one, by its network namespace's (device, inode)."""
    me = os.getpid()
    out: dict[tuple[int, int], list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        out.setdefault((st.st_dev, st.st_ino), []).append(int(entry))
    return out


class ProcessScan:
    """/proc's processes by network namespace, one scan shared by the deletions of the next
    `ttl` seconds (a scan reads every process's namespace: about 10-15 ms with the 3,000
    processes of 500 appliances, once per node deleted made deleting all of them O(n^2)).

    A scan is used only if it is younger than `ttl` and no process was started in a
    namespace since it began (`spawned`: every process in a node's namespace is started by
    the driver, or forked by one it started, which the caller finds through the node's
    cgroup, read fresh); else /proc is scanned again."""

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._lock = threading.Lock()  # one scan at a time, shared
        self._starts = threading.Lock()
        self._generation = 0  # processes started so far
        self._at = float("-inf")
        self._seen = -1  # the generation the scan began at
        self._table: dict[tuple[int, int], list[int]] = {}

    def spawned(self) -> None:
        """A process was just started in some namespace (call once it is in it): the scans
        begun before may miss it."""
        with self._starts:
            self._generation += 1

    def pids_in(self, name: str) -> list[int]:
        ident = _ns_ident(name)
        if ident is None:
            return []
        with self._lock:
            now = self.clock()
            with self._starts:
                generation = self._generation
            if now - self._at >= self.ttl or generation != self._seen:
                self._table, self._at, self._seen = _scan(), now, generation
            return list(self._table.get(ident, []))


SCAN = ProcessScan()  # /proc is the machine's: one scan for every driver of this process
