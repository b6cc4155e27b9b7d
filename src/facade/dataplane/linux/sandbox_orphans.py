"""Sandboxes nothing knows of, found in /proc: a bwrap whose command line names a plane's bridge
and whose child's network namespace has no name (a control plane killed between starting a
node's init and naming its namespace), killed with its process tree. sandbox.py's Sandboxes
calls `collect` at a control plane's start and in cleanup.
"""

from __future__ import annotations

import contextlib
import os
import signal

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.procfs import netns_inode_of


def collect(root: bytes, *, every_plane: bool) -> list[str]:
    """Kill sandboxes nothing knows of: a control plane killed in the few milliseconds
    between starting a node's init and naming its namespace leaves a bwrap (and its init)
    that no namespace name and no cgroup leads to. Such a bwrap names this plane's bridge
    in its command line; it is an orphan when its child's network namespace has no name.
    `every_plane`: any plane's bwrap, named or not (cleanup removes everything); `root`:
    the bridge folder a bwrap's command line names (this plane's, or every plane's)."""
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
