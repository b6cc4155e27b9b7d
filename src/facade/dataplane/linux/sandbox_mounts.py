"""The mount namespace every bwrap of a plane starts in: the host's mounts without the named
network namespaces.

bwrap copies the mount table of the namespace it starts in, then builds the node's view and
drops the copy. Every named network namespace is a mount there (/run/netns/NAME): with 1,000
of them (500 appliances) a minimal bwrap took 35-39 ms instead of 12-15 from a namespace without
them (docs/benchmarks.md), and every backend starts two (its init, its workload). So a plane's
bwraps (a node's init, a launch, an exec session) are started through `nsenter --mount` in a
namespace made for them: a slave copy of the host's (what the host mounts later reaches it where
the host shares it) in which /run/netns is unmounted, so that no later namespace's mount reaches
it either (/run/netns is made a shared mount of itself first, as iproute2 does on first use).

It is pinned on BRIDGE_ROOT/PLANE/launch/mnt (the kernel binds a mount namespace's file only on
a mount that does not propagate, so launch/ is a private mount of itself), made once per
control plane and again whenever the plane binds a new bridge (a host whose /run shares nothing,
such as a test sandbox, would not show it there), and unmounted with the bridges.
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.sandbox_bridge import (
    LAUNCH,
    Bridge,
    bind,
    make_private,
    mounted_below,
    unmount,
)

# unmount /run/netns (one mount, or several if something mounted it twice) in the new namespace
EMPTY_NETNS = f"while umount --lazy {ns.NETNS_RUN_DIR} 2>/dev/null; do :; done"


class LaunchMounts:
    """The launch namespace of one plane (see the module doc)."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.folder = bridge.root / LAUNCH
        self.pin = self.folder / "mnt"
        self._made_at: int | None = None  # the bridge's generation it was made at
        self._lock = threading.Lock()

    def path(self) -> str:
        """The pinned namespace's file, made (again) if the plane's bridges moved since."""
        with self._lock:
            if self._made_at != self.bridge.generation:
                generation = self.bridge.generation
                self._make()
                self._made_at = generation
        return str(self.pin)

    def _make(self) -> None:
        ns.share_run_dir()
        self.bridge.make_root()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        mounted = mounted_below(self.folder)
        if self.pin in mounted:
            unmount(self.pin)  # the namespace lives on while a bwrap started in it runs
        if self.folder not in mounted:
            bind(str(self.folder), str(self.folder), readonly=False)
            try:
                make_private(self.folder)
            except OSError as exc:
                unmount(self.folder)
                raise DataPlaneError(f"sandbox: {exc}") from exc
        self.pin.touch(mode=0o600)
        # The namespace's first process empties /run/netns, says so and waits while its
        # namespace is bound on the pin from here. The kernel binds a mount namespace's file
        # only in a namespace older than it, by id, and it hands ids out to each CPU in
        # batches: a namespace made on one CPU may get a smaller id than this (older) one
        # (seen in test sandboxes; util-linux's `unshare --mount=FILE` then failed with
        # EINVAL). The CPU whose batch gave this namespace its id gives larger ones, so one
        # of the CPUs always works: tried in turn.
        cpus = [None, *sorted(os.sched_getaffinity(0))]
        for cpu in cpus:
            pinned = ["taskset", "--cpu-list", str(cpu)] if cpu is not None else []
            with subprocess.Popen(
                    [*pinned, "unshare", "--mount", "--propagation", "slave", "--", "sh",
                     "-c", f"{EMPTY_NETNS}; echo made; read -r _"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) as helper:
                try:
                    if self._pin(helper, last=cpu == cpus[-1]):
                        return
                finally:
                    helper.kill()

    def _pin(self, helper: subprocess.Popen[bytes], *, last: bool) -> bool:
        assert helper.stdout is not None and helper.stderr is not None
        if helper.stdout.readline().strip() != b"made":
            raise DataPlaneError("sandbox: cannot make the launch mount namespace: "
                                 f"{helper.stderr.read(300).decode(errors='replace')}")
        try:
            bind(f"/proc/{helper.pid}/ns/mnt", str(self.pin), readonly=False)
        except OSError as exc:
            if exc.errno == errno.EINVAL and not last:
                return False
            raise DataPlaneError(f"sandbox: cannot pin the launch mount namespace: {exc}"
                                 ) from exc
        return True
