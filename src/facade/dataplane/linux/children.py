"""The driver's own child processes: which have exited, and collecting them.

The driver keeps the Popen of every child it started and must wait on (a sandbox's monitor,
a node init's monitor): about 1,500 of them at 500 appliances. Collecting the exited ones costs
those, not a poll of every child (processes.py, `Processes.reap`): the kernel names an exited
child without reaping it (`next_exited`), and the table that holds it collects it (`collect`).
"""

from __future__ import annotations

import os
import subprocess
import threading


def next_exited() -> int | None:
    """The pid of a child of this process that has exited and is not reaped yet, left so
    (waitid's WNOWAIT: its owner reaps it); None when there is none."""
    try:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no child at all
        return None
    return info.si_pid if info is not None else None


def collect(table: dict[int, subprocess.Popen[bytes]], lock: threading.Lock, pid: int) -> bool:
    """Reap the child `pid` if `table` holds it, and forget it (False: it is not there)."""
    with lock:
        popen = table.get(pid)
        if popen is not None and popen.poll() is not None:
            del table[pid]
    return popen is not None


def poll_all(table: dict[int, subprocess.Popen[bytes]], lock: threading.Lock) -> None:
    """Reap and forget every child of `table` that has exited (a poll of each)."""
    with lock:
        for pid, popen in list(table.items()):
            if popen.poll() is not None:
                del table[pid]
