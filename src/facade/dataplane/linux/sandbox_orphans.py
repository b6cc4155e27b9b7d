"""Sandboxes nothing knows of, found in /proc: a bwrap whose command line names a plane's bridge
and whose child's network namespace has no name (a control plane killed between starting a
node's init and naming its namespace), or a launch in a node's sandbox whose program no
pidfile records (a control plane killed between starting a backend's workload and recording
it: the next one would start a second), killed with its process tree. sandbox.py's Sandboxes
calls `collect` at a control plane's start and in cleanup.
"""

from __future__ import annotations

import contextlib
import os
import signal

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.procfs import netns_inode_of


def collect(root: bytes, *, every_plane: bool, recorded: frozenset[int] = frozenset()
            ) -> list[str]:
    """Kill sandboxes nothing knows of: a control plane killed in the few milliseconds
    between starting a node's init and naming its namespace leaves a bwrap (and its init)
    that no namespace name and no cgroup leads to. Such a bwrap names this plane's bridge
    in its command line; it is an orphan when its child's network namespace has no name.
    A launch's bwrap (a program started in a node's sandbox) is an orphan when none of its
    processes is `recorded` (the pids the pidfiles name) and it does not die with the
    control plane that started it (an exec session does). `every_plane`: any plane's bwrap,
    named or not (cleanup removes everything); `root`: the bridge folder a bwrap's command
    line names (this plane's, or every plane's)."""
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
            monitors.append((int(entry), argv))
    removed = []
    for monitor, argv in monitors:
        tree = list(children.get(monitor, []))
        for pid in tree:
            tree += children.get(pid, [])
        if not every_plane and _known(argv, tree, named, recorded):
            continue
        for pid in [*reversed(tree), monitor]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
    return removed


def _known(argv: list[bytes], tree: list[int], named: set[int | None],
           recorded: frozenset[int]) -> bool:
    """Whether a bwrap (its command line, its process tree) belongs to something Facade knows:
    a node's init whose namespace has its name, a launch whose program a pidfile records, or
    an exec session (it dies with its control plane)."""
    head = argv[:argv.index(b"--")] if b"--" in argv else argv  # bwrap's own options
    if b"--pidns" in head:  # a launch into a node's sandbox
        return b"--die-with-parent" in head or any(p in recorded for p in tree)
    return any(netns_inode_of(p) in named for p in tree)
