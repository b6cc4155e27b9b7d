"""What /proc says about a process: when it started, which network namespace it is in.

A pid alone names a process only until it exits and the number is handed out again; its start
time (field 22 of /proc/PID/stat) makes the pair unique, so a pidfile can tell its process from
a newcomer with the same pid.
"""

from __future__ import annotations

import os


def starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None if the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    rest = data[data.rindex(b")") + 2:].split()
    if rest and rest[0] == b"Z" and not _threads_left(pid):  # a zombie is not alive
        return None
    return int(rest[19])  # fields 3.. start at index 0; field 22 is index 19


def _threads_left(pid: int) -> bool:
    """A thread group's leader that has exited is a zombie while its other threads still run,
    and they hold the process's files (a listening socket stays open until the last one ends):
    that process is not gone yet."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def netns_inode_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pidns_inode_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def pids_running(*argvs: list[str]) -> list[int]:
    """The processes whose command line is exactly one of `argvs` (one pass over /proc)."""
    wanted = {b"\0".join(a.encode() for a in argv) + b"\0" for argv in argvs}
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read() in wanted:
                        out.append(int(entry))
            except OSError:
                continue
    return out
